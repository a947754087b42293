//! The RPC layer: Cap'n Proto RPC with one worker, and the values and capabilities
//! that cross it. Knows nothing of processes or pools.
//!
//! From the bottom up:
//! - `capability`: `Send + Sync` capability handles, the hook that carries their calls,
//!   the local objects (`Dispatch`) they may name, and the capability bridge;
//! - `layout`: struct pointers as capnpc's typed readers and builders;
//! - `codec`: owned values <-> capnp messages (what generated bindings implement);
//! - `call`: typed calls on a capability (owned params in, owned results out);
//! - `dispatch`: what generated dispatchers call to decode params, encode results;
//! - `pipeline`: capabilities usable before the call returning them has returned;
//! - `stream`: `Sink(T)` streams as Rust `Stream`s and writers;
//! - `transport`: the byte stream a connection runs over (a socketpair end today);
//! - `buffered`: reads in large chunks, writes of one turn of the thread in one syscall;
//! - `network`: capnp-rpc's two-party network, with messages sized to what they hold;
//! - `handle`: a connection's `Send` side: handles on its table, its commands;
//! - `bridge`: a connection's I/O side: the table, serving local objects;
//! - `connection`: one worker's RPC connection, a task on one of the shared I/O threads.

pub(crate) mod bridge;
pub(crate) mod buffered;
pub(crate) mod call;
pub(crate) mod capability;
pub mod codec;
pub(crate) mod connection;
pub mod dispatch;
pub(crate) mod handle;
pub(crate) mod layout;
pub(crate) mod network;
pub(crate) mod pipeline;
pub(crate) mod stream;
pub(crate) mod transport;
