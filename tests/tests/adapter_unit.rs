//! Runs every adapter's own unit tests (wire format, RPC engine, generated modules),
//! one test per adapter (`python::unit_tests_pass`), so `cargo test --workspace` is the
//! one command that tests everything. What to run and how to read its report come from
//! the adapter's `adapter.json` (`development.unit_tests`).

use std::process::Command;

use polyhost_tests::adapters::{Discovered, Report};
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
    let ran: usize = report
        .lines()
        .find_map(|l| {
            l.strip_prefix(&unit.count_prefix)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "[{name}] no report line `{}<count>` from `{command}`:\n{report}",
                unit.count_prefix
            )
        });
    assert!(ran > 0, "[{name}] `{command}` ran no tests:\n{report}");
    assert!(
        report.lines().any(|l| l.starts_with(&unit.pass_prefix)),
        "[{name}] no report line starting `{}` from `{command}`:\n{report}",
        unit.pass_prefix
    );
}
