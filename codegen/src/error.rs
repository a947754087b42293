//! Everything that can go wrong between a schema file and rendered bindings.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The schema compiler rejected a schema. Its own `file:line:col: message` lines
    /// went to stderr (cargo shows them above this error).
    #[error("the Cap'n Proto compiler rejected {files} ({detail}): see its `file:line:col: error` lines above; fix the schema and build again")]
    Compile { files: String, detail: String },

    #[error("schema file `{path}` cannot be read: {source}")]
    MissingSchema {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("no schema files given: call `.schema(\"schema/foo.capnp\")` or `.schema_dir(\"schema\")` on the builder")]
    NoSchemas,

    #[error("invalid CodeGeneratorRequest: {0}")]
    Request(#[from] capnp::Error),

    #[error("invalid CodeGeneratorRequest: {0}")]
    NotInSchema(#[from] capnp::NotInSchema),

    #[error("invalid CodeGeneratorRequest: {0}")]
    Utf8(#[from] std::str::Utf8Error),

    #[error("invalid CodeGeneratorRequest: node {id:#x} is referenced but not declared")]
    UnknownNode { id: u64 },

    #[error("schema error: {message}")]
    Schema { message: String },

    #[error("no bundled guest target for `{language}`: polyhost ships {available}; for another language pass its template folder to `guest_target(dir, out_dir)`")]
    UnknownGuest { language: String, available: String },

    #[error("target `{target}`: {message}")]
    Target { target: String, message: String },

    /// A template printed or tested a variable the view does not have (templates render
    /// in strict mode).
    #[error("target `{target}`: template `{template}` line {line}, column {column}: `{variable}` is not in the view; fix the spelling, or see the target README for the variables each context has")]
    MissingVariable {
        target: String,
        template: String,
        line: usize,
        column: usize,
        variable: String,
    },

    #[error("target `{target}`: template `{template}` line {line} failed: {source}")]
    Render {
        target: String,
        template: String,
        line: usize,
        source: Box<handlebars::RenderError>,
    },

    #[error("target `{target}`: template `{template}` does not parse: {source}")]
    Template {
        target: String,
        template: String,
        source: Box<handlebars::TemplateError>,
    },

    #[error("cannot write `{path}`: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("capnpc could not generate the raw Rust module: {0}")]
    Capnpc(String),

    /// A construct capnpc cannot generate (see `refusals.rs`). `place` is
    /// `Struct.field` (nested scopes joined by `.`), or a constant's name.
    #[error("{schema}: {place}: {what} is unsupported by the Rust target")]
    RustUnsupported {
        schema: String,
        place: String,
        what: String,
    },
}
