//! The official MCP Python SDK talks to `polyhost mcp`: `tests/python/sdk_client.py`
//! starts it over stdio with `mcp.ClientSession` + `mcp.client.stdio.stdio_client` on the
//! fault-injection plugin (`tests/schema/faults.capnp`, `tests/plugins/fault_plugin.py`),
//! initializes, pings, lists the tools and makes a series of calls (good, invalid
//! arguments, a crashing worker, an unknown tool, good again); this test checks what the
//! SDK saw.
//!
//! The SDK is a dev check only. It is installed once from the Python package index into
//! a virtualenv in `target/tmp/mcp-venv` (bounded by a timeout) and reused by later runs.
//! When the index cannot be reached the test prints a note and passes without running;
//! any other failure fails it. By hand:
//!
//! ```sh
//! target/tmp/mcp-venv/bin/python cli/tests/python/sdk_client.py '[["Faults_pid", {}]]' \
//!     target/debug/polyhost mcp tests/schema/faults.capnp --plugin fault_plugin:make \
//!     --module-path tests/plugins
//! ```

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use polyhost_mcp::LATEST_PROTOCOL_VERSION;
use serde_json::{json, Value};
use tokio::process::Command;

/// What pip installs (pinned: the client API and the protocol revisions it offers).
const SDK: &str = "mcp==2.3.0";
/// The longest the one-time install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest the index probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the client script may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn venv() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp-venv")
}

/// Runs `cmd` with a time limit, capturing its output; `Err` says what went wrong.
async fn run(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let what = format!("{:?}", cmd.as_std());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Err(_) => Err(format!("{what} did not finish within {limit:?}")),
        Ok(Err(e)) => Err(format!("waiting for {what} failed: {e}")),
        Ok(Ok(output)) => Ok(output),
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The package index pip uses: `PIP_INDEX_URL`, else pip's configured index, else PyPI.
async fn index_url() -> String {
    if let Ok(url) = std::env::var("PIP_INDEX_URL") {
        return url;
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "config", "get", "global.index-url"]);
    match run(&mut cmd, PROBE_TIMEOUT).await {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().into(),
        _ => "https://pypi.org/simple".into(),
    }
}

/// `Err` (why) when the index does not answer for the `mcp` project.
async fn probe(index: &str) -> Result<(), String> {
    let url = format!("{}/mcp/", index.trim_end_matches('/'));
    let script =
        "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read(1)";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, &url]);
    let out = run(&mut cmd, PROBE_TIMEOUT).await?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.trim().lines().last().unwrap_or("no output");
        Err(format!("{url} did not answer: {last}"))
    }
}

/// The virtualenv's python with the SDK, installing it on first use; `None` when the
/// package index is unreachable.
async fn sdk_python() -> Option<PathBuf> {
    let dir = venv();
    let python = dir.join("bin/python");
    let marker = dir.join("polyhost-installed");
    if python.is_file() && std::fs::read_to_string(&marker).ok().as_deref() == Some(SDK) {
        return Some(python);
    }
    let mut version = Command::new("python3");
    version.arg("--version");
    let out = run(&mut version, PROBE_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "python3 --version failed: {}",
        describe(&out)
    );
    let index = index_url().await;
    if let Err(why) = probe(&index).await {
        note(&format!(
            "note: skipping the MCP Python SDK test: the package index is unreachable ({why}); \
             it is needed once, to install {SDK} into {}",
            dir.display()
        ));
        return None;
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(&dir);
    let out = run(&mut venv, INSTALL_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "python3 -m venv {} failed (Debian needs python3-venv): {}",
        dir.display(),
        describe(&out)
    );
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        SDK,
    ]);
    let out = run(&mut pip, INSTALL_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "pip install {SDK} from {index} failed although the index answers: {}",
        describe(&out)
    );
    std::fs::write(&marker, SDK).expect("write the install marker");
    note(&format!(
        "installed {SDK} into {} in {:.1?}",
        dir.display(),
        started.elapsed()
    ));
    Some(python)
}

