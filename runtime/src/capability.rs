//! Capability handles the user holds: `Send + Sync + Clone`, whatever thread the RPC
//! system runs on.
//!
//! A [`Capability`] is a handle to an object that lives in a worker (or in the host,
//! for callbacks). Calls carry owned params and come back as owned results: the
//! encoding and decoding closures travel to whatever runs the connection
//! ([`CapabilityHook`]), so capnp's `!Send` readers and builders never cross threads.
//! Dropping the last clone of a handle drops the hook, which releases the capability
//! remotely.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use capnp::private::layout::{PointerBuilder, PointerReader};
use capnp::traits::{FromPointerBuilder, FromPointerReader, HasStructSize, OwnedStruct};
use futures::future::BoxFuture;

use crate::codec::{CapBridge, CapabilityHandle, Struct};
use crate::dispatch::Dispatch;
use crate::error::CallError;

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

/// One call on a capability, as the connection that carries it sees it.
#[derive(Clone)]
pub struct OutgoingCall {
    pub interface_id: u64,
    pub method_id: u16,
    /// `Interface.method`, for errors and spans.
    pub method_name: &'static str,
    /// The method's default deadline from the schema (`$timeoutMs`).
    pub default_timeout: Option<Duration>,
    /// `$idempotent`: a pool may retry it once on another worker after a crash.
    pub idempotent: bool,
    pub options: CallOptions,
    pub write_params: WriteParams,
    pub read_results: ReadResults,
}

impl OutgoingCall {
    /// A call of `method` with no params written yet and its results ignored; add
    /// them with [`Self::params`] / [`Self::write_with`] and [`Self::expecting`].
    pub fn to(method: Method, options: CallOptions) -> Self {
        OutgoingCall {
            interface_id: method.interface_id,
            method_id: method.method_id,
            method_name: method.name,
            default_timeout: method.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
            idempotent: method.idempotent,
            options,
            write_params: Arc::new(|_, _| Ok(())),
            read_results: Arc::new(|_, _| Ok(Box::new(()) as Box<dyn Any + Send>)),
        }
    }

    /// The params are the owned struct `params`.
    pub fn params<P: Struct + Send + Sync + 'static>(self, params: P) -> Self {
        self.write_with(Arc::new(move |b, caps| {
            params.write(b.init_as::<StructOut<P::Raw>>().0, caps)
        }))
    }

    /// The params are written by `write` (for params read at the layout level).
    pub fn write_with(mut self, write: WriteParams) -> Self {
        self.write_params = write;
        self
    }

    /// The results are decoded as the owned struct `R`.
    pub fn expecting<R: Struct + Send + 'static>(mut self) -> Self {
        self.read_results = Arc::new(|r, caps| {
            let results =
                crate::codec::decoding(|| R::read(r.get_as::<StructIn<R::Raw>>()?.0, caps))?;
            Ok(Box::new(results) as Box<dyn Any + Send>)
        });
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
    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Vec<Capability> {
        let error = CallError::Protocol {
            message: format!("{} does not support promise pipelining", self.describe()),
        };
        drop(call);
        paths
            .iter()
            .map(|_| crate::pipeline::broken(error.clone()))
            .collect()
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
            call.method_name,
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

    /// Calls `interface_id.method_id` with owned params and returns owned results.
    /// Generated clients call this; users call the generated methods.
    pub fn call<P, R>(
        &self,
        method: Method,
        params: P,
        options: CallOptions,
    ) -> BoxFuture<'static, Result<R, CallError>>
    where
        P: Struct + Send + Sync + 'static,
        R: Struct + Send + 'static,
    {
        let method_name = method.name;
        let fut = self.hook.call(
            OutgoingCall::to(method, options)
                .params(params)
                .expecting::<R>(),
        );
        Box::pin(async move {
            let any = fut.await?;
            any.downcast::<R>()
                .map(|b| *b)
                .map_err(|_| CallError::Protocol {
                    message: format!(
                        "{method_name}: the connection returned results of another type"
                    ),
                })
        })
    }
}

impl Capability {
    /// Sends a `-> stream` call; returns when the stream window has room.
    pub fn call_stream<P>(
        &self,
        method: Method,
        params: P,
    ) -> BoxFuture<'static, Result<(), CallError>>
    where
        P: Struct + Send + Sync + 'static,
    {
        self.hook
            .call_stream(OutgoingCall::to(method, CallOptions::default()).params(params))
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

impl Capability {
    /// Calls a method whose results hold a capability at pointer `path` and returns
    /// that capability before the call returns (promise pipelining): calls on it are
    /// sent right away, and the worker runs them once the first call has answered.
    pub fn call_pipelined<P, C>(
        &self,
        method: Method,
        params: P,
        options: CallOptions,
        path: &[u16],
    ) -> C
    where
        P: Struct + Send + Sync + 'static,
        C: CapabilityHandle,
    {
        let call = OutgoingCall::to(method, options).params(params);
        let cap = self.hook.call_pipelined(call, vec![path.to_vec()]).pop();
        C::from_capability(cap.unwrap_or_else(|| {
            crate::pipeline::broken(CallError::Protocol {
                message: format!("{}: no pipelined capability", method.name),
            })
        }))
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

/// A struct pointer read as capnpc's typed reader `O::Reader`.
pub struct StructIn<'a, O: OwnedStruct>(pub O::Reader<'a>);

impl<'a, O: OwnedStruct> FromPointerReader<'a> for StructIn<'a, O> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(StructIn(reader.get_struct(default)?.into()))
    }
}

/// A struct pointer initialised as capnpc's typed builder `O::Builder`.
pub struct StructOut<'a, O: OwnedStruct>(pub O::Builder<'a>);

impl<'a, O: OwnedStruct> FromPointerBuilder<'a> for StructOut<'a, O> {
    fn init_pointer(builder: PointerBuilder<'a>, _size: u32) -> Self {
        StructOut(
            builder
                .init_struct(<O::Builder<'a> as HasStructSize>::STRUCT_SIZE)
                .into(),
        )
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(StructOut(
            builder
                .get_struct(<O::Builder<'a> as HasStructSize>::STRUCT_SIZE, default)?
                .into(),
        ))
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
