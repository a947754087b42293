//! Worker pools: start, route, supervise, shut down.
//!
//! A [`Pool`] runs `size` worker processes of one plugin. Workers start concurrently;
//! each start handshake checks the fingerprints of the worker's generated modules
//! against the host's. Calls go to the least-loaded live worker with room under its
//! in-flight limit, else wait in a bounded queue (overflow: `Saturated`). A per-slot
//! supervisor task restarts a dead worker with backoff and holds back (taints) one
//! that keeps crashing; health pings catch hung workers. Calls on a worker that dies
//! fail with `WorkerCrashed` (exit status, stderr tail), and `$idempotent` ones are
//! retried once on another worker. Shutdown drains, asks workers to stop, then sends
//! SIGTERM, then SIGKILL.
//!
//! Sessions: calls with the same `CallOptions::session` go to the same worker while it
//! lives. A session idle for longer than the TTL, or ended with
//! [`Pool::end_session`], is forgotten. When a session's worker dies, the next call
//! on the session fails with `SessionLost` (its state is gone) and the session is
//! unbound; the call after that binds it to a live worker again.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{oneshot, Notify};

use crate::adapter::{Adapter, AdapterError};
use crate::bindings::Bindings;
use crate::cache::{self, CacheError};
use crate::capability::{Capability, CapabilityHook, OutgoingCall, ServiceClient};
use crate::codec::CapabilityHandle;
use crate::connection::{Connection, Limits};
use crate::dispatch::Dispatch;
use crate::error::{CallError, ExitReason};
use crate::launch::{
    self, ExitWatch, LaunchError, Running, StderrTail, WorkerSpec, DEFAULT_ENV_ALLOWLIST,
};
use crate::metrics::{Gauges, MethodStats, Metrics};
use crate::pipeline::{Deferred, DeferredCap};
use crate::polyhost::{
    CallContext, Service, WorkerInfo, WorkerProcessClient, WorkerProcessScopedParams,
};
use crate::template::{Template, TemplateError};

/// The deadline of a call when neither its caller, nor its method's `$timeoutMs`, nor
/// [`PoolBuilder::call_timeout`] gave one: a handler that never returns does not hold
/// its worker slot forever.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a pool did not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("worker {worker} failed to start the plugin `{entry}` ({exit}):\n{stderr}")]
    StartFailed {
        worker: String,
        entry: String,
        exit: ExitReason,
        stderr: String,
    },
    #[error(
        "worker {worker} was built from stale bindings of `{schema}`: the host has fingerprint {host}, the worker {guest}; \
         regenerate the worker's modules (cargo build regenerates them when the build script renders the guest target) and restart"
    )]
    StaleBindings {
        worker: String,
        schema: String,
        host: String,
        guest: String,
    },
    #[error(
        "the bindings of `{schema}` carry no {language} modules: add `.guest(\"{language}\")` to the \
         polyhost_codegen::Builder in build.rs and rebuild"
    )]
    NoGuestModules { schema: String, language: String },
    #[error("cannot put the generated modules in place: {0}")]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot start the I/O thread: {0}")]
    Io(#[from] std::io::Error),
}

/// How a pool starts its worker processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartMode {
    /// Fork workers from one template process that has imported the guest runtime
    /// but not the plugin (no threads, no event loop yet, so forking is safe). Used
    /// when the adapter defines a `template` command line; otherwise like `Fresh`.
    #[default]
    Template,
    /// Like `Template`, and the template also imports the plugin module, so workers
    /// start without importing anything. Module-level state the plugin creates at
    /// import (threads, open files and sockets, random seeds) is shared by fork:
    /// choose it only for plugins whose import creates none.
    TemplateWithPlugin,
    /// Every worker is a fresh interpreter.
    Fresh,
}

/// Pool settings (see the setters of [`PoolBuilder`]).
#[derive(Clone)]
struct Config {
    spec: WorkerSpec,
    size: usize,
    queue: usize,
    call_timeout: Option<Duration>,
    start_timeout: Duration,
    health_interval: Duration,
    health_timeout: Duration,
    session_ttl: Duration,
    restart_backoff: (Duration, Duration),
    taint_after: usize,
    taint_window: Duration,
    taint_for: Duration,
    drain_timeout: Duration,
    stop_timeout: Duration,
    limits: Limits,
    callbacks: Vec<Arc<dyn Dispatch>>,
    bindings: Vec<Bindings>,
    interpreter: Option<PathBuf>,
    start_mode: StartMode,
}

