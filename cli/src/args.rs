//! The command line, parsed by hand (three subcommands and a few flags need no parser
//! crate): what each subcommand was asked to do, or a usage error.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage:
  polyhost schema FILE.capnp [Interface.method]
      prints the JSON Schemas of the params and results of the file's $worker methods
  polyhost call FILE.capnp Interface.method JSON --plugin ENTRY
                [--adapter python|node|ruby] [--module-path DIR]... [--timeout-ms N]
      starts the plugin, calls the method with the JSON params and prints the results
      (a streaming method's items as JSON lines)
  polyhost mcp FILE.capnp --plugin ENTRY
                [--adapter python|node|ruby] [--module-path DIR]... [--timeout-ms N]
      serves the file's $worker methods as the tools of a Model Context Protocol
      server on stdin/stdout (tool `Interface_method`), calling the plugin's workers

exit status: 0 done; 2 usage error or params that do not match the method's schema
(nothing is sent); 1 any other failure (schema, unknown method, worker error).";

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Schema {
        file: PathBuf,
        method: Option<String>,
    },
    Call(CallArgs),
    Mcp(McpArgs),
    Help,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallArgs {
    pub file: PathBuf,
    pub method: String,
    pub params: String,
    pub plugin: PluginArgs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct McpArgs {
    pub file: PathBuf,
    pub plugin: PluginArgs,
}

/// The flags that say how to start a plugin (`call` and `mcp`).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginArgs {
    pub entry: String,
    pub adapter: String,
    pub module_paths: Vec<PathBuf>,
    pub timeout_ms: Option<u64>,
}

/// What was wrong with the command line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}\n\n{USAGE}")]
pub struct UsageError(String);

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some(sub) = args.first() else {
        return Err(usage("no subcommand given"));
    };
    let rest = &args[1..];
    match sub.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "schema" => match rest {
            [file] => Ok(Command::Schema {
                file: file.into(),
                method: None,
            }),
            [file, method] => Ok(Command::Schema {
                file: file.into(),
                method: Some(method.clone()),
            }),
            _ => Err(usage(
                "`schema` takes FILE.capnp and, optionally, Interface.method",
            )),
        },
        "call" => {
            let (positional, plugin) = plugin_flags("call", rest)?;
            let [file, method, params] = <[String; 3]>::try_from(positional).map_err(|_| {
                usage("`call` takes FILE.capnp, Interface.method and the params as JSON")
            })?;
            Ok(Command::Call(CallArgs {
                file: file.into(),
                method,
                params,
                plugin,
            }))
        }
        "mcp" => {
            let (positional, plugin) = plugin_flags("mcp", rest)?;
            let [file] =
                <[String; 1]>::try_from(positional).map_err(|_| usage("`mcp` takes FILE.capnp"))?;
            Ok(Command::Mcp(McpArgs {
                file: file.into(),
                plugin,
            }))
        }
        other => Err(usage(format!("unknown subcommand `{other}`"))),
    }
}

/// The positional arguments of `sub` and its plugin flags.
fn plugin_flags(sub: &str, args: &[String]) -> Result<(Vec<String>, PluginArgs), UsageError> {
    let mut positional = Vec::new();
    let mut entry = None;
    let mut adapter = None;
    let mut module_paths = Vec::new();
    let mut timeout_ms = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| usage(format!("{flag} needs a value")))
        };
        match arg.as_str() {
            "--plugin" => entry = Some(value("--plugin")?),
            "--adapter" => adapter = Some(value("--adapter")?),
            "--module-path" => module_paths.push(PathBuf::from(value("--module-path")?)),
            "--timeout-ms" => {
                let v = value("--timeout-ms")?;
                timeout_ms =
                    Some(v.parse().map_err(|_| {
                        usage(format!("--timeout-ms takes milliseconds, not `{v}`"))
                    })?);
            }
            flag if flag.starts_with("--") => {
                return Err(usage(format!("unknown option `{flag}`")))
            }
            _ => positional.push(arg.clone()),
        }
    }
    let entry =
        entry.ok_or_else(|| usage(format!("`{sub}` needs --plugin ENTRY (`module:factory`)")))?;
    let adapter = adapter.unwrap_or_else(|| "python".into());
    if !matches!(adapter.as_str(), "python" | "node" | "ruby") {
        return Err(usage(format!(
            "--adapter is python, node or ruby, not `{adapter}`"
        )));
    }
    Ok((
        positional,
        PluginArgs {
            entry,
            adapter,
            module_paths,
            timeout_ms,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn call_takes_three_positionals_and_repeated_module_paths() {
        let c = parse(&args(
            "call g.capnp Greeter.greet {} --plugin p:make --module-path a --module-path b",
        ))
        .unwrap();
        let Command::Call(c) = c else { panic!() };
        assert_eq!(c.plugin.adapter, "python");
        assert_eq!(
            c.plugin.module_paths,
            [PathBuf::from("a"), PathBuf::from("b")]
        );
        assert_eq!(c.params, "{}");
    }

    #[test]
    fn mcp_takes_the_schema_file_and_the_plugin_flags() {
        let c = parse(&args("mcp g.capnp --plugin p:make --adapter node")).unwrap();
        let Command::Mcp(c) = c else { panic!() };
        assert_eq!(c.file, PathBuf::from("g.capnp"));
        assert_eq!(c.plugin.adapter, "node");
        let e = parse(&args("mcp g.capnp")).unwrap_err();
        assert!(e.to_string().contains("`mcp` needs --plugin"), "{e}");
        assert!(parse(&args("mcp --plugin p:make")).is_err());
    }

    #[test]
    fn usage_errors_say_what_is_missing() {
        let e = parse(&args("call g.capnp Greeter.greet {}")).unwrap_err();
        assert!(e.to_string().contains("--plugin"), "{e}");
        let e = parse(&args("call g.capnp X.y {} --plugin p --adapter perl")).unwrap_err();
        assert!(e.to_string().contains("perl"), "{e}");
        assert!(parse(&args("frobnicate")).is_err());
        assert!(parse(&[]).is_err());
    }
}
