//! What a pool's builder, supervisors, router and handle share: the pool's state
//! under one lock (slots, live workers, sessions, the queue), its counters, and the
//! notification that fires when any of it changes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::ExitReason;
use crate::polyhost::{WorkerInfo, WorkerProcessClient};
use crate::pool::config::Config;
use crate::pool::metrics::{Gauges, Metrics};
use crate::pool::small_map::SchemaMap;
use crate::process::exit::{ExitWatch, ProcessHandle};
use crate::process::output::{tail_lines, StderrTail};
use crate::process::spawner::Spawner;
use crate::process::template::Template;
use crate::rpc::capability::Capability;
use crate::rpc::connection::Connection;

pub(crate) struct PoolInner {
    pub(crate) config: Config,
    pub(crate) state: Mutex<State>,
    /// Signalled when capacity frees up or a worker becomes live.
    pub(crate) changed: Notify,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) spawner: Spawner,
    /// The template workers are forked from, once started (see [`StartMode`]).
    pub(crate) template: Mutex<Option<Arc<Template>>>,
    /// Held while a template starts, so that concurrent worker starts share one.
    pub(crate) template_start: tokio::sync::Mutex<()>,
    pub(crate) shutting_down: AtomicBool,
    /// Becomes true with `shutting_down`: what the supervisors wait on, so that the
    /// end of every call (`changed`) does not wake them.
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    pub(crate) next_worker: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) metrics: Metrics,
}

impl PoolInner {
    /// Waits until `done` holds, checking whenever `changed` fires (a call finished, a
    /// worker came up, shutdown began), or until `limit` has passed. Returns `done`.
    pub(crate) async fn wait_for(&self, limit: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now().checked_add(limit);
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if done(&self.lock()) {
                return true;
            }
            let timed_out = match deadline {
                Some(at) => tokio::time::timeout_at(at, notified).await.is_err(),
                None => {
                    notified.await;
                    false
                }
            };
            if timed_out {
                return done(&self.lock());
            }
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Workers, busy workers, queued calls and restarts, now.
    pub(crate) fn gauges(&self) -> Gauges {
        self.gauges_of(&self.lock())
    }

    pub(crate) fn gauges_of(&self, st: &State) -> Gauges {
        let live = || st.slots.iter().filter(|s| s.live.is_some());
        Gauges {
            workers: live().count() as u64,
            busy: live().filter(|s| s.in_flight > 0).count() as u64,
            queued: st.waiting as u64,
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }

    /// The template, if it is running.
    pub(crate) fn live_template(&self) -> Option<Arc<Template>> {
        self.template
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|t| t.is_alive())
    }
}

pub(crate) struct State {
    pub(crate) slots: Vec<Slot>,
    pub(crate) waiting: usize,
    pub(crate) sessions: HashMap<String, SessionBinding>,
    /// When idle sessions were last dropped from `sessions` (at most every
    /// [`SESSION_PRUNE_EVERY`], so that a call does not scan every session).
    pub(crate) sessions_pruned: Instant,
}

/// How often a call may drop the idle sessions (an idle one is refused on lookup
/// whether or not it was dropped yet).
pub(crate) const SESSION_PRUNE_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct SessionBinding {
    pub(crate) slot: usize,
    pub(crate) worker: u64,
    pub(crate) last_used: Instant,
}

#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) live: Option<Live>,
    pub(crate) in_flight: usize,
    pub(crate) crashes: VecDeque<Instant>,
    pub(crate) tainted_until: Option<Instant>,
    /// The last worker of this slot that died, for crash reports.
    pub(crate) last_death: Option<Death>,
}

#[derive(Clone)]
pub(crate) struct Death {
    pub(crate) worker: u64,
    pub(crate) name: String,
    pub(crate) exit: ExitReason,
    pub(crate) killed_because: Option<String>,
    pub(crate) stderr_tail: Vec<String>,
}

/// A started worker.
#[derive(Clone)]
pub(crate) struct Live {
    pub(crate) worker_id: u64,
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) conn: Arc<Connection>,
    pub(crate) worker: WorkerProcessClient,
    pub(crate) services: SchemaMap<u64, Capability>,
    /// `name (0x<id>)` of every service, for errors.
    pub(crate) service_names: Vec<String>,
    pub(crate) info: WorkerInfo,
    pub(crate) exit: Arc<ExitWatch>,
    pub(crate) process: Arc<ProcessHandle>,
    pub(crate) stderr_tail: StderrTail,
    /// Why the host killed this worker, once it has.
    pub(crate) killed_because: Arc<Mutex<Option<String>>>,
}

impl Live {
    /// Sends `signal` to the worker unless it has exited already (through its process
    /// handle: never to another process that reused the pid); `why` goes into the
    /// crash report of its calls.
    pub(crate) fn kill(&self, signal: i32, why: Option<String>) {
        if self.exit.get().is_some() {
            return;
        }
        if let Some(why) = why {
            self.killed_because
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(why);
        }
        self.process.signal(signal);
    }

    /// Waits up to `t` for the process to exit; true when it has.
    pub(crate) async fn wait_exit(&self, t: Duration) -> bool {
        self.exit.wait(t).await
    }

    pub(crate) fn tail(&self) -> Vec<String> {
        tail_lines(&self.stderr_tail)
    }
}
