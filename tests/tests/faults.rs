//! Faults a production pool meets, injected on purpose into Python and Node workers
//! (`tests/plugins/fault_plugin.{py,mjs}`): busy and blocked workers under health
//! checks, workers' children, process groups, huge deadlines. Every scenario is one
//! test per adapter; each asserts that every call returns or fails with a typed error
//! and that the pool carries on.

use std::time::Duration;

use polyhost::{CallError, CallOptions, PoolBuilder, StartMode};
use polyhost_tests::fault_pool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use polyhost::HandlerError;
use polyhost::MAX_CALLBACKS_IN_FLIGHT;
use polyhost_tests::faults::{FaultsClient, HostGateDispatch, HostGateHandler, NestClient};
use polyhost_tests::for_adapters;
use tokio::sync::{watch, Notify};

for_adapters!(
    busy_workers_answer_health_pings,
    a_handler_that_blocks_the_event_loop_is_explained,
    children_of_a_worker_do_not_inherit_its_socket,
    workers_run_in_a_process_group_of_their_own,
    a_deadline_too_far_to_name_does_not_panic_the_host,
    a_call_pipelined_outside_an_async_runtime_goes_out,
    a_call_for_an_interface_no_worker_serves_fails_at_once,
    calls_on_returned_and_pipelined_capabilities_keep_their_deadline,
    a_callback_flood_is_bounded_per_worker,
    a_host_handler_that_panics_fails_only_its_call,
    a_call_on_a_capability_whose_worker_died_fails_typed,
    a_stopped_worker_is_killed_and_replaced,
    shutdown_escalates_to_sigterm_then_sigkill,
    concurrent_calls_go_to_the_least_loaded_worker,
    a_deadline_is_the_callers_else_the_methods_else_the_pools,
    an_idle_session_is_forgotten_after_its_ttl,
);

fn pool(adapter: &str, size: usize) -> PoolBuilder {
    fault_pool(adapter, size)
        .restart_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
}