/// Configures a pool. Every setter has a default that suits a small plugin.
pub struct PoolBuilder {
    config: Config,
}

impl PoolBuilder {
    /// Number of worker processes (default 2).
    pub fn size(mut self, n: usize) -> Self {
        self.config.size = n.max(1);
        self
    }
    /// Calls one worker runs at once; more wait in the queue (default 16).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.spec.concurrency = n.max(1);
        self
    }
    /// Calls that may wait for a free worker before new ones get `Saturated`
    /// (default 1024).
    pub fn queue(mut self, n: usize) -> Self {
        self.config.queue = n;
        self
    }
    /// Deadline of calls whose method has no `$timeoutMs` and whose caller gave none
    /// (default [`DEFAULT_CALL_TIMEOUT`], enforced by the host only: handlers see no
    /// deadline then). `Duration::MAX` means none.
    pub fn call_timeout(mut self, t: Duration) -> Self {
        self.config.call_timeout = Some(t);
        self
    }
    /// How long a worker may take to start and answer the handshake (default 30 s).
    pub fn start_timeout(mut self, t: Duration) -> Self {
        self.config.start_timeout = t;
        self
    }
    /// How often idle workers are pinged, and how long a ping may take (default 5 s, 2 s).
    pub fn health_check(mut self, every: Duration, timeout: Duration) -> Self {
        self.config.health_interval = every;
        self.config.health_timeout = timeout;
        self
    }
    /// How long an idle session stays bound to its worker (default 10 min).
    pub fn session_ttl(mut self, t: Duration) -> Self {
        self.config.session_ttl = t;
        self
    }
    /// Restart delay after a crash: starts at `min`, doubles per recent crash up to
    /// `max` (default 50 ms .. 5 s).
    pub fn restart_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.restart_backoff = (min, max);
        self
    }
    /// A worker slot that crashes `crashes` times within `window` is held back for
    /// `hold` before its next start (default 5 in 60 s, hold 30 s).
    pub fn taint(mut self, crashes: usize, window: Duration, hold: Duration) -> Self {
        self.config.taint_after = crashes;
        self.config.taint_window = window;
        self.config.taint_for = hold;
        self
    }
    /// Graceful shutdown: how long to wait for running calls, then for each stop
    /// step (shutdown call, SIGTERM) before the next (default 10 s, 2 s).
    pub fn shutdown_timeouts(mut self, drain: Duration, step: Duration) -> Self {
        self.config.drain_timeout = drain;
        self.config.stop_timeout = step;
        self
    }
    /// Adds a folder to the worker's module search path (generated modules, plugin
    /// code).
    pub fn module_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spec.module_paths.push(dir.into());
        self
    }
    /// How workers are started (default [`StartMode::Template`]: forked from a
    /// template process when the adapter has one, which starts many workers in a
    /// fraction of the time fresh interpreters take).
    pub fn start_mode(mut self, mode: StartMode) -> Self {
        self.config.start_mode = mode;
        self
    }
    /// The interpreter to run (a virtualenv's python, say); default: the adapter's.
    pub fn interpreter(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.interpreter = Some(path.into());
        self
    }
    /// Sets a variable in the workers' environment.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.spec.env.push((name.into(), value.into()));
        self
    }
    /// Host variables workers inherit (default: PATH, HOME, locale, TZ, TMPDIR, USER).
    pub fn env_allowlist<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.config.spec.env_allowlist = names.into_iter().map(Into::into).collect();
        self
    }
    /// Working directory of the workers.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spec.cwd = Some(dir.into());
        self
    }
    /// Message size and nesting limits for what workers send.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }
    /// Serves a host-implemented interface (a generated `FooDispatch`) to every worker.
    pub fn callback(mut self, object: Arc<dyn Dispatch>) -> Self {
        self.config.callbacks.push(object);
        self
    }
    /// Gives the workers a schema's generated modules and refuses workers built from
    /// other ones: pass the generated `<schema>::BINDINGS`. The modules for the
    /// adapter's language (embedded by `polyhost_codegen::Builder::guest`) are written
    /// to the cache folder and put on the workers' module search path before the
    /// folders of `module_path`. Call it once per schema the plugin uses.
    pub fn bindings(mut self, bindings: &Bindings) -> Self {
        self.config.bindings.push(*bindings);
        self
    }

    /// Writes the generated modules of the adapter's language, from every `bindings`,
    /// into the cache and puts that folder first among the module paths.
    fn place_guest_modules(&mut self) -> Result<(), PoolError> {
        let language = self.config.spec.adapter.definition.language.clone();
        let mut files: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        for b in &self.config.bindings {
            let modules = b
                .modules_for(&language)
                .ok_or_else(|| PoolError::NoGuestModules {
                    schema: b.schema.to_string(),
                    language: language.clone(),
                })?;
            files.extend(modules.files.iter().copied());
        }
        if files.is_empty() {
            return Ok(());
        }
        let root = launch::cache_dir().ok_or(CacheError::NoCacheDir)?;
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        let placed = cache::materialize(root, "modules", &language, &files)?;
        self.config.spec.module_paths.insert(0, placed.dir);
        Ok(())
    }

    /// Starts every worker concurrently and waits until all have passed the
    /// handshake. Call it inside a tokio runtime; handlers run on that runtime.
    pub async fn start(mut self) -> Result<Pool, PoolError> {
        let interpreter = self
            .config
            .spec
            .adapter
            .resolve_interpreter(self.config.interpreter.as_deref())?;
        self.config.spec.interpreter = interpreter;
        self.place_guest_modules()?;
        // Guests warn on stderr when a handler blocks their event loop for long enough
        // to miss a ping (see the adapters' loopwatch).
        let ping_timeout = self.config.health_timeout.as_millis().to_string();
        self.config
            .spec
            .env
            .push(("POLYHOST_PING_TIMEOUT_MS".into(), ping_timeout));
        let size = self.config.size;
        let spawner = Spawner::start()?;
        let entry = self.config.spec.entry.clone();
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<PoolInner>| PoolInner {
            config: self.config,
            state: Mutex::new(State {
                slots: (0..size).map(|_| Slot::default()).collect(),
                waiting: 0,
                sessions: HashMap::new(),
            }),
            changed: Notify::new(),
            runtime: tokio::runtime::Handle::current(),
            spawner,
            template: Mutex::new(None),
            template_start: tokio::sync::Mutex::new(()),
            shutting_down: AtomicBool::new(false),
            next_worker: AtomicU64::new(1),
            restarts: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            metrics: Metrics::new(&entry, {
                let weak = weak.clone();
                move || weak.upgrade().map(|inner| inner.gauges())
            }),
        });
        let mut started = Vec::new();
        for slot in 0..size {
            let (tx, rx) = oneshot::channel();
            tokio::spawn(supervise(inner.clone(), slot, tx));
            started.push(rx);
        }
        let mut first_error = None;
        for rx in started {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    first_error.get_or_insert(PoolError::Io(std::io::Error::other(
                        "a worker supervisor stopped",
                    )));
                }
            }
        }
        let pool = Pool { inner };
        if let Some(e) = first_error {
            pool.shutdown().await;
            return Err(e);
        }
        Ok(pool)
    }
}

