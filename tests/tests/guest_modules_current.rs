//! The generated modules checked into each adapter are exactly what the generator
//! makes from their schemas with that adapter's target today: `polyhost/rpc_capnp.*`
//! (capnp/rpc.capnp, the RPC engine's messages), `polyhost/polyhost_capnp.*` (the worker
//! protocol) and `tests/generated/features_capnp.*` (the feature schema the adapter's
//! own tests use). Every generated Node module also passes `node --check`.
//!
//! When one is stale the test names it and the adapter's `regenerate.sh`;
//! `POLYHOST_REGENERATE=1 cargo test -p polyhost-tests --test guest_modules_current`
//! rewrites them instead of failing. A new adapter adds a line to `ADAPTERS`.

use std::path::{Path, PathBuf};
use std::process::Command;

use polyhost_codegen::{Builder, Target};

/// Adapter folder name, and how many files its target renders per schema.
const ADAPTERS: &[(&str, usize)] = &[("python", 1), ("node", 2)];

/// (schema, source prefix, output folder inside the adapter), from the repository root.
const MODULES: &[(&str, &str, &str)] = &[
    ("schema/capnp/rpc.capnp", "schema", "polyhost"),
    ("schema/polyhost.capnp", "schema", "polyhost"),
    (
        "tests/schema/features.capnp",
        "tests/schema",
        "tests/generated",
    ),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

#[test]
fn checked_in_guest_modules_are_current() {
    let root = repo_root();
    let regenerate = std::env::var_os("POLYHOST_REGENERATE").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (adapter, files_per_schema) in ADAPTERS {
        let adapter_dir = root.join("adapters").join(adapter);
        let target = Target::load(&adapter_dir.join("templates"))
            .unwrap_or_else(|e| panic!("the {adapter} target loads: {e}"));
        for (schema, prefix, out) in MODULES {
            let rendered = Builder::new()
                .schema(root.join(schema))
                .src_prefix(root.join(prefix))
                .emit_rerun_if_changed(false)
                .render(&target)
                .unwrap_or_else(|e| panic!("rendering {schema} with the {adapter} target: {e}"));
            assert_eq!(
                rendered.len(),
                *files_per_schema,
                "{adapter}: files per schema"
            );
            for file in rendered {
                let path = Path::new("adapters")
                    .join(adapter)
                    .join(out)
                    .join(&file.path);
                let full = root.join(&path);
                let current = std::fs::read_to_string(&full).unwrap_or_default();
                if current == file.contents {
                    continue;
                }
                if regenerate {
                    std::fs::write(&full, &file.contents)
                        .unwrap_or_else(|e| panic!("writing {}: {e}", full.display()));
                } else {
                    let first = first_difference(&current, &file.contents);
                    stale.push(format!(
                        "{} (from {schema}; first difference at line {first}); regenerate with adapters/{adapter}/regenerate.sh",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these generated modules are stale:\n  {}\n(or POLYHOST_REGENERATE=1 cargo test -p polyhost-tests --test guest_modules_current)",
        stale.join("\n  ")
    );
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}

#[test]
fn generated_node_modules_pass_node_check() {
    let root = repo_root();
    let mut files: Vec<PathBuf> = MODULES
        .iter()
        .map(|(schema, _, out)| {
            let stem = Path::new(schema)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            root.join("adapters/node")
                .join(out)
                .join(format!("{stem}_capnp.mjs"))
        })
        .collect();
    // The test and conformance schemas' modules, rendered by build.rs.
    let built = Path::new(polyhost_tests::OUT_DIR).join("node");
    if let Ok(entries) = std::fs::read_dir(&built) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "mjs")),
        );
    }
    assert!(
        files.len() > MODULES.len(),
        "build.rs rendered no Node modules into {}",
        built.display()
    );
    for file in files {
        let out = Command::new("node")
            .arg("--check")
            .arg(&file)
            .output()
            .expect("node is on PATH");
        assert!(
            out.status.success(),
            "node --check {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
