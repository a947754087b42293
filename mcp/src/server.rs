//! The server's lifecycle and dispatch: reads messages, answers initialize (version
//! negotiation), ping, tools/list and tools/call, runs tool calls concurrently on the
//! tokio runtime (cancelled by `notifications/cancelled`), and writes each response
//! whole as soon as it is ready. Bad input is answered with a JSON-RPC error and never
//! ends the session; only the end of the input or a failed write does.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::task::{AbortHandle, JoinError, JoinSet};

use crate::jsonrpc::{self, Incoming, RpcError, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use crate::lines::{write_message, Frame, LineReader};
use crate::protocol::{self, Revision, LATEST_PROTOCOL_VERSION};
use crate::tool::{ArgumentProblem, Tool, ToolBackend, ToolError};

/// The longest message accepted, in bytes; a longer line is answered with -32600 and
/// skipped.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How the server introduces itself in its initialize result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// `serverInfo.name`.
    pub name: String,
    /// `serverInfo.version`.
    pub version: String,
    /// `instructions`: how to use the tools, for the model.
    pub instructions: Option<String>,
}

impl Default for ServerInfo {
    /// `polyhost-mcp` and this crate's version, no instructions.
    fn default() -> Self {
        ServerInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            instructions: None,
        }
    }
}

/// Why serving stopped before the end of the input.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reading MCP messages from the client failed: {0}")]
    Read(#[source] std::io::Error),
    #[error("writing an MCP message to the client failed (has it closed its input?): {0}")]
    Write(#[source] std::io::Error),
    #[error("the backend lists two tools named `{name}`; tool names must be unique")]
    DuplicateTool { name: String },
}

/// Serves `backend` to one MCP client over `input` / `output` (newline-delimited
/// JSON-RPC), introducing itself with [`ServerInfo::default`]. See [`serve_with`].
pub async fn serve<B, R, W>(backend: B, input: R, output: W) -> Result<(), ServeError>
where
    B: ToolBackend,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    serve_with(ServerInfo::default(), backend, input, output).await
}

