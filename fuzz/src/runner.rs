//! Runs targets: replays the corpus, then feeds mutated inputs for a time or a number
//! of inputs, and records failures in `fuzz/failures/<target>/` (an input file and a
//! text file with what went wrong and the command that reproduces it), at most a few
//! per failure class.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::guest::{Guest, GuestProcess};
use crate::mutate::{Mutator, Shape};
use crate::{host, FuzzError};

pub use crate::Outcome;

/// A fuzz target.
pub trait Target: Send {
    /// e.g. `host-codec`, `python-rpc`.
    fn name(&self) -> &str;
    /// The corpus folder it reads (`fuzz/corpus/<kind>/`).
    fn kind(&self) -> &str;
    fn shape(&self) -> Shape;
    /// One outcome per input, in order; fewer when an input hung or crashed the
    /// target (its outcome is the last one returned).
    fn run_batch(&mut self, inputs: &[Vec<u8>], limit: Duration)
        -> Result<Vec<Outcome>, FuzzError>;
}

/// The host codec target, in process. A panic is caught; an input that runs longer
/// than the limit is a failure (and one that never returns is reported by a
/// watchdog thread, which stops the process).
pub struct HostTarget {
    current: Arc<Mutex<Option<Vec<u8>>>>,
    started_ms: Arc<AtomicU64>,
}

impl HostTarget {
    pub fn new(failures: PathBuf, limit: Duration) -> HostTarget {
        let current: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let started_ms = Arc::new(AtomicU64::new(0));
        let (c, s) = (current.clone(), started_ms.clone());
        let epoch = Instant::now();
        EPOCH.get_or_init(|| epoch);
        // A panic inside the target: its message and place go to the failure report
        // (instead of stderr); any other panic to the hook there was.
        HOOK.get_or_init(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if IN_TARGET.with(|t| t.get()) {
                    let at = info
                        .location()
                        .map(|l| format!("{}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    LAST_PANIC.with(|p| *p.borrow_mut() = format!("{info}\n(at {at})"));
                } else {
                    previous(info)
                }
            }));
        });
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(250));
            let started = s.load(Ordering::Relaxed);
            let now = now_ms();
            if started != 0 && now.saturating_sub(started) > 4 * limit.as_millis() as u64 + 1000 {
                let input = c.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(input) = input {
                    let path =
                        save_failure(&failures, "host-codec", &input, "hang: never returned");
                    eprintln!("host-codec: an input never returned; saved as {path}");
                }
                std::process::exit(3);
            }
        });
        HostTarget {
            current,
            started_ms,
        }
    }
}

static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

static HOOK: std::sync::OnceLock<()> = std::sync::OnceLock::new();

thread_local! {
    static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

impl Target for HostTarget {
    fn name(&self) -> &str {
        "host-codec"
    }
    fn kind(&self) -> &str {
        "host-codec"
    }
    fn shape(&self) -> Shape {
        Shape::Message
    }
    fn run_batch(
        &mut self,
        inputs: &[Vec<u8>],
        limit: Duration,
    ) -> Result<Vec<Outcome>, FuzzError> {
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(input.clone());
            let run = || {
                IN_TARGET.with(|t| t.set(true));
                self.started_ms.store(now_ms(), Ordering::Relaxed);
                let t = Instant::now();
                let result = std::panic::catch_unwind(|| host::run(input));
                let elapsed = t.elapsed();
                self.started_ms.store(0, Ordering::Relaxed);
                IN_TARGET.with(|t| t.set(false));
                (result, elapsed)
            };
            let (mut result, mut elapsed) = run();
            if elapsed > limit {
                // once more: a loaded machine can stall any one run
                (result, elapsed) = run();
            }
            out.push(match result {
                _ if elapsed > limit => Outcome::Failure(format!(
                    "hang: took {} ms (twice), the limit is {} ms",
                    elapsed.as_millis(),
                    limit.as_millis()
                )),
                Ok(Ok(true)) => Outcome::Typed,
                Ok(Ok(false)) => Outcome::Ok,
                Ok(Err(why)) => Outcome::Failure(why),
                Err(_) => Outcome::Failure(format!(
                    "panic: {}",
                    LAST_PANIC.with(|p| std::mem::take(&mut *p.borrow_mut()))
                )),
            });
        }
        Ok(out)
    }
}

