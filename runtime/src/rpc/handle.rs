//! The `Send` side of a connection: capability handles naming slots of the
//! connection's capability table, and the commands they send to its I/O thread.
//!
//! A [`ConnCap`] is the [`CapabilityHook`] of every capability that lives on a
//! connection (the worker's bootstrap, capabilities it returned, local objects
//! exported on it). Its calls become [`Command`]s carrying their encode / decode
//! closures; dropping it releases the table slot.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::error::CallError;
use crate::rpc::capability::{Capability, CapabilityHook, Dispatch, OutgoingCall, Pipelined};

pub(crate) type CapId = u64;

pub(crate) enum Command {
    /// `pipeline`: capabilities to register from the answer before it arrives
    /// (pointer path from the results struct, table id the caller already holds).
    Call {
        cap: CapId,
        call: OutgoingCall,
        pipeline: Vec<(Vec<u16>, CapId)>,
        reply: oneshot::Sender<Result<Box<dyn Any + Send>, CallError>>,
    },
    Export {
        id: CapId,
        object: Arc<dyn Dispatch>,
    },
    Release(CapId),
    Close,
}

/// What the I/O thread and the handles share.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) next_id: AtomicU64,
    pub(crate) closed: AtomicBool,
    pub(crate) reason: Mutex<Option<String>>,
    pub(crate) done: tokio::sync::watch::Sender<bool>,
    /// Applied to every capability the peer sends (in results or in the params of its
    /// calls), so its owner can put policy around them (see [`Adopt`]).
    pub(crate) adopt: Option<Adopt>,
}

/// Wraps a capability the peer sent before anyone holds it: a pool routes calls on
/// a worker's capabilities through its router this way.
pub(crate) type Adopt = Arc<dyn Fn(Capability) -> Capability + Send + Sync>;

impl Shared {
    pub(crate) fn disconnected(&self, method: &str) -> CallError {
        let reason = self
            .reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "connection closed".into());
        CallError::Disconnected {
            method: method.to_string(),
            worker: self.name.clone(),
            reason,
        }
    }

    /// Registers `object` in the table (on the I/O thread) and returns its handle;
    /// `None` once the connection has ended.
    pub(crate) fn export(self: &Arc<Self>, object: Arc<dyn Dispatch>) -> Option<Capability> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.commands.send(Command::Export { id, object }).ok()?;
        Some(self.new_handle(id))
    }

    pub(crate) fn new_handle(self: &Arc<Self>, id: CapId) -> Capability {
        Capability::new(Arc::new(ConnCap {
            id,
            shared: self.clone(),
            stream_window: Arc::new(tokio::sync::Semaphore::new(STREAM_WINDOW_CALLS)),
            stream_error: Arc::default(),
        }))
    }
}

/// `-> stream` calls one capability may have in flight before senders wait.
pub(crate) const STREAM_WINDOW_CALLS: usize = 32;

/// A capability held in the connection's table.
pub(crate) struct ConnCap {
    pub(crate) id: CapId,
    pub(crate) shared: Arc<Shared>,
    /// Flow control of `-> stream` calls: a permit per call in flight.
    stream_window: Arc<tokio::sync::Semaphore>,
    /// The first failure of a stream call, reported by the next one.
    stream_error: Arc<Mutex<Option<CallError>>>,
}

impl Drop for ConnCap {
    fn drop(&mut self) {
        let _ = self.shared.commands.send(Command::Release(self.id));
    }
}

impl CapabilityHook for ConnCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        // No deadline here: the pool's router enforces every call's, whichever
        // capability it is made on.
        let method = call.method.name;
        let (reply, rx) = oneshot::channel();
        if self.shared.closed.load(Ordering::Acquire)
            || self
                .shared
                .commands
                .send(Command::Call {
                    cap: self.id,
                    call,
                    pipeline: vec![],
                    reply,
                })
                .is_err()
        {
            return futures::future::ready(Err(self.shared.disconnected(method))).boxed();
        }
        let shared = self.shared.clone();
        // Dropping this future drops the receiver, which cancels the call in the worker.
        async move {
            rx.await
                .unwrap_or_else(|_| Err(shared.disconnected(method)))
        }
        .boxed()
    }

    /// Resolves once the call is sent within the stream window; its return frees the
    /// window slot, and a failure is reported by the next stream call.
    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let window = self.stream_window.clone();
        let error = self.stream_error.clone();
        let shared = self.shared.clone();
        let id = self.id;
        async move {
            if let Some(e) = error.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return Err(e);
            }
            let permit = window
                .acquire_owned()
                .await
                .map_err(|_| shared.disconnected(call.method.name))?;
            let method = call.method.name;
            let (reply, rx) = oneshot::channel();
            if shared
                .commands
                .send(Command::Call {
                    cap: id,
                    call,
                    pipeline: vec![],
                    reply,
                })
                .is_err()
            {
                return Err(shared.disconnected(method));
            }
            tokio::spawn(async move {
                let outcome = rx
                    .await
                    .unwrap_or_else(|_| Err(shared.disconnected(method)));
                if let Err(e) = outcome {
                    error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
                drop(permit);
            });
            Ok(())
        }
        .boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        let method = call.method.name;
        let ids: Vec<CapId> = paths
            .iter()
            .map(|_| self.shared.next_id.fetch_add(1, Ordering::Relaxed))
            .collect();
        // The answer stays open while the pipelined capabilities live (capnp-rpc keeps
        // the question referenced by them), whether or not `done` is awaited.
        let (reply, rx) = oneshot::channel();
        let pipeline = paths.into_iter().zip(ids.iter().copied()).collect();
        let _ = self.shared.commands.send(Command::Call {
            cap: self.id,
            call,
            pipeline,
            reply,
        });
        let shared = self.shared.clone();
        Pipelined {
            caps: ids
                .into_iter()
                .map(|id| self.shared.new_handle(id))
                .collect(),
            done: async move {
                rx.await
                    .unwrap_or_else(|_| Err(shared.disconnected(method)))
            }
            .boxed(),
        }
    }

    fn export(&self, object: Arc<dyn Dispatch>) -> Result<Capability, CallError> {
        self.shared
            .export(object)
            .ok_or_else(|| self.shared.disconnected("export"))
    }

    fn describe(&self) -> String {
        self.shared.name.clone()
    }
}

impl Shared {
    pub(crate) fn finish(&self, reason: String) {
        {
            let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
            if r.is_none() {
                *r = Some(reason);
            }
        }
        self.closed.store(true, Ordering::Release);
        let _ = self.done.send(true);
    }
}
