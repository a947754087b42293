//! Capabilities that exist before the call producing them has returned.
//!
//! A pool pipelines in two steps: it picks a worker (perhaps after queueing), then the
//! worker's connection sends the call and registers capnp-rpc's pipelined capability.
//! Until the second step, the user already holds a [`Deferred`] capability: calls on
//! it wait (locally, no round trip) for the real one and are then sent on it.

use std::any::Any;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{oneshot, Notify};

use crate::error::CallError;
use crate::rpc::capability::{Capability, CapabilityHook, OutgoingCall, Pipelined};

/// The slot a deferred capability waits on.
#[derive(Default)]
pub struct Deferred {
    state: Mutex<SlotState>,
    ready: Notify,
}

/// What runs with the resolution of a slot, once it is known.
type Then = Box<dyn FnOnce(Result<Capability, CallError>) + Send>;

#[derive(Default)]
struct SlotState {
    value: Option<Result<Capability, CallError>>,
    then: Vec<Then>,
}

impl Deferred {
    /// Resolves the capability (first resolution wins).
    pub fn resolve(&self, value: Result<Capability, CallError>) {
        let then = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.value.is_some() {
                return;
            }
            st.value = Some(value.clone());
            std::mem::take(&mut st.then)
        };
        self.ready.notify_waiters();
        for f in then {
            f(value.clone());
        }
    }

    /// Runs `f` with the resolution: now if it is known, else when it is. Needs no
    /// async runtime, so it works from any thread.
    fn then(&self, f: Then) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &st.value {
            Some(v) => {
                let v = v.clone();
                drop(st);
                f(v);
            }
            None => st.then.push(f),
        }
    }

    async fn get(&self) -> Result<Capability, CallError> {
        loop {
            let notified = self.ready.notified();
            if let Some(v) = self
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .value
                .clone()
            {
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
    /// Shared with the capabilities pipelined from this one and with the calls made
    /// on it, which need the same task to run.
    pub keep_alive: Option<Arc<dyn Any + Send + Sync>>,
}

impl CapabilityHook for DeferredCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let slot = self.slot.clone();
        let keep = self.keep_alive.clone();
        async move {
            let cap = slot.get().await;
            drop(keep);
            cap?.hook().call(call).await
        }
        .boxed()
    }

    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let slot = self.slot.clone();
        let keep = self.keep_alive.clone();
        async move {
            let cap = slot.get().await;
            drop(keep);
            cap?.hook().call_stream(call).await
        }
        .boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        let slots: Vec<Arc<Deferred>> = paths
            .iter()
            .map(|_| Arc::new(Deferred::default()))
            .collect();
        // The capabilities pipelined from this one keep it (its question) alive: a
        // worker may cancel a call whose caller let go of it, and with it the calls
        // pipelined on its answer.
        let keep: Arc<dyn Any + Send + Sync> =
            Arc::new((self.keep_alive.clone(), self.slot.clone()));
        let caps = slots
            .iter()
            .map(|s| {
                Capability::new(Arc::new(DeferredCap {
                    slot: s.clone(),
                    name: format!("pipelined from {}", self.name),
                    keep_alive: Some(keep.clone()),
                }))
            })
            .collect();
        // Sent on the real capability once it exists (from whichever thread resolves
        // it): no task, so this works outside an async runtime too.
        let (done_tx, done_rx) = oneshot::channel();
        self.slot.then(Box::new(move |resolved| match resolved {
            Ok(cap) => {
                let sent = cap.hook().call_pipelined(call, paths);
                for (s, real) in slots.iter().zip(sent.caps) {
                    s.resolve(Ok(real));
                }
                let _ = done_tx.send(sent.done);
            }
            Err(e) => {
                slots.iter().for_each(|s| s.resolve(Err(e.clone())));
                let _ = done_tx.send(futures::future::ready(Err(e)).boxed());
            }
        }));
        let name = self.name.clone();
        Pipelined {
            caps,
            done: async move {
                match done_rx.await {
                    Ok(done) => done.await,
                    Err(_) => Err(CallError::Protocol {
                        message: format!("{name} was dropped before it resolved"),
                    }),
                }
            }
            .boxed(),
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
