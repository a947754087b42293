//! Runs the Python adapter's own unit tests (wire format, RPC engine, generated
//! modules), so `cargo test --workspace` is the one command that tests everything.

use std::process::Command;

#[test]
fn python_adapter_unit_tests_pass() {
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/python");
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .current_dir(adapter)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 is on PATH (the adapter needs nothing else)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 -m unittest failed in adapters/python:\n{stderr}"
    );
    assert!(stderr.contains("\nOK"), "{stderr}");
    let ran: usize = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `Ran N tests` line:\n{stderr}"));
    assert!(ran > 0, "no tests ran:\n{stderr}");
}
