//! [`PoolBuilder`]: a pool's settings, and `start`, which starts every worker's
//! supervisor and waits for the first handshakes.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};

use crate::bindings::Bindings;
use crate::pool::config::{Config, StartMode};
use crate::pool::error::PoolError;
use crate::pool::metrics::Metrics;
use crate::pool::running::Pool;
use crate::pool::state::{PoolInner, Slot, State};
use crate::pool::supervisor::supervise;
use crate::process::adapter::Adapter;
use crate::process::cache::{self, CacheError};
use crate::process::spawner::Spawner;
use crate::rpc::capability::Dispatch;
use crate::rpc::connection::Limits;

impl Pool {
    /// A pool of `entry` (e.g. `plugin.calc:make`) run by `adapter`.
    pub fn builder(adapter: Adapter, entry: impl Into<String>) -> PoolBuilder {
        PoolBuilder {
            config: Config::new(adapter, entry.into()),
        }
    }
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
    /// Runs the connections to the workers as tasks of `local`, a `LocalSet` the host
    /// drives on a current-thread runtime (`local.run_until(..)`, `local.block_on(..)`),
    /// instead of on polyhost's shared I/O threads. Calls made inside `local` then reach
    /// their worker with no thread hop: the cheapest path there is, for a host that
    /// runs on one thread. Calls from other threads still work. The pool's calls
    /// wait while `local` is not driven, and fail once it is dropped (the connections
    /// end with it; new workers cannot start until the pool is built again).
    /// (Workers' output and exits are still watched on the shared I/O threads.)
    pub fn connections_on(mut self, local: &tokio::task::LocalSet) -> Self {
        self.config.connections = crate::executor::Place::local(local);
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
    /// into the cache and puts that folder first among the module paths. Their files
    /// are named to the worker processes in `POLYHOST_GENERATED` (relative paths,
    /// `:`-separated), so that a template process can load them before it forks.
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
        let root = cache::cache_dir().ok_or(CacheError::NoCacheDir)?;
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, c)| (*p, c.as_bytes())).collect();
        let placed = cache::materialize(root, "modules", &language, &files)?;
        self.config.spec.module_paths.insert(0, placed.dir);
        let names: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
        self.config
            .spec
            .env
            .push(("POLYHOST_GENERATED".to_string(), names.join(":")));
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
                sessions_pruned: std::time::Instant::now(),
            }),
            changed: Notify::new(),
            runtime: tokio::runtime::Handle::current(),
            spawner,
            template: Mutex::new(None),
            template_start: tokio::sync::Mutex::new(()),
            shutting_down: AtomicBool::new(false),
            stopping: tokio::sync::watch::Sender::new(false),
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
