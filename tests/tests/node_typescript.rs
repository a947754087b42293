//! TypeScript plugins type-check against the Node adapter's declarations: the generated
//! `.d.ts` of tests/schema/features.capnp (adapters/node/tests/generated) and the
//! runtime's own (adapters/node/polyhost/**/*.d.ts).
//!
//! - `adapters/node/tests/typescript/plugin.ts` (servers, typed clients, pipelining,
//!   streams, unions, capabilities, the worker factory) must pass `tsc --noEmit` under
//!   strict settings (`tsconfig.json` there);
//! - `wrong.ts`, compiled separately (`tsconfig.wrong.json`), must fail with exactly the
//!   errors marked `// error TSnnnn` on its lines, so declarations that became too loose
//!   (`any`) fail this test as well as wrong ones;
//! - the declarations build.rs generates from every test schema and the conformance
//!   schema (`$OUT_DIR/node/*.d.ts`) must type-check too.
//!
//! TypeScript is a dev check only (workers need nothing but `node`). `typescript@5` and
//! `@types/node@20` come from the npm registry, installed once into
//! `target/tmp/typescript` (`npm install --prefix`, bounded by a timeout); later runs
//! reuse them. By hand:
//!
//! ```sh
//! T=target/tmp/typescript/node_modules
//! node $T/typescript/bin/tsc -p adapters/node/tests/typescript --typeRoots $T/@types
//! ```

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What `npm install` fetches.
const PACKAGES: &[&str] = &["typescript@5", "@types/node@20"];
/// The longest the one-time `npm install` may take.
const NPM_TIMEOUT: Duration = Duration::from_secs(180);
/// The longest one `tsc` run may take.
const TSC_TIMEOUT: Duration = Duration::from_secs(120);

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/node/tests/typescript")
}

/// `node_modules` of the cached install, installing it on first use.
fn node_modules() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript");
        let modules = dir.join("node_modules");
        let complete = |m: &Path| {
            m.join("typescript/bin/tsc").is_file() && m.join("@types/node/package.json").is_file()
        };
        if !complete(&modules) {
            install(&dir);
        }
        assert!(
            complete(&modules),
            "npm install succeeded but {} lacks typescript or @types/node",
            modules.display()
        );
        modules
    })
}

/// `npm install --prefix <dir>.partial-<pid> PACKAGES`, then renamed to `dir`, so an
/// interrupted install is never mistaken for a complete one.
fn install(dir: &Path) {
    let staging = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("create the TypeScript cache folder");
    let log = staging.join("npm-install.log");
    let out = File::create(&log).expect("create the npm log");
    let mut cmd = Command::new("npm");
    cmd.arg("install")
        .arg("--prefix")
        .arg(&staging)
        .args([
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
            "--fetch-timeout=30000",
        ])
        .args([
            "--fetch-retries=2",
            "--fetch-retry-mintimeout=1000",
            "--fetch-retry-maxtimeout=5000",
        ])
        .args(PACKAGES)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup the log"))
        .stderr(out);
    let what = format!(
        "npm install --prefix {} {}",
        staging.display(),
        PACKAGES.join(" ")
    );
    let status = run_bounded(&mut cmd, NPM_TIMEOUT);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let failed = |why: String| -> ! {
        let _ = std::fs::remove_dir_all(&staging);
        panic!(
            "{why}: this test needs the npm registry ({}) once, to install TypeScript into {} \
             (TypeScript is a dev check only; workers need no npm). npm's output:\n{output}",
            registry(),
            dir.display()
        )
    };
    match status {
        Err(e) => failed(format!("cannot run `npm` ({e}); it comes with Node")),
        Ok(None) => failed(format!("`{what}` did not finish within {NPM_TIMEOUT:?}")),
        Ok(Some(status)) if !status.success() => failed(format!("`{what}` failed ({status})")),
        Ok(Some(_)) => {}
    }
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::rename(&staging, dir).is_err() {
        // Another test process installed it meanwhile.
        let _ = std::fs::remove_dir_all(&staging);
    }
}

