//! MCP's shapes for tools: the protocol revisions spoken and their negotiation, a
//! [`Tool`] as tools/list shows it, and a call's outcome as a tools/call result.
//!
//! Revision differences honoured: tool `annotations` from 2025-03-26, `outputSchema` and
//! `structuredContent` from 2025-06-18; invalid arguments are a tool result with
//! `isError: true` in every revision (as 2025-11-25 requires, so a model can correct
//! itself), unknown tools a JSON-RPC error -32602.

use serde_json::{json, Map, Value};

use crate::tool::{Tool, ToolError, ToolOutput};

/// The protocol revisions this server speaks, newest first.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The newest revision spoken.
pub const LATEST_PROTOCOL_VERSION: &str = PROTOCOL_VERSIONS[0];

/// The revision to answer a client that asked for `requested`: the same when spoken,
/// else the newest (the client then decides whether it can go on).
pub fn negotiate(requested: &str) -> &'static str {
    PROTOCOL_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(LATEST_PROTOCOL_VERSION)
}

/// Features that depend on the negotiated revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revision {
    annotations: bool,
    structured: bool,
}

impl Revision {
    /// The features of `version`, one of [`PROTOCOL_VERSIONS`]. Revision dates compare
    /// as strings.
    pub fn of(version: &str) -> Self {
        Revision {
            annotations: version >= "2025-03-26",
            structured: version >= "2025-06-18",
        }
    }
}

/// The output schema a tool may advertise: only object schemas (MCP requires
/// `"type": "object"`).
pub fn advertised_output_schema(tool: &Tool) -> Option<&Value> {
    tool.output_schema
        .as_ref()
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("object"))
}

/// Whether `name` follows MCP's naming guidance (2025-11-25): 1 to 128 characters out of
/// `A-Z a-z 0-9 _ - .`.
pub fn is_recommended_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `tool` as an entry of tools/list.
pub fn describe(tool: &Tool, revision: Revision) -> Value {
    let mut entry = Map::new();
    entry.insert("name".into(), json!(tool.name));
    if let Some(description) = &tool.description {
        entry.insert("description".into(), json!(description));
    }
    entry.insert("inputSchema".into(), tool.input_schema.clone());
    if revision.structured {
        if let Some(schema) = advertised_output_schema(tool) {
            entry.insert("outputSchema".into(), schema.clone());
        }
    }
    if revision.annotations {
        entry.insert(
            "annotations".into(),
            json!({"idempotentHint": tool.idempotent}),
        );
    }
    Value::Object(entry)
}

/// The tools/call result of a call of `tool`: `Err` only for an unknown tool, which MCP
/// answers with a JSON-RPC error.
pub fn call_result(
    tool: &Tool,
    outcome: Result<ToolOutput, ToolError>,
    revision: Revision,
) -> Result<Value, ToolError> {
    match outcome {
        Ok(output) => Ok(success(tool, output.value, revision)),
        Err(error @ ToolError::UnknownTool { .. }) => Err(error),
        Err(ToolError::InvalidArguments { problems }) => {
            let mut text = format!(
                "Invalid arguments for tool `{}` (nothing was run):",
                tool.name
            );
            for problem in &problems {
                text.push_str("\n- ");
                text.push_str(&problem.to_string());
            }
            Ok(failure(text))
        }
        Err(ToolError::CallFailed { message, traceback }) => {
            let mut text = format!("Tool `{}` failed: {message}", tool.name);
            if let Some(traceback) = traceback.filter(|t| !t.trim().is_empty()) {
                text.push_str("\n\nGuest traceback:\n");
                text.push_str(traceback.trim_end());
            }
            Ok(failure(text))
        }
    }
}

