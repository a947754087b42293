//! Why a pool did not start.

use crate::error::ExitReason;
use crate::process::adapter::AdapterError;
use crate::process::cache::CacheError;
use crate::process::launch::LaunchError;
use crate::process::template::TemplateError;

/// Why a pool did not start.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("worker {worker} failed to start the plugin `{entry}` ({exit}):\n{stderr}")]
    StartFailed {
        worker: String,
        entry: String,
        exit: ExitReason,
        stderr: String,
    },
    #[error(
        "worker {worker} was built from stale bindings of `{schema}`: the host has fingerprint {host}, the worker {guest}; \
         regenerate the worker's modules (cargo build regenerates them when the build script renders the guest target) and restart"
    )]
    StaleBindings {
        worker: String,
        schema: String,
        host: String,
        guest: String,
    },
    #[error(
        "the bindings of `{schema}` carry no {language} modules: add `.guest(\"{language}\")` to the \
         polyhost_codegen::Builder in build.rs and rebuild"
    )]
    NoGuestModules { schema: String, language: String },
    #[error("cannot put the generated modules in place: {0}")]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot start the I/O thread: {0}")]
    Io(#[from] std::io::Error),
}
