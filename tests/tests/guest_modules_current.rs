//! The generated modules checked into each adapter (`development.generated_modules` of
//! its `adapter.json`: the RPC engine's messages, the worker protocol, the feature
//! schema its own tests use) are exactly what the generator makes from their schemas
//! with that adapter's templates today, and every generated module, checked in or
//! rendered by build.rs, passes the adapter's `development.syntax_check`. One test of
//! each per adapter (`python::checked_in_modules_are_current`).
//!
//! When one is stale the test names it; `cargo run -p polyhost-tests --bin regenerate`
//! rewrites them.

use std::path::{Path, PathBuf};
use std::process::Command;

use polyhost_tests::adapters::{repo_root, Discovered};
use polyhost_tests::for_adapters;

for_adapters!(sync polyhost_tests::adapters::with_discovered; checked_in_modules_are_current, generated_modules_pass_the_syntax_check);

fn checked_in_modules_are_current(found: &Discovered) {
    let root = repo_root();
    let rendered = found
        .render_generated_modules()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stale = Vec::new();
    for (path, schema, contents) in &rendered {
        let current = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if current != *contents {
            let first = first_difference(&current, contents);
            stale.push(format!(
                "{} (from {schema}; first difference at line {first})",
                path.display()
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "[{}] these generated modules are stale:\n  {}\nregenerate them with `cargo run -p polyhost-tests --bin regenerate -- {}`",
        found.name,
        stale.join("\n  "),
        found.name
    );
}

fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}

fn generated_modules_pass_the_syntax_check(found: &Discovered) {
    let name = &found.name;
    let check = &found.development.syntax_check;
    assert!(
        !check.is_empty(),
        "[{name}] adapter.json has no development.syntax_check"
    );
    let suffix = found
        .development
        .plugin_suffix
        .clone()
        .unwrap_or_else(|| panic!("[{name}] adapter.json has no development.plugin_suffix"));
    let root = repo_root();
    let mut files: Vec<PathBuf> = found
        .render_generated_modules()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(path, _, _)| root.join(path))
        .filter(|p| p.to_string_lossy().ends_with(&suffix))
        .collect();
    let checked_in = files.len();
    // The test and conformance schemas' modules, rendered by build.rs.
    let built = Path::new(polyhost_tests::OUT_DIR).join(&found.adapter.definition.language);
    if let Ok(entries) = std::fs::read_dir(&built) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(&suffix)),
        );
    }
    assert!(
        files.len() > checked_in,
        "[{name}] build.rs rendered no `{suffix}` modules into {}",
        built.display()
    );
    let interpreter = found
        .adapter
        .resolve_interpreter(None)
        .unwrap_or_else(|e| panic!("[{name}] {e}"));
    for file in files {
        let args = check
            .iter()
            .map(|a| a.replace("{file}", &file.to_string_lossy()));
        let out = Command::new(&interpreter)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("[{name}] cannot run {}: {e}", interpreter.display()));
        assert!(
            out.status.success(),
            "[{name}] the syntax check of {} fails:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
