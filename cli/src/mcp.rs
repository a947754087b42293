//! `polyhost mcp`: a running plugin as the tool backend of the Model Context Protocol
//! server (`polyhost-mcp`). Every `$worker` method is a tool named `Interface_method`
//! (MCP clients accept letters, digits, `_` and `-` in tool names): its input schema is
//! the params' JSON Schema, its description the method's doc comment, `$idempotent` its
//! `idempotentHint`. Calls go through the plugin's pool by name (`Pool::call_json`);
//! a streaming method's items come back as `{"items": [...]}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use polyhost::{CallError, CallOptions, JsonCallError, JsonReply};
use polyhost_mcp::{ArgumentProblem, BoxFuture, Tool, ToolBackend, ToolError, ToolOutput};
use serde_json::{json, Value};

use crate::plugin::{self, Plugin, SchemaFile};

/// The tools of a running plugin.
pub struct PluginTools {
    plugin: Arc<Plugin>,
    tools: Vec<Tool>,
    /// Tool name -> `Interface.method`, and whether its results are a stream.
    methods: HashMap<String, (String, bool)>,
    timeout: Option<Duration>,
}

impl PluginTools {
    pub fn new(plugin: Arc<Plugin>, timeout: Option<Duration>) -> PluginTools {
        let methods = plugin
            .schema
            .tools()
            .into_iter()
            .map(|t| (tool_name(&t.name), (t.name, t.streams)))
            .collect();
        PluginTools {
            tools: tools_of(&plugin.schema),
            plugin,
            methods,
            timeout,
        }
    }
}

/// The MCP tools of a schema file's `$worker` methods.
pub fn tools_of(schema: &SchemaFile) -> Vec<Tool> {
    schema
        .tools()
        .iter()
        .map(|t| Tool {
            name: tool_name(&t.name),
            description: (!t.description.is_empty()).then(|| t.description.clone()),
            input_schema: t.params_schema.clone(),
            output_schema: Some(output_schema(t)),
            idempotent: t.idempotent,
        })
        .collect()
}

/// `Interface.method` as a tool name.
pub fn tool_name(method: &str) -> String {
    method.replace('.', "_")
}

/// What a tool answers: the results object, or the stream's items in one.
fn output_schema(tool: &plugin::Tool) -> Value {
    if tool.streams {
        json!({
            "type": "object",
            "properties": {"items": {"type": "array", "items": tool.results_schema}},
            "required": ["items"],
        })
    } else {
        tool.results_schema.clone()
    }
}

impl ToolBackend for PluginTools {
    fn tools(&self) -> Vec<Tool> {
        self.tools.clone()
    }

    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let Some((method, _)) = self.methods.get(name).cloned() else {
            let name = name.to_string();
            return Box::pin(async move { Err(ToolError::UnknownTool { name }) });
        };
        let plugin = self.plugin.clone();
        let options = CallOptions {
            timeout: self.timeout,
            ..Default::default()
        };
        Box::pin(async move {
            match plugin.call(&method, arguments, options).await {
                Ok(JsonReply::Value(v)) => Ok(ToolOutput::new(v)),
                Ok(JsonReply::Stream(mut items)) => {
                    let mut all = Vec::new();
                    while let Some(item) = items.next().await {
                        all.push(item.map_err(|e| tool_error(JsonCallError::Call(e)))?);
                    }
                    Ok(ToolOutput::new(json!({ "items": all })))
                }
                Err(e) => Err(tool_error(e)),
            }
        })
    }
}

/// A failed call as the client sees it: invalid arguments name their JSON pointer;
/// a worker's exception carries its traceback.
fn tool_error(e: JsonCallError) -> ToolError {
    match e {
        JsonCallError::Invalid { errors, .. } => ToolError::InvalidArguments {
            problems: errors
                .into_iter()
                .map(|i| ArgumentProblem::new(i.pointer, i.message))
                .collect(),
        },
        JsonCallError::Encode { source, .. } => ToolError::InvalidArguments {
            problems: vec![ArgumentProblem::new("", source.to_string())],
        },
        JsonCallError::Call(CallError::Remote {
            exception_type,
            message,
            traceback,
            ..
        }) => ToolError::CallFailed {
            message: format!("{exception_type}: {message}"),
            traceback: (!traceback.is_empty()).then_some(traceback),
        },
        other => ToolError::failed(other.to_string()),
    }
}
