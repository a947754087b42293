//! Regenerates the bindings whenever schema/*.capnp changes: Rust for this crate, and
//! the workers' modules: Python into $OUT_DIR/python, Node (.mjs + .d.ts) into
//! $OUT_DIR/node.
fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .guest_target("../../adapters/python/templates", format!("{out}/python"))
        .guest_target("../../adapters/node/templates", format!("{out}/node"))
        .build();
}
