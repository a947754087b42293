//! polyhost-fuzz: a mutation fuzzer for the host codec and every guest's framing,
//! message reader and RPC connection (stable Rust, no instrumentation).
//!
//! - `rng`: the deterministic, seedable generator;
//! - `wire`: frames and raw pointer words, for structure-aware edits;
//! - `mutate`: the mutation engine;
//! - `seeds`: the checked-in corpus (`fuzz/corpus/<kind>/`), generated; `crafted`: its
//!   hand-made edge cases;
//! - `host`: the host codec target, in process;
//! - `guest`: the guest targets, a driver process per adapter and kind;
//! - `runner`: runs targets for a time or a number of inputs, records failures.

use std::path::{Path, PathBuf};

pub mod crafted;
pub mod guest;
pub mod host;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod seeds;
pub mod wire;

polyhost::include_bindings!();

/// The repository root (the fuzz crate's parent folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the fuzz crate lives in the repository")
        .to_path_buf()
}

/// `fuzz/corpus`.
pub fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// `fuzz/failures` (not checked in).
pub fn failures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("failures")
}

#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the seed corpus: {0}")]
    Seeds(String),
    #[error("the corpus folder {0} is empty or missing; run `cargo run --release -p polyhost-fuzz -- --write-corpus`")]
    EmptyCorpus(PathBuf),
    #[error("{path}: {why}")]
    Adapter { path: PathBuf, why: String },
    #[error("the {language} adapter has no fuzz driver: add {dir}/driver.<ext> (see adapters/python/tests/fuzz/driver.py)")]
    NoDriver { language: String, dir: PathBuf },
    #[error("cannot start `{command}`: {source} (is the interpreter installed?)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` did not start (no ready byte); its stderr:\n{stderr}")]
    DriverStart { command: String, stderr: String },
    #[error("no target named {name:?}; the targets are {known:?}")]
    UnknownTarget { name: String, known: Vec<String> },
}

impl FuzzError {
    pub fn io(path: &Path, source: std::io::Error) -> FuzzError {
        FuzzError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What one input did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (decoded, handled).
    Ok,
    /// Refused with the implementation's typed error: fine.
    Typed,
    /// Anything else: a panic, an untyped exception, a hang, unbounded memory.
    Failure(String),
}
