//! Regenerates the bindings whenever schema/*.capnp changes: Rust for this crate, with
//! the workers' modules (Python, Node, Ruby) embedded in it; the pools hand them to their
//! workers, so nothing generated needs to be found on disk at run time.
fn main() {
    polyhost_codegen::Builder::new()
        .schema_dir("schema")
        .guest("python")
        .guest("node")
        .guest("ruby")
        .build();
}
