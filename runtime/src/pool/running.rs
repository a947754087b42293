//! [`Pool`]: a running pool as its users hold it: typed clients, sessions, stats,
//! shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::polyhost::WorkerInfo;
use crate::pool::metrics::MethodStats;
use crate::pool::router::PoolCap;
use crate::pool::state::{Live, PoolInner};
use crate::rpc::capability::{Capability, ServiceClient};

/// A running pool. Clones share it.
#[derive(Clone)]
pub struct Pool {
    pub(crate) inner: Arc<PoolInner>,
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Workers alive and started.
    pub workers: usize,
    /// Workers with at least one call running.
    pub busy: usize,
    /// Calls waiting for a free worker.
    pub queued: usize,
    /// Calls holding a worker slot now: sent to a worker and not completed yet
    /// (pipelined calls and calls on capabilities a worker returned included).
    pub in_flight: usize,
    pub restarts: u64,
    pub calls: u64,
    pub errors: u64,
    /// Slots held back after repeated crashes.
    pub tainted: usize,
    /// Process ids of the live workers.
    pub pids: Vec<u32>,
    /// Process id of the template workers are forked from, if any.
    pub template: Option<u32>,
    /// Calls, errors and latency of every method called through the pool, by name.
    pub methods: Vec<MethodStats>,
}

impl Pool {
    /// A typed client of a `$worker` interface; each call goes to a worker of the pool.
    pub fn client<C: ServiceClient>(&self) -> C {
        C::from_capability(Capability::new(Arc::new(PoolCap {
            inner: self.inner.clone(),
            interface_id: C::INTERFACE_ID,
            name: C::NAME,
        })))
    }

    /// Forgets a session: its next call may go to any worker.
    pub fn end_session(&self, session: &str) {
        self.inner.lock().sessions.remove(session);
    }

    pub fn stats(&self) -> PoolStats {
        let st = self.inner.lock();
        let gauges = self.inner.gauges_of(&st);
        let live: Vec<&Live> = st.slots.iter().filter_map(|s| s.live.as_ref()).collect();
        PoolStats {
            workers: gauges.workers as usize,
            busy: gauges.busy as usize,
            queued: gauges.queued as usize,
            in_flight: st.slots.iter().map(|s| s.in_flight).sum(),
            restarts: gauges.restarts,
            calls: self.inner.calls.load(Ordering::Relaxed),
            errors: self.inner.errors.load(Ordering::Relaxed),
            tainted: st
                .slots
                .iter()
                .filter(|s| s.tainted_until.is_some_and(|t| t > Instant::now()))
                .count(),
            pids: live.iter().map(|l| l.pid).collect(),
            template: self.inner.live_template().map(|t| t.pid()),
            methods: self.inner.metrics.snapshot(),
        }
    }

    /// What each live worker reported at start.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.inner
            .lock()
            .slots
            .iter()
            .filter_map(|s| s.live.as_ref().map(|l| l.info.clone()))
            .collect()
    }

    /// Drains running calls, asks workers to stop, then SIGTERM, then SIGKILL.
    /// Queued and new calls fail as disconnected.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::Release);
        inner.stopping.send_replace(true);
        inner.changed.notify_waiters();
        inner
            .wait_for(inner.config.drain_timeout, |st| {
                st.slots.iter().all(|s| s.in_flight == 0)
            })
            .await;
        let lives: Vec<Live> = inner
            .lock()
            .slots
            .iter_mut()
            .filter_map(|s| s.live.take())
            .collect();
        let step = inner.config.stop_timeout;
        let stops = lives.into_iter().map(|live| async move {
            let _ = tokio::time::timeout(step, live.worker.shutdown()).await;
            if !live.wait_exit(step).await {
                live.kill(libc::SIGTERM, None);
                if !live.wait_exit(step).await {
                    live.kill(libc::SIGKILL, None);
                    live.wait_exit(step).await;
                }
            }
            live.conn.close();
        });
        futures::future::join_all(stops).await;
        let template = inner
            .template
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(template) = template {
            template.stop(step).await;
        }
    }
}
