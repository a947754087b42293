//! The process layer: how worker processes of a guest language are started, watched
//! and stopped. Nothing here speaks RPC; a started worker is a process, its socket and
//! its output.
//!
//! - `adapter`: a language's launch recipe (`adapter.json`) and its embedded runtime;
//! - `cache`: the cache folder and the verified, content-addressed copies of runtimes
//!   and generated modules written into it;
//! - `exit`: exit watches, pidfd process handles, signalling a pid safely;
//! - `output`: stdout and stderr as `tracing` events, the stderr tail;
//! - `launch`: one fresh worker process on a socketpair;
//! - `template`: workers forked from a template process that has done the imports;
//! - `spawner`: the long-lived thread every process start runs on.

pub(crate) mod adapter;
pub(crate) mod cache;
pub(crate) mod exit;
pub(crate) mod launch;
pub(crate) mod output;
pub(crate) mod spawner;
pub(crate) mod template;