fn registry() -> String {
    Command::new("npm")
        .args(["config", "get", "registry"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Runs `cmd` for at most `limit`: `Ok(None)` when it was killed at the limit.
fn run_bounded(
    cmd: &mut Command,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let mut child = cmd.spawn()?;
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `tsc -p <config> --pretty false` in the TypeScript project folder, with @types/node;
/// (success, its output).
fn tsc(config: &str) -> (bool, String) {
    tsc_in(&project(), config)
}

fn tsc_in(dir: &Path, config: &str) -> (bool, String) {
    let modules = node_modules();
    let temp = tempfile::tempdir().expect("a temp folder");
    let log = temp.path().join("tsc.log");
    let out = File::create(&log).expect("create the tsc log");
    let mut cmd = Command::new("node");
    cmd.arg(modules.join("typescript/bin/tsc"))
        .arg("-p")
        .arg(dir.join(config))
        .arg("--typeRoots")
        .arg(modules.join("@types"))
        .args(["--pretty", "false"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup the log"))
        .stderr(out);
    let status = run_bounded(&mut cmd, TSC_TIMEOUT).expect("node is on PATH");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        None => panic!("tsc -p {config} did not finish within {TSC_TIMEOUT:?}:\n{text}"),
        Some(status) => (status.success(), text),
    }
}

#[test]
fn a_typescript_plugin_type_checks_against_the_declarations() {
    let (ok, output) = tsc("tsconfig.json");
    assert!(ok, "tsc --noEmit rejected adapters/node/tests/typescript/plugin.ts or the declarations it uses:\n{output}");
}

#[test]
fn wrong_plugin_code_fails_to_type_check_with_the_marked_errors() {
    let source = std::fs::read_to_string(project().join("wrong.ts")).expect("wrong.ts");
    let expected: BTreeSet<(usize, String)> = source
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter_map(|(i, line)| {
            line.split_once("// error ")
                .map(|(_, code)| (i + 1, code.trim().to_string()))
        })
        .collect();
    assert!(
        expected.len() >= 10,
        "wrong.ts marks only {} errors",
        expected.len()
    );

    let (ok, output) = tsc("tsconfig.wrong.json");
    assert!(!ok, "tsc accepted wrong.ts:\n{output}");
    // `wrong.ts(18,26): error TS2322: ...`; continuation lines start with spaces.
    let reported: BTreeSet<(usize, String)> = output
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("wrong.ts(")?;
            let (pos, rest) = rest.split_once("): error ")?;
            let line = pos.split(',').next()?.parse().ok()?;
            Some((line, rest.split(':').next()?.to_string()))
        })
        .collect();
    let missing: Vec<_> = expected.difference(&reported).collect();
    let unexpected: Vec<_> = reported.difference(&expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "wrong.ts: errors marked but not reported (line, code): {missing:?}\nreported but not marked: {unexpected:?}\ntsc said:\n{output}"
    );
    // Every error tsc printed is one of those (none in the declarations themselves).
    let other: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("error TS") && !l.starts_with("wrong.ts("))
        .collect();
    assert!(
        other.is_empty(),
        "errors outside wrong.ts:\n{}",
        other.join("\n")
    );
}

#[test]
fn the_declarations_generated_from_every_test_schema_type_check() {
    // Copied beside a package.json of "type": "module", as they would sit in a plugin's
    // folder; `polyhost/...` mapped to the runtime's declarations.
    let generated = Path::new(polyhost_tests::NODE_MODULES);
    let dir = tempfile::tempdir().expect("a temp folder");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(generated)
        .expect("build.rs generated the Node modules")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with("_capnp.d.ts") {
            std::fs::copy(entry.path(), dir.path().join(&name)).expect("copy a declaration");
            files.push(name);
        }
    }
    files.sort();
    for schema in ["bench", "conformance", "features", "pool_lab", "stream_lab"] {
        assert!(
            files.contains(&format!("{schema}_capnp.d.ts")),
            "no {schema}_capnp.d.ts in {}: {files:?}",
            generated.display()
        );
    }
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/node/polyhost")
        .canonicalize()
        .expect("the Node runtime");
    let at = |p: &str| runtime.join(p).display().to_string();
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true, "noEmit": true, "skipLibCheck": false, "exactOptionalPropertyTypes": true,
            "target": "es2022", "lib": ["es2022"], "module": "nodenext", "moduleResolution": "nodenext",
            "types": ["node"],
            "paths": {
                "polyhost/wire": [at("wire/index.d.ts")],
                "polyhost/rpc": [at("rpc/index.d.ts")],
                "polyhost/*": [at("*.d.ts")],
            },
        },
        "files": files,
    });
    std::fs::write(dir.path().join("package.json"), r#"{ "type": "module" }"#)
        .expect("write package.json");
    std::fs::write(dir.path().join("tsconfig.json"), config.to_string())
        .expect("write tsconfig.json");
    let (ok, output) = tsc_in(dir.path(), "tsconfig.json");
    assert!(
        ok,
        "tsc --noEmit rejected the declarations generated into {} ({files:?}):\n{output}",
        generated.display()
    );
}
