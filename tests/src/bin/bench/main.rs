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
//! `POLYHOST_BENCH_QUICK=1` stops after the Python call and stream rows (for quick comparisons).
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
use polyhost::{Adapter, Pool, PoolBuilder, StartMode};
use polyhost_tests::bench::{self, BenchClient, FeederDispatch};
use polyhost_tests::bench_host::{echo_calls, Feeder, PAYLOAD};
use polyhost_tests::PLUGINS;

mod bare;
mod figures;
mod floor;
mod hop;
mod json;
mod local;

use bare::*;
use figures::*;
use floor::*;
use hop::*;
use local::*;

const WARMUP_CALLS: usize = 500;
const SEQUENTIAL_CALLS: usize = 2_000;
const PIPELINED_CALLS: usize = 20_000;
const IN_FLIGHT: usize = 64;
/// Rounds of the call measurements: the floors, the peer and polyhost's rows are
/// measured in turn, round after round, and each figure is the median of its rounds,
/// so that a drift of the machine during the run reaches all of them alike.
const ROUNDS: usize = 3;
/// The Node floor answers 64 pipelined frames ~20x faster than the Python one: ten times
/// the calls, so its run lasts long enough to measure (and to count CPU ticks).
const NODE_FLOOR_PIPELINED_CALLS: usize = 10 * PIPELINED_CALLS;
/// Each stream run is sized from a short trial to last about this long.
const STREAM_RUN: Duration = Duration::from_millis(1500);
const STREAM_RUNS: usize = 3;
const START_SIZES: [usize; 3] = [1, 4, 16];
/// Pool sizes of the scaling rows.
const SCALE_SIZES: [usize; 4] = [1, 2, 4, 16];
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

