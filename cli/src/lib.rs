//! polyhost-cli: the `polyhost` command's parts, as a library so other front ends
//! (and subcommands) reuse them: `plugin` (a schema file's methods as tools, and a
//! running plugin called by name with JSON) and `args` (the command line).

pub mod args;
pub mod plugin;
