//! The server as a client sees it, over an in-memory duplex pipe: raw JSON-RPC lines in,
//! raw lines out. A test backend offers `greet` (schema-checked arguments), `crash` (fails
//! with a guest traceback), `wait` (runs until the test releases it, reporting its start
//! and its drop) and `panic`.

use std::sync::Arc;

use polyhost_mcp::{
    serve, ArgumentValidator, BoxFuture, ServeError, Tool, ToolBackend, ToolError, ToolOutput,
    LATEST_PROTOCOL_VERSION,
};
use serde_json::{json, Value};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

fn greet_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "additionalProperties": false
    })
}

/// Sends on `dropped` when the `wait` call's future is dropped.
struct DropSignal(mpsc::UnboundedSender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

struct TestBackend {
    greet: ArgumentValidator,
    /// `wait` calls take a permit before answering.
    gate: Arc<Semaphore>,
    /// `wait` calls report "started", then "dropped" when their future goes away.
    events: mpsc::UnboundedSender<&'static str>,
}

impl ToolBackend for TestBackend {
    fn tools(&self) -> Vec<Tool> {
        let tool = |name: &str, input_schema: Value, output_schema, idempotent| Tool {
            name: name.into(),
            description: Some(format!("the {name} tool")),
            input_schema,
            output_schema,
            idempotent,
        };
        let empty = json!({"type": "object", "properties": {}});
        vec![
            tool(
                "greet",
                greet_schema(),
                Some(json!({"type": "object", "properties": {"greeting": {"type": "string"}}})),
                true,
            ),
            tool("crash", empty.clone(), None, false),
            tool("wait", empty.clone(), None, false),
            tool("panic", empty, None, false),
        ]
    }

    fn call(
        &self,
        name: &str,
        arguments: Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        match name {
            "greet" => {
                let checked = self.greet.check(&arguments);
                Box::pin(async move {
                    checked?;
                    let name = arguments["name"].as_str().unwrap_or_default();
                    Ok(json!({"greeting": format!("Hello, {name}!")}).into())
                })
            }
            "crash" => Box::pin(async {
                Err(ToolError::CallFailed {
                    message: "ZeroDivisionError: division by zero".into(),
                    traceback: Some(
                        "Traceback (most recent call last):\n  File \"plugin.py\", line 3".into(),
                    ),
                })
            }),
            "wait" => {
                let (gate, events) = (self.gate.clone(), self.events.clone());
                Box::pin(async move {
                    let _signal = DropSignal(events.clone());
                    let _ = events.send("started");
                    let _permit = gate.acquire().await.expect("the gate stays open");
                    Ok(json!({"waited": true}).into())
                })
            }
            "panic" => Box::pin(async { panic!("the test tool panics") }),
            _ => Box::pin(std::future::ready(Err(ToolError::UnknownTool {
                name: name.into(),
            }))),
        }
    }
}

/// The client end of a served duplex pipe.
struct Client {
    write: Option<WriteHalf<DuplexStream>>,
    read: Lines<BufReader<ReadHalf<DuplexStream>>>,
    server: JoinHandle<Result<(), ServeError>>,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedReceiver<&'static str>,
}

impl Client {
    fn start() -> Client {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (server_read, server_write) = tokio::io::split(server);
        let (client_read, client_write) = tokio::io::split(client);
        let gate = Arc::new(Semaphore::new(0));
        let (events_tx, events) = mpsc::unbounded_channel();
        let backend = TestBackend {
            greet: ArgumentValidator::new(&greet_schema()).unwrap(),
            gate: gate.clone(),
            events: events_tx,
        };
        Client {
            write: Some(client_write),
            read: BufReader::new(client_read).lines(),
            server: tokio::spawn(serve(backend, server_read, server_write)),
            gate,
            events,
        }
    }

    /// A client that has done the initialize handshake at the latest protocol version.
    async fn initialized() -> Client {
        let mut client = Client::start();
        client.initialize(LATEST_PROTOCOL_VERSION).await;
        client
    }

    async fn send_line(&mut self, line: &str) {
        let write = self.write.as_mut().expect("input still open");
        write.write_all(line.as_bytes()).await.unwrap();
        write.write_all(b"\n").await.unwrap();
    }

    async fn send(&mut self, message: Value) {
        self.send_line(&message.to_string()).await;
    }

    async fn request(&mut self, id: u64, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
    }

    /// The next message the server wrote.
    async fn receive(&mut self) -> Value {
        let line = self
            .read
            .next_line()
            .await
            .unwrap()
            .expect("a message, not the end");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a request and returns the next message, asserting it answers the request.
    async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.request(id, method, params).await;
        let response = self.receive().await;
        assert_eq!(response["id"], json!(id), "{response}");
        assert_eq!(response["jsonrpc"], json!("2.0"), "{response}");
        response
    }

    async fn initialize(&mut self, version: &str) -> Value {
        let params = json!({
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}
        });
        let response = self.call(1, "initialize", params).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        response
    }

    async fn tool(&mut self, id: u64, name: &str, arguments: Value) -> Value {
        let response = self
            .call(
                id,
                "tools/call",
                json!({"name": name, "arguments": arguments}),
            )
            .await;
        response["result"].clone()
    }

    async fn event(&mut self) -> &'static str {
        self.events.recv().await.expect("the backend is alive")
    }

    /// Closes the input and waits for the server to finish; the messages it still wrote.
    async fn close(mut self) -> Vec<Value> {
        // Dropping the write half alone would leave the pipe open: shut it down.
        let mut write = self.write.take().expect("closed once");
        write.shutdown().await.unwrap();
        let mut rest = Vec::new();
        while let Some(line) = self.read.next_line().await.unwrap() {
            rest.push(serde_json::from_str(&line).unwrap());
        }
        self.server
            .await
            .unwrap()
            .expect("serving ends cleanly at the end of the input");
        rest
    }
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {result}"))
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {response}"))
}

