//! What a server serves: the [`ToolBackend`] trait, the description of one [`Tool`], the
//! value a call returns ([`ToolOutput`]) and the ways a call fails ([`ToolError`]).
//!
//! The backend knows nothing of MCP or JSON-RPC: it lists its tools once and runs calls
//! with JSON arguments. The server (server.rs) maps both onto the protocol.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

/// A boxed, sendable future: what [`ToolBackend::call`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One tool as the backend describes it; tools/list shows it to clients.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    /// Unique among the backend's tools. MCP recommends 1 to 128 characters out of
    /// `A-Z a-z 0-9 _ - .`; some clients accept fewer (no `.`, at most 64).
    pub name: String,
    /// What the tool does, for the model (e.g. the method's doc comment).
    pub description: Option<String>,
    /// JSON Schema of the arguments object (`{"type": "object", ...}`).
    pub input_schema: Value,
    /// JSON Schema of the result, when it is known. Advertised to clients only when it
    /// describes an object (`"type": "object"`), as MCP requires; a tool that advertises
    /// one must return objects.
    pub output_schema: Option<Value>,
    /// Calling it twice with the same arguments has no further effect
    /// (`annotations.idempotentHint`).
    pub idempotent: bool,
}

/// What a successful call returns: a JSON value (an object for results with fields).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    pub value: Value,
}

impl ToolOutput {
    pub fn new(value: Value) -> Self {
        ToolOutput { value }
    }
}

impl From<Value> for ToolOutput {
    fn from(value: Value) -> Self {
        ToolOutput { value }
    }
}

/// One thing wrong with a call's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgumentProblem {
    /// JSON pointer (RFC 6901) of the offending value inside the arguments object; `""`
    /// for the object itself (e.g. a missing required field, named in `message`).
    pub pointer: String,
    /// What is wrong there, e.g. `42 is not of type "string"`.
    pub message: String,
}

impl ArgumentProblem {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        ArgumentProblem {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ArgumentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "arguments: {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// Why a call produced no [`ToolOutput`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's input schema; nothing was run. The client sees
    /// a tool result with `isError: true` listing every problem, so a model can correct
    /// its arguments and retry.
    #[error("invalid arguments: {}", list(.problems))]
    InvalidArguments { problems: Vec<ArgumentProblem> },
    /// No tool has this name. The client gets JSON-RPC error -32602 (invalid params), as
    /// MCP specifies for unknown tools.
    #[error("unknown tool `{name}`")]
    UnknownTool { name: String },
    /// The call was made and failed (the plugin raised, its worker crashed or timed out,
    /// ...). The client sees a tool result with `isError: true` carrying `message` and,
    /// when there is one, the guest's traceback.
    #[error("{message}")]
    CallFailed {
        message: String,
        traceback: Option<String>,
    },
}

impl ToolError {
    /// A failed call without a traceback.
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::CallFailed {
            message: message.into(),
            traceback: None,
        }
    }
}

fn list(problems: &[ArgumentProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The tools a server serves. Implementations are shared by every concurrent call.
pub trait ToolBackend: Send + Sync {
    /// Every tool, read once when serving starts (the list never changes:
    /// `listChanged: false`).
    fn tools(&self) -> Vec<Tool>;

    /// Runs tool `name` with `arguments` (always a JSON object). The future is spawned
    /// on the tokio runtime, so calls run concurrently; it is dropped when the client
    /// cancels the request (`notifications/cancelled`).
    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>>;
}

impl<T: ToolBackend + ?Sized> ToolBackend for Arc<T> {
    fn tools(&self) -> Vec<Tool> {
        (**self).tools()
    }

    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        (**self).call(name, arguments)
    }
}

impl<T: ToolBackend + ?Sized> ToolBackend for Box<T> {
    fn tools(&self) -> Vec<Tool> {
        (**self).tools()
    }

    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        (**self).call(name, arguments)
    }
}
