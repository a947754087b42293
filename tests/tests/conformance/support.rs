//! What every scenario shares: the adapters under test, starting a guest, the host's
//! Callback, bounded waits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polyhost::worker::WorkerSpec;
use polyhost::{Adapter, HandlerError, Pool, SinkWriter};
use polyhost_tests::conformance::conformance::{
    self as schema, CallbackDispatch, CallbackHandler, ConformanceClient, Point,
};

/// One adapter under test and its conformance guest.
///
/// Adding an adapter to the suite is one entry here plus a guest folder: its runtime
/// is `adapters/<adapter>/`, build.rs renders its modules of the conformance schema
/// into `$OUT_DIR/<adapter>/`, and its guest lives in
/// `tests/conformance/guests/<adapter>/`.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    /// The adapter's folder name under `adapters/`.
    pub adapter: &'static str,
    /// The guest's entry point, in the adapter's syntax.
    pub entry: &'static str,
    /// The guest's source file: tracebacks of guest exceptions must name it.
    pub file: &'static str,
}

/// Every adapter the suite runs against.
pub const ADAPTERS: &[Guest] = &[
    Guest {
        adapter: "python",
        entry: "conformance_guest:make",
        file: "conformance_guest.py",
    },
    Guest {
        adapter: "node",
        entry: "conformance_guest.mjs:make",
        file: "conformance_guest.mjs",
    },
];

/// The longest any single scenario may take (per adapter); nothing in the suite
/// waits without a bound.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

impl Guest {
    pub fn load_adapter(&self) -> Adapter {
        Adapter::load(repo_root().join("adapters").join(self.adapter))
            .unwrap_or_else(|e| panic!("{}: {e}", self.adapter))
    }

    /// The adapter's generated modules of the conformance schema.
    pub fn modules(&self) -> PathBuf {
        let dir = Path::new(polyhost_tests::OUT_DIR).join(self.adapter);
        if let Ok(error) = std::fs::read_to_string(dir.join("RENDER_ERROR")) {
            panic!("[{}] build.rs could not render the conformance schema with this adapter's templates:\n{error}", self.adapter);
        }
        dir
    }

    /// The guest implementation's folder.
    pub fn guest_dir(&self) -> PathBuf {
        repo_root()
            .join("tests/conformance/guests")
            .join(self.adapter)
    }

    /// How to start a guest worker by hand (`polyhost::worker::spawn`).
    pub fn spec(&self) -> WorkerSpec {
        let adapter = self.load_adapter();
        let interpreter = adapter
            .resolve_interpreter(None)
            .unwrap_or_else(|e| panic!("{e}"));
        WorkerSpec {
            adapter,
            entry: self.entry.to_string(),
            module_paths: vec![self.modules(), self.guest_dir()],
            interpreter,
            env_allowlist: polyhost::worker::DEFAULT_ENV_ALLOWLIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
            env: vec![],
            cwd: None,
            concurrency: 16,
        }
    }
}

/// The adapters to run: all of [`ADAPTERS`], or those named in
/// `POLYHOST_CONFORMANCE_ADAPTERS` (comma-separated), for working on one adapter.
pub fn selected() -> Vec<Guest> {
    let only = std::env::var("POLYHOST_CONFORMANCE_ADAPTERS").unwrap_or_default();
    let names: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for name in &names {
        assert!(
            ADAPTERS.iter().any(|g| g.adapter == *name),
            "POLYHOST_CONFORMANCE_ADAPTERS names `{name}`, which is not in ADAPTERS"
        );
    }
    ADAPTERS
        .iter()
        .copied()
        .filter(|g| names.is_empty() || names.contains(&g.adapter))
        .collect()
}

/// Runs `scenario` for every selected adapter, each within [`SCENARIO_LIMIT`]. Every
/// adapter runs even when an earlier one failed (one adapter's failure must not hide
/// another's result); the test then fails naming each adapter that failed.
pub async fn for_each_adapter<F, Fut>(scenario: F)
where
    F: Fn(Guest) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let failures = run_each_adapter(scenario).await;
    if !failures.is_empty() {
        panic!("{}", failures.join("\n"));
    }
}

