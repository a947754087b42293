//! A pool's settings and their defaults: what [`PoolBuilder`](crate::PoolBuilder)'s
//! setters change and every other part of the pool reads.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bindings::Bindings;
use crate::executor::Place;
use crate::process::adapter::Adapter;
use crate::process::launch::{WorkerSpec, DEFAULT_ENV_ALLOWLIST};
use crate::rpc::capability::Dispatch;
use crate::rpc::connection::Limits;

/// The deadline of a call when neither its caller, nor its method's `$timeoutMs`, nor
/// [`PoolBuilder::call_timeout`] gave one: a handler that never returns does not hold
/// its worker slot forever.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(300);

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
pub(crate) struct Config {
    pub(crate) spec: WorkerSpec,
    pub(crate) size: usize,
    pub(crate) queue: usize,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) start_timeout: Duration,
    pub(crate) health_interval: Duration,
    pub(crate) health_timeout: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) restart_backoff: (Duration, Duration),
    pub(crate) taint_after: usize,
    pub(crate) taint_window: Duration,
    pub(crate) taint_for: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) limits: Limits,
    /// Where the workers' connections run.
    pub(crate) connections: Place,
    pub(crate) callbacks: Vec<Arc<dyn Dispatch>>,
    pub(crate) bindings: Vec<Bindings>,
    pub(crate) interpreter: Option<PathBuf>,
    pub(crate) start_mode: StartMode,
}

impl Config {
    /// The defaults for a pool of `entry` run by `adapter`.
    pub(crate) fn new(adapter: Adapter, entry: String) -> Config {
        Config {
            spec: WorkerSpec {
                adapter,
                entry,
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
            connections: Place::Shared,
            callbacks: vec![],
            bindings: vec![],
            interpreter: None,
            start_mode: StartMode::default(),
        }
    }
}
