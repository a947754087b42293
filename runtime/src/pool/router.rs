//! The one path every call through a pool takes: calls on a pool client, pipelined
//! calls, and calls on capabilities a worker returned or pipelined alike.
//!
//! [`PoolInner::route`] takes a slot ([`lease`](crate::pool::lease)), sends the call
//! (with its context, for a service), holds the slot until the call completes, fails
//! it at its deadline (the caller's, else the method's `$timeoutMs`, else the pool's,
//! else [`DEFAULT_CALL_TIMEOUT`]), retries an `$idempotent` service call once on
//! another worker when its worker died, counts it, records it in the per-method
//! metrics and runs it in a `tracing` span. A pipelined call hands out its
//! capabilities as soon as it is sent and keeps its slot, deadline and metrics until
//! it completes; when it fails, so do its capabilities. [`PoolCap`] is what a pool
//! client holds, [`WorkerCap`] what every capability a worker sends becomes.

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::oneshot;

use crate::error::CallError;
use crate::pool::config::DEFAULT_CALL_TIMEOUT;
use crate::pool::lease::{Held, Lease, Pinned, Route};
use crate::pool::state::{PoolInner, State};
use crate::rpc::capability::{Capability, CapabilityHook, Dispatch, OutgoingCall, Pipelined};
use crate::rpc::pipeline::{Deferred, DeferredCap};
use crate::task::AbortOnDrop;

/// How long a call whose connection ended waits for its worker's death to be
/// recorded: the supervisor waits up to 1 s for the exit, 1 s more after a SIGKILL,
/// and 0.5 s for the last stderr lines.
const DEATH_RECORDED: Duration = Duration::from_secs(3);

/// The capabilities of a pipelined call, resolved once it is sent.
struct Pipeline {
    paths: Vec<Vec<u16>>,
    slots: Vec<Arc<Deferred>>,
    held: Mutex<Vec<Arc<Held>>>,
}

impl Pipeline {
    fn new(paths: Vec<Vec<u16>>) -> Pipeline {
        Pipeline {
            slots: paths
                .iter()
                .map(|_| Arc::new(Deferred::default()))
                .collect(),
            paths,
            held: Mutex::default(),
        }
    }

    /// The call went to `lease`'s worker: its capabilities are that worker's.
    fn resolve(&self, pool: &Arc<PoolInner>, lease: &Lease, caps: Vec<Capability>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, cap) in self.slots.iter().zip(caps) {
            let (cap, h) = WorkerCap::wrap(Arc::downgrade(pool), lease.slot, lease.worker_id, cap);
            held.push(h);
            slot.resolve(Ok(cap));
        }
    }

    /// The call failed: so do calls on its capabilities, sent or not yet.
    fn fail(&self, error: &CallError) {
        self.slots
            .iter()
            .for_each(|s| s.resolve(Err(error.clone())));
        for h in self.held.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            h.break_with(error.clone());
        }
    }
}

impl PoolInner {
    /// The deadline a worker is told (the caller's, else the method's, else the
    /// pool's) and the one enforced (that, else [`DEFAULT_CALL_TIMEOUT`]).
    fn deadlines(&self, call: &OutgoingCall) -> (Option<Duration>, Duration) {
        let asked = call.timeout().or(self.config.call_timeout);
        (asked, asked.unwrap_or(DEFAULT_CALL_TIMEOUT))
    }

