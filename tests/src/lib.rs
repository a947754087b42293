//! Bindings of the test schemas, generated at build time, shared by the integration
//! tests in `tests/tests/`.

polyhost::include_bindings!();
