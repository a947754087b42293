//! The fuzzer's command line: run every target (or some) for a time or a number of
//! inputs, replay one input, or write the seed corpus.
//!
//!   cargo run --release -p polyhost-fuzz -- --seconds 60          # each target 60 s
//!   cargo run --release -p polyhost-fuzz -- --inputs 1000000      # each target 1M inputs
//!   cargo run --release -p polyhost-fuzz -- --target python-rpc --replay FILE
//!   cargo run --release -p polyhost-fuzz -- --write-corpus

use std::time::Duration;

use polyhost_fuzz::runner::{self, Budget, Outcome, Report};
use polyhost_fuzz::{corpus_root, failures_root, repo_root, seeds, FuzzError};

const USAGE: &str = "usage: polyhost-fuzz [--seconds S] [--inputs N] [--target NAME]... [--seed N]
                     [--jobs N] [--limit-ms MS] [--batch N]
       polyhost-fuzz --target NAME --replay FILE
       polyhost-fuzz --write-corpus | --list

Runs every target (host-codec, and <language>-{framing,reader,rpc} for every adapter):
first the corpus in fuzz/corpus/<kind>/, then mutated inputs until each target has had
--seconds (default 10 when neither bound is given) or --inputs. Failures are written to
fuzz/failures/<target>/ with the command that reproduces them; the exit status is 1 if
any input failed.";

struct Args {
    seconds: Option<f64>,
    inputs: Option<u64>,
    targets: Vec<String>,
    seed: u64,
    jobs: usize,
    limit_ms: u64,
    batch: usize,
    replay: Option<String>,
    write_corpus: bool,
    list: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seconds: None,
        inputs: None,
        targets: vec![],
        seed: 1,
        jobs: 1,
        limit_ms: 5000,
        batch: 256,
        replay: None,
        write_corpus: false,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let num = |name: &str, v: String| v.parse::<u64>().map_err(|e| format!("{name}: {e}"));
        match arg.as_str() {
            "--seconds" => {
                a.seconds = Some(
                    value("--seconds")?
                        .parse()
                        .map_err(|e| format!("--seconds: {e}"))?,
                )
            }
            "--inputs" => a.inputs = Some(num("--inputs", value("--inputs")?)?),
            "--target" => a.targets.push(value("--target")?),
            "--seed" => a.seed = num("--seed", value("--seed")?)?,
            "--jobs" => a.jobs = num("--jobs", value("--jobs")?)?.max(1) as usize,
            "--limit-ms" => a.limit_ms = num("--limit-ms", value("--limit-ms")?)?,
            "--batch" => a.batch = num("--batch", value("--batch")?)?.max(1) as usize,
            "--replay" => a.replay = Some(value("--replay")?),
            "--write-corpus" => a.write_corpus = true,
            "--list" => a.list = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.seconds.is_none() && a.inputs.is_none() {
        a.seconds = Some(10.0);
    }
    Ok(a)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    match run(args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn run(args: Args) -> Result<bool, FuzzError> {
    let root = repo_root();
    if args.write_corpus {
        let n = seeds::write_corpus(&corpus_root())?;
        println!("wrote {n} seed files under {}", corpus_root().display());
        return Ok(true);
    }
    let names = runner::target_names(&root)?;
    if args.list {
        for n in names {
            println!("{n}");
        }
        return Ok(true);
    }
    for t in &args.targets {
        if !names.contains(t) {
            return Err(FuzzError::UnknownTarget {
                name: t.clone(),
                known: names,
            });
        }
    }
    let limit = Duration::from_millis(args.limit_ms);
    let failures = failures_root();
    let mut targets = runner::all_targets(&root, &failures, limit)?;
    targets.retain(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name()));
    if let Some(file) = &args.replay {
        let input = std::fs::read(file).map_err(|e| FuzzError::io(file.as_ref(), e))?;
        let mut ok = true;
        for t in &mut targets {
            let outcome = runner::replay(t.as_mut(), &input, limit)?;
            match &outcome {
                Outcome::Failure(d) => {
                    ok = false;
                    println!("{}: FAILURE\n{d}", t.name());
                }
                other => println!("{}: {other:?}", t.name()),
            }
        }
        return Ok(ok);
    }
    let budget = Budget {
        time: args.seconds.map(Duration::from_secs_f64),
        inputs: args.inputs,
        seed: args.seed,
        limit,
        batch: args.batch,
    };
    println!(
        "fuzzing {} target(s), seed {}, {} per target, per-input limit {} ms",
        targets.len(),
        budget.seed,
        match (budget.time, budget.inputs) {
            (Some(t), Some(n)) => format!("{n} inputs or {:.0} s", t.as_secs_f64()),
            (Some(t), None) => format!("{:.0} s", t.as_secs_f64()),
            (None, Some(n)) => format!("{n} inputs"),
            (None, None) => "unbounded".into(),
        },
        limit.as_millis()
    );
    let reports = run_all(targets, &budget, args.jobs)?;
    println!(
        "\n{:<16} {:>7} {:>11} {:>9} {:>8} {:>10} {:>10} {:>9}",
        "target", "corpus", "inputs", "avg bytes", "typed%", "seconds", "inputs/s", "failures"
    );
    let mut total_fail = 0;
    for r in &reports {
        println!(
            "{:<16} {:>7} {:>11} {:>9} {:>7.1}% {:>10.1} {:>10.0} {:>9}",
            r.target,
            r.corpus,
            r.inputs,
            r.bytes / r.inputs.max(1),
            100.0 * r.typed as f64 / (r.inputs + r.corpus as u64).max(1) as f64,
            r.elapsed.as_secs_f64(),
            r.rate(),
            r.failed()
        );
        total_fail += r.failed();
    }
    for r in &reports {
        for c in &r.failures {
            println!(
                "\n{}: {} input(s) failed: {}\n  saved: {}\n  example:\n{}",
                r.target,
                c.count,
                c.signature,
                c.saved.join(", "),
                indent(&c.example)
            );
        }
    }
    println!(
        "\n{} targets, {} inputs, {} failures",
        reports.len(),
        reports.iter().map(|r| r.inputs).sum::<u64>(),
        total_fail
    );
    Ok(total_fail == 0)
}

fn indent(s: &str) -> String {
    s.lines()
        .take(40)
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the targets on `jobs` threads.
fn run_all(
    targets: Vec<Box<dyn runner::Target>>,
    budget: &Budget,
    jobs: usize,
) -> Result<Vec<Report>, FuzzError> {
    let failures = failures_root();
    let corpus = corpus_root();
    let queue = std::sync::Mutex::new(targets.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let Some((i, mut t)) = next else { return };
                let r = seeds::load(&corpus, t.kind())
                    .and_then(|c| runner::run_target(t.as_mut(), &c, budget, &failures));
                if let Ok(r) = &r {
                    eprintln!(
                        "{}: {} inputs in {:.1} s, {} failures",
                        r.target,
                        r.inputs,
                        r.elapsed.as_secs_f64(),
                        r.failed()
                    );
                }
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
