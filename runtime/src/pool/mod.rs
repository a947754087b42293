//! The pool layer: worker pools built on the process and RPC layers.
//!
//! A [`Pool`](crate::Pool) runs `size` worker processes of one plugin. Workers start
//! concurrently; each start handshake checks the fingerprints of the worker's
//! generated modules against the host's. Calls go to the least-loaded live worker with
//! room under its in-flight limit, else wait in a bounded queue (overflow:
//! `Saturated`). A per-slot supervisor task restarts a dead worker with backoff and
//! holds back (taints) one that keeps crashing; health pings catch hung workers. Calls
//! on a worker that dies fail with `WorkerCrashed` (exit status, stderr tail), and
//! `$idempotent` ones are retried once on another worker. Shutdown drains, asks
//! workers to stop, then sends SIGTERM, then SIGKILL.
//!
//! Sessions: calls with the same `CallOptions::session` go to the same worker while it
//! lives. A session idle for longer than the TTL, or ended with `Pool::end_session`, is
//! forgotten. When a session's worker dies, the next call on the session fails with
//! `SessionLost` (its state is gone) and the session is unbound; the call after that
//! binds it to a live worker again.
//!
//! From the bottom up:
//! - `config`: settings and defaults; `error`: why a pool did not start;
//! - `metrics`: per-method calls, errors and latency percentiles;
//! - `small_map`: the hasher of the maps every call looks up;
//! - `state`: what the parts below share, under one lock;
//! - `supervisor`: starting, watching and restarting each worker;
//! - `lease`: choosing the worker a call goes to (sessions, least loaded, queue);
//! - `router`: every call: deadline, retry, in-flight slot, metrics, span;
//! - `running`: the [`Pool`](crate::Pool) handle users hold;
//! - `builder`: [`PoolBuilder`](crate::PoolBuilder) and `start`.

pub(crate) mod builder;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod lease;
pub(crate) mod metrics;
pub(crate) mod router;
pub(crate) mod running;
pub(crate) mod small_map;
pub(crate) mod state;
pub(crate) mod supervisor;
