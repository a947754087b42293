//! Runs every adapter's own unit tests (wire format, RPC engine, generated modules),
//! one test per adapter (`python::unit_tests_pass`), so `cargo test --workspace` is the
//! one command that tests everything. What to run and how to read its report come from
//! the adapter's `adapter.json` (`development.unit_tests`).

use std::process::Command;

use polyhost_tests::adapters::{
    adapters_root, discover, Discovered, Report, UnitTests, BUILT_WITH,
};
use polyhost_tests::for_adapters;

for_adapters!(sync polyhost_tests::adapters::with_discovered; unit_tests_pass);

fn unit_tests_pass(found: &Discovered) {
    let name = &found.name;
    let unit = found.unit_tests().unwrap_or_else(|e| panic!("{e}"));
    let interpreter = found
        .adapter
        .resolve_interpreter(None)
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    let out = Command::new(&interpreter)
        .args(&unit.args)
        .envs(&unit.env)
        .current_dir(&found.adapter.dir)
        .output()
        .unwrap_or_else(|e| panic!("[{name}] cannot run {}: {e}", interpreter.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let command = format!("{} {}", interpreter.display(), unit.args.join(" "));
    assert!(
        out.status.success(),
        "[{name}] `{command}` failed ({}) in {}:\n{stdout}\n{stderr}",
        out.status,
        found.adapter.dir.display()
    );
    let report = match unit.report {
        Report::Stdout => &stdout,
        Report::Stderr => &stderr,
    };
    if let Err(why) = unit.judge(report) {
        panic!("[{name}] `{command}`: {why}:\n{report}");
    }
}

/// The adapters this crate was built with are the adapter folders there are now (a
/// folder added since is picked up by the next build: build.rs watches the folder).
#[test]
fn the_build_knows_every_adapter_folder() {
    let found = discover(&adapters_root()).unwrap();
    let names: Vec<&str> = found.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, BUILT_WITH);
    assert!(names.len() >= 2, "{names:?}");
}

/// A report says that more than none ran and all passed, or the test fails.
#[test]
fn a_report_without_tests_or_without_a_pass_line_fails() {
    let unit = UnitTests {
        args: vec![],
        env: Default::default(),
        report: Report::Stderr,
        count_prefix: "Ran ".into(),
        pass_prefix: "OK".into(),
    };
    assert_eq!(
        unit.judge("....\nRan 12 tests in 0.3s\n\nOK (skipped=1)\n"),
        Ok(12)
    );
    assert!(unit.judge("Ran 0 tests in 0.000s\n\nOK\n").is_err());
    assert!(unit
        .judge("Ran 3 tests in 0.1s\n\nFAILED (failures=1)\n")
        .is_err());
    assert!(unit.judge("nothing to see\n").is_err());
}
