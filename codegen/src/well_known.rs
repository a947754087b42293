//! Ids of the declarations in `polyhost.capnp` the generator gives meaning to (a test
//! checks them against the schema).

pub const POLYHOST_FILE: u64 = 0xf67c763d6e5de854;
pub const WORKER_ANNOTATION: u64 = 0xbe8e1cfbd08ab08e;
pub const HOST_ANNOTATION: u64 = 0xcd00f7148f6244e4;
pub const IDEMPOTENT_ANNOTATION: u64 = 0xd92225709558ae77;
pub const TIMEOUT_ANNOTATION: u64 = 0xea38287f05f1922c;
/// `Sink(T)` in polyhost.capnp.
pub const SINK_INTERFACE: u64 = 0x950d47d539ceb3b3;
/// `StreamResult` in capnp/stream.capnp (results of `-> stream` methods).
pub const STREAM_RESULT: u64 = 0x995f9a3377c0b16e;