/// A guest target: one adapter's driver for one kind.
pub struct GuestTarget {
    name: String,
    kind: &'static str,
    process: GuestProcess,
}

impl GuestTarget {
    pub fn new(guest: &Guest, kind: &'static str) -> Result<GuestTarget, FuzzError> {
        Ok(GuestTarget {
            name: format!("{}-{kind}", guest.language),
            kind,
            process: GuestProcess::start(guest, kind)?,
        })
    }
}

impl Target for GuestTarget {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &str {
        self.kind
    }
    fn shape(&self) -> Shape {
        if self.kind == "reader" {
            Shape::Message
        } else {
            Shape::Frames
        }
    }
    fn run_batch(
        &mut self,
        inputs: &[Vec<u8>],
        limit: Duration,
    ) -> Result<Vec<Outcome>, FuzzError> {
        self.process.run_batch(inputs, limit)
    }
}

/// Every target: the host codec, then each adapter's framing, reader and rpc.
pub fn all_targets(
    root: &Path,
    failures: &Path,
    limit: Duration,
) -> Result<Vec<Box<dyn Target>>, FuzzError> {
    let mut out: Vec<Box<dyn Target>> =
        vec![Box::new(HostTarget::new(failures.to_path_buf(), limit))];
    for guest in crate::guest::discover(root)? {
        for kind in crate::guest::GUEST_KINDS {
            out.push(Box::new(GuestTarget::new(&guest, kind)?));
        }
    }
    Ok(out)
}

/// The names `all_targets` would make (without starting anything).
pub fn target_names(root: &Path) -> Result<Vec<String>, FuzzError> {
    let mut out = vec!["host-codec".to_string()];
    for guest in crate::guest::discover(root)? {
        for kind in crate::guest::GUEST_KINDS {
            out.push(format!("{}-{kind}", guest.language));
        }
    }
    Ok(out)
}

/// How long and how hard to fuzz.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Time per target after the corpus replay (None: no time bound).
    pub time: Option<Duration>,
    /// Mutated inputs per target (None: no count bound).
    pub inputs: Option<u64>,
    pub seed: u64,
    /// Per-input time limit.
    pub limit: Duration,
    pub batch: usize,
}

/// One failure class and how often it was seen.
#[derive(Debug, Clone)]
pub struct FailureClass {
    pub signature: String,
    pub count: u64,
    pub example: String,
    pub saved: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub target: String,
    pub corpus: usize,
    pub inputs: u64,
    pub typed: u64,
    /// Bytes of the mutated inputs.
    pub bytes: u64,
    pub elapsed: Duration,
    pub failures: Vec<FailureClass>,
}

