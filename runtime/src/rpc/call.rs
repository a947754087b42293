//! Typed calls on a [`Capability`]: owned params in, owned results out. Generated
//! clients call these; the untyped [`OutgoingCall`] they build is what every
//! [`CapabilityHook`](crate::CapabilityHook) carries.

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::CallError;
use crate::rpc::capability::{CallOptions, Capability, CapabilityHandle, Method, OutgoingCall};
use crate::rpc::codec::{decoding, Struct};
use crate::rpc::layout::{StructIn, StructOut};

impl OutgoingCall {
    /// The params are the owned struct `params`.
    pub fn params<P: Struct + Send + Sync + 'static>(self, params: P) -> Self {
        self.write_with(Arc::new(move |b, caps| {
            params.write(b.init_as::<StructOut<P::Raw>>().0, caps)
        }))
    }

    /// The results are decoded as the owned struct `R`.
    pub fn expecting<R: Struct + Send + 'static>(mut self) -> Self {
        self.read_results = Arc::new(|r, caps| {
            let results = decoding(|| R::read(r.get_as::<StructIn<R::Raw>>()?.0, caps))?;
            Ok(Box::new(results) as Box<dyn Any + Send>)
        });
        self
    }
}

impl Capability {
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
        let fut = self.hook().call(
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

    /// Sends a `-> stream` call; returns when the stream window has room.
    pub fn call_stream<P>(
        &self,
        method: Method,
        params: P,
    ) -> BoxFuture<'static, Result<(), CallError>>
    where
        P: Struct + Send + Sync + 'static,
    {
        self.hook()
            .call_stream(OutgoingCall::to(method, CallOptions::default()).params(params))
    }

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
        let cap = self
            .hook()
            .call_pipelined(call, vec![path.to_vec()])
            .caps
            .pop();
        C::from_capability(cap.unwrap_or_else(|| {
            Capability::broken(CallError::Protocol {
                message: format!("{}: no pipelined capability", method.name),
            })
        }))
    }
}
