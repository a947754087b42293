//! The pool with real Python workers: crashes, hangs, a killed host, bad entry points,
//! stale bindings, load and saturation, sessions.

use std::path::Path;
use std::time::Duration;

use polyhost::{
    Adapter, CallError, CallOptions, ExitReason, Pool, PoolBuilder, PoolError, StartMode,
};
use polyhost_tests::pool_lab::{self, LabClient};
use std::future::ready;

use polyhost_tests::{eventually, lab_pool, PLUGINS};

fn lab(size: usize) -> PoolBuilder {
    lab_pool(size)
        .restart_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .shutdown_timeouts(Duration::from_secs(2), Duration::from_secs(1))
}

/// Polls `check` every 20 ms for up to `limit`.
fn alive(pid: u32) -> bool {
    // A zombie (state Z) is dead; only its parent has not reaped it yet.
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| {
            !s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
        })
        .unwrap_or(false)
}

/// The parent process id of `pid`, from `/proc/<pid>/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn session(key: &str) -> CallOptions {
    CallOptions {
        session: Some(key.into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_worker_fails_its_call_with_the_crash_and_is_replaced() {
    let pool = lab(2).start().await.unwrap();
    let lab: LabClient = pool.client();
    let pid = lab.pid_with(session("victim")).await.unwrap();
    let call = tokio::spawn({
        let lab = lab.clone();
        async move { lab.slow_with(5_000, session("victim")).await }
    });
    assert!(
        eventually(Duration::from_secs(5), || ready(pool.stats().busy == 1)).await,
        "the slow call is running"
    );
    polyhost_tests::signal(pid, libc::SIGKILL);
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    match &err {
        CallError::WorkerCrashed { worker, exit, .. } => {
            assert!(worker.contains(&format!("pid {pid}")), "{err}");
            assert_eq!(*exit, ExitReason::Signal(libc::SIGKILL), "{err}");
        }
        other => panic!("expected WorkerCrashed, got {other:?}"),
    }
    assert!(
        eventually(Duration::from_secs(10), || ready(pool.stats().workers == 2)).await,
        "back to full size: {:?}",
        pool.stats()
    );
    assert_eq!(pool.stats().restarts, 1);
    assert!(!pool.stats().pids.contains(&pid));

    // The session lived on the dead worker: its next call says so, then it rebinds.
    let lost = lab.recall_with(session("victim")).await.unwrap_err();
    assert!(matches!(lost, CallError::SessionLost { .. }), "{lost:?}");
    let new_pid = lab.pid_with(session("victim")).await.unwrap();
    assert_ne!(new_pid, pid);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotent_call_is_retried_on_another_worker_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed");
    let pool = lab(2).start().await.unwrap();
    let lab: LabClient = pool.client();
    let answered_by = lab
        .crash_once(marker.display().to_string())
        .await
        .expect("retried elsewhere");
    let crashed: u32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(answered_by, crashed, "the retry ran on the other worker");
    assert!(
        eventually(Duration::from_secs(10), || ready(
            pool.stats().workers == 2 && pool.stats().restarts == 1
        ))
        .await,
        "{:?}",
        pool.stats()
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_worker_times_out_and_is_replaced() {
    let pool = lab(1)
        .health_check(Duration::from_secs(30), Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let lab: LabClient = pool.client();
    let before = pool.stats().pids;
    let options = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let err = lab.hang_with(60_000, options).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert!(
        eventually(Duration::from_secs(10), || ready(
            pool.stats().restarts == 1 && pool.stats().workers == 1
        ))
        .await,
        "{:?}",
        pool.stats()
    );
    assert_ne!(pool.stats().pids, before, "a new worker process");
    assert_eq!(lab.echo(5).await.unwrap(), 5, "later calls succeed");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_die_with_a_sigkilled_host() {
    let mut host = std::process::Command::new(env!("CARGO_BIN_EXE_pool_host"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let stdout = host.stdout.take().unwrap();
    let read = tokio::task::spawn_blocking(move || {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("host prints its workers")
        .unwrap()
        .unwrap();
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{line:?}");
    assert!(pids.iter().all(|p| alive(*p)));
    // Workers forked from a template: the template must not outlive the host either.
    let mut pids = pids;
    let templates: Vec<u32> = pids
        .iter()
        .filter_map(|p| parent_of(*p))
        .filter(|parent| *parent != host.id())
        .collect();
    pids.extend(templates);
    host.kill().unwrap(); // SIGKILL: no cleanup code runs in the host
    host.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let survivors: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "workers outlived the host: {survivors:?}"
    );
}

const START_MODES: [StartMode; 3] = [
    StartMode::Template,
    StartMode::TemplateWithPlugin,
    StartMode::Fresh,
];

/// Starts a pool of the plugin `entry` that fails to import; the error's text, after
/// checking it is a `StartFailed` with the import's exit status and a traceback.
async fn start_failure(entry: &str, mode: StartMode) -> String {
    let err = Pool::builder(Adapter::bundled("python").unwrap(), entry)
        .size(2)
        .module_path(PLUGINS)
        .start_mode(mode)
        .start()
        .await
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            PoolError::StartFailed {
                exit: ExitReason::Code(3),
                ..
            }
        ),
        "{mode:?}: {text}"
    );
    assert!(text.contains("Traceback"), "{mode:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_module_fails_the_start_with_the_traceback() {
    for mode in START_MODES {
        let text = start_failure("no_such_plugin:make", mode).await;
        assert!(
            text.contains("ModuleNotFoundError") && text.contains("no_such_plugin"),
            "{mode:?}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exception_at_import_fails_the_start_naming_the_file() {
    for mode in START_MODES {
        let text = start_failure("broken_plugin:make", mode).await;
        assert!(text.contains("broken_plugin.py"), "{mode:?}: {text}");
        assert!(
            text.contains("RuntimeError: this plugin is broken on purpose"),
            "{mode:?}: {text}"
        );
        // A template that imports the plugin is what failed, and the error says so.
        if mode == StartMode::TemplateWithPlugin {
            assert!(text.contains("template (pid"), "{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_bindings_are_refused_with_the_schema_and_how_to_regenerate() {
    let err = Pool::builder(Adapter::bundled("python").unwrap(), "lab_plugin:make")
        .size(1)
        .module_path(PLUGINS)
        .bindings(&polyhost::Bindings {
            fingerprint: "0123456789abcdef",
            ..pool_lab::BINDINGS
        })
        .start()
        .await
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    match &err {
        PoolError::StaleBindings {
            schema,
            host,
            guest,
            ..
        } => {
            assert_eq!(schema, "pool_lab.capnp");
            assert_eq!(host, "0123456789abcdef");
            assert_eq!(guest, pool_lab::FINGERPRINT);
        }
        other => panic!("expected StaleBindings, got {other}"),
    }
    assert!(text.contains("regenerate"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_calls_from_eight_tasks_over_two_workers() {
    let pool = lab(2).concurrency(32).start().await.unwrap();
    let lab: LabClient = pool.client();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let lab = lab.clone();
            tokio::spawn(async move {
                for i in 0..1250i64 {
                    let n = t * 1_000_000 + i;
                    assert_eq!(lab.echo(n).await.unwrap(), n);
                }
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .unwrap()
            .unwrap();
    }
    let stats = pool.stats();
    assert_eq!(stats.calls, 10_000);
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.restarts, 0);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn excess_calls_get_saturated_while_the_queue_is_full() {
    let pool = lab(1).concurrency(1).queue(4).start().await.unwrap();
    let lab: LabClient = pool.client();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..10 {
        let lab = lab.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let r = lab.slow(1_500).await;
            let _ = tx.send((i, r));
        });
    }
    drop(tx);
    let mut saturated = 0;
    let mut ok = 0;
    while let Some((_, r)) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap()
    {
        match r {
            Err(CallError::Saturated { queue, .. }) => {
                assert_eq!(queue, 4);
                // Prompt: every refusal comes before the first slow call finishes.
                assert_eq!(ok, 0, "a Saturated error came after a call had finished");
                saturated += 1;
            }
            Ok(_) => ok += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        (ok, saturated),
        (5, 5),
        "1 running + 4 queued succeed, the rest are refused"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_stick_to_their_worker_until_ended() {
    let pool = lab(2).start().await.unwrap();
    let lab: LabClient = pool.client();
    lab.remember_with("alpha".into(), session("a"))
        .await
        .unwrap();
    lab.remember_with("beta".into(), session("b"))
        .await
        .unwrap();
    for _ in 0..5 {
        assert_eq!(lab.recall_with(session("a")).await.unwrap(), "alpha");
        assert_eq!(lab.recall_with(session("b")).await.unwrap(), "beta");
    }
    let a = lab.pid_with(session("a")).await.unwrap();
    let b = lab.pid_with(session("b")).await.unwrap();
    assert_ne!(
        a, b,
        "two idle workers: the second session goes to the other one"
    );
    pool.end_session("a");
    pool.shutdown().await;
    assert!(
        eventually(Duration::from_secs(5), || ready(!alive(a) && !alive(b))).await,
        "shutdown leaves no process"
    );
}

#[test]
fn plugin_folders_exist() {
    assert!(Path::new(PLUGINS).join("lab_plugin.py").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_on_a_pipelined_capability_goes_out_before_the_first_call_returns() {
    let pool = lab(1).start().await.unwrap();
    let lab: LabClient = pool.client();
    // The worker answers `counter_when_piped` only once another call has reached it.
    // With pipelining, `next` is that call: sent on the promised answer right away.
    let counter = lab.counter_when_piped_pipelined(10, 10_000);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(8), counter.next())
            .await
            .unwrap()
            .unwrap(),
        11
    );
    assert!(
        lab.saw_pipelined_call().await.unwrap(),
        "the pipelined call arrived before the first call answered"
    );

    // Control: awaiting the first call before calling on its result sends nothing
    // meanwhile, so the worker waits out its `waitMs` and says so.
    let counter = lab
        .counter_when_piped(20, 300)
        .await
        .unwrap()
        .expect("a counter");
    assert_eq!(counter.next().await.unwrap(), 21);
    assert!(
        !lab.saw_pipelined_call().await.unwrap(),
        "without pipelining the probe sees no call"
    );
    pool.shutdown().await;
}

#[test]
fn clients_pools_and_call_futures_cross_threads() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn send<T: Send + 'static>(_: &T) {}
    send_sync_clone::<LabClient>();
    send_sync_clone::<Pool>();
    send_sync_clone::<polyhost::Capability>();
    // What an axum handler needs: the future of a call is Send.
    let unused: Option<LabClient> = None;
    if let Some(client) = unused {
        let call = async move { client.echo(1).await };
        send(&call);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_that_keeps_crashing_is_held_back_for_a_while() {
    let pool = lab(1)
        .taint(2, Duration::from_secs(60), Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let lab: LabClient = pool.client();
    for crash in 1..=2 {
        let pid = lab.pid().await.unwrap();
        polyhost_tests::signal(pid, libc::SIGKILL);
        assert!(
            eventually(Duration::from_secs(10), || ready(
                pool.stats().restarts == crash
            ))
            .await,
            "{:?}",
            pool.stats()
        );
    }
    // Two crashes within the window: the slot is held back instead of restarted.
    assert!(
        eventually(Duration::from_secs(5), || ready(pool.stats().tainted == 1)).await,
        "{:?}",
        pool.stats()
    );
    assert_eq!(pool.stats().workers, 0);
    // After the hold it starts again and serves.
    assert!(
        eventually(Duration::from_secs(10), || ready(
            pool.stats().workers == 1 && pool.stats().tainted == 0
        ))
        .await,
        "{:?}",
        pool.stats()
    );
    assert_eq!(lab.echo(9).await.unwrap(), 9);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_sending_garbage_is_cut_off_and_the_others_carry_on() {
    let pool = lab(2).start().await.unwrap();
    let lab: LabClient = pool.client();
    let victim = lab.pid_with(session("spew")).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), lab.spew_with(session("spew")))
        .await
        .expect("the call ends")
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::WorkerCrashed { .. } | CallError::Disconnected { .. }
        ),
        "{err:?}"
    );
    assert!(
        eventually(Duration::from_secs(10), || ready(!alive(victim))).await,
        "the garbage-sending process is gone"
    );
    assert!(
        eventually(Duration::from_secs(10), || ready(pool.stats().workers == 2)).await,
        "{:?}",
        pool.stats()
    );
    for n in 0..20 {
        assert_eq!(lab.echo(n).await.unwrap(), n);
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_deadline_and_trace_context_reach_the_handler_only_when_given() {
    let pool = lab(1).start().await.unwrap();
    let lab: LabClient = pool.client();
    let plain = lab.context().await.unwrap();
    assert_eq!(
        (plain.session.as_str(), plain.deadline_unix_ms),
        ("", 0),
        "no context, nothing sent"
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let options = CallOptions {
        session: Some("user-7".into()),
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let scoped = lab.context_with(options).await.unwrap();
    assert_eq!(scoped.session, "user-7");
    assert!(
        scoped.deadline_unix_ms >= now_ms + 29_000 && scoped.deadline_unix_ms <= now_ms + 31_000,
        "{}",
        scoped.deadline_unix_ms
    );
    assert_eq!(
        scoped.trace_parent, "",
        "no OpenTelemetry span, no trace context"
    );

    // Inside an OpenTelemetry span the worker gets its traceparent and can open a
    // child span of it.
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = SpanContext::new(
        TraceId::from_hex(trace_id).unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let traced = {
        let _guard = opentelemetry::Context::current()
            .with_remote_span_context(span)
            .attach();
        lab.context().await.unwrap()
    };
    assert_eq!(
        traced.trace_parent,
        format!("00-{trace_id}-00f067aa0ba902b7-01")
    );
    let child: Vec<&str> = traced.child_trace_parent.split('-').collect();
    assert_eq!(
        (child[0], child[1], child[3]),
        ("00", trace_id, "01"),
        "same trace and flags"
    );
    assert_ne!(child[2], "00f067aa0ba902b7", "a new span id");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_fork_from_one_template_unless_started_fresh() {
    let pool = lab(4).start().await.unwrap();
    let stats = pool.stats();
    let template = stats.template.expect("the Python adapter has a template");
    assert_eq!(stats.pids.len(), 4);
    for pid in &stats.pids {
        assert_eq!(parent_of(*pid), Some(template), "worker {pid}");
    }
    assert_eq!(parent_of(template), Some(std::process::id()));
    let client: LabClient = pool.client();
    assert_eq!(client.echo(7).await.unwrap(), 7);
    pool.shutdown().await;
    assert!(
        eventually(Duration::from_secs(5), || ready(!alive(template))).await,
        "the template exits with the pool"
    );

    let pool = lab(2).start_mode(StartMode::Fresh).start().await.unwrap();
    assert_eq!(pool.stats().template, None);
    for pid in pool.stats().pids {
        assert_eq!(parent_of(pid), Some(std::process::id()), "worker {pid}");
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_template_is_replaced_with_its_workers() {
    let pool = lab(2).start().await.unwrap();
    let before = pool.stats();
    let template = before.template.unwrap();
    polyhost_tests::signal(template, libc::SIGKILL);
    // Its workers die with it (parent-death signal); the pool starts a new template
    // and new workers.
    assert!(
        eventually(Duration::from_secs(15), || ready({
            let now = pool.stats();
            now.workers == 2
                && now.template.is_some_and(|t| t != template)
                && now.pids.iter().all(|p| !before.pids.contains(p))
        }))
        .await,
        "{:?}",
        pool.stats()
    );
    assert!(
        before.pids.iter().all(|p| !alive(*p)),
        "old workers are gone"
    );
    let lab: LabClient = pool.client();
    assert_eq!(lab.echo(3).await.unwrap(), 3);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_template_that_preloads_the_plugin_serves() {
    let pool = lab(2)
        .start_mode(StartMode::TemplateWithPlugin)
        .start()
        .await
        .unwrap();
    let lab: LabClient = pool.client();
    assert_eq!(lab.echo(11).await.unwrap(), 11);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_stats_count_calls_errors_and_latency_per_method() {
    let pool = lab(1).start().await.unwrap();
    let lab: LabClient = pool.client();
    for n in 0..20 {
        assert_eq!(lab.echo(n).await.unwrap(), n);
    }
    for _ in 0..3 {
        lab.slow(150).await.unwrap();
    }
    let timed_out = lab
        .slow_with(
            5_000,
            CallOptions {
                timeout: Some(Duration::from_millis(100)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(timed_out, CallError::Timeout { .. }),
        "{timed_out:?}"
    );
    let methods = pool.stats().methods;
    let names: Vec<&str> = methods.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(names, ["Lab.echo", "Lab.slow"], "{methods:?}");
    let (echo, slow) = (&methods[0], &methods[1]);
    assert_eq!((echo.calls, echo.errors), (20, 0), "{echo:?}");
    assert!(echo.p50 <= echo.p99 && echo.p99 <= echo.max, "{echo:?}");
    assert!(echo.max < Duration::from_millis(150), "{echo:?}");
    assert_eq!((slow.calls, slow.errors), (4, 1), "{slow:?}");
    // Three calls of >= 150 ms and one cut off at 100 ms.
    assert!(slow.p50 >= Duration::from_millis(150), "{slow:?}");
    assert!(slow.max < Duration::from_secs(5), "{slow:?}");
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_template_that_stops_answering_is_replaced() {
    let pool = lab(1)
        .start_timeout(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let before = pool.stats();
    let template = before.template.unwrap();
    // Frozen: it can neither fork the replacement nor report the death.
    polyhost_tests::signal(template, libc::SIGSTOP);
    polyhost_tests::signal(before.pids[0], libc::SIGKILL);
    assert!(
        eventually(Duration::from_secs(20), || ready({
            let now = pool.stats();
            now.workers == 1 && now.template.is_some_and(|t| t != template)
        }))
        .await,
        "{:?}",
        pool.stats()
    );
    assert!(
        eventually(Duration::from_secs(5), || ready(!alive(template))).await,
        "the frozen template was killed"
    );
    let lab: LabClient = pool.client();
    assert_eq!(lab.echo(5).await.unwrap(), 5);
    pool.shutdown().await;
}

/// A host on one thread runs its pool's connections on its own `LocalSet`: calls from
/// inside it and from another thread are answered, and once the `LocalSet` is gone
/// calls fail (the connection ended) instead of waiting forever.
#[test]
fn connections_on_the_hosts_local_set_answer_calls_from_it_and_from_other_threads() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let pool = local.block_on(&runtime, async {
        let pool = lab(1).connections_on(&local).start().await.unwrap();
        let lab: LabClient = pool.client();
        assert_eq!(lab.echo(41).await.unwrap(), 41);
        let pid = lab.pid().await.unwrap();
        // Another thread's call reaches the connection through this thread, which keeps
        // driving the LocalSet while it waits.
        let other = lab.clone();
        let from_other = tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(other.pid())
        })
        .await
        .unwrap();
        assert_eq!(from_other.unwrap(), pid);
        pool
    });
    drop(local);
    runtime.block_on(async {
        let lab: LabClient = pool.client();
        let options = CallOptions {
            timeout: Some(Duration::from_secs(20)),
            ..Default::default()
        };
        match lab.echo_with(1, options).await {
            Err(CallError::Disconnected { reason, .. }) => {
                assert!(reason.contains("LocalSet"), "{reason}")
            }
            Err(CallError::WorkerCrashed { .. }) => {}
            other => panic!("a call after the LocalSet was dropped: {other:?}"),
        }
        pool.shutdown().await;
    });
}
