//! What every scenario shares: the guest of a discovered adapter, running a scenario
//! against it, starting a guest, the host's Callback, bounded waits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use polyhost_tests::eventually;

use polyhost::worker::WorkerSpec;
use polyhost::{Adapter, HandlerError, Pool, SinkWriter};
use polyhost_tests::adapters::{self, Discovered, DiscoveryError};
use polyhost_tests::conformance::conformance::{
    self as schema, CallbackDispatch, CallbackHandler, ConformanceClient, Point,
};

/// One adapter under test and its conformance guest, both discovered: the adapter is
/// a folder with an `adapter.json` (`polyhost_tests::adapters`), its guest the folder
/// of the same name under `tests/conformance/guests/`. build.rs renders the conformance
/// schema with the adapter's templates into `$OUT_DIR/<language>/`.
#[derive(Debug, Clone)]
pub struct Guest {
    /// The adapter's folder name (`python`).
    pub adapter: String,
    /// The adapter, loaded from its folder.
    pub loaded: Adapter,
    /// The guest's entry point, in the adapter's syntax.
    pub entry: String,
    /// The guest's source file: tracebacks of guest exceptions must name it.
    pub file: String,
    /// The guest implementation's folder.
    pub guest_dir: PathBuf,
}

/// The longest any single scenario may take (per adapter); nothing in the suite
/// waits without a bound.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(60);

impl Guest {
    /// The conformance guest of a discovered adapter, its guest looked up under
    /// `guests_root`; says what is missing when there is none.
    pub fn of(found: &Discovered, guests_root: &Path) -> Result<Guest, DiscoveryError> {
        let files = found.conformance_guest(guests_root)?;
        Ok(Guest {
            adapter: found.name.clone(),
            loaded: found.adapter.clone(),
            entry: files.entry,
            file: files.file,
            guest_dir: files.dir,
        })
    }

    /// The adapter's generated modules of the conformance schema.
    pub fn modules(&self) -> PathBuf {
        let dir = Path::new(polyhost_tests::OUT_DIR).join(&self.loaded.definition.language);
        if let Ok(error) = std::fs::read_to_string(dir.join("RENDER_ERROR")) {
            panic!("[{}] build.rs could not render the conformance schema with this adapter's templates:\n{error}", self.adapter);
        }
        dir
    }

    /// How to start a guest worker by hand (`polyhost::worker::spawn`).
    pub fn spec(&self) -> WorkerSpec {
        let adapter = self.loaded.clone();
        let interpreter = adapter
            .resolve_interpreter(None)
            .unwrap_or_else(|e| panic!("{e}"));
        WorkerSpec {
            adapter,
            entry: self.entry.clone(),
            module_paths: vec![self.modules(), self.guest_dir.clone()],
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

/// Runs `scenario` against the guest of the adapter folder `adapter` (under
/// `polyhost_tests::adapters::adapters_root()`), within [`SCENARIO_LIMIT`]: the
/// runner of every test `for_adapters!` makes in this suite.
pub async fn run<F, Fut>(adapter: &'static str, scenario: F)
where
    F: FnOnce(Guest) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let found = adapters::named(adapter);
    let guest = Guest::of(&found, &adapters::guests_root()).unwrap_or_else(|e| panic!("{e}"));
    run_guest(guest, scenario).await
}

/// Runs `scenario` against `guest` within [`SCENARIO_LIMIT`].
pub async fn run_guest<F, Fut>(guest: Guest, scenario: F)
where
    F: FnOnce(Guest) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let name = guest.adapter.clone();
    if tokio::time::timeout(SCENARIO_LIMIT, scenario(guest))
        .await
        .is_err()
    {
        panic!("[{name}] the scenario did not finish within {SCENARIO_LIMIT:?}");
    }
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
pub async fn start(guest: &Guest) -> Started {
    let callback = Arc::new(HostCallback::new(3));
    let pool = Pool::builder(guest.loaded.clone(), guest.entry.clone())
        .size(1)
        .concurrency(16)
        .module_path(guest.guest_dir.clone())
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

/// This test process's resident set size (VmRSS, KiB).
pub fn self_rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// The peak resident set size (VmHWM, KiB) of a running process, if it still runs.
pub fn vm_hwm_kib(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A scenario as a value: its future, boxed.
pub type Scenario = fn(Guest) -> futures::future::LocalBoxFuture<'static, ()>;
