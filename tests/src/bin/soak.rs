//! Soak: a million calls across eight Python workers, one worker SIGKILLed every ten
//! thousand calls. Every call must return or fail with a typed error; the host's file
//! descriptors and threads must stay flat and its resident memory must grow less than
//! 10% between the first and the last 100k calls.
//!
//! ```sh
//! cargo run --release -p polyhost-tests --bin soak            # 1M calls
//! cargo run --release -p polyhost-tests --bin soak -- 200000  # fewer
//! ```
//!
//! `SOAK_KILL_EVERY=N` kills a worker every N calls instead. The pool's taint rule is
//! relaxed (a slot killed this often would otherwise be held back for 30 s), since the
//! kills here are the soak's, not the plugin's. Prints the host's descriptors, threads
//! and RSS every 100k calls; exits with status 1 when a check fails.
//!
//! What it has shown: no call is lost and descriptors and threads stay flat. RSS grew
//! with the number of restarts (+15-25% over 1M calls and 99 kills) while every worker
//! had threads of its own (connection, output forwarding) that died with it and left
//! glibc their arenas; since connections and output run on the runtime's fixed set of
//! shared I/O threads, the growth is +1.6% (8 host threads instead of 32).

use std::time::{Duration, Instant};

use futures::StreamExt;
use polyhost::CallError;
use polyhost_tests::lab_pool;
use polyhost_tests::pool_lab::LabClient;

const WORKERS: usize = 8;
const KILL_EVERY: usize = 10_000;
const KILL_EVERY_ENV: &str = "SOAK_KILL_EVERY";
const WINDOW: usize = 100_000;
const IN_FLIGHT: usize = 64;

/// The host process's open descriptors, threads and resident memory (KiB).
#[derive(Debug, Clone, Copy)]
struct Host {
    fds: usize,
    threads: usize,
    rss_kib: u64,
}

impl Host {
    fn now() -> Host {
        let fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count())
            .unwrap_or(0);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Host {
            fds,
            threads: field("Threads:") as usize,
            rss_kib: field("VmRSS:"),
        }
    }
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let kill_every: usize = std::env::var(KILL_EVERY_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(KILL_EVERY);
    let pool = lab_pool(WORKERS)
        .concurrency(IN_FLIGHT)
        .queue(4 * IN_FLIGHT)
        .taint(
            usize::MAX,
            Duration::from_secs(60),
            Duration::from_millis(1),
        )
        .restart_backoff(Duration::from_millis(10), Duration::from_millis(200))
        .call_timeout(Duration::from_secs(30))
        .start()
        .await
        .expect("the soak pool starts");
    let lab: LabClient = pool.client();
    let started = Instant::now();
    let (mut ok, mut crashed, mut other) = (0usize, 0usize, Vec::new());
    let (mut first, mut last) = (None, None);
    let mut kills = 0usize;
    let mut calls = futures::stream::iter(0..total)
        .map(|i| {
            let lab = lab.clone();
            async move { (i, lab.echo(i as i64).await) }
        })
        .buffer_unordered(IN_FLIGHT);
    let mut done = 0usize;
    while let Some((i, result)) = calls.next().await {
        match result {
            Ok(n) if n == i as i64 => ok += 1,
            Ok(n) => other.push(format!("call {i} answered {n}")),
            Err(CallError::WorkerCrashed { .. }) => crashed += 1,
            Err(e) => other.push(format!("call {i}: {e}")),
        }
        done += 1;
        if done.is_multiple_of(kill_every) && done < total {
            let pids = pool.stats().pids;
            if let Some(pid) = pids.get(kills % pids.len().max(1)) {
                // SAFETY: kill(2) with a pid the pool reports as its live worker.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
                kills += 1;
            }
        }
        if done % WINDOW == KILL_EVERY / 2 {
            let h = Host::now();
            eprintln!(
                "  after {done:>8} calls: {} fds, {} threads, RSS {} KiB",
                h.fds, h.threads, h.rss_kib
            );
        }
        // Sampled half-way between two kills, when no restart is under way.
        if done == WINDOW + KILL_EVERY / 2 {
            first = Some(Host::now());
        }
        if done + WINDOW == total + KILL_EVERY / 2 {
            last = Some(Host::now());
        }
    }
    drop(calls);
    let end = Host::now();
    let elapsed = started.elapsed();
    let stats = pool.stats();
    pool.shutdown().await;

    let first = first.unwrap_or(end);
    let last = last.unwrap_or(end);
    println!(
        "soak: {total} calls over {WORKERS} workers in {:.1} s ({:.0} calls/s), {kills} workers killed, {} restarts",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        stats.restarts
    );
    println!(
        "  returned {ok}, failed with the crash of their worker {crashed}, otherwise {}",
        other.len()
    );
    println!(
        "  lost (neither returned nor failed): {}",
        total - ok - crashed - other.len()
    );
    println!("  host after the first {WINDOW}: {first:?}");
    println!("  host before the last {WINDOW}: {last:?}");
    println!("  host at the end:              {end:?}");
    // Compared at two samples taken half-way between kills: at the end a restart may
    // still be under way, with its descriptors and threads.
    let growth = last.rss_kib as f64 / first.rss_kib.max(1) as f64 - 1.0;
    println!(
        "  RSS growth from the first to the last {WINDOW} calls: {:+.1}%",
        100.0 * growth
    );
    for o in other.iter().take(5) {
        println!("  unexpected: {o}");
    }
    let flat = last.fds <= first.fds && last.threads <= first.threads;
    let ok_all = other.is_empty() && ok + crashed == total && flat && growth < 0.10;
    println!("  {}", if ok_all { "PASS" } else { "FAIL" });
    if !ok_all {
        std::process::exit(1);
    }
}
