//! polyhost's own schemas, as text: the worker protocol and the annotations user
//! schemas import (`import "/polyhost.capnp"`), and Cap'n Proto's `rpc.capnp`, from
//! which the guest runtimes' RPC message modules are generated.
//!
//! This folder is the single source of both files; the generator embeds them from here.

/// `polyhost.capnp`: the worker protocol (`Worker`, `Sink(T)`, ...) and the
/// annotations (`$worker`, `$host`, `$idempotent`, `$timeoutMs`).
pub const POLYHOST_CAPNP: &str = include_str!("polyhost.capnp");

/// Cap'n Proto's `rpc.capnp` (level-1 RPC messages), as the guest runtimes use it.
pub const RPC_CAPNP: &str = include_str!("capnp/rpc.capnp");
