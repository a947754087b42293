//! Calls under faults: deadlines, pipelining outside a runtime, interfaces nobody
//! serves, callback floods, panicking host handlers, capabilities of dead workers,
//! load spreading, idle sessions.

use super::*;

/// `Duration::MAX` as a call's timeout (with a session, so the deadline is also sent to
/// the worker) and as the pool's: no overflow panic in the host, and the call returns.
pub async fn a_deadline_too_far_to_name_does_not_panic_the_host(adapter: &str) {
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
pub async fn a_call_pipelined_outside_an_async_runtime_goes_out(adapter: &str) {
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
pub async fn a_call_for_an_interface_no_worker_serves_fails_at_once(adapter: &str) {
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
pub async fn calls_on_returned_and_pipelined_capabilities_keep_their_deadline(adapter: &str) {
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
pub struct Gate {
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
pub async fn a_callback_flood_is_bounded_per_worker(adapter: &str) {
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
pub async fn a_host_handler_that_panics_fails_only_its_call(adapter: &str) {
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
pub async fn a_call_on_a_capability_whose_worker_died_fails_typed(adapter: &str) {
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

/// Two calls at once on a pool of two workers go to different workers (each worker
/// could take both: concurrency 4), and the workers started in parallel.
pub async fn concurrent_calls_go_to_the_least_loaded_worker(adapter: &str) {
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

/// The deadline order: the caller's `CallOptions::timeout`, else the method's
/// `$timeoutMs` (400 ms on `sleepTimed`), else the pool's `call_timeout` (200 ms).
pub async fn a_deadline_is_the_callers_else_the_methods_else_the_pools(adapter: &str) {
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

/// A session idle for longer than the TTL is forgotten: when its worker dies, its next
/// call starts afresh instead of failing with `SessionLost`, which a session used
/// within the TTL still gets.
pub async fn an_idle_session_is_forgotten_after_its_ttl(adapter: &str) {
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
