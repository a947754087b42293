//! polyhost used from a crate outside this workspace, as a user would: the crate is
//! made of the files the README's "Use polyhost in your crate" section shows (each code
//! block that starts with a `file:` comment), and depends on the crates as
//! `cargo package` made them (unpacked `.crate` files, patched in for crates.io), never
//! on a path into this checkout.
//!
//! One test, in steps that build on each other: package, build, run, snapshot-test the
//! bindings, then copy the binary and the plugin folder to an empty folder, move the
//! sources, the unpacked crates and the crate's build-script output out of reach, and
//! run it again there with an empty cache (twice at once). The build shares this
//! workspace's target folder, so it costs an incremental build, not a second
//! dependency build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PACKAGES: &[&str] = &[
    "polyhost-schema",
    "polyhost-adapters",
    "polyhost-codegen",
    "polyhost",
    "polyhost-mcp",
    "polyhost-cli",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// This test binary lives in `<target>/debug/deps/`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.env("CARGO_TARGET_DIR", target_dir())
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("RUSTFLAGS");
    cmd
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The README's crate: (path, contents) of every code block whose first line is
/// `# file: PATH` or `// file: PATH`, in the "Use polyhost in your crate" section.
fn readme_crate() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme
        .find("## Use polyhost in your crate")
        .expect("the README has a `Use polyhost in your crate` section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut files = Vec::new();
    let mut blocks = section.split("```").skip(1).step_by(2);
    for block in blocks.by_ref() {
        let body = block.split_once('\n').map_or("", |(_, body)| body);
        let Some((first, rest)) = body.split_once('\n') else {
            continue;
        };
        let path = first
            .strip_prefix("# file: ")
            .or_else(|| first.strip_prefix("// file: "));
        if let Some(path) = path {
            files.push((path.trim().to_string(), rest.to_string()));
        }
    }
    files
}