#[tokio::test]
async fn initialize_answers_a_known_version_with_it_and_others_with_the_latest() {
    let mut client = Client::start();
    let result = client.initialize("2025-06-18").await["result"].clone();
    assert_eq!(result["protocolVersion"], json!("2025-06-18"));
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": false}})
    );
    assert_eq!(result["serverInfo"]["name"], json!("polyhost-mcp"));
    assert!(result.get("instructions").is_none());
    let mut other = Client::start();
    let result = other.initialize("2099-01-01").await["result"].clone();
    assert_eq!(result["protocolVersion"], json!(LATEST_PROTOCOL_VERSION));
    assert_eq!(client.call(2, "ping", json!({})).await["result"], json!({}));
    assert!(client.close().await.is_empty());
    other.close().await;
}

#[tokio::test]
async fn tools_list_describes_every_tool() {
    let mut client = Client::initialized().await;
    let tools = client.call(2, "tools/list", json!({})).await["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["greet", "crash", "wait", "panic"]);
    let greet = &tools[0];
    assert_eq!(greet["description"], json!("the greet tool"));
    assert_eq!(greet["inputSchema"], greet_schema());
    assert_eq!(
        greet["outputSchema"]["properties"]["greeting"],
        json!({"type": "string"})
    );
    assert_eq!(greet["annotations"], json!({"idempotentHint": true}));
    assert!(tools[1].get("outputSchema").is_none());
    assert_eq!(tools[1]["annotations"], json!({"idempotentHint": false}));
    let paged = client.call(3, "tools/list", json!({"cursor": "2"})).await;
    assert_eq!(error_code(&paged), -32602);
    client.close().await;
}

#[tokio::test]
async fn an_older_client_gets_neither_annotations_nor_structured_content() {
    let mut client = Client::start();
    client.initialize("2024-11-05").await;
    let tools = client.call(2, "tools/list", json!({})).await["result"]["tools"].clone();
    assert!(tools[0].get("annotations").is_none() && tools[0].get("outputSchema").is_none());
    let result = client.tool(3, "greet", json!({"name": "Ada"})).await;
    assert!(result.get("structuredContent").is_none(), "{result}");
    assert_eq!(text(&result), r#"{"greeting":"Hello, Ada!"}"#);
    client.close().await;
}

#[tokio::test]
async fn a_call_returns_its_result_as_text_and_structured_content() {
    let mut client = Client::initialized().await;
    let result = client.tool(2, "greet", json!({"name": "Ada"})).await;
    assert_eq!(result["isError"], json!(false));
    assert_eq!(
        result["structuredContent"],
        json!({"greeting": "Hello, Ada!"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(text(&result)).unwrap(),
        result["structuredContent"]
    );
    client.close().await;
}

#[tokio::test]
async fn invalid_arguments_are_an_error_result_naming_the_field() {
    let mut client = Client::initialized().await;
    let wrong_type = client.tool(2, "greet", json!({"name": 42})).await;
    assert_eq!(wrong_type["isError"], json!(true));
    assert!(
        text(&wrong_type).contains("/name: 42 is not of type \"string\""),
        "{wrong_type}"
    );
    assert!(wrong_type.get("structuredContent").is_none());
    let missing = client.tool(3, "greet", json!({})).await;
    assert_eq!(missing["isError"], json!(true));
    assert!(
        text(&missing).contains("\"name\" is a required property"),
        "{missing}"
    );
    let not_object = client.tool(4, "greet", json!([1])).await;
    assert_eq!(not_object["isError"], json!(true));
    assert!(
        text(&not_object).contains("must be a JSON object"),
        "{not_object}"
    );
    let fine = client.tool(5, "greet", json!({"name": "Bo"})).await;
    assert_eq!(fine["isError"], json!(false));
    client.close().await;
}

#[tokio::test]
async fn a_failed_call_is_an_error_result_and_the_next_call_is_served() {
    let mut client = Client::initialized().await;
    let failed = client.tool(2, "crash", json!({})).await;
    assert_eq!(failed["isError"], json!(true));
    let message = text(&failed);
    assert!(
        message.contains("Tool `crash` failed: ZeroDivisionError"),
        "{message}"
    );
    assert!(
        message.contains("Guest traceback:\nTraceback (most recent call last)"),
        "{message}"
    );
    let panicked = client.tool(3, "panic", json!({})).await;
    assert_eq!(panicked["isError"], json!(true));
    assert!(text(&panicked).contains("panicked"), "{panicked}");
    let fine = client.tool(4, "greet", json!({"name": "Cy"})).await;
    assert_eq!(fine["structuredContent"], json!({"greeting": "Hello, Cy!"}));
    client.close().await;
}

#[tokio::test]
async fn an_unknown_tool_is_an_invalid_params_error() {
    let mut client = Client::initialized().await;
    let response = client
        .call(2, "tools/call", json!({"name": "nope", "arguments": {}}))
        .await;
    assert_eq!(error_code(&response), -32602);
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"),
        "{response}"
    );
    let nameless = client.call(3, "tools/call", json!({"arguments": {}})).await;
    assert_eq!(error_code(&nameless), -32602);
    client.close().await;
}

#[tokio::test]
async fn malformed_messages_get_errors_and_serving_goes_on() {
    let mut client = Client::initialized().await;
    client
        .send_line("{\"jsonrpc\": \"2.0\", \"id\": 2, \"method\": ")
        .await;
    let parse = client.receive().await;
    assert_eq!(
        (error_code(&parse), &parse["id"]),
        (-32700, &Value::Null),
        "{parse}"
    );
    client.send_line("[]").await;
    assert_eq!(error_code(&client.receive().await), -32600);
    client.send_line(r#"{"id": 3, "method": "ping"}"#).await;
    let no_version = client.receive().await;
    assert_eq!(
        (error_code(&no_version), &no_version["id"]),
        (-32600, &json!(3))
    );
    client.send_line("").await;
    client.send_line("\u{feff}\u{0}").await;
    assert_eq!(error_code(&client.receive().await), -32700);
    client
        .send_line(&format!(
            "\"{}\"",
            "x".repeat(polyhost_mcp::MAX_MESSAGE_BYTES)
        ))
        .await;
    let long = client.receive().await;
    assert_eq!(error_code(&long), -32600);
    assert!(
        long["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than"),
        "{long}"
    );
    assert_eq!(client.call(4, "ping", json!({})).await["result"], json!({}));
    client.close().await;
}

#[tokio::test]
async fn an_unknown_method_is_method_not_found() {
    let mut client = Client::initialized().await;
    let response = client.call(2, "resources/list", json!({})).await;
    assert_eq!(error_code(&response), -32601);
    // Unknown notifications and stray responses get no answer.
    client
        .send(json!({"jsonrpc": "2.0", "method": "notifications/whatever"}))
        .await;
    client
        .send(json!({"jsonrpc": "2.0", "id": 99, "result": {}}))
        .await;
    assert_eq!(client.call(3, "ping", json!({})).await["result"], json!({}));
    client.close().await;
}

#[tokio::test]
async fn a_running_call_does_not_hold_up_other_requests() {
    let mut client = Client::initialized().await;
    client
        .request(2, "tools/call", json!({"name": "wait", "arguments": {}}))
        .await;
    assert_eq!(client.event().await, "started");
    assert_eq!(client.call(3, "ping", json!({})).await["result"], json!({}));
    let greet = client.tool(4, "greet", json!({"name": "Di"})).await;
    assert_eq!(greet["isError"], json!(false));
    client.gate.add_permits(1);
    let waited = client.receive().await;
    assert_eq!(waited["id"], json!(2));
    assert_eq!(
        waited["result"]["structuredContent"],
        json!({"waited": true})
    );
    client.close().await;
}

#[tokio::test]
async fn a_cancelled_call_is_dropped_and_never_answered() {
    let mut client = Client::initialized().await;
    client
        .request(2, "tools/call", json!({"name": "wait"}))
        .await;
    assert_eq!(client.event().await, "started");
    let cancel =
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 2}});
    client.send(cancel).await;
    assert_eq!(client.event().await, "dropped");
    assert_eq!(client.call(3, "ping", json!({})).await["result"], json!({}));
    assert_eq!(client.close().await, Vec::<Value>::new());
}

#[tokio::test]
async fn at_the_end_of_the_input_running_calls_still_get_their_answers() {
    let mut client = Client::initialized().await;
    client
        .request(2, "tools/call", json!({"name": "wait"}))
        .await;
    assert_eq!(client.event().await, "started");
    client.gate.add_permits(1);
    let rest = client.close().await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0]["id"], json!(2));
    assert_eq!(rest[0]["result"]["isError"], json!(false));
}

