//! polyhost's Python, Node and Ruby paths, each against a floor measured in the same run.
//!
//! ```sh
//! cargo run --release -p polyhost-tests --bin bench
//! ```
//!
//! The floor is a raw length-prefixed echo (4-byte length + 16-byte payload) over the
//! same kind of socketpair, started by the same launch machinery (the child gets its
//! end as fd 3), to the same interpreter: Python with asyncio streams
//! (`tests/bench/echo_floor.py`), Node with a `net.Socket` (`tests/bench/echo_floor.mjs`),
//! Ruby with a blocking socket loop (`tests/bench/echo_floor.rb`).
//! polyhost is measured through a pool and its typed client (`tests/schema/bench.capnp`,
//! `tests/plugins/bench_plugin.py` and `bench_plugin.mjs`). Every figure is also printed
//! as a ratio to its floor (the Node rows to the Node floor), so the table survives a
//! noisy machine. See the "Benchmarks" section of README.md for what each row means.
//!
//! `POLYHOST_BENCH_PROFILE=<folder>` runs the call and stream workers under cProfile
//! (`tests/bench/profiled_worker.py`) and writes `<folder>/worker-<pid>.prof`; the
//! figures of such a run are slower than real ones.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use polyhost::worker::{self, WorkerSpec, DEFAULT_ENV_ALLOWLIST};
use polyhost::{Adapter, HandlerError, Pool, PoolBuilder, SinkWriter, StartMode};
use polyhost_tests::bench::{self, BenchClient, FeederDispatch, FeederHandler, Item};
use polyhost_tests::PLUGINS;

mod figures;
mod floor;
mod json;

use figures::*;
use floor::*;

