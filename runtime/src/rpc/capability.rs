//! Capability handles the user holds: `Send + Sync + Clone`, whatever thread the RPC
//! system runs on.
//!
//! A [`Capability`] is a handle to an object that lives in a worker (or in the host,
//! for callbacks). Calls carry owned params and come back as owned results: the
//! encoding and decoding closures travel to whatever runs the connection
//! ([`CapabilityHook`]), so capnp's `!Send` readers and builders never cross threads.
//! Dropping the last clone of a handle drops the hook, which releases the capability
//! remotely.
//!
//! Also the other side of the object model, which handles refer to: [`Dispatch`], a
//! local object callers reach through a capability, and [`CapBridge`], which maps
//! capabilities between messages and handles. The RPC layer's lowest module: it
//! imports nothing of the crate but the errors.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::{CallError, HandlerError};

/// A method as the schema declares it; generated clients pass one per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub interface_id: u64,
    pub method_id: u16,
    /// `Interface.method`, for errors and spans.
    pub name: &'static str,
    /// `$timeoutMs`, the default deadline.
    pub timeout_ms: Option<u32>,
    /// `$idempotent`.
    pub idempotent: bool,
}

/// A typed client of a schema interface (generated): what a pool needs to route it.
pub trait ServiceClient: CapabilityHandle {
    const INTERFACE_ID: u64;
    /// The interface's name in the schema.
    const NAME: &'static str;
}

/// Per-call settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Fails the call with [`CallError::Timeout`] after this long; `None` uses the
    /// method's `$timeoutMs` default, if any.
    pub timeout: Option<Duration>,
    /// Routes the call to the worker holding this session.
    pub session: Option<String>,
    /// W3C `traceparent` the worker's span is the child of. `None`: taken from the
    /// caller's current OpenTelemetry context, if it holds a valid span.
    pub trace_parent: Option<String>,
}

/// Writes a call's params into the request message (again, for a retry).
pub type WriteParams =
    Arc<dyn Fn(capnp::any_pointer::Builder<'_>, &dyn CapBridge) -> capnp::Result<()> + Send + Sync>;
/// Reads a call's results out of the response message.
pub type ReadResults = Arc<
    dyn Fn(capnp::any_pointer::Reader<'_>, &dyn CapBridge) -> capnp::Result<Box<dyn Any + Send>>
        + Send
        + Sync,
>;

/// One call on a capability: the method as the schema declares it, the caller's
/// options, and the closures that write its params and read its results on whatever
/// thread runs the connection.
#[derive(Clone)]
pub struct OutgoingCall {
    pub method: Method,
    pub options: CallOptions,
    pub write_params: WriteParams,
    pub read_results: ReadResults,
}

impl OutgoingCall {
    /// A call of `method` with no params written yet and its results ignored; add
    /// them with [`Self::params`] / [`Self::write_with`] and [`Self::expecting`].
    pub fn to(method: Method, options: CallOptions) -> Self {
        OutgoingCall {
            method,
            options,
            write_params: Arc::new(|_, _| Ok(())),
            read_results: Arc::new(|_, _| Ok(Box::new(()) as Box<dyn Any + Send>)),
        }
    }

    /// The deadline the caller asked for, else the method's `$timeoutMs`.
    pub fn timeout(&self) -> Option<Duration> {
        self.options.timeout.or(self
            .method
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into())))
    }

    /// The params are written by `write` (for params read at the layout level).
    pub fn write_with(mut self, write: WriteParams) -> Self {
        self.write_params = write;
        self
    }
}

/// What carries calls for a capability: a worker connection, a pool, a local object.
pub trait CapabilityHook: Any + Send + Sync + 'static {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>>;

    /// A flow-controlled `-> stream` call: resolves when the connection's stream
    /// window has room, not when the call returns. Hooks without flow control wait for
    /// the return.
    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let fut = self.call(call);
        Box::pin(async move { fut.await.map(|_| ()) })
    }

    /// Sends `call` and returns, at once, capabilities for the interface pointers at
    /// `paths` of its results (pointer indexes from the results struct inward), so
    /// calls on them go out before the results arrive: promise pipelining, one round
    /// trip for the pair. The call stays open while any of them lives.
    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        let error = CallError::Protocol {
            message: format!(
                "{}: {} does not support promise pipelining",
                call.method.name,
                self.describe()
            ),
        };
        Pipelined::failed(error, paths.len())
    }

    /// The capability this hook forwards every call to, adding only policy on top (a
    /// pool's routing, deadline and metrics): what a message carrying this handle
    /// carries. `None` for hooks that are the capability itself.
    fn forwards_to(&self) -> Option<Capability> {
        None
    }

    /// Exports a local object on this capability's connection, so it can be passed in
    /// params (a sink, a callback). Hooks without a connection of their own (a pool)
    /// return [`Capability::local`]: the object is exported on whatever connection a
    /// message carrying it is sent over.
    fn export(&self, object: Arc<dyn Dispatch>) -> Result<Capability, CallError> {
        Ok(Capability::local(object))
    }

    /// Where the capability lives, for error messages (`worker 3 (pid 1234)`).
    fn describe(&self) -> String;
}

/// A call sent with promise pipelining: capabilities on its results now, its results
/// later.
pub struct Pipelined {
    /// One per path asked for, usable at once.
    pub caps: Vec<Capability>,
    /// The call's outcome. Dropping it leaves the call running: it stays open while
    /// any of `caps` lives.
    pub done: BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>>,
}