/// Awaits `fut`, failing the test with `what` if it takes longer than `limit`.
async fn within<T>(limit: Duration, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// A call failed because its worker was cut off (killed, or its connection closed).
fn assert_worker_lost(err: &CallError) {
    assert!(
        matches!(
            err,
            CallError::WorkerCrashed { .. } | CallError::Disconnected { .. }
        ),
        "{err:?}"
    );
}

/// The next call is answered, by a worker other than `pid`: the pool replaced it.
async fn answered_by_a_new_worker(faults: &FaultsClient, pid: u32) {
    let new_pid = within(Duration::from_secs(20), "a call after", faults.pid())
        .await
        .unwrap()
        .pid;
    assert_ne!(new_pid, pid);
}

/// Every concurrency slot is taken by calls that run for many ping timeouts: the
/// worker's health pings do not queue behind them, so the worker is not killed.
async fn busy_workers_answer_health_pings(adapter: &str) {
    let pool = pool(adapter, 1)
        .concurrency(2)
        .health_check(Duration::from_millis(100), Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let (a, b) = within(
        Duration::from_secs(20),
        "two long calls",
        futures::future::join(faults.sleep(2_000), faults.sleep(2_000)),
    )
    .await;
    assert_eq!(
        a.unwrap(),
        pid,
        "[{adapter}] the first long call ran to its end"
    );
    assert_eq!(
        b.unwrap(),
        pid,
        "[{adapter}] the second long call ran to its end"
    );
    assert_eq!(pool.stats().restarts, 0, "[{adapter}] {:?}", pool.stats());
    assert_eq!(pool.stats().pids, vec![pid]);
    pool.shutdown().await;
}

/// A handler blocks its worker's event loop (CPU-bound or blocking code in an async
/// handler) for longer than the ping timeout. The worker cannot answer the ping, so the
/// host kills it; the call fails with a crash report that says so, and the worker's own
/// message (in the stderr tail) says what blocked the loop and what to write instead.
async fn a_handler_that_blocks_the_event_loop_is_explained(adapter: &str) {
    let pool = pool(adapter, 1)
        .health_check(Duration::from_millis(100), Duration::from_millis(400))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let err = within(
        Duration::from_secs(20),
        "the blocking call",
        faults.block(10_000),
    )
    .await
    .unwrap_err();
    let CallError::WorkerCrashed {
        exit,
        killed_because,
        stderr_tail,
        worker,
        ..
    } = &err
    else {
        panic!("[{adapter}] expected WorkerCrashed, got {err:?}");
    };
    assert!(worker.contains(&format!("pid {pid}")), "[{adapter}] {err}");
    assert_eq!(
        *exit,
        polyhost::ExitReason::Signal(libc::SIGKILL),
        "[{adapter}] {err}"
    );
    assert!(
        killed_because
            .as_deref()
            .is_some_and(|w| w.contains("health ping")),
        "[{adapter}] {err}"
    );
    let tail = stderr_tail.join("\n");
    assert!(
        tail.contains("the event loop has been blocked"),
        "[{adapter}] {err}"
    );
    let advice = match adapter {
        "python" => "asyncio.to_thread",
        _ => "worker_threads",
    };
    assert!(tail.contains(advice), "[{adapter}] {err}");
    if adapter == "python" {
        // The stack names the handler that blocks.
        assert!(tail.contains("in block"), "[{adapter}] {err}");
    }
    // The pool carries on with a new worker.
    let new_pid = within(
        Duration::from_secs(20),
        "a call after the kill",
        faults.pid(),
    )
    .await
    .unwrap()
    .pid;
    assert_ne!(new_pid, pid);
    pool.shutdown().await;
}

/// A child the plugin starts the way `os.system` or fork and exec do (inheriting every
/// fd not marked close-on-exec) does not get the worker's RPC socket (fd 3).
async fn children_of_a_worker_do_not_inherit_its_socket(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let probe = r#"if [ -e /proc/$$/fd/3 ]; then echo open; else echo closed; fi"#;
    let done = faults.shell(probe.into()).await.unwrap();
    assert_eq!(done.status, 0, "[{adapter}]");
    assert_eq!(done.output.trim(), "closed", "[{adapter}] the child's fd 3");
    pool.shutdown().await;
}

/// The host's process group (a terminal's Ctrl-C goes to it) holds no worker.
async fn workers_run_in_a_process_group_of_their_own(adapter: &str) {
    let pool = pool(adapter, 2).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    // SAFETY: getpgrp(2) cannot fail.
    let host_group = unsafe { libc::getpgrp() } as u32;
    let seen = faults.pid().await.unwrap();
    assert_ne!(seen.pgid, host_group, "[{adapter}] as the worker sees it");
    let pids = pool.stats().pids;
    assert_eq!(pids.len(), 2, "[{adapter}]");
    for pid in pids {
        let group = process_group(pid).expect("a live worker");
        assert_ne!(group, host_group, "[{adapter}] worker {pid}");
    }
    pool.shutdown().await;
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// A `platform.py` in the host's working directory would shadow the standard module
/// in every worker (and the template) if that directory were on the module path.
async fn a_module_in_the_working_directory_is_not_imported(mode: StartMode) {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(
        cwd.path().join("platform.py"),
        "raise ImportError('platform.py from the working directory was imported')\n",
    )
    .unwrap();
    let pool = pool("python", 1)
        .cwd(cwd.path())
        .start_mode(mode)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    let faults: FaultsClient = pool.client();
    faults.pid().await.unwrap();
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_module_in_the_working_directory_is_not_imported_by_forked_workers() {
    a_module_in_the_working_directory_is_not_imported(StartMode::Template).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_module_in_the_working_directory_is_not_imported_by_fresh_workers() {
    a_module_in_the_working_directory_is_not_imported(StartMode::Fresh).await
}

/// A template (or plugin code imported into one) that reports a pid that names no
/// single new process: 0 (the host's process group), 1 (init), 2^31 and u32::MAX (a
/// process group, or every process as a pid_t). The host refuses the report, stops
/// that template and never signals the pid; the start fails with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_pids_from_a_template_are_refused() {
    let script = std::path::Path::new(polyhost_tests::PLUGINS).join("forging_template.py");
    for forged in [0u64, 1, 1 << 31, u64::from(u32::MAX)] {
        let mut adapter = polyhost::Adapter::bundled("python").unwrap();
        adapter.definition.template = vec![script.display().to_string(), "{entry}".into()];
        let started = polyhost::Pool::builder(adapter, "fault_plugin:make")
            .size(1)
            .env("FORGED_PID", forged.to_string())
            .start_timeout(Duration::from_secs(10))
            .start()
            .await;
        let err = match started {
            Ok(_) => panic!("a pool started with a worker of forged pid {forged}"),
            Err(e) => e,
        };
        assert!(
            matches!(
                &err,
                polyhost::PoolError::Template(polyhost::TemplateError::Fork { .. })
            ),
            "pid {forged}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("pid {forged}")), "{err}");
    }
}

/// `Duration::MAX` as a call's timeout (with a session, so the deadline is also sent to
/// the worker) and as the pool's: no overflow panic in the host, and the call returns.
async fn a_deadline_too_far_to_name_does_not_panic_the_host(adapter: &str) {
    let pool = pool(adapter, 1)
        .call_timeout(Duration::MAX)
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let forever = CallOptions {
        timeout: Some(Duration::MAX),
        session: Some("s".into()),
        ..Default::default()
    };
    let pid = faults.sleep_with(1, forever).await.unwrap();
    assert_eq!(faults.sleep(1).await.unwrap(), pid, "[{adapter}]");
    pool.shutdown().await;
}

/// A pipelined call made on a pipelined capability from a thread with no async
/// runtime (a plain `std::thread`) does not panic, and goes out.
async fn a_call_pipelined_outside_an_async_runtime_goes_out(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let nest = faults.nest_pipelined(1);
    // `nest` is itself pipelined (not resolved yet, most likely): the call on it waits
    // for it without a task.
    let deeper = std::thread::spawn(move || nest.child_pipelined())
        .join()
        .expect("no panic outside the runtime");
    assert_eq!(deeper.depth().await.unwrap(), 2, "[{adapter}]");
    pool.shutdown().await;
}

/// A client of an interface the plugin does not serve fails at once with a typed error
/// naming what the workers do serve, instead of waiting in the queue forever.
async fn a_call_for_an_interface_no_worker_serves_fails_at_once(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let wrong: NestClient = pool.client();
    let err = within(
        Duration::from_secs(10),
        "a call no worker serves",
        wrong.depth(),
    )
    .await
    .unwrap_err();
    match &err {
        CallError::MissingService { served, .. } => {
            assert!(served.contains("Faults"), "[{adapter}] {err}")
        }
        other => panic!("[{adapter}] expected MissingService, got {other:?}"),
    }
    let faults: FaultsClient = pool.client();
    faults.sleep(1).await.unwrap();
    assert_eq!(pool.stats().queued, 0);
    pool.shutdown().await;
}

/// A capability a worker returned, and one still pipelined, apply the caller's
/// timeout to their calls (and cancel the call in the worker at the deadline).
async fn calls_on_returned_and_pipelined_capabilities_keep_their_deadline(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let short = || CallOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let returned = faults.nest(0).await.unwrap().expect("a Nest");
    let pipelined = faults.nest_pipelined(0);
    for (what, nest) in [("returned", returned), ("pipelined", pipelined)] {
        let started = std::time::Instant::now();
        let err = within(
            Duration::from_secs(20),
            what,
            nest.sleep_with(10_000, short()),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, CallError::Timeout { after, .. } if after == Duration::from_millis(200)),
            "[{adapter}] {what}: {err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "[{adapter}] {what}"
        );
        assert_eq!(
            nest.depth().await.unwrap(),
            0,
            "[{adapter}] {what}: still usable"
        );
    }
    pool.shutdown().await;
}

/// The host side of `HostGate`: `hold` waits until the gate opens; counts the handlers
/// running and the most at once.
struct Gate {
    running: AtomicUsize,
    peak: AtomicUsize,
    ended: Notify,
    open: watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            ended: Notify::new(),
            open: watch::channel(false).0,
        }
    }
}

#[async_trait::async_trait]
impl HostGateHandler for Gate {
    async fn hold(&self) -> Result<(), HandlerError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|o| *o).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.ended.notify_waiters();
        Ok(())
    }

    async fn panic(&self) -> Result<(), HandlerError> {
        panic!("this host handler panics on purpose")
    }
}