/// A running pool. Clones share it.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
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
    /// A pool of `entry` (e.g. `plugin.calc:make`) run by `adapter`.
    pub fn builder(adapter: Adapter, entry: impl Into<String>) -> PoolBuilder {
        PoolBuilder {
            config: Config {
                spec: WorkerSpec {
                    adapter,
                    entry: entry.into(),
                    module_paths: vec![],
                    interpreter: PathBuf::new(),
                    env_allowlist: DEFAULT_ENV_ALLOWLIST
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    env: vec![],
                    cwd: None,
                    concurrency: 16,
                },
                size: 2,
                queue: 1024,
                call_timeout: None,
                start_timeout: Duration::from_secs(30),
                health_interval: Duration::from_secs(5),
                health_timeout: Duration::from_secs(2),
                session_ttl: Duration::from_secs(600),
                restart_backoff: (Duration::from_millis(50), Duration::from_secs(5)),
                taint_after: 5,
                taint_window: Duration::from_secs(60),
                taint_for: Duration::from_secs(30),
                drain_timeout: Duration::from_secs(10),
                stop_timeout: Duration::from_secs(2),
                limits: Limits::default(),
                callbacks: vec![],
                bindings: vec![],
                interpreter: None,
                start_mode: StartMode::default(),
            },
        }
    }

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

struct PoolInner {
    config: Config,
    state: Mutex<State>,
    /// Signalled when capacity frees up or a worker becomes live.
    changed: Notify,
    runtime: tokio::runtime::Handle,
    spawner: Spawner,
    /// The template workers are forked from, once started (see [`StartMode`]).
    template: Mutex<Option<Arc<Template>>>,
    /// Held while a template starts, so that concurrent worker starts share one.
    template_start: tokio::sync::Mutex<()>,
    shutting_down: AtomicBool,
    next_worker: AtomicU64,
    restarts: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    metrics: Metrics,
}

