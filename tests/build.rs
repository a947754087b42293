//! Generates the bindings of the test schemas (tests/schema/*.capnp) with the same
//! builder users call from their build.rs: Rust for this crate, Python modules into
//! $OUT_DIR/python for the test workers.
fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .guest_target("../adapters/python/templates", format!("{out}/python"))
        .build();
}
