//! Generates the bindings of the test schemas (tests/schema/*.capnp) with the same
//! builder users call from their build.rs: Rust for this crate, Python modules into
//! $OUT_DIR/python and Node modules into $OUT_DIR/node for the test workers.
//!
//! The conformance suite's schema (tests/conformance/schema/*.capnp) is generated
//! separately: Rust into $OUT_DIR/conformance (the `polyhost_tests::conformance`
//! module), and every adapter's guest target (each `adapters/<name>/` with templates)
//! into $OUT_DIR/<name>, so a new adapter needs no change here.
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .guest_target("../adapters/python/templates", format!("{out}/python"))
        .guest_target("../adapters/node/templates", format!("{out}/node"))
        .build();

    let conformance = || {
        polyhost_codegen::Builder::new()
            .schema_dir("conformance/schema")
            .rust_out_dir(format!("{out}/conformance"))
            .parent_module("conformance")
    };
    conformance().build();

    // The schema-coverage corpus (tests/coverage/schema/{main,common}): Rust into
    // $OUT_DIR/coverage (the `polyhost_tests::coverage` module), every adapter's target
    // into $OUT_DIR/coverage-<name>; a target that cannot render it leaves
    // RENDER_ERROR there, which tests/tests/coverage.rs reports.
    let coverage = || {
        polyhost_codegen::Builder::new()
            .schema("coverage/schema/main/coverage.capnp")
            .schema("coverage/schema/common/units.capnp")
            .src_prefix("coverage/schema")
            .rust_out_dir(format!("{out}/coverage"))
            .parent_module("coverage")
    };
    coverage().build();
    for (name, templates) in adapter_targets(Path::new("../adapters")) {
        let dir = format!("{out}/coverage-{name}");
        let _ = std::fs::create_dir_all(&dir);
        match coverage().guest_target(&templates, &dir).generate() {
            Ok(_) => {
                let _ = std::fs::remove_file(format!("{dir}/RENDER_ERROR"));
            }
            Err(e) => {
                let _ = std::fs::write(format!("{dir}/RENDER_ERROR"), e.to_string());
            }
        }
    }
    // One run per adapter: an adapter whose target cannot render the schema (one still
    // being written, say) fails its own conformance run, not this crate's build.
    for (name, templates) in adapter_targets(Path::new("../adapters")) {
        let dir = format!("{out}/{name}");
        if let Err(e) = conformance().guest_target(&templates, &dir).generate() {
            println!(
                "cargo:warning=the conformance schema does not render with {}: {e}",
                templates.display()
            );
            println!("cargo:rerun-if-changed={}", templates.display());
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(format!("{dir}/RENDER_ERROR"), e.to_string());
        } else {
            let _ = std::fs::remove_file(format!("{dir}/RENDER_ERROR"));
        }
    }
}

/// (adapter folder name, its generator target folder) for every adapter.
fn adapter_targets(adapters: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut found = Vec::new();
    // A new adapter folder changes this directory: render again.
    println!("cargo:rerun-if-changed={}", adapters.display());
    let Ok(entries) = std::fs::read_dir(adapters) else {
        return found;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let Ok(text) = std::fs::read_to_string(dir.join("adapter.json")) else {
            continue;
        };
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("adapter.json").display()
        );
        let definition: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("adapter.json").display()));
        let templates = definition["templates"].as_str().unwrap_or("templates");
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push((name, dir.join(templates)));
    }
    found.sort();
    found
}
