//! An MCP server over stdio with a fake backend, for tests/python_sdk.rs (and for trying
//! an MCP client by hand): `greet` (arguments checked against its input schema) answers
//! `{"greeting": "Hello, <name>!"}`; `crash` fails the way a call fails when its worker
//! process dies.

use polyhost_mcp::{
    serve_stdio, ArgumentValidator, BoxFuture, ServerInfo, Tool, ToolBackend, ToolError, ToolOutput,
};
use serde_json::{json, Value};

struct Fake {
    greet: ArgumentValidator,
}

fn greet_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Who to greet"}},
        "required": ["name"],
        "additionalProperties": false
    })
}

impl ToolBackend for Fake {
    fn tools(&self) -> Vec<Tool> {
        vec![
            Tool {
                name: "greet".into(),
                description: Some("Greets someone by name.".into()),
                input_schema: greet_schema(),
                output_schema: Some(json!({
                    "type": "object",
                    "properties": {"greeting": {"type": "string"}},
                    "required": ["greeting"]
                })),
                idempotent: true,
            },
            Tool {
                name: "crash".into(),
                description: Some("Always fails: its worker dies during the call.".into()),
                input_schema: json!({"type": "object", "properties": {}}),
                output_schema: None,
                idempotent: false,
            },
        ]
    }

    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let outcome = match name {
            "greet" => self.greet.check(&arguments).map(|()| {
                let name = arguments["name"].as_str().unwrap_or_default();
                json!({"greeting": format!("Hello, {name}!")}).into()
            }),
            "crash" => Err(ToolError::failed(
                "the worker process exited during the call (killed by signal 9); \
                 the pool starts a new one",
            )),
            _ => Err(ToolError::UnknownTool { name: name.into() }),
        };
        Box::pin(async move { outcome })
    }
}

#[tokio::main]
async fn main() {
    let greet = ArgumentValidator::new(&greet_schema()).expect("greet's schema is valid");
    let info = ServerInfo {
        name: "polyhost-mcp-fake".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instructions: Some("Test tools: greet someone, or watch a call crash.".into()),
    };
    if let Err(e) = serve_stdio(info, Fake { greet }).await {
        eprintln!("mcp-fake-server: {e}");
        std::process::exit(1);
    }
}
