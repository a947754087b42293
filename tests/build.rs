//! Generates the bindings of the test schemas (tests/schema/*.capnp) with the same
//! builder users call from their build.rs: Rust for this crate with every bundled
//! guest language's modules embedded, and a copy of each language's modules in
//! $OUT_DIR/<language> (for the tests that read them: type checks, staleness).
//!
//! Two more schema sets are generated the same way, each into a module of its own:
//! the conformance suite's (tests/conformance/schema: Rust into $OUT_DIR/conformance,
//! modules into $OUT_DIR/<language>) and the schema-coverage corpus
//! (tests/coverage/schema/{main,common}: Rust into $OUT_DIR/coverage, modules into
//! $OUT_DIR/coverage-<language>). Languages are the bundled adapters, discovered, so a
//! new adapter needs no change here.

use polyhost_codegen::Builder;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let languages = polyhost_codegen::bundled_languages();
    let mut tests = Builder::new().schema_dir("schema");
    for language in &languages {
        tests = tests.write_guest(language, format!("{out}/{language}"));
    }
    tests.build();

    build_with_every_guest(&languages, &format!("{out}/"), || {
        Builder::new()
            .schema_dir("conformance/schema")
            .rust_out_dir(format!("{out}/conformance"))
            .parent_module("conformance")
    });
    build_with_every_guest(&languages, &format!("{out}/coverage-"), || {
        Builder::new()
            .schema("coverage/schema/main/coverage.capnp")
            .schema("coverage/schema/common/units.capnp")
            .src_prefix("coverage/schema")
            .rust_out_dir(format!("{out}/coverage"))
            .parent_module("coverage")
    });
}

/// Builds the Rust bindings of `builder()` with the modules of every language whose
/// target renders its schemas, each also written to `<prefix><language>`. A language
/// whose target cannot render them (one still being written, say) leaves
/// `RENDER_ERROR` there instead, which its own tests report; the crate still builds.
fn build_with_every_guest(languages: &[&str], prefix: &str, builder: impl Fn() -> Builder) {
    let mut all = builder();
    for language in languages {
        let dir = format!("{prefix}{language}");
        let _ = std::fs::create_dir_all(&dir);
        match builder().guest(language).generated_files() {
            Ok(_) => {
                let _ = std::fs::remove_file(format!("{dir}/RENDER_ERROR"));
                all = all.write_guest(language, &dir);
            }
            Err(e) => {
                println!("cargo:warning={language} cannot render {dir}'s schemas: {e}");
                let _ = std::fs::write(format!("{dir}/RENDER_ERROR"), e.to_string());
            }
        }
    }
    all.build();
}
