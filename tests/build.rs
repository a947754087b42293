//! Generates the bindings of the test schemas (tests/schema/*.capnp) with the same
//! builder users call from their build.rs: Rust for this crate with every bundled
//! guest language's modules embedded, and a copy of each language's modules in
//! $OUT_DIR/<language> (for the tests that read them: type checks, staleness).
//!
//! The conformance suite's schema (tests/conformance/schema/*.capnp) is generated
//! separately: Rust into $OUT_DIR/conformance (the `polyhost_tests::conformance`
//! module), with the modules of every bundled language that renders it, so a new
//! adapter needs no change here.

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let languages = polyhost_codegen::bundled_languages();
    let mut tests = polyhost_codegen::Builder::new().schema_dir("schema");
    for language in &languages {
        tests = tests.write_guest(language, format!("{out}/{language}"));
    }
    tests.build();

    let conformance = || {
        polyhost_codegen::Builder::new()
            .schema_dir("conformance/schema")
            .rust_out_dir(format!("{out}/conformance"))
            .parent_module("conformance")
    };
    // An adapter whose target cannot render the schema (one still being written, say)
    // fails its own conformance run, not this crate's build.
    let mut all = conformance();
    for language in &languages {
        let dir = format!("{out}/{language}");
        let _ = std::fs::create_dir_all(&dir);
        match conformance().guest(language).generated_files() {
            Ok(_) => {
                let _ = std::fs::remove_file(format!("{dir}/RENDER_ERROR"));
                all = all.write_guest(language, &dir);
            }
            Err(e) => {
                println!("cargo:warning=the conformance schema does not render for {language}: {e}");
                let _ = std::fs::write(format!("{dir}/RENDER_ERROR"), e.to_string());
            }
        }
    }
    all.build();
}