/// A worker starts 1000 callbacks at once into a host handler that does not return
/// until told: the host runs MAX_CALLBACKS_IN_FLIGHT of them, the rest fail at once as
/// `overloaded` in the worker; once the gate opens the held ones return, and later
/// callbacks find room again.
async fn a_callback_flood_is_bounded_per_worker(adapter: &str) {
    const FLOOD: u32 = 1000;
    let rejected = FLOOD - MAX_CALLBACKS_IN_FLIGHT as u32;
    let gate = Arc::new(Gate::default());
    let pool = pool(adapter, 1)
        .callback(Arc::new(HostGateDispatch(gate.clone())))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    // Answers once the rejected ones have come back; the held ones keep running.
    let early = within(
        Duration::from_secs(30),
        "the callbacks beyond the bound fail",
        faults.flood(FLOOD, rejected),
    )
    .await
    .unwrap();
    assert_eq!(early.other, "", "[{adapter}]");
    assert_eq!((early.ok, early.overloaded), (0, rejected), "[{adapter}]");
    assert_eq!(
        gate.running.load(Ordering::SeqCst),
        MAX_CALLBACKS_IN_FLIGHT,
        "[{adapter}] host handlers running"
    );
    gate.open.send_replace(true);
    // The bound is on calls in flight: once the held ones return there is room again.
    within(
        Duration::from_secs(30),
        "the held callbacks return",
        async {
            loop {
                let ended = gate.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if gate.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                ended.await;
            }
        },
    )
    .await;
    let again = within(
        Duration::from_secs(30),
        "a second flood",
        faults.flood(10, 10),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.ok, again.overloaded),
        (10, 0),
        "[{adapter}] {again:?}"
    );
    assert_eq!(
        gate.peak.load(Ordering::SeqCst),
        MAX_CALLBACKS_IN_FLIGHT,
        "[{adapter}]"
    );
    pool.shutdown().await;
}

