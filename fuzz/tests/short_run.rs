//! A short fuzz run as part of `cargo test --workspace`: every target (the host codec
//! and each adapter's framing, reader and RPC connection) replays the whole checked-in
//! corpus, then gets 2 s of mutated inputs (under 60 s in all); any failure fails the
//! test, with the failing inputs saved under fuzz/failures/<target>/.

use std::time::Duration;

use polyhost_fuzz::runner::{self, Budget};
use polyhost_fuzz::{corpus_root, failures_root, repo_root, seeds};

#[test]
fn every_target_survives_its_corpus_and_two_seconds_of_mutations() {
    let budget = Budget {
        time: Some(Duration::from_secs(2)),
        inputs: None,
        seed: 0x5eed,
        limit: Duration::from_secs(10),
        batch: 128,
    };
    let targets = runner::all_targets(&repo_root(), &failures_root(), budget.limit).unwrap();
    let names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    for kind in ["framing", "reader", "rpc"] {
        for lang in ["python", "node"] {
            assert!(names.contains(&format!("{lang}-{kind}")), "{names:?}");
        }
    }
    let mut problems = Vec::new();
    for mut t in targets {
        let corpus = seeds::load(&corpus_root(), t.kind()).unwrap();
        let r = runner::run_target(t.as_mut(), &corpus, &budget, &failures_root()).unwrap();
        eprintln!(
            "{}: corpus {} + {} mutated inputs in {:.1} s, {} failures",
            r.target,
            r.corpus,
            r.inputs,
            r.elapsed.as_secs_f64(),
            r.failed()
        );
        assert!(r.inputs > 0, "{} ran no mutated input", r.target);
        for c in &r.failures {
            problems.push(format!(
                "{}: {} failed input(s), saved as {}:\n{}",
                r.target,
                c.count,
                c.saved.join(", "),
                c.example
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_checked_in_corpus_is_what_the_generator_writes() {
    for kind in seeds::KINDS {
        let on_disk = seeds::load(&corpus_root(), kind).unwrap();
        for (name, bytes) in seeds::seeds(kind).unwrap() {
            let found = on_disk.iter().find(|(n, _)| *n == name);
            assert_eq!(
                found.map(|(_, b)| b),
                Some(&bytes),
                "fuzz/corpus/{kind}/{name} is missing or stale: run \
                 `cargo run --release -p polyhost-fuzz -- --write-corpus`"
            );
        }
    }
}
