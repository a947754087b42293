//! One worker process without a pool: for an adapter's conformance suite, or a host
//! that speaks the worker protocol itself.
//!
//! [`spawn`] starts the adapter's interpreter on `entry` with the host's end of a
//! socketpair returned in [`Spawned::socket`] (the worker has its end as fd
//! [`WORKER_FD`]) and nothing else: no handshake, no supervision, no restart. The
//! caller owns the child: it reaps it and, if it wants, signals it. A [`Pool`](crate::Pool)
//! does all of that for you.

pub use crate::process::launch::{spawn, Spawned, WorkerSpec, DEFAULT_ENV_ALLOWLIST, WORKER_FD};
pub use crate::process::output::{tail_text, OutputTail, StderrTail};
