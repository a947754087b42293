//! Dynamic calls: calling a worker's method by name with JSON, with no generated Rust
//! for its schema, and the JSON mapping the generated owned types share.
//!
//! A layer above the pool (it sends through the pool's one call path). Its modules:
//! - `model`: the schema model read from a CodeGeneratorRequest (types, layouts,
//!   defaults, doc comments, `$idempotent` / `$timeoutMs`);
//! - `generics`: generic structs, instantiated with their bound types;
//! - `raw`: untyped struct access at capnp's layout level;
//! - `encode` (JSON -> capnp) and `decode` (capnp -> JSON), `base64` for Data;
//! - `json_schema`: the JSON Schemas of the mapping; `validate`: checking params
//!   against them (`jsonschema`);
//! - `call`: [`Pool::call_json`](crate::Pool::call_json), the entry point;
//! - `typed`: the serde / schemars impls of generated owned types.
//!
//! The mapping (also in the crate README): struct -> object keyed by the schema's
//! field names, every field present on output and optional on input (omitted means
//! the default), unknown fields refused; a union -> its one member present (none given:
//! the first member's default); a group -> a nested object; Void -> null; Int64 and
//! UInt64 -> a number within ±(2^53 - 1), else a decimal string (both accepted on
//! input); Float32/64 -> a number, or "NaN" / "Infinity" / "-Infinity"; Data -> base64
//! (standard alphabet, padded); enum -> the enumerant's name; an absent struct -> null;
//! capabilities and AnyPointer -> refused (the typed API carries them); a `Sink(T)`
//! param is left out (the call fills it, and its items are the call's JSON stream).

pub(crate) mod base64;
mod call;
pub mod decode;
pub mod encode;
pub mod generics;
pub mod json_schema;
pub mod model;
mod raw;
pub mod typed;
pub mod validate;

use crate::error::CallError;

pub use decode::DecodeError;
pub use encode::EncodeError;
pub use model::{Schema, SchemaError};
pub use validate::Invalid;

/// The items of a method with a `Sink(T)` param, as JSON values.
pub type JsonStream = crate::rpc::stream::ItemStream<serde_json::Value>;

/// What a dynamic call returned.
pub enum JsonReply {
    /// The results struct, as a JSON object.
    Value(serde_json::Value),
    /// The items the worker streamed into the method's `Sink(T)` param; the stream
    /// ends when the producer ends it, or yields the call's error last.
    Stream(JsonStream),
}

impl std::fmt::Debug for JsonReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonReply::Value(v) => f.debug_tuple("Value").field(v).finish(),
            JsonReply::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// Why a dynamic call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum JsonCallError {
    /// The method is not in the schema (or the schema cannot be read).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{method}: this pool has no schema to call by name; build it with `.bindings(&<schema>::BINDINGS)`")]
    NoBindings { method: String },
    /// The params do not match the method's params JSON Schema; nothing was sent.
    #[error(
        "{method}: the params do not match its JSON Schema (nothing was sent):\n{}",
        list(errors)
    )]
    Invalid {
        method: String,
        errors: Vec<Invalid>,
    },
    /// The params passed validation but cannot be encoded (a decimal string beyond
    /// the integer's range, say); nothing was sent.
    #[error("{method}: {source} (nothing was sent)")]
    Encode { method: String, source: EncodeError },
    /// The results cannot be written as JSON (a capability in them).
    #[error("{method}: {source}")]
    Decode { method: String, source: DecodeError },
    /// The call itself failed, as a typed call would have (a worker's exception with
    /// its traceback, a crash, a timeout).
    #[error(transparent)]
    Call(#[from] CallError),
}

fn list(errors: &[Invalid]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
