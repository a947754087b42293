//! Capabilities that exist before the call producing them has returned.
//!
//! A pool pipelines in two steps: it picks a worker (perhaps after queueing), then the
//! worker's connection sends the call and registers capnp-rpc's pipelined capability.
//! Until the second step, the user already holds a [`Deferred`] capability: calls on
//! it wait (locally, no round trip) for the real one and are then sent on it. A broken
//! capability fails every call with the error that broke it.

use std::any::Any;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Notify;

use crate::capability::{Capability, CapabilityHook, OutgoingCall};
use crate::error::CallError;

/// The slot a deferred capability waits on.
#[derive(Default)]
pub struct Deferred {
    value: Mutex<Option<Result<Capability, CallError>>>,
    ready: Notify,
}

impl Deferred {
    /// Resolves the capability (first resolution wins).
    pub fn resolve(&self, value: Result<Capability, CallError>) {
        let mut slot = self.value.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(value);
        }
        drop(slot);
        self.ready.notify_waiters();
    }

    async fn get(&self) -> Result<Capability, CallError> {
        loop {
            let notified = self.ready.notified();
            if let Some(v) = self.value.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return v;
            }
            notified.await;
        }
    }
}

/// A capability backed by a [`Deferred`] slot, plus whatever must live as long as it
/// (the task that sends the call).
pub struct DeferredCap {
    pub slot: Arc<Deferred>,
    pub name: String,
    pub keep_alive: Option<Box<dyn Any + Send + Sync>>,
}

impl CapabilityHook for DeferredCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let slot = self.slot.clone();
        async move { slot.get().await?.hook().call(call).await }.boxed()
    }

    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let slot = self.slot.clone();
        async move { slot.get().await?.hook().call_stream(call).await }.boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Vec<Capability> {
        let slots: Vec<Arc<Deferred>> = paths
            .iter()
            .map(|_| Arc::new(Deferred::default()))
            .collect();
        let caps = slots
            .iter()
            .map(|s| {
                Capability::new(Arc::new(DeferredCap {
                    slot: s.clone(),
                    name: format!("pipelined from {}", self.name),
                    keep_alive: None,
                }))
            })
            .collect();
        let slot = self.slot.clone();
        tokio::spawn(async move {
            match slot.get().await {
                Ok(cap) => {
                    for (s, real) in slots.iter().zip(cap.hook().call_pipelined(call, paths)) {
                        s.resolve(Ok(real));
                    }
                }
                Err(e) => slots.iter().for_each(|s| s.resolve(Err(e.clone()))),
            }
        });
        caps
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A capability whose every call fails with `error`.
pub fn broken(error: CallError) -> Capability {
    let slot = Arc::new(Deferred::default());
    slot.resolve(Err(error));
    Capability::new(Arc::new(DeferredCap {
        slot,
        name: "broken capability".into(),
        keep_alive: None,
    }))
}