/// How the rows of pools whose connections run on the caller's thread are named.
const ON_CALLER: &str = "one current-thread runtime, PoolBuilder::connections_on";
const ON_CALLER_SHORT: &str = " (connections on the caller's thread)";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The adapter of `language` the bench runs: the bundled one, or with
/// `POLYHOST_BENCH_ADAPTERS=<folder>`, the one in `<folder>/<language>` as it is on disk
/// (to measure a change to a guest runtime without rebuilding the bench).
fn adapter(language: &str) -> Result<Adapter, BoxError> {
    Ok(match std::env::var_os("POLYHOST_BENCH_ADAPTERS") {
        Some(root) => Adapter::load(PathBuf::from(root).join(language))?,
        None => Adapter::bundled(language)?,
    })
}

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let python = adapter("python")?;
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
    let node = adapter("node")?;
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
    let mut targets = Targets::default();

    // Python: the floors, the peer and polyhost, in interleaved rounds.
    let worker_adapter = match &profile {
        Some(_) => profiled(&python),
        None => python.clone(),
    };
    let mut spec = worker_spec(&worker_adapter, "bench_plugin:make")?;
    if let Some(dir) = &profile {
        spec.env
            .push(("POLYHOST_BENCH_PROFILE".into(), dir.display().to_string()));
    }
    let peer_python = pycapnp_python();
    let shared_pool = || {
        let mut builder = bench_pool(&worker_adapter, 1, profile.as_deref());
        if std::env::var_os("POLYHOST_BENCH_FRESH").is_some() {
            builder = builder.start_mode(StartMode::Fresh);
        }
        builder
    };
    let mut rounds: [Vec<Calls>; 5] = Default::default();
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}: raw asyncio echo ...");
        rounds[0].push(floor_calls(&python, &interpreter, "echo_floor.py", PIPELINED_CALLS).await?);
        eprintln!("round {round}/{ROUNDS}: bare capnp-rpc client -> one Python worker ...");
        rounds[1].push(bare_calls(spec.clone(), Peer::Worker)?);
        if let Ok(py) = &peer_python {
            eprintln!("round {round}/{ROUNDS}: bare capnp-rpc client -> pycapnp ...");
            rounds[2].push(bare_calls(
                pycapnp_spec(&python, py.clone()),
                Peer::Bootstrap,
            )?);
        }
        eprintln!("round {round}/{ROUNDS}: polyhost, calls into one worker ...");
        let pool = shared_pool().start().await?;
        let client: BenchClient = pool.client();
        rounds[3].push(calls(&client, &pool.stats().pids).await?);
        pool.shutdown().await;
        eprintln!("round {round}/{ROUNDS}: polyhost, connections on the caller's thread ...");
        rounds[4].push(local_calls(bench_pool(
            &worker_adapter,
            1,
            profile.as_deref(),
        ))?);
    }
    let [floor, bare, pycapnp, got, on_caller] = rounds.map(|r| Calls::median_of(&r));
    let (floor, bare, got, on_caller) = (
        measured(floor)?,
        measured(bare)?,
        measured(got)?,
        measured(on_caller)?,
    );
    calls_section(
        &mut table,
        "floor: raw length-prefixed echo, Python asyncio streams, same socketpair",
        &floor,
        None,
    );
    calls_section(
        &mut table,
        "host floor: bare capnp-rpc client (one current-thread runtime) -> one Python worker; ratio to the raw floor",
        &bare,
        Some(&floor),
    );
    let pycapnp = match peer_python {
        Ok(_) => {
            let peer = measured(pycapnp)?;
            calls_section(
                &mut table,
                "peer: bare capnp-rpc client -> pycapnp (C++ Cap'n Proto in Python) echo server; ratio to the raw floor",
                &peer,
                Some(&floor),
            );
            Some(peer)
        }
        Err(why) => {
            table.section(&format!("peer: pycapnp skipped ({why})"));
            None
        }
    };

    eprintln!("the thread hop alone ...");
    let (hop_sequential, hop_in_flight) = hop_cost().await?;
    table.section("the thread hop alone: a no-op command from the caller's runtime to a current-thread runtime thread and back on a oneshot (host CPU per round trip)");
    table.row_cpu(
        "one at a time",
        us(hop_sequential),
        1.0,
        (hop_sequential, Duration::ZERO),
    );
    table.row_cpu(
        &format!("{IN_FLIGHT} in flight"),
        us(hop_in_flight),
        1.0,
        (hop_in_flight, Duration::ZERO),
    );

    calls_section(
        &mut table,
        "polyhost: typed client -> pool -> one Python worker, echoBytes(16 bytes); ratio to the raw floor",
        &got,
        Some(&floor),
    );
    calls_section(
        &mut table,
        &format!("polyhost, connections on the caller's thread ({ON_CALLER}): typed client -> pool -> one Python worker; ratio to the raw floor"),
        &on_caller,
        Some(&floor),
    );
    for (how, got) in [("", &got), (ON_CALLER_SHORT, &on_caller)] {
        let language = format!("Python{how}");
        targets.calls(&language, got, &floor, &bare);
        if let Some(peer) = &pycapnp {
            targets.peer(&language, got, peer);
        }
    }

    // Streams, on a pool of one worker.
    eprintln!("polyhost: streams ...");
    let pool = shared_pool().start().await?;
    let client: BenchClient = pool.client();
    let pids = pool.stats().pids;
    let (out, out_cpu) = stream_rate(&pids, |n| produce(&client, n)).await?;
    let (into, into_cpu) = stream_rate(&pids, |n| consume(&client, n)).await?;
    table.section("polyhost: streams of small structs (Item: UInt32 + Float64), one worker; ratio to the floor's calls/s");
    table.row_cpu(
        "items/s worker -> host (Sink param, Rust ItemStream)",
        per_s(out),
        out / floor.rate,
        out_cpu,
    );
    table.row_cpu(
        "items/s host -> worker (host callback, Rust SinkWriter)",
        per_s(into),
        into / floor.rate,
        into_cpu,
    );
    targets.check(
        "items/s worker -> host, in millions",
        per_s(out),
        out / 1e6,
        Limit::AtLeast(2.0),
    );
    targets.check(
        "items/s host -> worker, in millions",
        per_s(into),
        into / 1e6,
        Limit::AtLeast(4.0),
    );
    pool.shutdown().await;
    if std::env::var_os("POLYHOST_BENCH_QUICK").is_some() {
        table.print();
        targets.print();
        return Ok(());
    }

    scaling_rows(
        &mut table,
        &mut targets,
        &worker_adapter,
        profile.as_deref(),
    )
    .await?;

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
    if let Some((_, _, by_mode)) = starts.iter().find(|(n, _, _)| *n == 16) {
        targets.check(
            "16 Python workers from a template, ms",
            ms(by_mode[1]),
            by_mode[1].as_secs_f64() * 1e3,
            Limit::AtMost(150.0),
        );
    }

    // The cache: the first pool of a binary writes its runtime (and Python compiles
    // its bytecode); later pools find both in place.
    eprintln!("start-up on an empty cache ...");
    table.section("start-up of a pool of 1 worker: empty cache folder (first pool) vs warm (later pools), median of 3; ratio to warm");
    for language in ["python", "node"] {
        let pool_of = |adapter: &Adapter| language_pool(adapter, entry_of(language), 1);
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

    // Node and Ruby: each against its own floor and a bare client into its worker.
    for language in ["node", "ruby"] {
        language_rows(&mut table, &mut targets, language).await?;
    }
    json::json_rows(&mut table).await?;

    table.print();
    targets.print();
    if let Some(dir) = &profile {
        println!("\nprofiles: {}/worker-<pid>.prof (python3 -m pstats <file>, then: sort tottime, stats 25)", dir.display());
    }
    Ok(())
}

