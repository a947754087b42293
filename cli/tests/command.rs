//! The `polyhost` binary as users run it: output and exit status of `schema` and
//! `call` against the quickstart's schema and Python plugin, and the conformance
//! guest for a streaming method.

use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn greeter() -> String {
    format!("{ROOT}/examples/quickstart/schema/greeter.capnp")
}

fn plugin_dir() -> String {
    format!("{ROOT}/examples/quickstart/plugin")
}

fn polyhost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyhost"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn call(method: &str, params: &str) -> Output {
    let (schema, dir) = (greeter(), plugin_dir());
    polyhost(&[
        "call",
        &schema,
        method,
        params,
        "--plugin",
        "greeter_plugin:make",
        "--adapter",
        "python",
        "--module-path",
        &dir,
    ])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn schema_lists_every_worker_method_with_docs_flags_and_schemas() {
    let out = polyhost(&["schema", &greeter()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tools: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Greeter.greet", "Greeter.counter", "Greeter.shout"]);
    let greet = &tools[0];
    assert_eq!(greet["description"], "A plain method.");
    assert_eq!(greet["idempotent"], true);
    assert_eq!(tools[2]["idempotent"], false);
    assert_eq!(
        greet["params_schema"]["properties"]["name"]["type"],
        "string"
    );
    assert_eq!(greet["params_schema"]["additionalProperties"], false);
    assert_eq!(
        greet["results_schema"]["properties"]["greeting"]["type"],
        "string"
    );
}

#[test]
fn schema_of_one_method_and_of_an_unknown_one() {
    let out = polyhost(&["schema", &greeter(), "Greeter.shout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tool: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tool["name"], "Greeter.shout");
    let out = polyhost(&["schema", &greeter(), "Greeter.wave"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no method `Greeter.wave`") && err.contains("Greeter.greet"),
        "{err}"
    );
}

#[test]
fn a_broken_schema_is_reported_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.capnp");
    std::fs::write(&path, "@0xd1e2f3a4b5c6d7e8;\nstruct X { a @0 :Nope; }\n").unwrap();
    let out = polyhost(&["schema", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot compile") && err.contains("broken.capnp"),
        "{err}"
    );
}

#[test]
fn call_prints_the_results_as_json() {
    let out = call("Greeter.greet", r#"{"name": "Ada"}"#);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    let greeting = results["greeting"].as_str().unwrap();
    assert!(
        greeting.starts_with("Hello, Ada! (from Python pid "),
        "{greeting}"
    );
}

#[test]
fn invalid_params_exit_2_with_every_error_before_any_worker_starts() {
    let out = call("Greeter.greet", r#"{"name": 5, "nme": "Ada"}"#);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(err.contains("/name: 5 is not of type \"string\""), "{err}");
    assert!(err.contains("'nme' was unexpected"), "{err}");
    assert!(out.stdout.is_empty());
    let out = call("Greeter.greet", "{name: Ada}");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not JSON"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_worker_exception_prints_the_guest_traceback_and_fails() {
    // `shout` calls the host's HostLog, which the command line does not serve.
    let out = call("Greeter.shout", r#"{"text": "hi"}"#);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("Greeter.shout: NotServed"), "{err}");
    assert!(err.contains("Traceback (most recent call last)"), "{err}");
    assert!(
        err.contains("greeter_plugin.py"),
        "the guest's own file: {err}"
    );
}

#[test]
fn unknown_methods_capability_results_and_usage_errors_fail_clearly() {
    let out = call("Greeter.wave", "{}");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no method `Greeter.wave`"));
    let out = call("Greeter.counter", r#"{"start": 1}"#);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/counter: the results hold a capability"),
        "{}",
        text(&out.stderr)
    );
    let out = polyhost(&["call", &greeter(), "Greeter.greet", "{}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--plugin"));
}

#[test]
fn a_streaming_method_prints_its_items_as_json_lines() {
    let schema = format!("{ROOT}/tests/conformance/schema/conformance.capnp");
    let guest = format!("{ROOT}/tests/conformance/guests/python");
    let out = polyhost(&[
        "call",
        &schema,
        "Conformance.numbers",
        r#"{"count": 3}"#,
        "--plugin",
        "conformance_guest:make",
        "--module-path",
        &guest,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({ "x": 0.0, "y": -0.0 }),
            serde_json::json!({ "x": 1.0, "y": -1.0 }),
            serde_json::json!({ "x": 2.0, "y": -2.0 }),
        ]
    );
}