const PAYLOAD: [u8; 16] = *b"polyhost-bench16";
const WARMUP_CALLS: usize = 500;
const SEQUENTIAL_CALLS: usize = 2_000;
const PIPELINED_CALLS: usize = 20_000;
const IN_FLIGHT: usize = 64;
/// The Node floor answers 64 pipelined frames ~20x faster than the Python one: ten times
/// the calls, so its run lasts long enough to measure (and to count CPU ticks).
const NODE_FLOOR_PIPELINED_CALLS: usize = 10 * PIPELINED_CALLS;
/// Each stream run is sized from a short trial to last about this long.
const STREAM_RUN: Duration = Duration::from_millis(1500);
const STREAM_RUNS: usize = 3;
const START_SIZES: [usize; 3] = [1, 4, 16];
const START_RUNS: usize = 3;
/// Start modes measured, and how the table names them.
const START_MODES: [(StartMode, &str); 3] = [
    (StartMode::Fresh, "fresh interpreters"),
    (
        StartMode::Template,
        "forked from a template (runtime imported)",
    ),
    (
        StartMode::TemplateWithPlugin,
        "forked from a template (runtime and plugin imported)",
    ),
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let python = Adapter::bundled("python")?;
    let interpreter = python.resolve_interpreter(None)?;
    let version = std::process::Command::new(&interpreter)
        .args(&python.definition.version)
        .output()?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "polyhost bench: Python {} ({}), {cores} cores, {}-byte payload, {IN_FLIGHT} in flight",
        String::from_utf8_lossy(&version.stdout).trim(),
        interpreter.display(),
        PAYLOAD.len()
    );
    let node = Adapter::bundled("node")?;
    let node_interpreter = node.resolve_interpreter(None)?;
    let node_version = std::process::Command::new(&node_interpreter)
        .args(&node.definition.version)
        .output()?;
    println!(
        "and Node {} ({})",
        String::from_utf8_lossy(&node_version.stdout).trim(),
        node_interpreter.display()
    );
    println!("load average before the run: {}", load_average());
    let profile = std::env::var_os("POLYHOST_BENCH_PROFILE").map(PathBuf::from);
    if let Some(dir) = &profile {
        std::fs::create_dir_all(dir)?;
        println!(
            "profiling the call and stream workers into {} (figures are slower than real)",
            dir.display()
        );
    }
    let mut table = Table::default();

    // The floor.
    eprintln!("floor: raw asyncio echo ...");
    let Calls {
        rtt: floor_rtt,
        rtt_cpu: floor_rtt_cpu,
        rate: floor_rate,
        rate_cpu: floor_rate_cpu,
    } = floor_calls(&python, &interpreter, "echo_floor.py", PIPELINED_CALLS)?;
    table.section("floor: raw length-prefixed echo, Python asyncio streams, same socketpair");
    table.row_cpu("round trip p50", us(floor_rtt.p50), 1.0, floor_rtt_cpu);
    table.row("round trip p99", us(floor_rtt.p99), 1.0);
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight"),
        per_s(floor_rate),
        1.0,
        floor_rate_cpu,
    );

    // Calls into one worker, then two.
    eprintln!("polyhost: calls into one worker ...");
    let worker_adapter = match &profile {
        Some(_) => profiled(&python),
        None => python.clone(),
    };
    let pool = bench_pool(&worker_adapter, 1, profile.as_deref())
        .start()
        .await?;
    let client: BenchClient = pool.client();
    let pids = pool.stats().pids;
    let Calls {
        rtt,
        rtt_cpu,
        rate: rate_1,
        rate_cpu: rate_1_cpu,
    } = calls(&client, &pids).await?;
    table.section("polyhost: typed client -> pool -> one Python worker, echoBytes(16 bytes)");
    table.row_cpu(
        "round trip p50",
        us(rtt.p50),
        rtt.p50.as_secs_f64() / floor_rtt.p50.as_secs_f64(),
        rtt_cpu,
    );
    table.row(
        "round trip p99",
        us(rtt.p99),
        rtt.p99.as_secs_f64() / floor_rtt.p99.as_secs_f64(),
    );
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight, 1 worker"),
        per_s(rate_1),
        rate_1 / floor_rate,
        rate_1_cpu,
    );

    // Streams, on the same worker.
    eprintln!("polyhost: streams ...");
    let (out, out_cpu) = stream_rate(&pids, |n| produce(&client, n)).await?;
    let (into, into_cpu) = stream_rate(&pids, |n| consume(&client, n)).await?;
    table.section("polyhost: streams of small structs (Item: UInt32 + Float64), one worker; ratio to the floor's calls/s");
    table.row_cpu(
        "items/s worker -> host (Sink param, Rust ItemStream)",
        per_s(out),
        out / floor_rate,
        out_cpu,
    );
    table.row_cpu(
        "items/s host -> worker (host callback, Rust SinkWriter)",
        per_s(into),
        into / floor_rate,
        into_cpu,
    );
    pool.shutdown().await;

    eprintln!("polyhost: calls into two workers ...");
    let pool = bench_pool(&worker_adapter, 2, profile.as_deref())
        .start()
        .await?;
    let client: BenchClient = pool.client();
    let pids = pool.stats().pids;
    pipelined(&client, PIPELINED_CALLS / 4).await?;
    let cpu = Cpu::now(&pids);
    let rate_2 = pipelined(&client, PIPELINED_CALLS).await?;
    let rate_2_cpu = cpu.per(&pids, PIPELINED_CALLS);
    table.row_in(
        1,
        &format!("calls/s, {IN_FLIGHT} in flight, 2 workers"),
        per_s(rate_2),
        rate_2 / floor_rate,
        Some(rate_2_cpu),
    );
    pool.shutdown().await;

    // Start-up.
    eprintln!("start-up ...");
    let resolve = median((0..START_RUNS).map(|_| {
        let t = Instant::now();
        let _ = python.resolve_interpreter(None);
        t.elapsed()
    }));
    table.section(
        "start-up: builder start() until every worker answered its start handshake (median of 3)",
    );
    let mut starts = Vec::new();
    for n in START_SIZES {
        let bare = median(
            (0..START_RUNS)
                .map(|_| bare_interpreters(&interpreter, n))
                .collect::<Result<Vec<_>, _>>()?,
        );
        let mut by_mode = Vec::new();
        for (mode, _) in START_MODES {
            let mut runs = Vec::new();
            for _ in 0..START_RUNS {
                let t = Instant::now();
                let pool = bench_pool(&python, n, None)
                    .start_mode(mode)
                    .start()
                    .await?;
                runs.push(t.elapsed());
                pool.shutdown().await;
            }
            by_mode.push(median(runs));
        }
        starts.push((n, bare, by_mode));
    }
    for (n, bare, _) in &starts {
        table.row(
            &format!("floor: {n} x `python3 -c 'import asyncio'` at once, until all exited"),
            ms(*bare),
            1.0,
        );
    }
    for (i, (_, how)) in START_MODES.iter().enumerate() {
        for (n, bare, by_mode) in &starts {
            table.row(
                &format!(
                    "pool of {n} worker{}, {how}",
                    if *n == 1 { "" } else { "s" }
                ),
                ms(by_mode[i]),
                by_mode[i].as_secs_f64() / bare.as_secs_f64(),
            );
        }
    }
    table.row(
        "  of which: resolving the interpreter (one `python3 -c`, in every start())",
        ms(resolve),
        resolve.as_secs_f64() / starts[0].1.as_secs_f64(),
    );

    // The cache: the first pool of a binary writes its runtime (and Python compiles
    // its bytecode); later pools find both in place.
    eprintln!("start-up on an empty cache ...");
    table.section("start-up of a pool of 1 worker: empty cache folder (first pool) vs warm (later pools), median of 3; ratio to warm");
    for language in ["python", "node"] {
        let pool_of = |adapter: &Adapter| match language {
            "python" => bench_pool(adapter, 1, None),
            _ => node_bench_pool(adapter),
        };
        let mut empty = Vec::new();
        let mut warm = Vec::new();
        for run in 0..START_RUNS {
            let folder = std::env::temp_dir()
                .join(format!("polyhost-bench-cache-{}-{run}", std::process::id()));
            let t = Instant::now();
            let adapter = Adapter::bundled_in(language, &folder)?;
            let pool = pool_of(&adapter).start().await?;
            empty.push(t.elapsed());
            pool.shutdown().await;
            remove_read_only_tree(&folder);
            let t = Instant::now();
            let adapter = Adapter::bundled(language)?;
            let pool = pool_of(&adapter).start().await?;
            warm.push(t.elapsed());
            pool.shutdown().await;
        }
        let (empty, warm) = (median(empty), median(warm));
        let bytes: usize = polyhost_adapters::find(language)
            .map(|a| a.files.iter().map(|(_, b)| b.len()).sum())
            .unwrap_or(0);
        table.row(
            &format!("{language}: warm cache (runtime verified in place)"),
            ms(warm),
            1.0,
        );
        table.row(
            &format!(
                "{language}: empty cache (runtime of {} KiB written, then started)",
                bytes / 1024
            ),
            ms(empty),
            empty.as_secs_f64() / warm.as_secs_f64(),
        );
    }

    // Node: its own floor, then calls into one Node worker.
    eprintln!("Node floor: raw net.Socket echo ...");
    let floor = floor_calls(
        &node,
        &node_interpreter,
        "echo_floor.mjs",
        NODE_FLOOR_PIPELINED_CALLS,
    )?;
    table.section("floor: raw length-prefixed echo, Node net.Socket, same socketpair");
    table.row_cpu("round trip p50", us(floor.rtt.p50), 1.0, floor.rtt_cpu);
    table.row("round trip p99", us(floor.rtt.p99), 1.0);
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight"),
        per_s(floor.rate),
        1.0,
        floor.rate_cpu,
    );
    eprintln!("polyhost: calls into one Node worker ...");
    let pool = node_bench_pool(&node).start().await?;
    let client: BenchClient = pool.client();
    let pids = pool.stats().pids;
    let got = calls(&client, &pids).await?;
    pool.shutdown().await;
    table.section("polyhost: typed client -> pool -> one Node worker, echoBytes(16 bytes); ratio to the Node floor");
    table.row_cpu(
        "round trip p50",
        us(got.rtt.p50),
        got.rtt.p50.as_secs_f64() / floor.rtt.p50.as_secs_f64(),
        got.rtt_cpu,
    );
    table.row(
        "round trip p99",
        us(got.rtt.p99),
        got.rtt.p99.as_secs_f64() / floor.rtt.p99.as_secs_f64(),
    );
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight, 1 worker"),
        per_s(got.rate),
        got.rate / floor.rate,
        got.rate_cpu,
    );

    ruby_rows(&mut table).await?;
    json::json_rows(&mut table).await?;

    table.print();
    if let Some(dir) = &profile {
        println!("\nprofiles: {}/worker-<pid>.prof (python3 -m pstats <file>, then: sort tottime, stats 25)", dir.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// polyhost

/// The host's Feeder: streams `count` items into the worker's sink.
struct Feeder;

#[async_trait::async_trait]
impl FeederHandler for Feeder {
    async fn feed(&self, count: u32, mut out: SinkWriter<Item>) -> Result<(), HandlerError> {
        for i in 0..count {
            out.send(Item {
                seq: i,
                value: i as f64,
            })
            .await?;
        }
        out.finish().await
    }
}

fn bench_pool(adapter: &Adapter, size: usize, profile: Option<&Path>) -> PoolBuilder {
    let mut builder = Pool::builder(adapter.clone(), "bench_plugin:make")
        .size(size)
        .concurrency(IN_FLIGHT)
        .queue(4 * IN_FLIGHT)
        .module_path(PLUGINS)
        .bindings(&bench::BINDINGS)
        .callback(Arc::new(FeederDispatch(Arc::new(Feeder))));
    if let Some(dir) = profile {
        builder = builder.env("POLYHOST_BENCH_PROFILE", dir.display().to_string());
    }
    builder
}

/// A pool of one Node worker running `tests/plugins/bench_plugin.mjs`.
fn node_bench_pool(node: &Adapter) -> PoolBuilder {
    Pool::builder(node.clone(), "bench_plugin.mjs:make")
        .size(1)
        .concurrency(IN_FLIGHT)
        .queue(4 * IN_FLIGHT)
        .module_path(PLUGINS)
        .bindings(&bench::BINDINGS)
        .callback(Arc::new(FeederDispatch(Arc::new(Feeder))))
}

/// Ruby: its own floor (a raw echo in the same interpreter), calls into one Ruby worker,
/// and 16 workers forked from a template against 16 fresh interpreters.
async fn ruby_rows(table: &mut Table) -> Result<(), BoxError> {
    let ruby = Adapter::bundled("ruby")?;
    let interpreter = ruby.resolve_interpreter(None)?;
    eprintln!("Ruby floor: raw socket echo ...");
    let floor = floor_calls(&ruby, &interpreter, "echo_floor.rb", PIPELINED_CALLS)?;
    table.section("floor: raw length-prefixed echo, Ruby socket read/write loop, same socketpair");
    table.row_cpu("round trip p50", us(floor.rtt.p50), 1.0, floor.rtt_cpu);
    table.row("round trip p99", us(floor.rtt.p99), 1.0);
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight"),
        per_s(floor.rate),
        1.0,
        floor.rate_cpu,
    );
    eprintln!("polyhost: calls into one Ruby worker ...");
    let pool = ruby_bench_pool(&ruby, 1).start().await?;
    let client: BenchClient = pool.client();
    let pids = pool.stats().pids;
    let got = calls(&client, &pids).await?;
    pool.shutdown().await;
    table.section("polyhost: typed client -> pool -> one Ruby worker, echoBytes(16 bytes); ratio to the Ruby floor");
    table.row_cpu(
        "round trip p50",
        us(got.rtt.p50),
        got.rtt.p50.as_secs_f64() / floor.rtt.p50.as_secs_f64(),
        got.rtt_cpu,
    );
    table.row(
        "round trip p99",
        us(got.rtt.p99),
        got.rtt.p99.as_secs_f64() / floor.rtt.p99.as_secs_f64(),
    );
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight, 1 worker"),
        per_s(got.rate),
        got.rate / floor.rate,
        got.rate_cpu,
    );
    eprintln!("start-up: 16 Ruby workers ...");
    let mut by_mode = Vec::new();
    for (mode, how) in START_MODES {
        let mut runs = Vec::new();
        for _ in 0..START_RUNS {
            let t = Instant::now();
            let pool = ruby_bench_pool(&ruby, 16).start_mode(mode).start().await?;
            runs.push(t.elapsed());
            pool.shutdown().await;
        }
        by_mode.push((how, median(runs)));
    }
    table.section(
        "start-up of a pool of 16 Ruby workers (median of 3); ratio to fresh interpreters",
    );
    let fresh = by_mode[0].1;
    for (how, took) in by_mode {
        table.row(
            &format!("16 workers, {how}"),
            ms(took),
            took.as_secs_f64() / fresh.as_secs_f64(),
        );
    }
    Ok(())
}

