//! Routing: every call made through a pool goes here. Picks a worker (a session's,
//! else the least loaded, else waits in the bounded queue), holds its slot while the
//! call runs, enforces the deadline, retries an `$idempotent` call whose worker died,
//! and records the call in the metrics and a `tracing` span.

use std::any::Any;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;

use crate::error::CallError;
use crate::polyhost::{CallContext, WorkerProcessClient, WorkerProcessScopedParams};
use crate::pool::config::DEFAULT_CALL_TIMEOUT;
use crate::pool::state::{PoolInner, SessionBinding};
use crate::rpc::capability::{
    Capability, CapabilityHandle, CapabilityHook, Method, OutgoingCall, ServiceClient,
};
use crate::rpc::pipeline::{Deferred, DeferredCap};

/// A worker chosen for one call; releases its slot when dropped.
struct Lease {
    inner: Arc<PoolInner>,
    slot: usize,
    worker_id: u64,
    cap: Capability,
    worker: WorkerProcessClient,
}

impl Lease {
    /// Where the call goes: the service itself, or, when the call carries context
    /// (session, deadline), a view of it scoped to that context. The view comes from a
    /// pipelined `scoped` call, so it costs one more message but no round trip; calls
    /// without context pay nothing.
    fn target(
        &self,
        interface_id: u64,
        session: Option<&str>,
        deadline: Option<Duration>,
        trace_parent: Option<&str>,
    ) -> Capability {
        if session.is_none() && deadline.is_none() && trace_parent.is_none() {
            return self.cap.clone();
        }
        // 0 = none: also for a deadline too far away to name (Duration::MAX, say).
        let deadline_unix_ms = deadline
            .and_then(|d| std::time::SystemTime::now().checked_add(d))
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|t| u64::try_from(t.as_millis()).ok())
            .unwrap_or(0);
        let params = WorkerProcessScopedParams {
            context: CallContext {
                trace_parent: trace_parent.unwrap_or_default().to_string(),
                deadline_unix_ms,
                session: session.unwrap_or_default().to_string(),
            },
            interface_id,
        };
        self.worker
            .capability()
            .call_pipelined(SCOPED, params, Default::default(), &[0])
    }
}

/// `WorkerProcess.scoped` (schema/polyhost.capnp).
const SCOPED: Method = Method {
    interface_id: <WorkerProcessClient as ServiceClient>::INTERFACE_ID,
    method_id: 1,
    name: "WorkerProcess.scoped",
    timeout_ms: None,
    idempotent: true,
};

impl Drop for Lease {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(s) = st.slots.get_mut(self.slot) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        drop(st);
        self.inner.changed.notify_waiters();
    }
}

/// Leaves the wait queue when dropped (the call finished waiting or was cancelled).
struct Waiting<'a>(&'a PoolInner);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

