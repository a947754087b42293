//! Workers that stop answering or misbehave on the wire: busy and blocked event
//! loops under health checks, stopped and SIGTERM-deaf workers, half-closed and unread
//! sockets, oversized frames and pushes, malformed returns.

use super::*;

/// Every concurrency slot is taken by calls that run for many ping timeouts: the
/// worker's health pings do not queue behind them, so the worker is not killed.
pub async fn busy_workers_answer_health_pings(adapter: &str) {
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
pub async fn a_handler_that_blocks_the_event_loop_is_explained(adapter: &str) {
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
    // What to write instead, in the language's terms.
    let advice = match adapter {
        "python" => Some("asyncio.to_thread"),
        "node" => Some("worker_threads"),
        _ => None,
    };
    if let Some(advice) = advice {
        assert!(tail.contains(advice), "[{adapter}] {err}");
    }
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

/// SIGSTOP freezes a worker mid-call: it answers no ping, so the host kills it (SIGKILL
/// reaches a stopped process); the call fails with the reason and the pool carries on.
pub async fn a_stopped_worker_is_killed_and_replaced(adapter: &str) {
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
pub async fn shutdown_escalates_to_sigterm_then_sigkill(adapter: &str) {
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
pub fn sigterm_ignored(pid: u32) -> bool {
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

pub fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(true)
}

/// A worker that shuts down the sending side of its RPC socket but stays alive: the
/// host sees the connection end and closes its side; the worker exits (or is killed,
/// saying why, if it does not), its call fails typed and the pool replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub async fn a_worker_that_half_closes_its_socket_is_replaced() {
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
pub async fn a_frame_over_the_size_limit_cuts_the_worker_off() {
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

/// A worker that stops reading its socket: the host's writes back up behind it. Its
/// pings go unanswered, so it is killed; every call sent to it fails typed and the
/// pool carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub async fn a_worker_that_never_reads_its_socket_is_killed_and_its_calls_fail() {
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
pub async fn stream_pushes_that_ignore_the_window_are_bounded() {
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
pub async fn a_malformed_return_cuts_the_worker_off() {
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
