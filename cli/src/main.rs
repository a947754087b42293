//! `polyhost`: the JSON Schemas of a plugin's methods (`schema`), calls by name with
//! JSON (`call`) and a Model Context Protocol server over a plugin (`mcp`). Parsing is
//! in `args`, everything about schemas and workers in `plugin`, the MCP tools in `mcp`;
//! this file runs a subcommand and maps its outcome to output and an exit status (0
//! done, 2 usage or invalid params, 1 any other failure).

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use polyhost::{CallError, CallOptions, JsonCallError, JsonReply};
use serde_json::Value;

use polyhost_cli::args::{self, CallArgs, Command, McpArgs, PluginArgs};
use polyhost_cli::mcp::PluginTools;
use polyhost_cli::plugin::{Plugin, PluginOptions, SchemaFile};

/// Usage errors and params that do not match the method's schema.
const INVALID: u8 = 2;
const FAILED: u8 = 1;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(INVALID);
        }
    };
    match command {
        Command::Help => {
            println!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Command::Schema { file, method } => schema(&file, method.as_deref()),
        Command::Call(call_args) => run(call(call_args)),
        Command::Mcp(mcp_args) => run(mcp(mcp_args)),
    }
}

/// Runs a subcommand on an async runtime.
fn run(subcommand: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(subcommand),
        Err(e) => {
            eprintln!("polyhost: cannot start the async runtime: {e}");
            ExitCode::from(FAILED)
        }
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("\"{e}\""))
    );
}

fn schema(file: &std::path::Path, method: Option<&str>) -> ExitCode {
    let loaded = match SchemaFile::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let tools = match method {
        None => loaded.tools(),
        Some(name) => match loaded.tool(name) {
            Ok(t) => vec![t],
            Err(e) => {
                eprintln!("polyhost: {e}");
                return ExitCode::from(FAILED);
            }
        },
    };
    let out: Vec<Value> = tools
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .collect();
    print_json(&if method.is_some() {
        out.into_iter().next().unwrap_or(Value::Null)
    } else {
        Value::Array(out)
    });
    ExitCode::SUCCESS
}

async fn call(a: CallArgs) -> ExitCode {
    let params: Value = match serde_json::from_str(&a.params) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("polyhost: the params are not JSON ({e}); nothing was sent");
            return ExitCode::from(INVALID);
        }
    };
    let loaded = match SchemaFile::load(&a.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    // Unknown methods and invalid params are refused before any worker starts.
    let method = match loaded.schema.method(&a.method) {
        Ok(m) => m.clone(),
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    if let Err(errors) = polyhost::json::validate::check(&loaded.schema, method.params, &params) {
        eprintln!(
            "polyhost: {}",
            JsonCallError::Invalid {
                method: a.method.clone(),
                errors
            }
        );
        return ExitCode::from(INVALID);
    }
    let plugin = match Plugin::start(loaded, plugin_options(&a.plugin)).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let call_options = CallOptions {
        timeout: a.plugin.timeout_ms.map(Duration::from_millis),
        ..Default::default()
    };
    let code = match plugin.call(&a.method, params, call_options).await {
        Ok(JsonReply::Value(v)) => {
            print_json(&v);
            ExitCode::SUCCESS
        }
        Ok(JsonReply::Stream(mut items)) => {
            let mut code = ExitCode::SUCCESS;
            while let Some(item) = items.next().await {
                match item {
                    Ok(v) => println!("{v}"),
                    Err(e) => {
                        report(&JsonCallError::Call(e));
                        code = ExitCode::from(FAILED);
                        break;
                    }
                }
            }
            code
        }
        Err(e @ (JsonCallError::Invalid { .. } | JsonCallError::Encode { .. })) => {
            eprintln!("polyhost: {e}");
            ExitCode::from(INVALID)
        }
        Err(e) => {
            report(&e);
            ExitCode::from(FAILED)
        }
    };
    plugin.shutdown().await;
    code
}

fn plugin_options(a: &PluginArgs) -> PluginOptions {
    PluginOptions {
        entry: a.entry.clone(),
        adapter: a.adapter.clone(),
        module_paths: a.module_paths.clone(),
        size: 1,
    }
}

/// Serves the plugin's methods as MCP tools on stdin/stdout until stdin ends.
async fn mcp(a: McpArgs) -> ExitCode {
    let loaded = match SchemaFile::load(&a.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let plugin = match Plugin::start(loaded, plugin_options(&a.plugin)).await {
        Ok(p) => std::sync::Arc::new(p),
        Err(e) => {
            eprintln!("polyhost: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let timeout = a.plugin.timeout_ms.map(Duration::from_millis);
    let info = polyhost_mcp::ServerInfo {
        name: "polyhost".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instructions: None,
    };
    let served = polyhost_mcp::serve_stdio(info, PluginTools::new(plugin.clone(), timeout)).await;
    plugin.pool().shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("polyhost: {e}");
            ExitCode::from(FAILED)
        }
    }
}

/// A failed call, with the guest's traceback when it raised.
fn report(e: &JsonCallError) {
    eprintln!("polyhost: {e}");
    if let JsonCallError::Call(CallError::Remote { traceback, .. }) = e {
        if !traceback.is_empty() {
            eprintln!("{}", traceback.trim_end());
        }
    }
}