#[tokio::test]
async fn duplicate_tool_names_are_refused() {
    struct Twice;
    impl ToolBackend for Twice {
        fn tools(&self) -> Vec<Tool> {
            let tool = Tool {
                name: "same".into(),
                description: None,
                input_schema: json!({"type": "object"}),
                output_schema: None,
                idempotent: false,
            };
            vec![tool.clone(), tool]
        }
        fn call(&self, _: &str, _: Value) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
            unreachable!("never served")
        }
    }
    let (_, server) = tokio::io::duplex(1024);
    let (read, write) = tokio::io::split(server);
    let error = serve(Twice, read, write).await.unwrap_err();
    assert!(
        matches!(&error, ServeError::DuplicateTool { name } if name == "same"),
        "{error}"
    );
}

#[tokio::test]
async fn hostile_lines_are_each_answered_with_an_error() {
    let mut client = Client::initialized().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"greet","arguments":{}{}}}}}"#,
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let hostile = [
        deep.as_str(),
        deep_params.as_str(),
        r#"{"jsonrpc":"2.0","id":1e999,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":"\ud800","method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
        r#"{"jsonrpc":2,"id":6,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":7}}"#,
    ];
    for line in hostile {
        client.send_line(line).await;
        let response = client.receive().await;
        assert!(response.get("error").is_some(), "{line:.80}: {response}");
    }
    client
        .write
        .as_mut()
        .unwrap()
        .write_all(b"\xff\xfe{\x00}\n")
        .await
        .unwrap();
    assert_eq!(error_code(&client.receive().await), -32700);
    assert_eq!(client.call(8, "ping", json!({})).await["result"], json!({}));
    client.close().await;
}