impl PoolInner {
    /// Picks a worker for a call on `interface_id`, waiting in the queue if needed.
    async fn acquire(
        self: &Arc<Self>,
        interface_id: u64,
        method: &str,
        session: Option<&str>,
        avoid: Option<u64>,
    ) -> Result<Lease, CallError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let waiting = {
                let mut st = self.lock();
                if self.shutting_down.load(Ordering::Acquire) {
                    return Err(CallError::Disconnected {
                        method: method.into(),
                        worker: "pool".into(),
                        reason: "the pool is shutting down".into(),
                    });
                }
                let limit = self.config.spec.concurrency;
                let ttl = self.config.session_ttl;
                let now = Instant::now();
                st.sessions
                    .retain(|_, b| now.duration_since(b.last_used) < ttl);
                let bound = session.and_then(|k| st.sessions.get(k).map(|b| (b.slot, b.worker)));
                let choice = match bound {
                    Some((slot, worker)) => {
                        let alive = st.slots[slot]
                            .live
                            .as_ref()
                            .is_some_and(|l| l.worker_id == worker);
                        if !alive {
                            let key = session.unwrap_or_default();
                            st.sessions.remove(key);
                            let worker = st.slots[slot]
                                .last_death
                                .as_ref()
                                .filter(|d| d.worker == worker)
                                .map(|d| d.name.clone())
                                .unwrap_or_else(|| format!("worker {worker}"));
                            return Err(CallError::SessionLost {
                                method: method.into(),
                                session: key.into(),
                                worker,
                            });
                        }
                        (st.slots[slot].in_flight < limit).then_some(slot)
                    }
                    None => {
                        // Least loaded; a new session also counts the sessions a worker
                        // already holds, so sessions spread over the workers.
                        let mut bound = vec![0usize; st.slots.len()];
                        if session.is_some() {
                            st.sessions.values().for_each(|b| bound[b.slot] += 1);
                        }
                        let candidates = st.slots.iter().enumerate().filter(|(_, s)| {
                            s.live
                                .as_ref()
                                .is_some_and(|l| l.services.contains_key(&interface_id))
                                && s.in_flight < limit
                        });
                        let preferred: Vec<(usize, (usize, usize))> = candidates
                            .map(|(i, s)| (i, (s.in_flight, bound[i])))
                            .collect();
                        let not_avoided = preferred
                            .iter()
                            .filter(|(i, _)| {
                                Some(st.slots[*i].live.as_ref().map(|l| l.worker_id).unwrap_or(0))
                                    != avoid
                            })
                            .min_by_key(|(_, n)| *n);
                        not_avoided
                            .or_else(|| preferred.iter().min_by_key(|(_, n)| *n))
                            .map(|(i, _)| *i)
                    }
                };
                if let Some(slot) = choice {
                    let s = &mut st.slots[slot];
                    let live = s.live.as_ref().expect("chosen slots are live");
                    let Some(cap) = live.services.get(&interface_id).cloned() else {
                        return Err(CallError::Protocol {
                            message: format!(
                                "{method}: {} does not serve interface {interface_id:#x}",
                                live.name
                            ),
                        });
                    };
                    let worker_id = live.worker_id;
                    let worker = live.worker.clone();
                    s.in_flight += 1;
                    if let Some(key) = session {
                        st.sessions.insert(
                            key.to_string(),
                            SessionBinding {
                                slot,
                                worker: worker_id,
                                last_used: now,
                            },
                        );
                    }
                    return Ok(Lease {
                        inner: self.clone(),
                        slot,
                        worker_id,
                        cap,
                        worker,
                    });
                }
                // Workers of a pool run one plugin: when a live one lacks the
                // interface, waiting for another would be forever.
                if let Some(live) = st.slots.iter().filter_map(|s| s.live.as_ref()).next() {
                    if !live.services.contains_key(&interface_id) {
                        return Err(CallError::MissingService {
                            method: method.into(),
                            interface: format!("{interface_id:#018x}"),
                            served: live.service_names.join(", "),
                        });
                    }
                }
                if st.waiting >= self.config.queue {
                    return Err(CallError::Saturated {
                        method: method.into(),
                        queue: self.config.queue,
                    });
                }
                st.waiting += 1;
                Waiting(self)
            };
            notified.await;
            drop(waiting);
        }
    }

    /// The error for a call whose worker died.
    async fn crash_error(
        &self,
        lease_slot: usize,
        worker_id: u64,
        method: &str,
        cause: CallError,
    ) -> CallError {
        // The supervisor records the death once the process is reaped.
        for _ in 0..50 {
            if let Some(d) = self.lock().slots[lease_slot]
                .last_death
                .clone()
                .filter(|d| d.worker == worker_id)
            {
                return CallError::WorkerCrashed {
                    method: method.into(),
                    worker: d.name,
                    exit: d.exit,
                    killed_because: d.killed_because,
                    stderr_tail: d.stderr_tail,
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cause
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

    async fn route(
        self: Arc<Self>,
        interface_id: u64,
        call: OutgoingCall,
    ) -> Result<Box<dyn Any + Send>, CallError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let method = call.method_name;
        // The deadline the worker sees (context) is the one asked for; the built-in
        // default is only enforced here, so calls without context stay cheap.
        let asked = call
            .options
            .timeout
            .or(call.default_timeout)
            .or(self.config.call_timeout);
        let deadline = asked.unwrap_or(DEFAULT_CALL_TIMEOUT);
        let session = call.options.session.clone();
        // Enforced here, over queueing and retries; not again by the connection.
        let mut call = call;
        call.options.timeout = None;
        call.default_timeout = None;
        let span = tracing::info_span!(
            "polyhost.call",
            method,
            session = session.as_deref().unwrap_or(""),
            worker = tracing::field::Empty
        );
        let current: Arc<Mutex<Option<(usize, u64)>>> = Arc::default();
        let attempt = {
            let this = self.clone();
            let current = current.clone();
            async move {
                let mut avoid = None;
                for attempt in 0..2 {
                    let lease = this
                        .acquire(interface_id, method, session.as_deref(), avoid)
                        .await?;
                    tracing::Span::current().record("worker", lease.worker_id);
                    *current.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((lease.slot, lease.worker_id));
                    let target = lease.target(
                        interface_id,
                        session.as_deref(),
                        asked,
                        call.options.trace_parent.as_deref(),
                    );
                    let result = target.hook().call(call.clone()).await;
                    let (slot, worker) = (lease.slot, lease.worker_id);
                    drop(lease);
                    match result {
                        Err(cause @ CallError::Disconnected { .. }) => {
                            let crash = this.crash_error(slot, worker, method, cause).await;
                            if call.idempotent && attempt == 0 && session.is_none() {
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
        let attempt = tracing::Instrument::instrument(attempt, span.clone());
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
        result
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

/// Aborts a task when the last holder lets go.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        mut call: OutgoingCall,
    ) -> BoxFuture<'static, Result<Box<dyn Any + Send>, CallError>> {
        // Read here, on the caller's thread: OpenTelemetry's current context is
        // thread-local.
        if call.options.trace_parent.is_none() {
            call.options.trace_parent = current_trace_parent();
        }
        self.inner.clone().route(self.interface_id, call).boxed()
    }

    /// Picks a worker (maybe after queueing) in a task, then sends the call there;
    /// the returned capabilities forward to the worker's pipelined ones.
    fn call_pipelined(&self, call: OutgoingCall, paths: Vec<Vec<u16>>) -> Vec<Capability> {
        let slots: Vec<Arc<Deferred>> = paths
            .iter()
            .map(|_| Arc::new(Deferred::default()))
            .collect();
        let inner = self.inner.clone();
        let interface_id = self.interface_id;
        let method = call.method_name;
        let session = call.options.session.clone();
        let resolve = slots.clone();
        inner.calls.fetch_add(1, Ordering::Relaxed);
        let task = self.inner.runtime.spawn(async move {
            match inner
                .acquire(interface_id, method, session.as_deref(), None)
                .await
            {
                Ok(lease) => {
                    for (slot, cap) in resolve
                        .iter()
                        .zip(lease.cap.hook().call_pipelined(call, paths))
                    {
                        slot.resolve(Ok(cap));
                    }
                }
                Err(e) => {
                    inner.errors.fetch_add(1, Ordering::Relaxed);
                    resolve.iter().for_each(|s| s.resolve(Err(e.clone())));
                }
            }
        });
        let keep = Arc::new(AbortOnDrop(task));
        slots
            .into_iter()
            .map(|slot| {
                let keep: Arc<dyn Any + Send + Sync> = keep.clone();
                Capability::new(Arc::new(DeferredCap {
                    slot,
                    name: format!("pipelined result of {method}"),
                    keep_alive: Some(keep),
                }))
            })
            .collect()
    }

    fn describe(&self) -> String {
        format!("pool of {} ({})", self.inner.config.spec.entry, self.name)
    }
}