/// Writes `contents` unless the file already holds it, so rebuilds stay incremental.
fn write(path: &Path, contents: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Packs the publishable crates and unpacks them into `dir`; (name, unpacked folder).
fn packaged_crates(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut cmd = cargo();
    cmd.current_dir(workspace())
        .args(["package", "--no-verify", "--allow-dirty", "--quiet"]);
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    run(&mut cmd, "cargo package");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    PACKAGES
        .iter()
        .map(|name| {
            let file = target_dir().join(format!("package/{name}-{version}.crate"));
            run(
                Command::new("tar").arg("xzf").arg(&file).arg("-C").arg(dir),
                "unpacking a .crate",
            );
            (name.to_string(), dir.join(format!("{name}-{version}")))
        })
        .collect()
}

/// Renames a path away and back again when dropped.
struct OutOfReach(Vec<(PathBuf, PathBuf)>);

impl OutOfReach {
    fn hide(&mut self, path: PathBuf) {
        let away = PathBuf::from(format!("{}.out-of-reach", path.display()));
        let _ = std::fs::remove_dir_all(&away);
        std::fs::rename(&path, &away).unwrap();
        self.0.push((path, away));
    }
}

impl Drop for OutOfReach {
    fn drop(&mut self) {
        for (path, away) in self.0.drain(..).rev() {
            let _ = std::fs::rename(&away, &path);
        }
    }
}

fn greeted(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_both_languages_answer(stdout: &str) {
    assert!(
        stdout.contains("python: Hello, Ada, from Python!"),
        "{stdout}"
    );
    assert!(stdout.contains("node: Hello, Ada, from Node!"), "{stdout}");
    assert!(stdout.contains("console <- Python greets Ada"), "{stdout}");
    assert!(stdout.contains("console <- Node greets Ada"), "{stdout}");
}

#[test]
fn a_crate_outside_the_workspace_builds_on_the_packaged_crates_and_its_binary_runs_anywhere() {
    let base = target_dir().join("tmp/outside-crate");
    let crates = packaged_crates(&base.join("crates"));
    let files = readme_crate();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for needed in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "plugin/hello_plugin.py",
        "plugin/hello_plugin.mjs",
        "tests/bindings.rs",
    ] {
        assert!(
            names.contains(&needed),
            "the README's crate has no {needed}: {names:?}"
        );
    }

    // The crate, exactly as the README shows it, plus a patch that points the crates.io
    // names at the packaged crates, and the workspace's lock file so that the shared
    // target folder's dependency builds are reused.
    let krate = base.join("hello-plugins");
    for (path, contents) in &files {
        let mut contents = contents.clone();
        if path == "Cargo.toml" {
            contents.push_str("\n[workspace]\n\n[patch.crates-io]\n");
            for (name, dir) in &crates {
                contents.push_str(&format!(
                    "{name} = {{ path = {:?} }}\n",
                    dir.display().to_string()
                ));
            }
        }
        write(&krate.join(path), contents.as_bytes());
    }
    let lock = std::fs::read(workspace().join("Cargo.lock")).unwrap();
    if !krate.join("Cargo.lock").exists() {
        write(&krate.join("Cargo.lock"), &lock);
    }
    let _ = std::fs::remove_dir_all(krate.join("tests/snapshots"));

    // One build for the binary and its test: `cargo test` builds the binary too, and a
    // separate `cargo build` would resolve features without the dev-dependencies and
    // build much of the dependency tree a second time.
    run(
        cargo().current_dir(&krate).args(["test", "--no-run"]),
        "building the outside crate",
    );
    let binary = target_dir().join("debug/hello-plugins");
    assert!(
        krate.join("plugin/gen/hello_capnp.mjs").is_file(),
        "write_guest(\"node\", \"plugin/gen\") wrote the Node modules for editors"
    );

    // Run in place, with a cache of its own.
    let scratch = tempfile::tempdir().unwrap();
    let out = run(
        Command::new(&binary)
            .current_dir(&krate)
            .env("POLYHOST_CACHE_DIR", scratch.path().join("cache-in-place")),
        "the outside crate's binary, in place",
    );
    assert_both_languages_answer(&greeted(&out));

    // Its snapshot test: the first run writes the snapshots, the second checks them.
    run(
        cargo()
            .current_dir(&krate)
            .arg("test")
            .env("INSTA_UPDATE", "always")
            .env_remove("CI"),
        "the outside crate's snapshot test, writing",
    );
    let snapshots: Vec<String> = std::fs::read_dir(krate.join("tests/snapshots"))
        .expect("insta wrote tests/snapshots")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "python__hello_capnp.py",
        "node__hello_capnp.mjs",
        "node__hello_capnp.d.ts",
        "rust__hello.rs",
    ] {
        assert!(
            snapshots.iter().any(|s| s.contains(expected)),
            "no snapshot of {expected}: {snapshots:?}"
        );
    }
    run(
        cargo()
            .current_dir(&krate)
            .arg("test")
            .env("CI", "true")
            .env("INSTA_UPDATE", "no"),
        "the outside crate's snapshot test, checking",
    );

    // Deployed: the binary and the plugin folder alone, in an empty folder, with the
    // sources, the packaged crates and the build scripts' output out of reach.
    let deployed = scratch.path().join("deployed");
    std::fs::create_dir_all(deployed.join("plugin")).unwrap();
    std::fs::copy(&binary, deployed.join("hello-plugins")).unwrap();
    for plugin in ["hello_plugin.py", "hello_plugin.mjs"] {
        std::fs::copy(
            krate.join("plugin").join(plugin),
            deployed.join("plugin").join(plugin),
        )
        .unwrap();
    }
    let mut away = OutOfReach(vec![]);
    away.hide(krate.clone());
    away.hide(base.join("crates"));
    for entry in std::fs::read_dir(target_dir().join("debug/build"))
        .unwrap()
        .flatten()
    {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("hello-plugins-")
        {
            away.hide(entry.path());
        }
    }

    // Two hosts at once on an empty cache: both start their pools, and the cache ends
    // with one folder per runtime and per module set, nothing half-written.
    let cache = scratch.path().join("cache-deployed");
    let start = || {
        Command::new(deployed.join("hello-plugins"))
            .current_dir(&deployed)
            .env("POLYHOST_CACHE_DIR", &cache)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    for host in [first, second] {
        let out = host.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_both_languages_answer(&greeted(&out));
    }
    for kind in ["runtimes", "modules"] {
        let mut entries: Vec<String> = std::fs::read_dir(cache.join(kind))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != ".lock")
            .collect();
        entries.sort();
        assert_eq!(
            entries.len(),
            2,
            "{kind}: one folder per language: {entries:?}"
        );
        assert!(
            entries[0].starts_with("node-") && entries[1].starts_with("python-"),
            "{entries:?}"
        );
    }
    drop(away);
}
