//! Errors a caller of a worker sees, and errors a host handler returns.

use std::time::Duration;

/// Why a call did not produce results.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum CallError {
    /// The guest raised an exception; its type, message and traceback are kept.
    #[error("{method}: {exception_type}: {message}")]
    Remote {
        method: String,
        /// Capnp's exception kind: failed, overloaded, disconnected, unimplemented.
        kind: ErrorKind,
        exception_type: String,
        message: String,
        traceback: String,
    },
    /// No answer within the deadline; the call was cancelled in the worker.
    #[error("{method}: no answer within {after:?}; the call was cancelled")]
    Timeout { method: String, after: Duration },
    /// The worker died or the connection dropped before the answer.
    #[error("{method}: {worker} went away before answering: {reason}")]
    Disconnected {
        method: String,
        worker: String,
        reason: String,
    },
    /// The worker running the call died.
    #[error(
        "{method}: {worker} died ({exit}{}){}",
        killed_suffix(killed_because),
        stderr_suffix(stderr_tail)
    )]
    WorkerCrashed {
        method: String,
        worker: String,
        exit: ExitReason,
        /// Why the host killed it, when it did (a health ping went unanswered, say).
        killed_because: Option<String>,
        stderr_tail: Vec<String>,
    },
    /// The session's worker died; its state is gone. The session is unbound, so the
    /// next call on it starts afresh on another worker.
    #[error("{method}: session `{session}` lived on {worker}, which died; its state is lost")]
    SessionLost {
        method: String,
        session: String,
        worker: String,
    },
    /// No worker of the pool serves the interface of the call (a client of the wrong
    /// interface, or a plugin that does not implement it).
    #[error("{method}: no worker serves interface {interface}; they serve: {served}")]
    MissingService {
        method: String,
        interface: String,
        served: String,
    },
    /// The pool's wait queue is full.
    #[error("{method}: all workers are busy and the wait queue ({queue} calls) is full; retry later or raise the queue size")]
    Saturated { method: String, queue: usize },
    /// The message could not be encoded or decoded.
    #[error("{method}: bad message: {message}")]
    Codec { method: String, message: String },
    /// The peer broke the protocol.
    #[error("protocol error: {message}")]
    Protocol { message: String },
}

fn killed_suffix(why: &Option<String>) -> String {
    match why {
        Some(why) => format!("; the host killed it: {why}"),
        None => String::new(),
    }
}

fn stderr_suffix(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last stderr lines:\n  {}", tail.join("\n  "))
    }
}

/// How a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    Code(i32),
    Signal(i32),
    /// Still running when the connection dropped (or the status could not be read).
    Unknown,
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitReason::Code(c) => write!(f, "exit status {c}"),
            ExitReason::Signal(s) => write!(f, "killed by signal {s}"),
            ExitReason::Unknown => write!(f, "connection lost"),
        }
    }
}

impl From<std::process::ExitStatus> for ExitReason {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => ExitReason::Code(c),
            (None, Some(s)) => ExitReason::Signal(s),
            _ => ExitReason::Unknown,
        }
    }
}

/// Capnp's `Exception.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Failed,
    Overloaded,
    Disconnected,
    Unimplemented,
}

impl From<capnp::ErrorKind> for ErrorKind {
    fn from(k: capnp::ErrorKind) -> Self {
        match k {
            capnp::ErrorKind::Overloaded => ErrorKind::Overloaded,
            capnp::ErrorKind::Disconnected => ErrorKind::Disconnected,
            capnp::ErrorKind::Unimplemented => ErrorKind::Unimplemented,
            _ => ErrorKind::Failed,
        }
    }
}

/// What a host handler (a `$host` trait implementation) returns on failure; the
/// guest sees it as a native exception with this type name and message.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{exception_type}: {message}")]
pub struct HandlerError {
    pub exception_type: String,
    pub message: String,
}

impl HandlerError {
    pub fn new(exception_type: impl Into<String>, message: impl Into<String>) -> Self {
        HandlerError {
            exception_type: exception_type.into(),
            message: message.into(),
        }
    }
}

impl From<CallError> for HandlerError {
    fn from(e: CallError) -> Self {
        HandlerError::new("CallError", e.to_string())
    }
}
