//! Regenerates the bindings whenever schema/*.capnp changes: Rust for this crate, and
//! Python modules (into $OUT_DIR/python) for the workers.
fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .guest_target("../../adapters/python/templates", format!("{out}/python"))
        .build();
}