impl Pipelined {
    /// A call that failed before it was sent: `count` broken capabilities.
    pub fn failed(error: CallError, count: usize) -> Self {
        Pipelined {
            caps: (0..count)
                .map(|_| Capability::broken(error.clone()))
                .collect(),
            done: Box::pin(futures::future::ready(Err(error))),
        }
    }
}

/// A local object not exported on any connection yet (see [`Capability::local`]).
struct LocalObject {
    object: Arc<dyn Dispatch>,
}

impl CapabilityHook for LocalObject {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let message = format!(
            "{}: a local {} object is called through the connection it is passed over, not directly",
            call.method.name,
            self.object.interface_name()
        );
        Box::pin(futures::future::ready(Err(CallError::Protocol { message })))
    }

    fn export(&self, object: Arc<dyn Dispatch>) -> Result<Capability, CallError> {
        Ok(Capability::local(object))
    }

    fn describe(&self) -> String {
        format!("local {} object", self.object.interface_name())
    }
}

/// A capability that fails every call with the error that broke it.
struct Broken {
    error: CallError,
}

impl CapabilityHook for Broken {
    fn call(&self, _: OutgoingCall) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        Box::pin(futures::future::ready(Err(self.error.clone())))
    }

    fn call_pipelined(&self, _: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        Pipelined::failed(self.error.clone(), paths.len())
    }

    fn describe(&self) -> String {
        "broken capability".into()
    }
}

/// A `Send + Sync + Clone` handle to a remote or local object.
#[derive(Clone)]
pub struct Capability {
    hook: Arc<dyn CapabilityHook>,
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capability({})", self.hook.describe())
    }
}

impl PartialEq for Capability {
    /// Two handles are equal when they are clones of one handle.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.hook, &other.hook)
    }
}

impl Capability {
    pub fn new(hook: Arc<dyn CapabilityHook>) -> Self {
        Capability { hook }
    }

    /// A handle to a local object (a host handler) that is not bound to a connection
    /// yet: passed in params or results, it is exported on the connection the message
    /// goes over (each time it is sent). Use it to pass a callback or sink through a
    /// pool client, whose calls go to a worker chosen per call.
    pub fn local(object: Arc<dyn Dispatch>) -> Self {
        Capability {
            hook: Arc::new(LocalObject { object }),
        }
    }

    /// The local object behind a handle made by [`Capability::local`].
    pub fn local_object(&self) -> Option<&Arc<dyn Dispatch>> {
        (self.hook.as_ref() as &dyn Any)
            .downcast_ref::<LocalObject>()
            .map(|l| &l.object)
    }

    pub fn hook(&self) -> &Arc<dyn CapabilityHook> {
        &self.hook
    }

    /// A capability whose every call fails with `error`.
    pub fn broken(error: CallError) -> Self {
        Capability {
            hook: Arc::new(Broken { error }),
        }
    }
}

/// Capabilities are references to live objects, not data: serialising one is an error,
/// and a JSON schema describes it as such.
impl serde::Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "a capability is a live reference and cannot be serialised",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a capability is a live reference and cannot be deserialised",
        ))
    }
}

impl schemars::JsonSchema for Capability {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capability".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "description": "a live Cap'n Proto capability (not serialisable)" })
    }
}

impl<T> serde::Serialize for SinkHandle<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.cap.serialize(s)
    }
}

impl<'de, T> serde::Deserialize<'de> for SinkHandle<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Capability::deserialize(d).map(SinkHandle::from_capability)
    }
}

impl<T> schemars::JsonSchema for SinkHandle<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SinkHandle".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        Capability::json_schema(g)
    }
}

impl CapabilityHandle for Capability {
    fn from_capability(cap: Capability) -> Self {
        cap
    }
    fn capability(&self) -> &Capability {
        self
    }
}

/// A handle to a `Sink(T)` capability: the consumer end of a stream of `T`.
pub struct SinkHandle<T> {
    cap: Capability,
    _items: std::marker::PhantomData<fn(T)>,
}

impl<T> Clone for SinkHandle<T> {
    fn clone(&self) -> Self {
        SinkHandle {
            cap: self.cap.clone(),
            _items: std::marker::PhantomData,
        }
    }
}

impl<T> fmt::Debug for SinkHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkHandle({:?})", self.cap)
    }
}

impl<T> PartialEq for SinkHandle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cap == other.cap
    }
}

impl<T> CapabilityHandle for SinkHandle<T> {
    fn from_capability(cap: Capability) -> Self {
        SinkHandle {
            cap,
            _items: std::marker::PhantomData,
        }
    }
    fn capability(&self) -> &Capability {
        &self.cap
    }
}

/// Maps capabilities between capnp messages and [`Capability`] handles.
pub trait CapBridge {
    /// A capability read from a message becomes a handle.
    fn import(
        &self,
        hook: Box<dyn capnp::private::capability::ClientHook>,
    ) -> capnp::Result<Capability>;
    /// A handle written into a message.
    fn export(
        &self,
        cap: &Capability,
    ) -> capnp::Result<Box<dyn capnp::private::capability::ClientHook>>;
}

/// Typed capability handles (generated clients, [`SinkHandle`]) convert to and
/// from [`Capability`].
pub trait CapabilityHandle: Sized {
    fn from_capability(cap: Capability) -> Self;
    fn capability(&self) -> &Capability;
}

// Serving local objects: a generated `FooDispatch<H>` implements [`Dispatch`] for a
// user's `FooHandler`. The connection calls `dispatch` on its own thread with the
// params still in the message; it decodes them into owned values and returns an
// [`Invocation`], a `Send` future that runs the handler on the user's runtime and
// yields a closure that encodes the results back on the connection's thread.

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
