//! Serving local objects: host handler implementations that workers call.
//!
//! A generated `FooDispatch<H>` implements [`Dispatch`] for a user's `FooHandler`. The
//! connection calls `dispatch` on its own thread with the params still in the message;
//! it decodes them into owned values and returns an [`Invocation`], a `Send` future
//! that runs the handler on the user's runtime and yields a closure that encodes the
//! results back on the connection's thread.

use futures::future::BoxFuture;

use crate::capability::{StructIn, StructOut};
use crate::codec::{CapBridge, Struct};
use crate::error::HandlerError;

/// Encodes a call's results into the response message.
pub type WriteResults =
    Box<dyn FnOnce(capnp::any_pointer::Builder<'_>, &dyn CapBridge) -> capnp::Result<()> + Send>;

/// A decoded incoming call, ready to run.
pub type Invocation = BoxFuture<'static, Result<WriteResults, HandlerError>>;

/// Why an incoming call was not started.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DispatchError {
    #[error("{interface} has no method {method_id} of interface {interface_id:#x}")]
    Unimplemented {
        interface: &'static str,
        interface_id: u64,
        method_id: u16,
    },
    #[error("bad params: {0}")]
    Params(String),
}

impl From<capnp::Error> for DispatchError {
    fn from(e: capnp::Error) -> Self {
        DispatchError::Params(e.to_string())
    }
}

/// A local object callers reach through a capability.
pub trait Dispatch: Send + Sync + 'static {
    /// The schema's name of the interface, for errors and spans.
    fn interface_name(&self) -> &'static str;
    fn interface_id(&self) -> u64;
    fn dispatch(
        &self,
        interface_id: u64,
        method_id: u16,
        params: capnp::any_pointer::Reader<'_>,
        caps: &dyn CapBridge,
    ) -> Result<Invocation, DispatchError>;

    /// Whether the method is a `-> stream` one: the connection then holds later calls
    /// on this object until it completes (capnp's streaming semantics), so pushes
    /// run one at a time, in order, and an `end` runs after the last push.
    fn is_streaming(&self, _interface_id: u64, _method_id: u16) -> bool {
        false
    }
}

/// Decodes a call's params struct.
pub fn read_params<P: Struct>(
    params: capnp::any_pointer::Reader<'_>,
    caps: &dyn CapBridge,
) -> capnp::Result<P> {
    crate::codec::decoding(|| P::read(params.get_as::<StructIn<P::Raw>>()?.0, caps))
}

/// Encodes owned results when the connection asks for them.
pub fn results<R: Struct + Send + 'static>(value: R) -> WriteResults {
    Box::new(move |b, caps| value.write(b.init_as::<StructOut<R::Raw>>().0, caps))
}

/// Results of a `-> stream` method (none).
pub fn no_results() -> WriteResults {
    Box::new(|_, _| Ok(()))
}
