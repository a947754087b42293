//! A [Model Context Protocol](https://modelcontextprotocol.io) (MCP) tool server over
//! stdio: serves the tools of any [`ToolBackend`] to MCP clients (AI assistants, agent
//! frameworks, the MCP Inspector).
//!
//! The backend lists [`Tool`]s (name, description, input JSON Schema, optional output
//! schema, whether calls are idempotent) and runs calls with JSON arguments. The server
//! speaks the protocol: newline-delimited JSON-RPC 2.0 over stdin/stdout, initialize with
//! protocol version negotiation (revisions in [`PROTOCOL_VERSIONS`]), ping, tools/list
//! and tools/call. Calls run concurrently; a call's failure (invalid arguments, a
//! crashed worker) is a tool result with `isError: true` whose text says what was wrong,
//! and the server carries on. Malformed messages are answered with JSON-RPC errors
//! (-32700, -32600, -32601, -32602); only the end of the input ends the session.
//!
//! ```no_run
//! use polyhost_mcp::{serve_stdio, BoxFuture, ServerInfo, Tool, ToolBackend, ToolError, ToolOutput};
//! use serde_json::{json, Value};
//!
//! struct Clock;
//!
//! impl ToolBackend for Clock {
//!     fn tools(&self) -> Vec<Tool> {
//!         vec![Tool {
//!             name: "now".into(),
//!             description: Some("Seconds since the Unix epoch".into()),
//!             input_schema: json!({"type": "object", "properties": {}}),
//!             output_schema: Some(json!({
//!                 "type": "object",
//!                 "properties": {"seconds": {"type": "integer"}},
//!                 "required": ["seconds"]
//!             })),
//!             idempotent: false,
//!         }]
//!     }
//!
//!     fn call(&self, name: &str, _arguments: Value) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
//!         let name = name.to_string();
//!         Box::pin(async move {
//!             match name.as_str() {
//!                 "now" => {
//!                     let since = std::time::UNIX_EPOCH.elapsed().map_err(|e| ToolError::failed(e.to_string()))?;
//!                     Ok(json!({"seconds": since.as_secs()}).into())
//!                 }
//!                 _ => Err(ToolError::UnknownTool { name }),
//!             }
//!         })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() {
//!     if let Err(e) = serve_stdio(ServerInfo::default(), Clock).await {
//!         eprintln!("{e}");
//!         std::process::exit(1);
//!     }
//! }
//! ```

mod jsonrpc;
mod lines;
mod protocol;
mod server;
mod tool;
mod validate;

pub use protocol::{LATEST_PROTOCOL_VERSION, PROTOCOL_VERSIONS};
pub use server::{serve, serve_stdio, serve_with, ServeError, ServerInfo, MAX_MESSAGE_BYTES};
pub use tool::{ArgumentProblem, BoxFuture, Tool, ToolBackend, ToolError, ToolOutput};
pub use validate::{ArgumentValidator, SchemaError};
