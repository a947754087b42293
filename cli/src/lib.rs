//! polyhost-cli: the `polyhost` command's parts, as a library so other front ends
//! (and subcommands) reuse them: `plugin` (a schema file's methods as tools, and a
//! running plugin called by name with JSON), `mcp` (a running plugin as the tools of a
//! Model Context Protocol server) and `args` (the command line).

pub mod args;
pub mod mcp;
pub mod plugin;
