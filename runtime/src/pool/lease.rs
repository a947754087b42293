//! Choosing the worker a call goes to, and holding its slot while the call runs.
//!
//! A call on a pool client ([`Route::Service`]) goes to the worker holding its session,
//! else to the least-loaded live worker serving the interface with room under its
//! in-flight limit, else waits in the bounded queue. A call on a capability a worker
//! returned or pipelined ([`Route::Worker`]) can only go to that worker: it is counted
//! in flight there but never queued behind the limit, since the worker's own call may be
//! the one waiting for it (a host handler calling back into the worker that called it).
//! A [`Lease`] is the slot taken; dropping it frees the slot and wakes the queue.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::CallError;
use crate::polyhost::{
    CallContext, WorkerProcessClient, WorkerProcessMethods, WorkerProcessScopedParams,
};
use crate::pool::state::{PoolInner, SessionBinding, State, SESSION_PRUNE_EVERY};
use crate::rpc::capability::{Capability, CapabilityHandle};

/// Where a call may go.
#[derive(Clone)]
pub(crate) enum Route {
    /// Any live worker serving this interface.
    Service(u64),
    /// The one worker holding the capability.
    Worker(Pinned),
}

/// A capability that lives in one worker.
#[derive(Clone)]
pub(crate) struct Pinned {
    pub(crate) slot: usize,
    pub(crate) worker_id: u64,
    pub(crate) held: Arc<Held>,
}

/// The connection capability behind a pinned one, until the call that produced it
/// fails (a pipelined call that timed out, say): it is then dropped, so the worker's
/// call is cancelled once nothing else refers to it, and calls on it fail with that
/// call's error.
pub(crate) struct Held {
    state: Mutex<Result<Capability, CallError>>,
    broke: Notify,
}

impl Held {
    pub(crate) fn new(cap: Capability) -> Arc<Held> {
        Arc::new(Held {
            state: Mutex::new(Ok(cap)),
            broke: Notify::new(),
        })
    }

    pub(crate) fn get(&self) -> Result<Capability, CallError> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Breaks the capability with `error` (the first error wins).
    pub(crate) fn break_with(&self, error: CallError) {
        let dropped = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if st.is_err() {
                return;
            }
            std::mem::replace(&mut *st, Err(error))
        };
        drop(dropped);
        self.broke.notify_waiters();
    }

    /// Resolves with the error once the capability is broken.
    pub(crate) async fn broken(&self) -> CallError {
        loop {
            let notified = self.broke.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Err(e) = self.get() {
                return e;
            }
            notified.await;
        }
    }
}

/// A worker chosen for one call; releases its slot when dropped.
pub(crate) struct Lease {
    inner: Arc<PoolInner>,
    pub(crate) slot: usize,
    pub(crate) worker_id: u64,
    cap: Capability,
    worker: WorkerProcessClient,
}

