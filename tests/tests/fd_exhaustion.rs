//! The host runs out of file descriptors while a worker must be replaced: the restart
//! fails (no socketpair, no pipes), calls fail with a typed error instead of hanging or
//! panicking, and once descriptors are free again the pool replaces the worker and
//! answers.
//!
//! Filling the descriptor table would starve every other test of this binary, so each
//! scenario runs again in a child process of its own (the test re-executes itself with
//! `--exact`), with a low `RLIMIT_NOFILE` so that the table fills quickly.

use std::fs::File;
use std::time::Duration;

use polyhost::{CallError, CallOptions};
use polyhost_tests::fault_pool;
use polyhost_tests::faults::FaultsClient;
use polyhost_tests::for_adapters;

for_adapters!(sync crate::in_a_child_process; running_out_of_file_descriptors_fails_calls_typed_and_the_pool_recovers);

/// Set in the child: the adapter it runs the scenario for.
const CHILD: &str = "POLYHOST_FD_EXHAUSTION_CHILD";
/// The child's descriptor limit: room for the test harness, the pool and one worker.
const FD_LIMIT: libc::rlim_t = 256;

/// In the parent: runs the scenario `<adapter>::<name>` in a child process and checks
/// that it passed. In the child: runs it.
fn in_a_child_process(adapter: &'static str, scenario: fn(&'static str)) {
    if std::env::var(CHILD).is_ok_and(|a| a == adapter) {
        return scenario(adapter);
    }
    let name = format!(
        "{adapter}::running_out_of_file_descriptors_fails_calls_typed_and_the_pool_recovers"
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, adapter)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "[{adapter}] the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("recovered after running out of descriptors"),
        "[{adapter}] the child ran no scenario:\n{stdout}\n{stderr}"
    );
}

fn running_out_of_file_descriptors_fails_calls_typed_and_the_pool_recovers(adapter: &'static str) {
    let limit = libc::rlimit {
        rlim_cur: FD_LIMIT,
        rlim_max: FD_LIMIT,
    };
    // SAFETY: setrlimit(2) with a valid struct; this process is the child alone.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(adapter));
}

async fn scenario(adapter: &'static str) {
    let pool = fault_pool(adapter, 1)
        .restart_backoff(Duration::from_millis(20), Duration::from_millis(200))
        // Restarts that fail for want of descriptors count as crashes: after five the
        // slot is held back, here briefly.
        .taint(5, Duration::from_secs(60), Duration::from_millis(500))
        .start()
        .await
        .unwrap_or_else(|e| panic!("[{adapter}] {e}"));
    let faults: FaultsClient = pool.client();
    let pid = faults.pid().await.unwrap().pid;

    // Take every free descriptor.
    let mut held = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("[{adapter}] opening /dev/null: {e}"),
        }
    }
    assert!(!held.is_empty(), "[{adapter}] no descriptor was free");

    // The worker dies; its replacement cannot be started while the table is full.
    assert!(polyhost_tests::signal(pid, libc::SIGKILL));
    let short = CallOptions {
        timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    };
    for attempt in 0..3 {
        let outcome = tokio::time::timeout(Duration::from_secs(20), faults.pid_with(short.clone()))
            .await
            .unwrap_or_else(|_| panic!("[{adapter}] call {attempt} hung without descriptors"));
        match outcome {
            Err(
                CallError::Timeout { .. }
                | CallError::WorkerCrashed { .. }
                | CallError::Disconnected { .. },
            ) => {}
            Err(other) => panic!("[{adapter}] call {attempt}: unexpected error {other:?}"),
            Ok(answer) => panic!(
                "[{adapter}] call {attempt} answered by pid {} with no descriptor free",
                answer.pid
            ),
        }
    }

    // Descriptors free again: the pool replaces the worker and answers.
    drop(held);
    let answer = tokio::time::timeout(Duration::from_secs(30), faults.pid())
        .await
        .unwrap_or_else(|_| panic!("[{adapter}] no answer after the descriptors were freed"))
        .unwrap_or_else(|e| panic!("[{adapter}] after the descriptors were freed: {e}"));
    assert_ne!(answer.pid, pid, "[{adapter}] a new worker answers");
    println!(
        "[{adapter}] recovered after running out of descriptors: pid {pid} -> {}",
        answer.pid
    );
    pool.shutdown().await;
}
