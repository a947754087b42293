//! The generated Python modules checked into `adapters/python` are exactly what the
//! generator makes from their schemas with the Python target today:
//! `polyhost/rpc_capnp.py` (capnp/rpc.capnp, the RPC engine's messages),
//! `polyhost/polyhost_capnp.py` (the worker protocol) and
//! `tests/generated/features_capnp.py` (the feature schema the Python tests use).
//!
//! When one is stale the test names it and the command that regenerates them all;
//! `POLYHOST_REGENERATE=1 cargo test -p polyhost-tests --test python_modules_current`
//! rewrites them instead of failing.

use std::path::{Path, PathBuf};

use polyhost_codegen::{Builder, Target};

const REGENERATE: &str = "adapters/python/regenerate.sh";

/// (schema, source prefix, output folder), relative to the repository root.
const MODULES: &[(&str, &str, &str)] = &[
    ("schema/capnp/rpc.capnp", "schema", "adapters/python/polyhost"),
    ("schema/polyhost.capnp", "schema", "adapters/python/polyhost"),
    ("tests/schema/features.capnp", "tests/schema", "adapters/python/tests/generated"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_path_buf()
}

#[test]
fn checked_in_python_modules_are_current() {
    let root = repo_root();
    let target = Target::load(&root.join("adapters/python/templates")).expect("the Python target loads");
    let regenerate = std::env::var_os("POLYHOST_REGENERATE").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (schema, prefix, out) in MODULES {
        let rendered = Builder::new()
            .schema(root.join(schema))
            .src_prefix(root.join(prefix))
            .emit_rerun_if_changed(false)
            .render(&target)
            .unwrap_or_else(|e| panic!("rendering {schema} with the Python target: {e}"));
        assert_eq!(rendered.len(), 1, "one module per schema");
        for file in rendered {
            let path = Path::new(out).join(&file.path);
            let full = root.join(&path);
            let current = std::fs::read_to_string(&full).unwrap_or_default();
            if current == file.contents {
                continue;
            }
            if regenerate {
                std::fs::write(&full, &file.contents).unwrap_or_else(|e| panic!("writing {}: {e}", full.display()));
            } else {
                let first = first_difference(&current, &file.contents);
                stale.push(format!("{} (from {schema}; first difference at line {first})", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these generated Python modules are stale:\n  {}\nregenerate them from the repository root with\n  {REGENERATE}\n\
         (or POLYHOST_REGENERATE=1 cargo test -p polyhost-tests --test python_modules_current)",
        stale.join("\n  ")
    );
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or_else(|| a.lines().count().min(b.lines().count())) + 1
}