/// A measurement's rounds as one (`Calls::median_of`).
fn measured(rounds: Option<Calls>) -> Result<Calls, BoxError> {
    rounds.ok_or_else(|| "a measurement without rounds".into())
}

/// The rows of one set of calls: round trips and calls/s, each as a ratio to `floor`'s
/// (or 1.0 for a floor itself).
fn calls_section(table: &mut Table, title: &str, got: &Calls, floor: Option<&Calls>) {
    let (rtt_p50, rtt_p99, rate) = floor.map_or((1.0, 1.0, 1.0), |f| {
        (
            ratio(got.rtt.p50, f.rtt.p50),
            ratio(got.rtt.p99, f.rtt.p99),
            got.rate / f.rate,
        )
    });
    table.section(title);
    table.row_cpu("round trip p50", us(got.rtt.p50), rtt_p50, got.rtt_cpu);
    table.row("round trip p99", us(got.rtt.p99), rtt_p99);
    table.row_cpu(
        &format!("calls/s, {IN_FLIGHT} in flight"),
        per_s(got.rate),
        rate,
        got.rate_cpu,
    );
    let [sequential, in_flight] = got.by_thread;
    if !sequential.0.is_zero() {
        for (how, (io, rest)) in [("sequential", sequential), ("in flight", in_flight)] {
            table.row(
                &format!(
                    "  host CPU per call, {how}: polyhost I/O threads {} + caller's runtime {}",
                    us(io),
                    us(rest)
                ),
                String::new(),
                ratio(io, io + rest),
            );
        }
    }
}

/// One pool size's measurement in one round of the scaling rows.
#[derive(Clone, Copy)]
struct ScaleRun {
    rate: f64,
    rate_cpu: (Duration, Duration),
    threads: usize,
}

