//! The command line, parsed by hand (two subcommands and a few flags need no parser
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

exit status: 0 done; 2 usage error or params that do not match the method's schema
(nothing is sent); 1 any other failure (schema, unknown method, worker error).";

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Schema {
        file: PathBuf,
        method: Option<String>,
    },
    Call(CallArgs),
    Help,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallArgs {
    pub file: PathBuf,
    pub method: String,
    pub params: String,
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
        "call" => parse_call(rest),
        other => Err(usage(format!("unknown subcommand `{other}`"))),
    }
}

fn parse_call(args: &[String]) -> Result<Command, UsageError> {
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
    let [file, method, params] = <[String; 3]>::try_from(positional)
        .map_err(|_| usage("`call` takes FILE.capnp, Interface.method and the params as JSON"))?;
    let entry = entry.ok_or_else(|| usage("`call` needs --plugin ENTRY (`module:factory`)"))?;
    let adapter = adapter.unwrap_or_else(|| "python".into());
    if !matches!(adapter.as_str(), "python" | "node" | "ruby") {
        return Err(usage(format!(
            "--adapter is python, node or ruby, not `{adapter}`"
        )));
    }
    Ok(Command::Call(CallArgs {
        file: file.into(),
        method,
        params,
        entry,
        adapter,
        module_paths,
        timeout_ms,
    }))
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
        assert_eq!(c.adapter, "python");
        assert_eq!(c.module_paths, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(c.params, "{}");
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
