//! Generates the Rust bindings of schema/fuzz.capnp: the value the host codec target
//! decodes.
fn main() {
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .build();
}