    /// Sends `call` on `route` (see the module's doc). With `pipeline`, its
    /// capabilities are resolved when it is sent; `first` is a slot already taken.
    async fn route(
        self: Arc<Self>,
        route: Route,
        call: OutgoingCall,
        pipeline: Option<Arc<Pipeline>>,
        first: Option<Lease>,
    ) -> Result<Box<dyn Any + Send>, CallError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let method = call.method.name;
        let (asked, deadline) = self.deadlines(&call);
        let session = call.options.session.clone();
        let span = tracing::info_span!(
            "polyhost.call",
            method,
            session = session.as_deref().unwrap_or(""),
            worker = tracing::field::Empty
        );
        // A service call whose worker died may run again elsewhere; a pipelined one
        // has handed out its capabilities, and a worker's capability lives nowhere else.
        let retry = call.method.idempotent
            && session.is_none()
            && pipeline.is_none()
            && matches!(route, Route::Service(_));
        let current: Arc<Mutex<Option<(usize, u64)>>> = Arc::default();
        let attempt = {
            let this = self.clone();
            let current = current.clone();
            let pipeline = pipeline.clone();
            async move {
                let mut first = first;
                let mut avoid = None;
                for attempt in 0..2 {
                    // A free slot is taken at once; waiting in the queue (rare, and a
                    // large future) is boxed so that every call's future stays small.
                    let lease = match first.take() {
                        Some(lease) => lease,
                        None => {
                            match this.try_acquire(&route, method, session.as_deref(), avoid)? {
                                Some(lease) => lease,
                                None => {
                                    Box::pin(this.acquire(
                                        &route,
                                        method,
                                        session.as_deref(),
                                        avoid,
                                    ))
                                    .await?
                                }
                            }
                        }
                    };
                    tracing::Span::current().record("worker", lease.worker_id);
                    *current.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((lease.slot, lease.worker_id));
                    let target = lease.target(
                        &route,
                        session.as_deref(),
                        asked,
                        call.options.trace_parent.as_deref(),
                    );
                    let sent = match &pipeline {
                        None => target.hook().call(call.clone()),
                        Some(p) => {
                            let sent = target.hook().call_pipelined(call.clone(), p.paths.clone());
                            p.resolve(&this, &lease, sent.caps);
                            sent.done
                        }
                    };
                    let result = match &route {
                        Route::Service(_) => sent.await,
                        // A capability pipelined from a call that failed fails too.
                        Route::Worker(pinned) => tokio::select! {
                            r = sent => r,
                            e = pinned.held.broken() => Err(e),
                        },
                    };
                    let (slot, worker) = (lease.slot, lease.worker_id);
                    drop(lease);
                    match result {
                        Err(cause @ CallError::Disconnected { .. }) => {
                            let crash =
                                Box::pin(this.crash_error(slot, worker, method, cause)).await;
                            if retry && attempt == 0 {
                                tracing::info!(
                                    method,
                                    worker,
                                    "retrying an idempotent call after its worker died"
                                );
                                avoid = Some(worker);
                                continue;
                            }
                            return Err(crash);
                        }
                        other => return other,
                    }
                }
                unreachable!("the loop returns on its second pass")
            }
        };
        // Boxed on its own: the two halves of a call's state each stay within the
        // allocator's per-thread cache (one block of both would not).
        let attempt = tracing::Instrument::instrument(Box::pin(attempt), span.clone());
        let result = match tokio::time::timeout(deadline, attempt).await {
            Ok(r) => r,
            Err(_) => {
                if let Some((slot, worker)) = *current.lock().unwrap_or_else(|e| e.into_inner()) {
                    self.check_worker(slot, worker);
                }
                Err(CallError::Timeout {
                    method: method.into(),
                    after: deadline,
                })
            }
        };
        if let Err(e) = &result {
            self.errors.fetch_add(1, Ordering::Relaxed);
            span.in_scope(|| tracing::debug!(method, "call failed: {e}"));
        }
        self.metrics
            .record(method, started.elapsed(), result.is_ok());
        if let (Err(e), Some(p)) = (&result, &pipeline) {
            p.fail(e);
        }
        result
    }

    /// Sends `call` on `route` with promise pipelining: the capabilities at `paths`
    /// of its results are usable at once. A free slot is taken now, on the caller's
    /// thread, so the call is in flight from here on; else it waits in the queue. The
    /// call (and its slot) stays open while any of the capabilities lives.
    fn pipelined(
        self: &Arc<Self>,
        route: Route,
        call: OutgoingCall,
        paths: Vec<Vec<u16>>,
    ) -> Pipelined {
        let method = call.method.name;
        let pipeline = Arc::new(Pipeline::new(paths));
        let first = self
            .try_acquire(&route, method, call.options.session.as_deref(), None)
            .ok()
            .flatten();
        let (tx, rx) = oneshot::channel();
        let routed = self
            .clone()
            .route(route, call, Some(pipeline.clone()), first);
        let task = self.runtime.spawn(async move {
            let _ = tx.send(routed.await);
        });
        let keep: Arc<dyn Any + Send + Sync> = Arc::new(AbortOnDrop(task));
        let caps = pipeline
            .slots
            .iter()
            .map(|slot| {
                Capability::new(Arc::new(DeferredCap {
                    slot: slot.clone(),
                    name: format!("pipelined result of {method}"),
                    keep_alive: Some(keep.clone()),
                }))
            })
            .collect();
        Pipelined {
            caps,
            done: async move {
                let outcome = rx.await;
                drop(keep);
                outcome.unwrap_or_else(|_| {
                    Err(CallError::Protocol {
                        message: format!("{method}: the pipelined call was dropped"),
                    })
                })
            }
            .boxed(),
        }
    }

    /// The error for a call whose worker died.
    async fn crash_error(
        &self,
        slot: usize,
        worker_id: u64,
        method: &str,
        cause: CallError,
    ) -> CallError {
        let death = |st: &State| {
            st.slots[slot]
                .last_death
                .clone()
                .filter(|d| d.worker == worker_id)
        };
        // The supervisor records the death, and signals `changed`, once the process
        // is reaped and its stderr read to the end.
        self.wait_for(DEATH_RECORDED, |st| {
            death(st).is_some() || self.shutting_down.load(Ordering::Acquire)
        })
        .await;
        match death(&self.lock()) {
            Some(d) => CallError::WorkerCrashed {
                method: method.into(),
                worker: d.name,
                exit: d.exit,
                killed_because: d.killed_because,
                stderr_tail: d.stderr_tail,
            },
            None => cause,
        }
    }

    /// After a call timed out: if its worker no longer answers pings, kill it so the
    /// supervisor replaces it.
    fn check_worker(self: &Arc<Self>, slot: usize, worker_id: u64) {
        let inner = self.clone();
        self.runtime.spawn(async move {
            let live = inner.lock().slots[slot]
                .live
                .clone()
                .filter(|l| l.worker_id == worker_id);
            if let Some(live) = live {
                let ok = matches!(
                    tokio::time::timeout(inner.config.health_timeout, live.worker.ping(7)).await,
                    Ok(Ok(7))
                );
                if !ok {
                    tracing::warn!(
                        worker = live.worker_id,
                        pid = live.pid,
                        "worker hung after a timed-out call; replacing it"
                    );
                    live.kill(
                        libc::SIGKILL,
                        Some(format!(
                            "a call timed out and it did not answer a ping within {:?}",
                            inner.config.health_timeout
                        )),
                    );
                }
            }
        });
    }
}