/// Runs `scenario` for every selected adapter; the failure of each adapter that
/// failed (a panic, or no end within [`SCENARIO_LIMIT`]).
pub async fn run_each_adapter<F, Fut>(scenario: F) -> Vec<String>
where
    F: Fn(Guest) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    let mut failures = vec![];
    for guest in &selected() {
        let run =
            std::panic::AssertUnwindSafe(tokio::time::timeout(SCENARIO_LIMIT, scenario(*guest)))
                .catch_unwind()
                .await;
        match run {
            Ok(Ok(())) => {}
            Ok(Err(_)) => failures.push(format!(
                "[{}] the scenario did not finish within {SCENARIO_LIMIT:?}",
                guest.adapter
            )),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                failures.push(format!("[{}] failed: {message}", guest.adapter));
            }
        }
    }
    failures
}

/// Awaits `fut`, failing the test with `what` if it takes longer than `limit`.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {limit:?}"),
    }
}

/// Polls `check` until it returns `Some`, for at most `limit`; `None` on timeout.
pub async fn eventually<T, Fut>(limit: Duration, mut check: impl FnMut() -> Fut) -> Option<T>
where
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts live host objects (a host Callback passed to a guest): one guard per object.
pub struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    pub fn new(count: &Arc<AtomicUsize>) -> LiveGuard {
        count.fetch_add(1, Ordering::SeqCst);
        LiveGuard(count.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The host's implementation of `Callback`: `call(x)` answers `x * factor + 1` (and
/// refuses negative x with a `HostRefused` error); `produce(n)` streams the points
/// (i, -i).
pub struct HostCallback {
    pub factor: i64,
    pub calls: AtomicUsize,
    _live: Option<LiveGuard>,
}

impl HostCallback {
    pub fn new(factor: i64) -> HostCallback {
        HostCallback {
            factor,
            calls: AtomicUsize::new(0),
            _live: None,
        }
    }

    /// A callback counted in `live` while it exists.
    pub fn counted(factor: i64, live: &Arc<AtomicUsize>) -> HostCallback {
        HostCallback {
            factor,
            calls: AtomicUsize::new(0),
            _live: Some(LiveGuard::new(live)),
        }
    }
}

#[async_trait::async_trait]
impl CallbackHandler for HostCallback {
    async fn call(&self, x: i64) -> Result<i64, HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if x < 0 {
            return Err(HandlerError::new(
                "HostRefused",
                format!("negative input {x}"),
            ));
        }
        Ok(x * self.factor + 1)
    }

    async fn produce(&self, count: u32, mut out: SinkWriter<Point>) -> Result<(), HandlerError> {
        for i in 0..count {
            out.send(Point {
                x: f64::from(i),
                y: -f64::from(i),
            })
            .await?;
        }
        out.finish().await
    }
}

/// A guest started in a pool of one worker, with the host's Callback.
pub struct Started {
    pub pool: Pool,
    pub client: ConformanceClient,
    pub callback: Arc<HostCallback>,
}

/// Starts one worker of `guest` in a pool (size 1).
pub async fn start(guest: Guest) -> Started {
    let callback = Arc::new(HostCallback::new(3));
    let pool = Pool::builder(guest.load_adapter(), guest.entry)
        .size(1)
        .concurrency(16)
        .module_path(guest.guest_dir())
        .bindings(&schema::BINDINGS)
        .callback(Arc::new(CallbackDispatch(callback.clone())))
        .call_timeout(Duration::from_secs(30))
        // Supervision is the pool tests' business: a guest busy with a large value on a
        // loaded machine must not be taken for a hung one.
        .health_check(Duration::from_secs(30), Duration::from_secs(30))
        .start_timeout(Duration::from_secs(20))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
        .start()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "[{}] the conformance guest did not start: {e}",
                guest.adapter
            )
        });
    let client: ConformanceClient = pool.client();
    Started {
        pool,
        client,
        callback,
    }
}

impl Started {
    pub async fn stop(self) {
        within(
            Duration::from_secs(10),
            "pool shutdown",
            self.pool.shutdown(),
        )
        .await;
    }
}

/// Waits (at most `limit`) for the process to exit and reaps it; returns its exit
/// status and peak resident set size in KiB (`ru_maxrss`), or `None` if it is still
/// running (then it is killed).
pub fn reap(pid: u32, limit: Duration) -> Option<(i32, i64)> {
    let until = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: plain syscall with valid out-pointers.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let got =
            unsafe { libc::wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid as libc::pid_t {
            return Some((status, usage.ru_maxrss));
        }
        if got == -1 || Instant::now() >= until {
            polyhost_tests::signal(pid, libc::SIGKILL);
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The peak resident set size (VmHWM, KiB) of a running process, if it still runs.
pub fn vm_hwm_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