/// Calls/s at `IN_FLIGHT` and the host's threads, for pools of 1, 2, 4 and 16 workers;
/// then the threads of a pool of 64.
async fn scaling_rows(
    table: &mut Table,
    targets: &mut Targets,
    adapter: &Adapter,
    profile: Option<&Path>,
) -> Result<(), BoxError> {
    eprintln!("polyhost: scaling ...");
    table.section(&format!(
        "polyhost: calls/s, {IN_FLIGHT} in flight, by pool size (value: calls/s, median of {ROUNDS} rounds, then the most host threads while running); ratio to 1 worker"
    ));
    // Each size once per round, the rounds interleaved; each figure the median.
    let mut runs: Vec<Vec<ScaleRun>> = vec![Vec::new(); SCALE_SIZES.len()];
    for _ in 0..ROUNDS {
        for (i, size) in SCALE_SIZES.into_iter().enumerate() {
            let pool = bench_pool(adapter, size, profile).start().await?;
            let client: BenchClient = pool.client();
            let pids = pool.stats().pids;
            pipelined(&client, PIPELINED_CALLS / 4).await?;
            let cpu = Cpu::now(&pids);
            let rate = pipelined(&client, PIPELINED_CALLS).await?;
            let rate_cpu = cpu.per(&pids, PIPELINED_CALLS);
            let threads = host_threads();
            pool.shutdown().await;
            runs[i].push(ScaleRun {
                rate,
                rate_cpu,
                threads,
            });
        }
    }
    let mut one = None;
    for (size, mut runs) in SCALE_SIZES.into_iter().zip(runs) {
        runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let rate = runs[(runs.len() - 1) / 2].rate;
        let rate_cpu = (
            median(runs.iter().map(|r| r.rate_cpu.0)),
            median(runs.iter().map(|r| r.rate_cpu.1)),
        );
        let threads = runs.iter().map(|r| r.threads).max().unwrap_or(0);
        let base = *one.get_or_insert(rate);
        table.row_cpu(
            &format!("{size} worker{}", if size == 1 { "" } else { "s" }),
            format!("{}, {threads} threads", per_s(rate)),
            rate / base,
            rate_cpu,
        );
        if size == 2 {
            targets.check(
                &format!("calls/s, {IN_FLIGHT} in flight, 2 workers vs 1"),
                per_s(rate),
                rate / base,
                Limit::Above(1.0),
            );
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (mode, how) in [START_MODES[1], START_MODES[0]] {
        let before = host_threads();
        let pool = bench_pool(adapter, 64, None)
            .start_mode(mode)
            .start()
            .await?;
        let during = host_threads();
        pool.shutdown().await;
        let added = during.saturating_sub(before);
        table.row(
            &format!("64 workers, {how}: host threads (before the pool: {before}, {cores} cores)"),
            during.to_string(),
            during as f64 / before as f64,
        );
        targets.check(
            &format!("host threads a pool of 64 workers ({how}) adds, {cores} cores"),
            added.to_string(),
            added as f64,
            Limit::AtMost(cores.max(4) as f64),
        );
    }
    Ok(())
}

/// Threads of this process.
fn host_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// The plugin entry point of the bench in `language`.
fn entry_of(language: &str) -> &'static str {
    match language {
        "node" => "bench_plugin.mjs:make",
        _ => "bench_plugin:make",
    }
}

/// Node or Ruby: its own floor (a raw echo in the same interpreter), a bare capnp-rpc
/// client into one worker, polyhost into one worker; for Ruby also 16 workers in each
/// start mode against 16 fresh interpreters.
async fn language_rows(
    table: &mut Table,
    targets: &mut Targets,
    language: &str,
) -> Result<(), BoxError> {
    let adapter = adapter(language)?;
    let interpreter = adapter.resolve_interpreter(None)?;
    let (title, script, floor_calls_n) = match language {
        "node" => (
            "Node net.Socket",
            "echo_floor.mjs",
            NODE_FLOOR_PIPELINED_CALLS,
        ),
        _ => (
            "Ruby socket read/write loop",
            "echo_floor.rb",
            PIPELINED_CALLS,
        ),
    };
    let name = adapter.definition.language.clone();
    let named = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    // The floor, the bare client and polyhost, in interleaved rounds (Node: also with
    // the connections on the caller's thread).
    let mut rounds: [Vec<Calls>; 4] = Default::default();
    for round in 1..=ROUNDS {
        eprintln!("round {round}/{ROUNDS}: {named} floor ...");
        rounds[0].push(floor_calls(&adapter, &interpreter, script, floor_calls_n).await?);
        eprintln!("round {round}/{ROUNDS}: bare capnp-rpc client -> one {named} worker ...");
        rounds[1].push(bare_calls(
            worker_spec(&adapter, entry_of(language))?,
            Peer::Worker,
        )?);
        eprintln!("round {round}/{ROUNDS}: polyhost, calls into one {named} worker ...");
        let pool = language_pool(&adapter, entry_of(language), 1)
            .start()
            .await?;
        let client: BenchClient = pool.client();
        rounds[2].push(calls(&client, &pool.stats().pids).await?);
        pool.shutdown().await;
        if language == "node" {
            eprintln!(
                "round {round}/{ROUNDS}: polyhost, {named}, connections on the caller's thread ..."
            );
            rounds[3].push(local_calls(language_pool(&adapter, entry_of(language), 1))?);
        }
    }
    let [floor, bare, got, on_caller] = rounds.map(|r| Calls::median_of(&r));
    let (floor, bare, got) = (measured(floor)?, measured(bare)?, measured(got)?);
    calls_section(
        table,
        &format!("floor: raw length-prefixed echo, {title}, same socketpair"),
        &floor,
        None,
    );
    calls_section(
        table,
        &format!(
            "host floor: bare capnp-rpc client -> one {named} worker; ratio to the {named} floor"
        ),
        &bare,
        Some(&floor),
    );
    calls_section(
        table,
        &format!("polyhost: typed client -> pool -> one {named} worker, echoBytes(16 bytes); ratio to the {named} floor"),
        &got,
        Some(&floor),
    );
    if let Some(on_caller) = on_caller {
        calls_section(
            table,
            &format!("polyhost, connections on the caller's thread ({ON_CALLER}): typed client -> pool -> one {named} worker; ratio to the {named} floor"),
            &on_caller,
            Some(&floor),
        );
        targets.calls(&named, &got, &floor, &bare);
        targets.calls(
            &format!("{named}{ON_CALLER_SHORT}"),
            &on_caller,
            &floor,
            &bare,
        );
    }
    if language != "ruby" {
        return Ok(());
    }
    eprintln!("start-up: 16 {named} workers ...");
    let mut by_mode = Vec::new();
    for (mode, how) in START_MODES {
        let mut runs = Vec::new();
        for _ in 0..START_RUNS {
            let t = Instant::now();
            let pool = language_pool(&adapter, entry_of(language), 16)
                .start_mode(mode)
                .start()
                .await?;
            runs.push(t.elapsed());
            pool.shutdown().await;
        }
        by_mode.push((how, median(runs)));
    }
    table.section(&format!(
        "start-up of a pool of 16 {named} workers (median of 3); ratio to fresh interpreters"
    ));
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

// ---------------------------------------------------------------------------------------
// polyhost

fn bench_pool(adapter: &Adapter, size: usize, profile: Option<&Path>) -> PoolBuilder {
    let mut builder = language_pool(adapter, "bench_plugin:make", size);
    if let Some(dir) = profile {
        builder = builder.env("POLYHOST_BENCH_PROFILE", dir.display().to_string());
    }
    builder
}

/// A pool of `size` workers of `adapter` running the bench plugin `entry`
/// (`tests/plugins/bench_plugin.*`), with the host's Feeder.
fn language_pool(adapter: &Adapter, entry: &str, size: usize) -> PoolBuilder {
    Pool::builder(adapter.clone(), entry)
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
    measure(
        pids,
        PIPELINED_CALLS,
        |n| sequential(client, n),
        |n| pipelined(client, n),
    )
    .await
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
    echo_calls(client, n, IN_FLIGHT).await?;
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