/// A host handler panics: the worker's callback fails with an error that says so, the
/// host and the pool carry on.
async fn a_host_handler_that_panics_fails_only_its_call(adapter: &str) {
    let pool = pool(adapter, 1)
        .callback(Arc::new(HostGateDispatch(Arc::new(Gate::default()))))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let message = faults.host_panic().await.unwrap();
    assert!(message.contains("HandlerPanic"), "[{adapter}] {message}");
    assert_eq!(
        faults.pid().await.unwrap().pid,
        pid,
        "[{adapter}] same worker"
    );
    assert_eq!(pool.stats().restarts, 0);
    pool.shutdown().await;
}

/// A capability a worker returned outlives its worker: calls on it fail with a typed
/// error at once, and the pool replaces the worker.
async fn a_call_on_a_capability_whose_worker_died_fails_typed(adapter: &str) {
    let pool = pool(adapter, 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let nest = faults.nest(0).await.unwrap().expect("a Nest");
    assert!(matches!(
        faults.exit(9).await,
        Err(CallError::WorkerCrashed { .. })
    ));
    let err = within(
        Duration::from_secs(10),
        "a call on the orphaned capability",
        nest.depth(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CallError::Disconnected { .. }),
        "[{adapter}] {err:?}"
    );
    let new_pid = within(
        Duration::from_secs(20),
        "a call after the death",
        faults.pid(),
    )
    .await
    .unwrap()
    .pid;
    assert_ne!(new_pid, pid);
    pool.shutdown().await;
}

/// SIGSTOP freezes a worker mid-call: it answers no ping, so the host kills it (SIGKILL
/// reaches a stopped process); the call fails with the reason and the pool carries on.
async fn a_stopped_worker_is_killed_and_replaced(adapter: &str) {
    let pool = pool(adapter, 1)
        .health_check(Duration::from_millis(100), Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let call = tokio::spawn({
        let faults = faults.clone();
        async move { faults.sleep(10_000).await }
    });
    within(Duration::from_secs(10), "the call starts", async {
        while pool.stats().busy == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    polyhost_tests::signal(pid, libc::SIGSTOP);
    let err = within(Duration::from_secs(20), "the frozen call", call)
        .await
        .unwrap()
        .unwrap_err();
    match &err {
        CallError::WorkerCrashed {
            exit,
            killed_because,
            ..
        } => {
            assert_eq!(
                *exit,
                polyhost::ExitReason::Signal(libc::SIGKILL),
                "[{adapter}]"
            );
            assert!(
                killed_because
                    .as_deref()
                    .is_some_and(|w| w.contains("health ping")),
                "[{adapter}] {err}"
            );
        }
        other => panic!("[{adapter}] expected WorkerCrashed, got {other:?}"),
    }
    let new_pid = within(
        Duration::from_secs(20),
        "a call after the kill",
        faults.pid(),
    )
    .await
    .unwrap()
    .pid;
    assert_ne!(new_pid, pid);
    pool.shutdown().await;
}

/// A worker that ignores the shutdown call (its loop is blocked) and SIGTERM: the
/// pool's shutdown waits for the drain, then each step, then SIGKILLs it, and returns.
async fn shutdown_escalates_to_sigterm_then_sigkill(adapter: &str) {
    let step = Duration::from_millis(300);
    let pool = fault_pool(adapter, 1)
        .shutdown_timeouts(step, step)
        .health_check(Duration::from_secs(60), Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let stubborn = tokio::spawn({
        let faults = faults.clone();
        async move { faults.ignore_term(60_000).await }
    });
    within(Duration::from_secs(10), "the stubborn call starts", async {
        while pool.stats().busy == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // Its SIGTERM disposition is set before the loop blocks.
    within(Duration::from_secs(10), "SIGTERM ignored", async {
        while !sigterm_ignored(pid) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let started = std::time::Instant::now();
    within(Duration::from_secs(10), "the shutdown", pool.shutdown()).await;
    let took = started.elapsed();
    // drain + shutdown call + SIGTERM, each waited for in full, then SIGKILL.
    assert!(took >= step * 3, "[{adapter}] shut down in {took:?}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists() || zombie(pid));
    let err = stubborn.await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            CallError::WorkerCrashed { .. } | CallError::Disconnected { .. }
        ),
        "[{adapter}] {err:?}"
    );
}

/// Whether `pid` ignores or catches SIGTERM (SigIgn / SigCgt in /proc/<pid>/status).
fn sigterm_ignored(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigIgn:")
                .or_else(|| l.strip_prefix("SigCgt:"))
        })
        .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .any(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(true)
}

/// Two calls at once on a pool of two workers go to different workers (each worker
/// could take both: concurrency 4), and the workers started in parallel.
async fn concurrent_calls_go_to_the_least_loaded_worker(adapter: &str) {
    let pool = pool(adapter, 2).concurrency(4).start().await.unwrap();
    assert_eq!(pool.stats().workers, 2);
    let faults: FaultsClient = pool.client();
    let (a, b) = futures::future::join(faults.sleep(300), faults.sleep(300)).await;
    assert_ne!(
        a.unwrap(),
        b.unwrap(),
        "[{adapter}] both calls went to one worker"
    );
    pool.shutdown().await;
}

/// A worker that shuts down the sending side of its RPC socket but stays alive: the
/// host sees the connection end and closes its side; the worker exits (or is killed,
/// saying why, if it does not), its call fails typed and the pool replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_half_closes_its_socket_is_replaced() {
    let pool = pool("python", 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let err = within(
        Duration::from_secs(20),
        "the half-closing call",
        faults.socket("half-close".into()),
    )
    .await
    .unwrap_err();
    match &err {
        CallError::WorkerCrashed {
            exit,
            killed_because,
            ..
        } => assert!(
            *exit == polyhost::ExitReason::Code(0)
                || killed_because
                    .as_deref()
                    .is_some_and(|w| w.contains("connection ended")),
            "{err}"
        ),
        other => panic!("expected WorkerCrashed, got {other:?}"),
    }
    answered_by_a_new_worker(&faults, pid).await;
    pool.shutdown().await;
}

/// A worker announces a frame far over the host's message limit: the host cuts it off
/// without allocating for it, the call fails typed and the pool replaces the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frame_over_the_size_limit_cuts_the_worker_off() {
    let pool = pool("python", 1).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let err = within(
        Duration::from_secs(20),
        "the oversize frame",
        faults.socket("oversize".into()),
    )
    .await
    .unwrap_err();
    assert_worker_lost(&err);
    answered_by_a_new_worker(&faults, pid).await;
    pool.shutdown().await;
}

/// The deadline order: the caller's `CallOptions::timeout`, else the method's
/// `$timeoutMs` (400 ms on `sleepTimed`), else the pool's `call_timeout` (200 ms).
async fn a_deadline_is_the_callers_else_the_methods_else_the_pools(adapter: &str) {
    let pool = pool(adapter, 1)
        .call_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let after = |r: Result<(), CallError>| match r {
        Err(CallError::Timeout { after, .. }) => after,
        other => panic!("[{adapter}] expected a timeout, got {other:?}"),
    };
    let pools = after(faults.sleep(10_000).await.map(|_| ()));
    assert_eq!(pools, Duration::from_millis(200), "[{adapter}] the pool's");
    let methods = after(faults.sleep_timed(10_000).await);
    assert_eq!(
        methods,
        Duration::from_millis(400),
        "[{adapter}] the method's"
    );
    let callers = CallOptions {
        timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let caller = after(faults.sleep_timed_with(10_000, callers).await);
    assert_eq!(
        caller,
        Duration::from_millis(100),
        "[{adapter}] the caller's"
    );
    faults.sleep(1).await.unwrap();
    pool.shutdown().await;
}

/// A worker that stops reading its socket: the host's writes back up behind it. Its
/// pings go unanswered, so it is killed; every call sent to it fails typed and the
/// pool carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_never_reads_its_socket_is_killed_and_its_calls_fail() {
    let pool = pool("python", 1)
        .health_check(Duration::from_millis(100), Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    faults.socket("deaf".into()).await.unwrap();
    // 8 MB of calls: far more than the socket buffers hold.
    let calls = (0..8).map(|_| faults.write("stdout".into(), vec![b'.'; 1 << 20]));
    let outcomes = within(
        Duration::from_secs(30),
        "calls to a worker that reads nothing",
        futures::future::join_all(calls),
    )
    .await;
    for outcome in outcomes {
        match outcome {
            Err(CallError::WorkerCrashed { killed_because, .. }) => assert!(
                killed_because
                    .as_deref()
                    .is_some_and(|w| w.contains("health ping")),
                "{killed_because:?}"
            ),
            other => panic!("expected WorkerCrashed, got {other:?}"),
        }
    }
    answered_by_a_new_worker(&faults, pid).await;
    pool.shutdown().await;
}

/// A worker pushes 3000 items into a stream as plain calls, ignoring the stream's
/// window, while the host reads nothing: the host holds the stream's buffer and at most
/// MAX_CALLBACKS_IN_FLIGHT pushes, refuses the rest as `overloaded`, and the consumer
/// gets the items in order without a gap, then an error saying the stream broke.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stream_pushes_that_ignore_the_window_are_bounded() {
    use futures::StreamExt;
    const PUSHES: usize = 3000;
    let pool = pool("python", 1).concurrency(4).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let mut items = faults.spray(PUSHES as u32);
    let first = within(Duration::from_secs(20), "the first item", items.next())
        .await
        .expect("an item")
        .unwrap();
    assert_eq!(first, "0");
    // Reading nothing more until the worker has seen a push refused.
    within(
        Duration::from_secs(30),
        "a refused push",
        faults.spray_refused(),
    )
    .await
    .unwrap();
    let mut received = vec![first];
    let mut broken = None;
    while let Some(item) = within(Duration::from_secs(30), "the rest", items.next()).await {
        match item {
            Ok(text) => {
                assert!(broken.is_none(), "an item after the stream broke: {text}");
                received.push(text);
            }
            Err(e) => {
                broken.get_or_insert(e);
            }
        }
    }
    let expected: Vec<String> = (0..received.len()).map(|i| i.to_string()).collect();
    assert_eq!(received, expected, "in order, no gap");
    assert!(received.len() < PUSHES, "{} items", received.len());
    match broken {
        Some(CallError::Remote { exception_type, .. }) => {
            assert_eq!(exception_type, "StreamBroken")
        }
        other => panic!("expected the stream to end with StreamBroken, got {other:?}"),
    }
    faults.sleep(1).await.unwrap();
    pool.shutdown().await;
}

/// A worker sends a well-framed but malformed Return (for a question the host never
/// asked): the host drops the connection as a protocol error, the calls on it fail
/// typed, and the pool replaces the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_return_cuts_the_worker_off() {
    let pool = pool("python", 1).concurrency(4).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;
    let bystander = tokio::spawn({
        let faults = faults.clone();
        async move { faults.sleep(10_000).await }
    });
    // Sent once its slot is taken (no await in between); a later call on the same
    // connection answering means the worker has received it.
    within(
        Duration::from_secs(10),
        "the call beside it starts",
        async {
            while pool.stats().busy == 0 {
                tokio::task::yield_now().await;
            }
        },
    )
    .await;
    faults.pid().await.unwrap();
    let err = within(
        Duration::from_secs(20),
        "the malformed Return",
        faults.socket("bad-return".into()),
    )
    .await
    .unwrap_err();
    assert_worker_lost(&err);
    let other = within(Duration::from_secs(20), "the call beside it", bystander)
        .await
        .unwrap()
        .unwrap_err();
    assert_worker_lost(&other);
    answered_by_a_new_worker(&faults, pid).await;
    pool.shutdown().await;
}

/// A session idle for longer than the TTL is forgotten: when its worker dies, its next
/// call starts afresh instead of failing with `SessionLost`, which a session used
/// within the TTL still gets.
async fn an_idle_session_is_forgotten_after_its_ttl(adapter: &str) {
    let ttl = Duration::from_secs(2);
    let pool = pool(adapter, 1).session_ttl(ttl).start().await.unwrap();
    let faults: FaultsClient = pool.client();
    let session = |key: &str| CallOptions {
        session: Some(key.into()),
        ..Default::default()
    };
    let pid = faults.pid_with(session("idle")).await.unwrap().pid;
    // The TTL passing is the scenario itself.
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    assert_eq!(faults.pid_with(session("fresh")).await.unwrap().pid, pid);
    assert!(matches!(
        faults.exit(1).await,
        Err(CallError::WorkerCrashed { .. })
    ));
    let lost = faults.pid_with(session("fresh")).await.unwrap_err();
    assert!(
        matches!(lost, CallError::SessionLost { .. }),
        "[{adapter}] {lost:?}"
    );
    let new_pid = within(
        Duration::from_secs(20),
        "the idle session's call",
        faults.pid_with(session("idle")),
    )
    .await
    .unwrap_or_else(|e| panic!("[{adapter}] the idle session was not forgotten: {e}"))
    .pid;
    assert_ne!(new_pid, pid);
    pool.shutdown().await;
}
