//! Runs the Node adapter's own unit tests (wire format, RPC engine, generated modules,
//! worker process) with Node's built-in runner, so `cargo test --workspace` is the one
//! command that tests everything.

use std::process::Command;

#[test]
fn node_adapter_unit_tests_pass() {
    let adapter = concat!(env!("CARGO_MANIFEST_DIR"), "/../adapters/node");
    let out = Command::new("node")
        .args(["--test", "tests/"])
        .current_dir(adapter)
        .output()
        .expect("node is on PATH (the adapter needs nothing else)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "node --test failed in adapters/node:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\n# fail 0"), "{stdout}");
    assert!(!stdout.contains("\n# pass 0\n"), "no tests ran:\n{stdout}");
}
