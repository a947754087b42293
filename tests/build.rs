//! Generates the bindings of the test schemas (tests/schema/*.capnp) with the same
//! builder users call from their build.rs.
fn main() {
    polyhost_codegen::Builder::new().schema_dir("schema").build();
}