/// Serves `backend` over this process's stdin and stdout, the MCP stdio transport
/// (stdout then carries nothing but messages: log to stderr). Blocking reads of stdin
/// may outlive an error return; exit the process then.
pub async fn serve_stdio<B: ToolBackend>(info: ServerInfo, backend: B) -> Result<(), ServeError> {
    serve_with(info, backend, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves `backend` to one MCP client until the end of `input`, then waits for the
/// calls still running and writes their results. Must run inside a tokio runtime: tool
/// calls are spawned on it. On a read or write error it returns at once, dropping the
/// calls still running.
pub async fn serve_with<B, R, W>(
    info: ServerInfo,
    backend: B,
    input: R,
    mut output: W,
) -> Result<(), ServeError>
where
    B: ToolBackend,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut session = Session::new(info, backend)?;
    let mut reader = LineReader::new(BufReader::new(input), MAX_MESSAGE_BYTES);
    let mut reading = true;
    loop {
        let reply = tokio::select! {
            frame = reader.next(), if reading => match frame.map_err(ServeError::Read)? {
                Some(frame) => session.on_frame(frame),
                None => {
                    tracing::debug!("the MCP client closed its end; finishing running calls");
                    reading = false;
                    None
                }
            },
            done = session.calls.join_next_with_id(), if !session.calls.is_empty() => {
                done.and_then(|done| session.on_call_done(done))
            },
            else => break,
        };
        if let Some(reply) = reply {
            write_message(&mut output, &reply)
                .await
                .map_err(ServeError::Write)?;
        }
    }
    Ok(())
}

/// What one tools/call task yields: the request's id and its response.
type Finished = (Value, Value);

struct Session<B> {
    info: ServerInfo,
    backend: B,
    tools: Vec<Arc<Tool>>,
    by_name: HashMap<String, Arc<Tool>>,
    /// Set by initialize; the newest until then.
    revision: Revision,
    calls: JoinSet<Finished>,
    /// Running calls by task: the request id and the tool, to answer a panic.
    by_task: HashMap<tokio::task::Id, (Value, Arc<Tool>)>,
    /// Running calls by request id (its JSON text), to cancel them.
    by_request: HashMap<String, AbortHandle>,
}

impl<B: ToolBackend> Session<B> {
    fn new(info: ServerInfo, backend: B) -> Result<Self, ServeError> {
        let tools: Vec<Arc<Tool>> = backend.tools().into_iter().map(Arc::new).collect();
        let mut by_name = HashMap::new();
        for tool in &tools {
            if by_name.insert(tool.name.clone(), tool.clone()).is_some() {
                return Err(ServeError::DuplicateTool {
                    name: tool.name.clone(),
                });
            }
            if !protocol::is_recommended_name(&tool.name) {
                tracing::warn!(
                    tool = %tool.name,
                    "MCP recommends tool names of 1 to 128 characters out of A-Z a-z 0-9 _ - ."
                );
            }
            if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
                tracing::warn!(
                    tool = %tool.name,
                    "MCP requires an input schema of type \"object\""
                );
            }
            if tool.output_schema.is_some() && protocol::advertised_output_schema(tool).is_none() {
                tracing::warn!(
                    tool = %tool.name,
                    "the output schema is not an object schema; it is not advertised"
                );
            }
        }
        Ok(Session {
            info,
            backend,
            tools,
            by_name,
            revision: Revision::of(LATEST_PROTOCOL_VERSION),
            calls: JoinSet::new(),
            by_task: HashMap::new(),
            by_request: HashMap::new(),
        })
    }

    /// The reply to one frame, if it needs one now.
    fn on_frame(&mut self, frame: Frame) -> Option<Value> {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::TooLong => {
                tracing::warn!("skipped a message longer than {MAX_MESSAGE_BYTES} bytes");
                let error = RpcError::new(
                    INVALID_REQUEST,
                    format!("Invalid Request: message longer than {MAX_MESSAGE_BYTES} bytes"),
                );
                return Some(jsonrpc::error(&Value::Null, &error));
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        match jsonrpc::parse(&line) {
            Err(rejected) => {
                tracing::warn!(error = %rejected.error.message, "rejected a message");
                Some(jsonrpc::error(&rejected.id, &rejected.error))
            }
            Ok(Incoming::Request { id, method, params }) => {
                tracing::debug!(%method, %id, "request");
                match self.on_request(&id, &method, params) {
                    Reply::Now(Ok(result)) => Some(jsonrpc::result(&id, result)),
                    Reply::Now(Err(error)) => Some(jsonrpc::error(&id, &error)),
                    Reply::Later => None,
                }
            }
            Ok(Incoming::Notification { method, params }) => {
                self.on_notification(&method, &params);
                None
            }
            Ok(Incoming::Response { id }) => {
                tracing::debug!(%id, "ignored a response: this server sends no requests");
                None
            }
        }
    }

    fn on_request(&mut self, id: &Value, method: &str, params: Map<String, Value>) -> Reply {
        match method {
            "initialize" => Reply::Now(self.initialize(&params)),
            "ping" => Reply::Now(Ok(json!({}))),
            "tools/list" => Reply::Now(self.list(&params)),
            "tools/call" => self.call(id, params),
            _ => Reply::Now(Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            ))),
        }
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::new(
                    INVALID_PARAMS,
                    "initialize needs `protocolVersion` (a string)",
                )
            })?;
        let version = protocol::negotiate(requested);
        self.revision = Revision::of(version);
        tracing::debug!(requested, version, "initialize");
        let mut result = json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": self.info.name, "version": self.info.version},
        });
        if let Some(instructions) = &self.info.instructions {
            result["instructions"] = json!(instructions);
        }
        Ok(result)
    }

    fn list(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        if params.get("cursor").is_some_and(|c| !c.is_null()) {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "Invalid cursor: this server lists every tool on the first page",
            ));
        }
        let tools: Vec<Value> = self
            .tools
            .iter()
            .map(|tool| protocol::describe(tool, self.revision))
            .collect();
        Ok(json!({ "tools": tools }))
    }

    fn call(&mut self, id: &Value, mut params: Map<String, Value>) -> Reply {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Reply::Now(Err(RpcError::new(
                INVALID_PARAMS,
                "tools/call needs `name` (a string)",
            )));
        };
        let Some(tool) = self.by_name.get(name).cloned() else {
            return Reply::Now(Err(unknown_tool(name, self.tools.len())));
        };
        let revision = self.revision;
        let arguments = match params.remove("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(arguments @ Value::Object(_)) => arguments,
            Some(_) => {
                let problem = ArgumentProblem::new("", "the arguments must be a JSON object");
                let outcome = Err(ToolError::InvalidArguments {
                    problems: vec![problem],
                });
                return Reply::Now(Ok(finish(&tool, outcome, revision)));
            }
        };
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.backend.call(&tool.name, arguments)
        }));
        let Ok(future) = started else {
            tracing::error!(tool = %tool.name, "the tool backend panicked starting a call");
            let outcome = Err(ToolError::failed(
                "the tool backend panicked starting the call",
            ));
            return Reply::Now(Ok(finish(&tool, outcome, revision)));
        };
        let (request, task_tool) = (id.clone(), tool.clone());
        let handle = self.calls.spawn(async move {
            let outcome = future.await;
            let response = match protocol::call_result(&task_tool, outcome, revision) {
                Ok(result) => jsonrpc::result(&request, result),
                Err(ToolError::UnknownTool { name }) => {
                    jsonrpc::error(&request, &unknown_tool(&name, 0))
                }
                Err(other) => jsonrpc::error(
                    &request,
                    &RpcError::new(jsonrpc::INTERNAL_ERROR, other.to_string()),
                ),
            };
            (request, response)
        });
        self.by_task.insert(handle.id(), (id.clone(), tool));
        self.by_request.insert(id.to_string(), handle);
        Reply::Later
    }

    fn on_notification(&mut self, method: &str, params: &Map<String, Value>) {
        match method {
            "notifications/initialized" => tracing::debug!("the MCP client is initialized"),
            "notifications/cancelled" => {
                let Some(request) = params.get("requestId") else {
                    return;
                };
                if let Some(handle) = self.by_request.remove(&request.to_string()) {
                    tracing::debug!(%request, "cancelling a tool call");
                    handle.abort();
                }
            }
            _ => tracing::debug!(%method, "ignored a notification"),
        }
    }

    /// The response of a finished call task, `None` for a cancelled one.
    fn on_call_done(
        &mut self,
        done: Result<(tokio::task::Id, Finished), JoinError>,
    ) -> Option<Value> {
        let task = match &done {
            Ok((task, _)) => *task,
            Err(error) => error.id(),
        };
        let (request, tool) = self.by_task.remove(&task)?;
        let key = request.to_string();
        // A client may have reused the id for a newer call: keep that one cancellable.
        if self
            .by_request
            .get(&key)
            .is_some_and(|handle| handle.id() == task)
        {
            self.by_request.remove(&key);
        }
        match done {
            Ok((_, (_, response))) => Some(response),
            Err(error) if error.is_cancelled() => None,
            Err(_) => {
                tracing::error!(tool = %tool.name, "a tool call panicked");
                let outcome = Err(ToolError::failed("the tool call panicked in the server"));
                Some(jsonrpc::result(
                    &request,
                    finish(&tool, outcome, self.revision),
                ))
            }
        }
    }
}

enum Reply {
    Now(Result<Value, RpcError>),
    /// A spawned call answers when it finishes.
    Later,
}

/// The tools/call result of a known tool's outcome that is not `UnknownTool`.
fn finish(
    tool: &Tool,
    outcome: Result<crate::tool::ToolOutput, ToolError>,
    revision: Revision,
) -> Value {
    protocol::call_result(tool, outcome, revision).unwrap_or_else(|unknown| {
        json!({"content": [{"type": "text", "text": unknown.to_string()}], "isError": true})
    })
}

fn unknown_tool(name: &str, count: usize) -> RpcError {
    let message = if count == 0 {
        format!("Unknown tool: {name}")
    } else {
        format!("Unknown tool: {name} (tools/list names the {count} tools served)")
    };
    RpcError::new(INVALID_PARAMS, message)
}
