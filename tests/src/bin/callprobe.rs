//! A measuring aid for the host's cost per call, to run under `strace -c -f` or
//! `valgrind --tool=callgrind`, where the bench's timings mean nothing: starts a pool of
//! one worker running the bench plugin and makes `calls` echoBytes calls, one at a time
//! or 64 in flight, after 200 warm-up calls; or, with `produce`/`consume`, streams
//! `calls` items worker -> host or host -> worker (after a warm-up stream); or, with
//! `start`, starts a pool of `calls` workers forked from a template five times and
//! prints each start's time (for `strace -f -ttt`). Two runs with different counts give the
//! cost per call as the difference over the difference. The calls are made on a
//! multi-thread runtime, or with `local` on a current-thread runtime whose `LocalSet`
//! runs the connection (`PoolBuilder::connections_on`). `POLYHOST_BENCH_ADAPTERS=<folder>`
//! runs the adapter in `<folder>/<language>` as it is on disk, as the bench does.
//!
//!     cargo run --release -p polyhost-tests --bin callprobe -- python|node sequential|inflight|produce|consume|start CALLS [local]

use std::sync::Arc;

use futures::StreamExt;
use polyhost::{Adapter, Pool};
use polyhost_tests::bench::{self, BenchClient, FeederDispatch};
use polyhost_tests::bench_host::{echo_calls, Feeder};
use polyhost_tests::PLUGINS;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(language), Some(mode), Some(calls)) = (args.get(1), args.get(2), args.get(3)) else {
        return Err(
            "usage: callprobe python|node sequential|inflight|produce|consume|start CALLS".into(),
        );
    };
    let calls: usize = calls.parse()?;
    let mode = match mode.as_str() {
        "sequential" => Mode::Calls(1),
        "inflight" => Mode::Calls(64),
        "produce" => Mode::Produce,
        "consume" => Mode::Consume,
        "start" => Mode::Start,
        other => return Err(format!("unknown mode {other}").into()),
    };
    let entry = match language.as_str() {
        "node" => "bench_plugin.mjs:make",
        _ => "bench_plugin:make",
    };
    let local = args.get(4).is_some_and(|a| a == "local");
    let set = tokio::task::LocalSet::new();
    let runtime = if local {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    set.block_on(&runtime, async {
        let adapter = match std::env::var_os("POLYHOST_BENCH_ADAPTERS") {
            Some(root) => Adapter::load(std::path::PathBuf::from(root).join(language))?,
            None => Adapter::bundled(language)?,
        };
        let builder = |size: usize| {
            let builder = Pool::builder(adapter.clone(), entry)
                .size(size)
                .concurrency(64)
                .module_path(PLUGINS)
                .bindings(&bench::BINDINGS)
                .callback(Arc::new(FeederDispatch(Arc::new(Feeder))));
            if local {
                builder.connections_on(&set)
            } else {
                builder
            }
        };
        if let Mode::Start = mode {
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let pool = builder(calls).start().await?;
                let took = t.elapsed();
                let cpu = workers_cpu(&pool.stats().pids);
                let faults: u64 = pool
                    .stats()
                    .pids
                    .iter()
                    .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
                    .filter_map(|stat| {
                        let after = stat.rsplit_once(") ")?.1;
                        after.split_whitespace().nth(7)?.parse::<u64>().ok()
                    })
                    .sum();
                eprintln!("  minor page faults per worker: {}", faults / calls as u64);
                println!(
                    "{calls} workers started in {:.1} ms, {:.2} ms CPU each so far",
                    took.as_secs_f64() * 1e3,
                    cpu * 1e3 / calls as f64
                );
                pool.shutdown().await;
            }
            return Ok(());
        }
        let pool = builder(1).start().await?;
        let client: BenchClient = pool.client();
        run(&client, 200, mode).await?;
        let pids = pool.stats().pids;
        let (cpu, worker, wall) = (own_cpu(), workers_cpu(&pids), std::time::Instant::now());
        run(&client, calls, mode).await?;
        let (cpu, worker, wall) = (own_cpu() - cpu, workers_cpu(&pids) - worker, wall.elapsed());
        println!(
            "{calls} calls or items: {:.3} us wall, {:.3} us host CPU, {:.3} us worker CPU each",
            wall.as_secs_f64() * 1e6 / calls as f64,
            cpu * 1e6 / calls as f64,
            worker * 1e6 / calls as f64
        );
        pool.shutdown().await;
        Ok::<(), BoxError>(())
    })
}

#[derive(Clone, Copy)]
enum Mode {
    /// echoBytes calls, this many in flight.
    Calls(usize),
    /// One stream of `n` items worker -> host.
    Produce,
    /// One stream of `n` items host -> worker.
    Consume,
    /// Pools of `n` workers started.
    Start,
}

async fn run(client: &BenchClient, n: usize, mode: Mode) -> Result<(), BoxError> {
    let in_flight = match mode {
        Mode::Calls(in_flight) => in_flight,
        Mode::Produce => {
            let mut items = client.produce(n as u32);
            let mut got = 0;
            while let Some(item) = items.next().await {
                item?;
                got += 1;
            }
            return if got == n {
                Ok(())
            } else {
                Err(format!("{got} of {n} items").into())
            };
        }
        Mode::Start => unreachable!("start is measured in main"),
        Mode::Consume => {
            let got = client.consume(n as u32).await?;
            return if got as usize == n {
                Ok(())
            } else {
                Err(format!("{got} of {n} items").into())
            };
        }
    };
    echo_calls(client, n, in_flight).await
}

/// CPU seconds the worker processes `pids` (every thread) have used.
fn workers_cpu(pids: &[u32]) -> f64 {
    let ran = |task: std::fs::DirEntry| -> Option<u64> {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        stat.split_whitespace().next()?.parse().ok()
    };
    let nanos: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/task")).ok())
        .flat_map(|tasks| tasks.flatten().filter_map(ran))
        .sum();
    nanos as f64 / 1e9
}

/// CPU seconds this process (every thread, no children) has used.
fn own_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