/// A pool of `size` Ruby workers running `tests/plugins/bench_plugin.rb`.
fn ruby_bench_pool(ruby: &Adapter, size: usize) -> PoolBuilder {
    Pool::builder(ruby.clone(), "bench_plugin:make")
        .size(size)
        .concurrency(IN_FLIGHT)
        .queue(4 * IN_FLIGHT)
        .module_path(PLUGINS)
        .bindings(&bench::BINDINGS)
        .callback(Arc::new(FeederDispatch(Arc::new(Feeder))))
}

/// The Python adapter, running the worker under cProfile.
fn profiled(python: &Adapter) -> Adapter {
    let mut adapter = python.clone();
    adapter.definition.args = vec![bench_file("profiled_worker.py"), "{entry}".into()];
    // Every worker runs that script: none is forked from a template.
    adapter.definition.template.clear();
    adapter
}

/// `echoBytes` into a pool (whose workers are `pids`), warmed up, then measured.
async fn calls(client: &BenchClient, pids: &[u32]) -> Result<Calls, BoxError> {
    sequential(client, WARMUP_CALLS).await?;
    let cpu = Cpu::now(pids);
    let rtt = Percentiles::of(sequential(client, SEQUENTIAL_CALLS).await?);
    let rtt_cpu = cpu.per(pids, SEQUENTIAL_CALLS);
    pipelined(client, PIPELINED_CALLS / 4).await?;
    let cpu = Cpu::now(pids);
    let rate = pipelined(client, PIPELINED_CALLS).await?;
    let rate_cpu = cpu.per(pids, PIPELINED_CALLS);
    Ok(Calls {
        rtt,
        rtt_cpu,
        rate,
        rate_cpu,
    })
}

