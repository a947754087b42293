//! JSON-RPC 2.0 as MCP uses it: one message per line, each a request (method + id), a
//! notification (method, no id) or a response (result or error + id). Parses a received
//! line into an [`Incoming`] message or the error response it deserves, and builds
//! responses.

use serde_json::{json, Map, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON is not a valid JSON-RPC request.
pub const INVALID_REQUEST: i64 = -32600;
/// No such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters (MCP: also unknown tools, invalid cursors).
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }
}

/// One received message.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// Expects exactly one response with this `id` (a string or an integer).
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    /// Expects no response.
    Notification {
        method: String,
        params: Map<String, Value>,
    },
    /// A response to a request of ours (this server sends none, so it is ignored).
    Response { id: Value },
}

/// A line that is no valid message, and the id to answer it with (`null` when the id
/// could not be read).
#[derive(Debug, PartialEq)]
pub struct Rejected {
    pub id: Value,
    pub error: RpcError,
}

/// Parses one line (without its newline).
pub fn parse(line: &[u8]) -> Result<Incoming, Rejected> {
    let value: Value = serde_json::from_slice(line).map_err(|e| Rejected {
        id: Value::Null,
        error: RpcError::new(PARSE_ERROR, format!("Parse error: not JSON ({e})")),
    })?;
    classify(value)
}

fn classify(value: Value) -> Result<Incoming, Rejected> {
    let invalid = |id: Value, why: &str| Rejected {
        id,
        error: RpcError::new(INVALID_REQUEST, format!("Invalid Request: {why}")),
    };
    let mut object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(invalid(
                Value::Null,
                "batches (JSON arrays) are not supported; send one message per line",
            ))
        }
        _ => return Err(invalid(Value::Null, "a message must be a JSON object")),
    };
    let id = match object.remove("id") {
        None => None,
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => return Err(invalid(Value::Null, "`id` must be a string or a number")),
    };
    let answer_id = id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(invalid(answer_id, "`jsonrpc` must be \"2.0\""));
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return Err(invalid(answer_id, "`method` must be a string")),
        None if object.contains_key("result") || object.contains_key("error") => {
            return match id {
                Some(id) => Ok(Incoming::Response { id }),
                None => Err(invalid(Value::Null, "a response needs an `id`")),
            };
        }
        None => return Err(invalid(answer_id, "`method` is missing")),
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => return Err(invalid(answer_id, "`params` must be an object")),
    };
    Ok(match id {
        Some(id) => Incoming::Request { id, method, params },
        None => Incoming::Notification { method, params },
    })
}

/// A success response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response.
pub fn error(id: &Value, error: &RpcError) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": error.code, "message": error.message},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(line: &str) -> (Value, i64) {
        let rejected = parse(line.as_bytes()).unwrap_err();
        (rejected.id, rejected.error.code)
    }

    #[test]
    fn requests_notifications_and_responses() {
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Ok(Incoming::Request {
                id: json!(1),
                method: "ping".into(),
                params: Map::new()
            })
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}"#),
            Ok(Incoming::Notification {
                method: "notifications/initialized".into(),
                params: Map::new()
            })
        );
        assert_eq!(
            parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Incoming::Response { id: json!("a") })
        );
    }

    #[test]
    fn bad_lines_get_the_right_codes() {
        assert_eq!(code("{nope"), (Value::Null, PARSE_ERROR));
        assert_eq!(code("[]"), (Value::Null, INVALID_REQUEST));
        assert_eq!(code("7"), (Value::Null, INVALID_REQUEST));
        assert_eq!(
            code(r#"{"id":3,"method":"ping"}"#),
            (json!(3), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":3,"method":5}"#),
            (json!(3), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
            (Value::Null, INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":"x","method":"ping","params":[1]}"#),
            (json!("x"), INVALID_REQUEST)
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":4}"#),
            (json!(4), INVALID_REQUEST)
        );
    }
}
