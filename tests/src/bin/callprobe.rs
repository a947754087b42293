//! A measuring aid for the host's cost per call, to run under `strace -c -f` or
//! `valgrind --tool=callgrind`, where the bench's timings mean nothing: starts a pool of
//! one worker running the bench plugin and makes `calls` echoBytes calls, one at a time
//! or 64 in flight, after 200 warm-up calls. Two runs with different counts give the
//! cost per call as the difference over the difference. The calls are made on a
//! multi-thread runtime, or with `local` on a current-thread runtime whose `LocalSet`
//! runs the connection (`PoolBuilder::connections_on`).
//!
//!     cargo run --release -p polyhost-tests --bin callprobe -- python|node sequential|inflight CALLS [local]

use futures::StreamExt;
use polyhost::{Adapter, Pool};
use polyhost_tests::bench::{self, BenchClient};
use polyhost_tests::PLUGINS;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PAYLOAD: [u8; 16] = *b"polyhost-bench16";

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(language), Some(mode), Some(calls)) = (args.get(1), args.get(2), args.get(3)) else {
        return Err("usage: callprobe python|node sequential|inflight CALLS".into());
    };
    let calls: usize = calls.parse()?;
    let in_flight = match mode.as_str() {
        "sequential" => 1,
        "inflight" => 64,
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
        let mut builder = Pool::builder(Adapter::bundled(language)?, entry)
            .size(1)
            .concurrency(64)
            .module_path(PLUGINS)
            .bindings(&bench::BINDINGS);
        if local {
            builder = builder.connections_on(&set);
        }
        let pool = builder.start().await?;
        let client: BenchClient = pool.client();
        run(&client, 200, in_flight).await?;
        let (cpu, wall) = (own_cpu(), std::time::Instant::now());
        run(&client, calls, in_flight).await?;
        let (cpu, wall) = (own_cpu() - cpu, wall.elapsed());
        println!(
            "{calls} calls: {:.1} us wall, {:.1} us host CPU per call",
            wall.as_secs_f64() * 1e6 / calls as f64,
            cpu * 1e6 / calls as f64
        );
        pool.shutdown().await;
        Ok::<(), BoxError>(())
    })
}

async fn run(client: &BenchClient, n: usize, in_flight: usize) -> Result<(), BoxError> {
    let mut calls = futures::stream::iter(0..n)
        .map(|_| client.echo_bytes(PAYLOAD.to_vec()))
        .buffer_unordered(in_flight);
    while let Some(echoed) = calls.next().await {
        if echoed? != PAYLOAD {
            return Err("echoBytes answered another payload".into());
        }
    }
    Ok(())
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
