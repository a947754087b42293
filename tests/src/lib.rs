//! Bindings of the test schemas, generated at build time, shared by the integration
//! tests in `tests/tests/` and the helper binaries in `src/bin/`.

polyhost::include_bindings!();

/// Where build.rs put the generated Python modules.
pub const PYTHON_MODULES: &str = concat!(env!("OUT_DIR"), "/python");
/// The test plugins (Python).
pub const PLUGINS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins");