/// Writes a line to stderr past the test harness's capture, so it shows in every run.
fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {result}"))
}

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The tools the server offers for the fault-injection plugin, then, one after the
/// other: a call that succeeds, invalid arguments (a string for a number, an integer
/// beyond its type), a call whose worker crashes, an unknown tool, and a call served by
/// the restarted worker.
#[tokio::test]
async fn the_official_python_sdk_client_lists_and_calls_the_tools_of_a_plugin() {
    let Some(python) = sdk_python().await else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sdk_client.py");
    let calls = json!([
        ["Faults_pid", {}],
        ["Faults_sleep", {"ms": "soon"}],
        ["Faults_sleep", {"ms": 5_000_000_000u64}],
        ["Faults_exit", {"code": 3}],
        ["no_such_tool", {}],
        ["Faults_pid", {}],
    ]);
    let mut client = Command::new(&python);
    client
        .arg(&script)
        .arg(calls.to_string())
        .arg(env!("CARGO_BIN_EXE_polyhost"))
        .args(["mcp", &format!("{ROOT}/tests/schema/faults.capnp")])
        .args(["--plugin", "fault_plugin:make"])
        .args(["--module-path", &format!("{ROOT}/tests/plugins")]);
    let out = run(&mut client, CLIENT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "the SDK client failed: {}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the SDK client printed no JSON ({e}): {}", describe(&out)));

    let init = &report["initialize"];
    assert_eq!(
        init["protocolVersion"],
        json!(LATEST_PROTOCOL_VERSION),
        "{init}"
    );
    assert_eq!(init["serverInfo"]["name"], json!("polyhost"), "{init}");
    assert_eq!(report["ping"], json!(true));

    let tools = report["tools"].as_array().expect("tools");
    let tool = |name: &str| -> &Value {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no tool {name} in {tools:?}"))
    };
    let pid = tool("Faults_pid");
    assert_eq!(
        pid["description"],
        json!("The worker's process id and process group.")
    );
    assert_eq!(pid["annotations"]["idempotentHint"], json!(false));
    assert_eq!(
        pid["outputSchema"]["properties"]["pid"]["type"],
        json!("integer"),
        "{pid}"
    );
    assert_eq!(
        tool("Faults_sleep")["inputSchema"]["properties"]["ms"]["type"],
        json!("integer")
    );

    let calls = report["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 6, "{calls:?}");
    let result = |i: usize| -> &Value {
        assert!(
            calls[i].get("error").is_none(),
            "call {i} failed: {}",
            calls[i]
        );
        &calls[i]["result"]
    };
    assert_eq!(result(0)["isError"], json!(false), "{}", result(0));
    let first_pid = result(0)["structuredContent"]["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {}", result(0)));
    for i in [1, 2] {
        assert_eq!(result(i)["isError"], json!(true), "{}", result(i));
        assert!(text(result(i)).contains("/ms"), "{}", result(i));
    }
    assert_eq!(result(3)["isError"], json!(true), "{}", result(3));
    assert!(
        text(result(3)).contains("Faults.exit") && text(result(3)).contains("exit status 3"),
        "{}",
        result(3)
    );
    assert_eq!(calls[4]["error"]["code"], json!(-32602), "{}", calls[4]);
    assert_eq!(result(5)["isError"], json!(false), "{}", result(5));
    let second_pid = result(5)["structuredContent"]["pid"].as_u64();
    assert!(
        second_pid.is_some_and(|p| p != first_pid),
        "the call after the crash is served by a new worker: {}",
        result(5)
    );
}

/// Every `$worker` method is a tool: named `Interface_method`, described by its doc
/// comment, `$idempotent` as its idempotent hint.
#[test]
fn tools_carry_the_doc_comment_and_idempotent_hint_of_their_method() {
    let schema = polyhost_cli::plugin::SchemaFile::load(Path::new(&format!(
        "{ROOT}/examples/quickstart/schema/greeter.capnp"
    )))
    .expect("the quickstart schema loads");
    let tools = polyhost_cli::mcp::tools_of(&schema);
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Greeter_greet", "Greeter_counter", "Greeter_shout"]);
    assert!(tools[0].idempotent);
    assert!(!tools[2].idempotent);
    assert_eq!(tools[0].description.as_deref(), Some("A plain method."));
    assert_eq!(
        tools[0].input_schema["properties"]["name"]["type"],
        json!("string")
    );
}