impl Lease {
    /// Where the call goes: the capability itself, or, for a service call that
    /// carries context (session, deadline, trace), a view of the service scoped to
    /// that context. The view comes from a pipelined `scoped` call, so it costs one
    /// more message but no round trip; calls without context pay nothing. Calls on a
    /// worker's own capabilities have no such view: their context stays in the host.
    pub(crate) fn target(
        &self,
        route: &Route,
        session: Option<&str>,
        deadline: Option<Duration>,
        trace_parent: Option<&str>,
    ) -> Capability {
        let Route::Service(interface_id) = route else {
            return self.cap.clone();
        };
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
            interface_id: *interface_id,
        };
        self.worker.capability().call_pipelined(
            WorkerProcessMethods::SCOPED,
            params,
            Default::default(),
            &[0],
        )
    }
}

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
    /// Takes a slot for a call on `route` now, if one is free: `Ok(None)` means wait.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        route: &Route,
        method: &str,
        session: Option<&str>,
        avoid: Option<u64>,
    ) -> Result<Option<Lease>, CallError> {
        let mut st = self.lock();
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(CallError::Disconnected {
                method: method.into(),
                worker: "pool".into(),
                reason: "the pool is shutting down".into(),
            });
        }
        let slot = match route {
            Route::Service(interface_id) => {
                match self.choose(&mut st, *interface_id, method, session, avoid)? {
                    Some(slot) => slot,
                    None => return Ok(None),
                }
            }
            Route::Worker(pinned) => {
                let alive = st.slots[pinned.slot]
                    .live
                    .as_ref()
                    .is_some_and(|l| l.worker_id == pinned.worker_id);
                if !alive {
                    return Err(CallError::Disconnected {
                        method: method.into(),
                        worker: format!("worker {}", pinned.worker_id),
                        reason: "the worker holding this capability is gone".into(),
                    });
                }
                pinned.slot
            }
        };
        let s = &mut st.slots[slot];
        let live = s.live.as_ref().expect("chosen slots are live");
        let cap = match route {
            Route::Service(interface_id) => {
                live.services
                    .get(interface_id)
                    .cloned()
                    .ok_or_else(|| CallError::Protocol {
                        message: format!(
                            "{method}: {} does not serve interface {interface_id:#x}",
                            live.name
                        ),
                    })?
            }
            Route::Worker(pinned) => pinned.held.get()?,
        };
        let (worker_id, worker) = (live.worker_id, live.worker.clone());
        s.in_flight += 1;
        if let (Route::Service(_), Some(key)) = (route, session) {
            st.sessions.insert(
                key.to_string(),
                SessionBinding {
                    slot,
                    worker: worker_id,
                    last_used: Instant::now(),
                },
            );
        }
        Ok(Some(Lease {
            inner: self.clone(),
            slot,
            worker_id,
            cap,
            worker,
        }))
    }

    /// Takes a slot for a call on `route`, waiting in the queue if none is free.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        route: &Route,
        method: &str,
        session: Option<&str>,
        avoid: Option<u64>,
    ) -> Result<Lease, CallError> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(lease) = self.try_acquire(route, method, session, avoid)? {
                return Ok(lease);
            }
            let waiting = {
                let mut st = self.lock();
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

    /// The slot a service call goes to now: its session's worker, else the least
    /// loaded; `None` when every candidate is full.
    fn choose(
        &self,
        st: &mut State,
        interface_id: u64,
        method: &str,
        session: Option<&str>,
        avoid: Option<u64>,
    ) -> Result<Option<usize>, CallError> {
        let ttl = self.config.session_ttl;
        let now = Instant::now();
        if now.duration_since(st.sessions_pruned) >= SESSION_PRUNE_EVERY.min(ttl) {
            st.sessions
                .retain(|_, b| now.duration_since(b.last_used) < ttl);
            st.sessions_pruned = now;
        }
        if let Some(key) = session {
            let live = |b: &&SessionBinding| now.duration_since(b.last_used) < ttl;
            if let Some(bound) = st.sessions.get(key).filter(live) {
                let (slot, worker) = (bound.slot, bound.worker);
                let slot = self.session_slot(st, key, slot, worker, method)?;
                let room = st.slots[slot].in_flight < self.config.spec.concurrency;
                return Ok(room.then_some(slot));
            }
        }
        if let Some(slot) = self.least_loaded(st, interface_id, session.is_some(), avoid) {
            return Ok(Some(slot));
        }
        // Workers of a pool run one plugin: when a live one lacks the interface,
        // waiting for another would be forever.
        if let Some(live) = st.slots.iter().filter_map(|s| s.live.as_ref()).next() {
            if !live.services.contains_key(&interface_id) {
                return Err(CallError::MissingService {
                    method: method.into(),
                    interface: format!("{interface_id:#018x}"),
                    served: live.service_names.join(", "),
                });
            }
        }
        Ok(None)
    }

    /// The slot of a bound session while its worker lives; `SessionLost` when it
    /// died, and the session is unbound.
    fn session_slot(
        &self,
        st: &mut State,
        key: &str,
        slot: usize,
        worker: u64,
        method: &str,
    ) -> Result<usize, CallError> {
        let alive = st.slots[slot]
            .live
            .as_ref()
            .is_some_and(|l| l.worker_id == worker);
        if alive {
            return Ok(slot);
        }
        st.sessions.remove(key);
        let worker = st.slots[slot]
            .last_death
            .as_ref()
            .filter(|d| d.worker == worker)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| format!("worker {worker}"));
        Err(CallError::SessionLost {
            method: method.into(),
            session: key.into(),
            worker,
        })
    }

    /// The live worker serving `interface_id` with the fewest calls in flight (a new
    /// session also counts the sessions a worker already holds, so sessions spread),
    /// preferring one other than `avoid`.
    fn least_loaded(
        &self,
        st: &State,
        interface_id: u64,
        new_session: bool,
        avoid: Option<u64>,
    ) -> Option<usize> {
        let limit = self.config.spec.concurrency;
        let mut bound = vec![0usize; st.slots.len()];
        if new_session {
            st.sessions.values().for_each(|b| bound[b.slot] += 1);
        }
        let candidates: Vec<(usize, (usize, usize), u64)> = st
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let live = s.live.as_ref()?;
                (live.services.contains_key(&interface_id) && s.in_flight < limit).then_some((
                    i,
                    (s.in_flight, bound[i]),
                    live.worker_id,
                ))
            })
            .collect();
        candidates
            .iter()
            .filter(|(_, _, worker)| Some(*worker) != avoid)
            .min_by_key(|(_, load, _)| *load)
            .or_else(|| candidates.iter().min_by_key(|(_, load, _)| *load))
            .map(|(i, _, _)| *i)
    }
}
