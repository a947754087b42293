//! The JSON mapping for generated owned types: their `serde` and `schemars` impls call
//! these, so a typed value serialises exactly as the dynamic path decodes the same
//! message, deserialises by the same strict rules, and reports the JSON Schema that
//! `call_json` validates against. One implementation of the mapping serves both.
//!
//! A value goes through a capnp message: serialising encodes it (`Struct::write`) and
//! decodes the message to JSON with the schema embedded in the bindings
//! (`Bindings::schema_request`); deserialising does the reverse.

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::json::model::Schema;
use crate::rpc::codec::{self, Struct};

/// `Serialize` for the generated struct `T`, whose schema node is `id`.
pub fn serialize<T: Struct, S: Serializer>(
    value: &T,
    request: &'static [u8],
    id: u64,
    s: S,
) -> Result<S::Ok, S::Error> {
    let schema = Schema::embedded(request).map_err(S::Error::custom)?;
    let message = codec::to_message(value).map_err(S::Error::custom)?;
    let root = message
        .get_root_as_reader::<capnp::any_pointer::Reader<'_>>()
        .map_err(S::Error::custom)?;
    let json = crate::json::decode::struct_at(&schema, id, root).map_err(S::Error::custom)?;
    json.serialize(s)
}

/// `Deserialize` for the generated struct `T`, whose schema node is `id`.
pub fn deserialize<'de, T: Struct, D: Deserializer<'de>>(
    request: &'static [u8],
    id: u64,
    d: D,
) -> Result<T, D::Error> {
    let json = serde_json::Value::deserialize(d)?;
    let schema = Schema::embedded(request).map_err(D::Error::custom)?;
    let mut message = capnp::message::Builder::new_default();
    crate::json::encode::struct_into(&schema, id, &json, message.init_root())
        .map_err(D::Error::custom)?;
    codec::from_message(&message.into_reader()).map_err(D::Error::custom)
}

/// `JsonSchema::json_schema` for the generated struct whose schema node is `id`: a
/// reference to its definition, which is added to the generator's definitions with
/// every type it uses.
pub fn json_schema(
    request: &'static [u8],
    id: u64,
    g: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    let schema = match Schema::embedded(request) {
        Ok(s) => s,
        Err(e) => {
            return schemars::json_schema!({ "description": format!("the embedded schema cannot be read: {e}") })
        }
    };
    let path = g.settings().definitions_path.to_string();
    let prefix = format!("#{}/", path.trim_end_matches('/'));
    let defs = crate::json::json_schema::definitions(&schema, id, true);
    let name = crate::json::json_schema::name_of(&schema, id);
    for (key, def) in defs {
        let text = def
            .to_string()
            .replace(crate::json::json_schema::DEFS, &prefix);
        let def: serde_json::Value = serde_json::from_str(&text).unwrap_or(def);
        g.definitions_mut().entry(key).or_insert(def);
    }
    schemars::Schema::try_from(serde_json::json!({ "$ref": format!("{prefix}{name}") }))
        .unwrap_or_default()
}