fn success(tool: &Tool, value: Value, revision: Revision) -> Value {
    let promised = revision.structured && advertised_output_schema(tool).is_some();
    if promised && !value.is_object() {
        return failure(format!(
            "Tool `{}` returned {} where its output schema promises an object",
            tool.name,
            kind(&value)
        ));
    }
    let text = serde_json::to_string(&value).expect("a JSON value always serializes");
    let mut result = json!({
        "content": [{"type": "text", "text": text}],
        "isError": false,
    });
    if revision.structured && value.is_object() {
        result["structuredContent"] = value;
    }
    result
}

fn failure(text: String) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::ArgumentProblem;

    fn tool(output_schema: Option<Value>) -> Tool {
        Tool {
            name: "t".into(),
            description: None,
            input_schema: json!({"type": "object"}),
            output_schema,
            idempotent: true,
        }
    }

    #[test]
    fn negotiation_echoes_known_versions_else_the_latest() {
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2024-11-05"), "2024-11-05");
        assert_eq!(negotiate("1999-01-01"), LATEST_PROTOCOL_VERSION);
    }

    #[test]
    fn recommended_names() {
        assert!(is_recommended_name("Greeter.greet_all-2"));
        assert!(!is_recommended_name(""));
        assert!(!is_recommended_name("greet all"));
        assert!(!is_recommended_name(&"x".repeat(129)));
    }

    #[test]
    fn older_revisions_get_no_newer_fields() {
        let t = tool(Some(json!({"type": "object"})));
        let old = describe(&t, Revision::of("2024-11-05"));
        assert!(old.get("annotations").is_none() && old.get("outputSchema").is_none());
        let mid = describe(&t, Revision::of("2025-03-26"));
        assert_eq!(mid["annotations"]["idempotentHint"], json!(true));
        assert!(mid.get("outputSchema").is_none());
        let new = describe(&t, Revision::of("2025-06-18"));
        assert_eq!(new["outputSchema"], json!({"type": "object"}));
        let ok = call_result(&t, Ok(json!({"a": 1}).into()), Revision::of("2025-03-26")).unwrap();
        assert!(ok.get("structuredContent").is_none());
    }

    #[test]
    fn only_object_output_schemas_are_advertised() {
        let t = tool(Some(json!({"type": "string"})));
        assert!(describe(&t, Revision::of(LATEST_PROTOCOL_VERSION))
            .get("outputSchema")
            .is_none());
        let r = call_result(
            &t,
            Ok(json!("x").into()),
            Revision::of(LATEST_PROTOCOL_VERSION),
        );
        let r = r.unwrap();
        assert_eq!(r["isError"], json!(false));
        assert_eq!(r["content"][0]["text"], json!("\"x\""));
        assert!(r.get("structuredContent").is_none());
    }

    #[test]
    fn a_non_object_result_breaking_the_promise_is_an_error_result() {
        let t = tool(Some(json!({"type": "object"})));
        let r = call_result(
            &t,
            Ok(json!([1]).into()),
            Revision::of(LATEST_PROTOCOL_VERSION),
        );
        let r = r.unwrap();
        assert_eq!(r["isError"], json!(true));
        assert!(r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("an array"));
    }

    #[test]
    fn errors_become_texts() {
        let t = tool(None);
        let latest = Revision::of(LATEST_PROTOCOL_VERSION);
        let invalid = ToolError::InvalidArguments {
            problems: vec![ArgumentProblem::new(
                "/name",
                "42 is not of type \"string\"",
            )],
        };
        let r = call_result(&t, Err(invalid), latest).unwrap();
        assert_eq!(r["isError"], json!(true));
        assert!(r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("/name: 42"));
        let failed = ToolError::CallFailed {
            message: "boom".into(),
            traceback: Some("Traceback: line 3\n".into()),
        };
        let r = call_result(&t, Err(failed), latest).unwrap();
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("boom") && text.ends_with("Traceback: line 3"),
            "{text}"
        );
        let unknown = ToolError::UnknownTool { name: "x".into() };
        assert!(call_result(&t, Err(unknown), latest).is_err());
    }
}