async fn sequential(client: &BenchClient, n: usize) -> Result<Vec<Duration>, BoxError> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let echoed = client.echo_bytes(PAYLOAD.to_vec()).await?;
        samples.push(t.elapsed());
        if echoed != PAYLOAD {
            return Err("echoBytes answered another payload".into());
        }
    }
    Ok(samples)
}

/// `n` calls, `IN_FLIGHT` at a time; calls/s.
async fn pipelined(client: &BenchClient, n: usize) -> Result<f64, BoxError> {
    let t = Instant::now();
    let mut calls = futures::stream::iter(0..n)
        .map(|_| client.echo_bytes(PAYLOAD.to_vec()))
        .buffer_unordered(IN_FLIGHT);
    while let Some(echoed) = calls.next().await {
        if echoed? != PAYLOAD {
            return Err("echoBytes answered another payload".into());
        }
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Streams `n` items worker -> host.
async fn produce(client: &BenchClient, n: u32) -> Result<(), BoxError> {
    let mut items = client.produce(n);
    let mut got = 0u32;
    while let Some(item) = items.next().await {
        let item = item?;
        if item.seq != got {
            return Err(format!("item {got} arrived as {}", item.seq).into());
        }
        got += 1;
    }
    if got != n {
        return Err(format!("{got} of {n} items arrived").into());
    }
    Ok(())
}

/// Streams `n` items host -> worker.
async fn consume(client: &BenchClient, n: u32) -> Result<(), BoxError> {
    let got = client.consume(n).await?;
    if got != n {
        return Err(format!("the worker received {got} of {n} items").into());
    }
    Ok(())
}

/// Items/s of a stream: a trial sizes the runs to about `STREAM_RUN` each; the median
/// of `STREAM_RUNS`.
async fn stream_rate<F, Fut>(pids: &[u32], run: F) -> Result<(f64, (Duration, Duration)), BoxError>
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(), BoxError>>,
{
    let trial = 2_000u32;
    run(trial).await?;
    let t = Instant::now();
    run(trial).await?;
    let rate = trial as f64 / t.elapsed().as_secs_f64();
    let n = ((rate * STREAM_RUN.as_secs_f64()) as u32).clamp(trial, 2_000_000);
    let mut rates = Vec::new();
    let cpu = Cpu::now(pids);
    for _ in 0..STREAM_RUNS {
        let t = Instant::now();
        run(n).await?;
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let per_item = cpu.per(pids, n as usize * STREAM_RUNS);
    rates.sort_by(f64::total_cmp);
    Ok((rates[rates.len() / 2], per_item))
}
