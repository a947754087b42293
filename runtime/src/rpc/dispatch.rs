//! What generated `FooDispatch<H>` types call to serve a user's `FooHandler`: decode
//! the params of an incoming call, encode its results. The [`Dispatch`] trait itself
//! lives with the capabilities (`rpc::capability`).
//!
//! [`Dispatch`]: crate::Dispatch

use crate::rpc::capability::{CapBridge, WriteResults};
use crate::rpc::codec::Struct;
use crate::rpc::layout::{StructIn, StructOut};

/// Decodes a call's params struct.
pub fn read_params<P: Struct>(
    params: capnp::any_pointer::Reader<'_>,
    caps: &dyn CapBridge,
) -> capnp::Result<P> {
    crate::rpc::codec::decoding(|| P::read(params.get_as::<StructIn<P::Raw>>()?.0, caps))
}

/// Encodes owned results when the connection asks for them.
pub fn results<R: Struct + Send + 'static>(value: R) -> WriteResults {
    Box::new(move |b, caps| value.write(b.init_as::<StructOut<R::Raw>>().0, caps))
}

/// Results of a `-> stream` method (none).
pub fn no_results() -> WriteResults {
    Box::new(|_, _| Ok(()))
}