impl PoolInner {
    /// Waits until `done` holds, checking whenever `changed` fires (a call finished, a
    /// worker came up, shutdown began), or until `limit` has passed. Returns `done`.
    async fn wait_for(&self, limit: Duration, done: impl Fn(&State) -> bool) -> bool {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Workers, busy workers, queued calls and restarts, now.
    fn gauges(&self) -> Gauges {
        self.gauges_of(&self.lock())
    }

    fn gauges_of(&self, st: &State) -> Gauges {
        let live = || st.slots.iter().filter(|s| s.live.is_some());
        Gauges {
            workers: live().count() as u64,
            busy: live().filter(|s| s.in_flight > 0).count() as u64,
            queued: st.waiting as u64,
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }

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

    /// The template, if it is running.
    fn live_template(&self) -> Option<Arc<Template>> {
        self.template
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|t| t.is_alive())
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

struct State {
    slots: Vec<Slot>,
    waiting: usize,
    sessions: HashMap<String, SessionBinding>,
}

struct SessionBinding {
    slot: usize,
    worker: u64,
    last_used: Instant,
}

#[derive(Default)]
struct Slot {
    live: Option<Live>,
    in_flight: usize,
    crashes: VecDeque<Instant>,
    tainted_until: Option<Instant>,
    /// The last worker of this slot that died, for crash reports.
    last_death: Option<Death>,
}

#[derive(Clone)]
struct Death {
    worker: u64,
    name: String,
    exit: ExitReason,
    killed_because: Option<String>,
    stderr_tail: Vec<String>,
}

/// A started worker.
#[derive(Clone)]
struct Live {
    worker_id: u64,
    name: String,
    pid: u32,
    conn: Arc<Connection>,
    worker: WorkerProcessClient,
    services: HashMap<u64, Capability>,
    /// `name (0x<id>)` of every service, for errors.
    service_names: Vec<String>,
    info: WorkerInfo,
    exit: Arc<ExitWatch>,
    process: Arc<launch::ProcessHandle>,
    stderr_tail: StderrTail,
    /// Why the host killed this worker, once it has.
    killed_because: Arc<Mutex<Option<String>>>,
}

impl Live {
    /// Sends `signal` to the worker unless it has exited already (through its process
    /// handle: never to another process that reused the pid); `why` goes into the
    /// crash report of its calls.
    fn kill(&self, signal: i32, why: Option<String>) {
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
    async fn wait_exit(&self, t: Duration) -> bool {
        self.exit.wait(t).await
    }

    fn tail(&self) -> Vec<String> {
        launch::tail_lines(&self.stderr_tail)
    }
}

/// Runs process starts (workers, templates) on one long-lived thread: Linux sends the
/// parent-death signal when the spawning *thread* ends, so it must outlive them.
struct Spawner {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl Spawner {
    fn start() -> std::io::Result<Spawner> {
        let (jobs, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("polyhost-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })?;
        Ok(Spawner { jobs })
    }

    /// Runs `job` on the spawner thread and returns its result.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LaunchError> {
        let (tx, rx) = oneshot::channel();
        let gone = || LaunchError::Socket(std::io::Error::other("the spawner thread is gone"));
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(job());
            }))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }
}

/// Runs one slot: start, watch, restart, until shutdown. Reports the first start.
async fn supervise(
    inner: Arc<PoolInner>,
    slot: usize,
    first: oneshot::Sender<Result<(), PoolError>>,
) {
    let mut first = Some(first);
    loop {
        if inner.shutting_down.load(Ordering::Acquire) {
            return;
        }
        match start_worker(&inner).await {
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
async fn start_worker(inner: &Arc<PoolInner>) -> Result<Live, PoolError> {
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
    let (conn, bootstrap) =
        Connection::start(socket, name.clone(), cfg.limits, inner.runtime.clone())?;
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
        services: HashMap::new(),
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
    let stopping = inner.wait_for(Duration::MAX, |_| {
        inner.shutting_down.load(Ordering::Acquire)
    });
    tokio::select! {
        _ = live.conn.closed() => {}
        _ = exited => {}
        _ = pings => {}
        _ = stopping => {}
    }
}

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
const SCOPED: crate::capability::Method = crate::capability::Method {
    interface_id: <WorkerProcessClient as crate::capability::ServiceClient>::INTERFACE_ID,
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
struct PoolCap {
    inner: Arc<PoolInner>,
    interface_id: u64,
    name: &'static str,
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