impl Report {
    pub fn failed(&self) -> u64 {
        self.failures.iter().map(|f| f.count).sum()
    }
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What names a failure's class, digits dropped: a Python traceback's exception line
/// and the frame that raised it; a JavaScript error's message line and its first
/// frame; else the first line.
pub fn signature(detail: &str) -> String {
    let lines: Vec<&str> = detail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick: Vec<&str> = if let Some(tb) = lines.iter().rposition(|l| l.starts_with("Traceback")) {
        let rest = &lines[tb..];
        let exc = rest
            .iter()
            .rposition(|l| !l.starts_with("File ") && !l.starts_with('^') && !l.starts_with('~'))
            .map(|i| rest[i])
            .unwrap_or("");
        let frame = rest
            .iter()
            .rev()
            .find(|l| l.starts_with("File "))
            .copied()
            .unwrap_or("");
        vec![exc, frame]
    } else if let Some(at) = lines.iter().position(|l| l.starts_with("at ")) {
        vec![lines[at.saturating_sub(1)], lines[at]]
    } else {
        lines.first().copied().into_iter().collect()
    };
    pick.join(" | ")
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .collect()
}

/// Saves a failing input and its story; returns the input file's path.
pub fn save_failure(failures: &Path, target: &str, input: &[u8], detail: &str) -> String {
    let dir = failures.join(target);
    let _ = std::fs::create_dir_all(&dir);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{h:016x}.bin"));
    let _ = std::fs::write(&path, input);
    let story = format!(
        "target: {target}\nreproduce: cargo run --release -p polyhost-fuzz -- --target {target} --replay {}\n\n{detail}\n",
        path.display()
    );
    let _ = std::fs::write(path.with_extension("txt"), story);
    path.display().to_string()
}

/// Runs one target: the corpus, then mutations within the budget.
pub fn run_target(
    target: &mut dyn Target,
    corpus: &[(String, Vec<u8>)],
    budget: &Budget,
    failures: &Path,
) -> Result<Report, FuzzError> {
    let name = target.name().to_string();
    let shape = target.shape();
    let seeds: Vec<Vec<u8>> = corpus.iter().map(|(_, b)| b.clone()).collect();
    let mut classes: HashMap<String, FailureClass> = HashMap::new();
    let record = |input: &[u8], detail: String, classes: &mut HashMap<String, FailureClass>| {
        let sig = signature(&detail);
        let class = classes.entry(sig.clone()).or_insert_with(|| FailureClass {
            signature: sig,
            count: 0,
            example: detail.clone(),
            saved: Vec::new(),
        });
        class.count += 1;
        if class.saved.len() < 3 {
            class
                .saved
                .push(save_failure(failures, &name, input, &detail));
        }
    };
    let start = Instant::now();
    let mut typed = 0;
    // the corpus, as it is
    for chunk in seeds.chunks(budget.batch.max(1)) {
        let mut rest: &[Vec<u8>] = chunk;
        while !rest.is_empty() {
            let outcomes = target.run_batch(rest, budget.limit)?;
            for (input, o) in rest.iter().zip(&outcomes) {
                match o {
                    Outcome::Typed => typed += 1,
                    Outcome::Failure(d) => record(input, d.clone(), &mut classes),
                    Outcome::Ok => {}
                }
            }
            rest = &rest[outcomes.len().max(1).min(rest.len())..];
        }
    }
    // mutations
    let mut mutator = Mutator::new(budget.seed ^ fnv(&name));
    let fuzz_start = Instant::now();
    let mut inputs = 0u64;
    let mut bytes = 0u64;
    let mut last: Vec<u8> = Vec::new();
    let mut batch = Vec::with_capacity(budget.batch);
    loop {
        if budget.inputs.is_some_and(|n| inputs >= n)
            || budget.time.is_some_and(|t| fuzz_start.elapsed() >= t)
        {
            break;
        }
        let want = budget
            .inputs
            .map(|n| (n - inputs).min(budget.batch as u64) as usize)
            .unwrap_or(budget.batch);
        batch.clear();
        for _ in 0..want {
            // now and then mutate the last input again (stacking more mutations)
            let base = if !last.is_empty() && last.len() <= 16 * 1024 && mutator.rng.one_in(4) {
                last.clone()
            } else {
                seeds[mutator.rng.below(seeds.len())].clone()
            };
            let input = mutator.mutate(&base, &seeds, shape);
            last.clone_from(&input);
            bytes += input.len() as u64;
            batch.push(input);
        }
        let mut rest: &[Vec<u8>] = &batch;
        while !rest.is_empty() {
            let outcomes = target.run_batch(rest, budget.limit)?;
            for (input, o) in rest.iter().zip(&outcomes) {
                inputs += 1;
                match o {
                    Outcome::Typed => typed += 1,
                    Outcome::Failure(d) => record(input, d.clone(), &mut classes),
                    Outcome::Ok => {}
                }
            }
            rest = &rest[outcomes.len().max(1).min(rest.len())..];
            if outcomes.is_empty() {
                inputs += 1;
            }
        }
    }
    let mut failures: Vec<FailureClass> = classes.into_values().collect();
    failures.sort_by_key(|f| std::cmp::Reverse(f.count));
    Ok(Report {
        target: name,
        corpus: seeds.len(),
        inputs,
        typed,
        bytes,
        elapsed: start.elapsed().max(fuzz_start.elapsed()),
        failures,
    })
}

/// Runs one input (a reproduction).
pub fn replay(
    target: &mut dyn Target,
    input: &[u8],
    limit: Duration,
) -> Result<Outcome, FuzzError> {
    let outcomes = target.run_batch(&[input.to_vec()], limit)?;
    Ok(outcomes
        .into_iter()
        .next()
        .unwrap_or(Outcome::Failure("no outcome".into())))
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}