/// The W3C `traceparent` of the caller's current OpenTelemetry span, if valid.
fn current_trace_parent() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Fills in the caller's trace context. Read on the caller's thread: OpenTelemetry's
/// current context is thread-local.
fn with_trace_parent(mut call: OutgoingCall) -> OutgoingCall {
    if call.options.trace_parent.is_none() {
        call.options.trace_parent = current_trace_parent();
    }
    call
}

/// The capability a pool client holds: routes every call to a worker.
pub(crate) struct PoolCap {
    pub(crate) inner: Arc<PoolInner>,
    pub(crate) interface_id: u64,
    pub(crate) name: &'static str,
}

impl CapabilityHook for PoolCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let route = Route::Service(self.interface_id);
        self.inner
            .clone()
            .route(route, with_trace_parent(call), None, None)
            .boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        let route = Route::Service(self.interface_id);
        self.inner.pipelined(route, with_trace_parent(call), paths)
    }

    fn describe(&self) -> String {
        format!("pool of {} ({})", self.inner.config.spec.entry, self.name)
    }
}

/// A capability a worker sent (in results, or in the params of its calls to the
/// host) or pipelined: calls on it take the pool's path, to that worker.
pub(crate) struct WorkerCap {
    pool: Weak<PoolInner>,
    pinned: Pinned,
    name: String,
}

impl WorkerCap {
    /// Wraps `cap`, a capability on the connection of worker `worker_id` in `slot`.
    pub(crate) fn wrap(
        pool: Weak<PoolInner>,
        slot: usize,
        worker_id: u64,
        cap: Capability,
    ) -> (Capability, Arc<Held>) {
        let name = cap.hook().describe();
        let held = Held::new(cap);
        let pinned = Pinned {
            slot,
            worker_id,
            held: held.clone(),
        };
        let hook = WorkerCap { pool, pinned, name };
        (Capability::new(Arc::new(hook)), held)
    }
}

impl CapabilityHook for WorkerCap {
    fn call(
        &self,
        call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        let route = Route::Worker(self.pinned.clone());
        match self.pool.upgrade() {
            Some(pool) => pool
                .route(route, with_trace_parent(call), None, None)
                .boxed(),
            None => match self.pinned.held.get() {
                Ok(cap) => cap.hook().call(call),
                Err(e) => futures::future::ready(Err(e)).boxed(),
            },
        }
    }

    /// `-> stream` calls (a `SinkWriter`'s pushes) are flow control within a call,
    /// not calls of their own: they go straight to the worker's connection, and wait
    /// for room in its window no longer than the call's deadline.
    fn call_stream(&self, call: OutgoingCall) -> BoxFuture<'static, Result<(), CallError>> {
        let deadline = match self.pool.upgrade() {
            Some(pool) => pool.deadlines(&call).1,
            None => call.timeout().unwrap_or(DEFAULT_CALL_TIMEOUT),
        };
        let method = call.method.name;
        let sent = match self.pinned.held.get() {
            Ok(cap) => cap.hook().call_stream(call),
            Err(e) => return futures::future::ready(Err(e)).boxed(),
        };
        async move {
            tokio::time::timeout(deadline, sent)
                .await
                .unwrap_or_else(|_| {
                    Err(CallError::Timeout {
                        method: method.into(),
                        after: deadline,
                    })
                })
        }
        .boxed()
    }

    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Pipelined {
        let route = Route::Worker(self.pinned.clone());
        match self.pool.upgrade() {
            Some(pool) => pool.pipelined(route, with_trace_parent(call), paths),
            None => match self.pinned.held.get() {
                Ok(cap) => cap.hook().call_pipelined(call, paths),
                Err(e) => Pipelined::failed(e, paths.len()),
            },
        }
    }

    fn export(&self, object: Arc<dyn Dispatch>) -> Result<Capability, CallError> {
        self.pinned.held.get()?.hook().export(object)
    }

    fn forwards_to(&self) -> Option<Capability> {
        self.pinned.held.get().ok()
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
