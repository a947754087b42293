//! Supervision: one task per slot starts its worker (fresh, or forked from the
//! template), runs the start handshake, watches it (connection, exit, health pings),
//! records its death and restarts it with backoff, holding back a slot that keeps
//! crashing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::bindings::Bindings;
use crate::error::ExitReason;
use crate::polyhost::{Service, WorkerInfo, WorkerProcessClient};
use crate::pool::config::StartMode;
use crate::pool::error::PoolError;
use crate::pool::router::WorkerCap;
use crate::pool::state::{Death, Live, PoolInner};
use crate::process::launch::{self, Running};
use crate::process::template::{Template, TemplateError};
use crate::rpc::capability::CapabilityHandle;
use crate::rpc::connection::Connection;
use crate::rpc::handle::Adopt;

/// Runs one slot: start, watch, restart, until shutdown. Reports the first start.
pub(crate) async fn supervise(
    inner: Arc<PoolInner>,
    slot: usize,
    first: oneshot::Sender<Result<(), PoolError>>,
) {
    let mut first = Some(first);
    loop {
        if inner.shutting_down.load(Ordering::Acquire) {
            return;
        }
        match start_worker(&inner, slot).await {
            Ok(live) => {
                tracing::info!(worker = live.worker_id, pid = live.pid, "worker started");
                inner.lock().slots[slot].live = Some(live.clone());
                inner.changed.notify_waiters();
                // Only now: calls made as soon as `start` returns find the worker live.
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(()));
                }
                watch(&inner, &live).await;
                if inner.shutting_down.load(Ordering::Acquire) {
                    // `Pool::shutdown` stops the worker (shutdown call, then signals).
                    return;
                }
                // Dead, or cut off (the connection failed: garbage on the wire). A
                // process still running after its connection ended is killed, so a
                // replacement never runs beside it.
                live.conn.close();
                if !live.wait_exit(Duration::from_millis(1000)).await {
                    tracing::warn!(worker = live.worker_id, pid = live.pid, reason = ?live.conn.close_reason(), "worker connection ended; killing the process");
                    live.kill(
                        libc::SIGKILL,
                        Some("its connection ended but the process did not".into()),
                    );
                    live.wait_exit(Duration::from_millis(1000)).await;
                }
                let exit = live.exit.get().unwrap_or(ExitReason::Unknown);
                // The last lines the worker wrote before it died, read to the end.
                live.stderr_tail
                    .wait_ended(Duration::from_millis(500))
                    .await;
                let death = Death {
                    worker: live.worker_id,
                    name: live.name.clone(),
                    exit,
                    killed_because: live
                        .killed_because
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                    stderr_tail: live.tail(),
                };
                {
                    let mut st = inner.lock();
                    let s = &mut st.slots[slot];
                    if s.live
                        .as_ref()
                        .is_some_and(|l| l.worker_id == live.worker_id)
                    {
                        s.live = None;
                    }
                    s.last_death = Some(death.clone());
                }
                // Calls that lost this worker wait for its death report.
                inner.changed.notify_waiters();
                if inner.shutting_down.load(Ordering::Acquire) {
                    return;
                }
                tracing::warn!(worker = live.worker_id, pid = live.pid, exit = %death.exit, "worker died; restarting");
                inner.restarts.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if let Some(tx) = first.take() {
                    let _ = tx.send(Err(e));
                    return;
                }
                tracing::error!(slot, "worker restart failed: {e}");
            }
        }
        let delay = {
            let mut st = inner.lock();
            let cfg = &inner.config;
            let s = &mut st.slots[slot];
            let now = Instant::now();
            s.crashes.push_back(now);
            while s
                .crashes
                .front()
                .is_some_and(|t| now.duration_since(*t) > cfg.taint_window)
            {
                s.crashes.pop_front();
            }
            if s.crashes.len() >= cfg.taint_after {
                s.tainted_until = now.checked_add(cfg.taint_for);
                s.crashes.clear();
                tracing::warn!(slot, hold = ?cfg.taint_for, "worker keeps crashing; holding it back");
                cfg.taint_for
            } else {
                let (min, max) = cfg.restart_backoff;
                let doublings = s.crashes.len().saturating_sub(1).min(31) as u32;
                min.checked_mul(1 << doublings).unwrap_or(max).min(max)
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// Starts one worker and runs its handshake.
async fn start_worker(inner: &Arc<PoolInner>, slot: usize) -> Result<Live, PoolError> {
    let cfg = &inner.config;
    let worker_id = inner.next_worker.fetch_add(1, Ordering::Relaxed);
    let Running {
        socket,
        pid,
        process,
        stderr_tail,
        exit,
    } = inner.launch_worker(worker_id).await?;
    let name = format!("worker {worker_id} (pid {pid})");
    // Every capability the worker sends takes the pool's call path, to this worker.
    let adopt: Adopt = {
        let pool = Arc::downgrade(inner);
        Arc::new(move |cap| WorkerCap::wrap(pool.clone(), slot, worker_id, cap).0)
    };
    let (conn, bootstrap) = Connection::start(
        socket,
        name.clone(),
        cfg.limits,
        &cfg.connections,
        inner.runtime.clone(),
        Some(adopt),
    )?;
    let conn = Arc::new(conn);
    let worker = WorkerProcessClient::from_capability(bootstrap);
    let callbacks: Vec<Service> = cfg
        .callbacks
        .iter()
        .map(|d| Service {
            interface_id: d.interface_id(),
            name: d.interface_name().to_string(),
            cap: Some(conn.export(d.clone())),
        })
        .collect();
    let mut live = Live {
        worker_id,
        name: name.clone(),
        pid,
        conn: conn.clone(),
        worker: worker.clone(),
        services: Default::default(),
        service_names: vec![],
        info: WorkerInfo::default(),
        exit,
        process,
        stderr_tail,
        killed_because: Arc::default(),
    };
    let results = match tokio::time::timeout(cfg.start_timeout, worker.start(callbacks)).await {
        Ok(Ok(results)) => results,
        Ok(Err(_)) | Err(_) => {
            let (exit, stderr) = launch::exit_report(&live.exit, &live.stderr_tail).await;
            live.kill(libc::SIGKILL, None);
            return Err(PoolError::StartFailed {
                worker: live.name,
                entry: cfg.spec.entry.clone(),
                exit,
                stderr,
            });
        }
    };
    let info = results.info;
    for Bindings {
        schema,
        fingerprint: host,
        ..
    } in &cfg.bindings
    {
        let guest = info
            .fingerprints
            .iter()
            .find(|f| f.schema == *schema)
            .map(|f| f.fingerprint.clone())
            .unwrap_or_else(|| "none".into());
        if &guest != host {
            live.kill(libc::SIGKILL, None);
            return Err(PoolError::StaleBindings {
                worker: name,
                schema: schema.to_string(),
                host: host.to_string(),
                guest,
            });
        }
    }
    for s in results.services {
        live.service_names
            .push(format!("{} ({:#018x})", s.name, s.interface_id));
        if let Some(cap) = s.cap {
            // The router routes service calls itself: it keeps the bare capability.
            let cap = cap.hook().forwards_to().unwrap_or(cap);
            live.services.insert(s.interface_id, cap);
        }
    }
    live.info = info;
    Ok(live)
}

/// Returns when the worker is gone: connection closed, process exited, or pings
/// unanswered (then it is killed).
async fn watch(inner: &Arc<PoolInner>, live: &Live) {
    let cfg = &inner.config;
    let pings = async {
        let mut nonce = 0u64;
        loop {
            tokio::time::sleep(cfg.health_interval).await;
            nonce += 1;
            match tokio::time::timeout(cfg.health_timeout, live.worker.ping(nonce)).await {
                Ok(Ok(n)) if n == nonce => {}
                _ => {
                    tracing::warn!(
                        worker = live.worker_id,
                        pid = live.pid,
                        "worker did not answer a health ping; killing it"
                    );
                    live.kill(
                        libc::SIGKILL,
                        Some(format!(
                            "it did not answer a health ping within {:?}",
                            cfg.health_timeout
                        )),
                    );
                    return;
                }
            }
        }
    };
    let exited = async { while !live.wait_exit(Duration::from_secs(3600)).await {} };
    let mut stopping = inner.stopping.subscribe();
    let stopping = stopping.wait_for(|stopping| *stopping);
    tokio::select! {
        _ = live.conn.closed() => {}
        _ = exited => {}
        _ = pings => {}
        _ = stopping => {}
    }
}

impl PoolInner {
    /// Starts worker process `worker_id` as the start mode says.
    async fn launch_worker(&self, worker_id: u64) -> Result<Running, PoolError> {
        let cfg = &self.config;
        let preload = match cfg.start_mode {
            _ if cfg.spec.adapter.definition.template.is_empty() => None,
            StartMode::Fresh => None,
            StartMode::Template => Some(false),
            StartMode::TemplateWithPlugin => Some(true),
        };
        let Some(preload) = preload else {
            let spec = cfg.spec.clone();
            let spawned = self
                .spawner
                .run(move || launch::spawn(&spec, worker_id))
                .await??;
            return Ok(spawned.watched(worker_id)?);
        };
        // A template that died since the last start is replaced, once per attempt.
        for attempt in 0..2 {
            let template = self.template(preload).await?;
            match template.spawn(worker_id, cfg.start_timeout).await {
                Err(TemplateError::Gone { .. }) if attempt == 0 => continue,
                outcome => return Ok(outcome?),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// The live template, started (or restarted) on demand.
    async fn template(&self, preload: bool) -> Result<Arc<Template>, PoolError> {
        let _starting = self.template_start.lock().await;
        if let Some(t) = self.live_template() {
            return Ok(t);
        }
        let spec = self.config.spec.clone();
        let launched = self
            .spawner
            .run(move || Template::launch(&spec, preload))
            .await??;
        let template = match launched.ready(self.config.start_timeout).await {
            Ok(t) => Arc::new(t),
            Err(TemplateError::NotReady { pid, exit, stderr }) => {
                return Err(PoolError::StartFailed {
                    worker: format!("template (pid {pid})"),
                    entry: self.config.spec.entry.clone(),
                    exit,
                    stderr,
                })
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(pid = template.pid(), preload, "template process ready");
        *self.template.lock().unwrap_or_else(|e| e.into_inner()) = Some(template.clone());
        Ok(template)
    }
}
