//! JSON Schemas (draft 2020-12) of the JSON mapping: what call_json validates params
//! against, what `polyhost schema` prints, and what the generated owned types report
//! through `schemars`. Every struct and enum is a definition under `$defs`, named by
//! its qualified schema name (`Shape.Style`), so recursive types need nothing special.

use serde_json::{json, Map, Value};

use crate::json::decode::{float_value, int_value, MAX_SAFE_INTEGER};
use crate::json::generics::reachable;
use crate::json::model::{Field, FieldKind, Schema, StructSchema, Type};

/// Where definitions live in a document.
pub const DEFS: &str = "#/$defs/";

/// A document for struct `id` (a method's params or results): the struct's own
/// schema at the root, every type it uses under `$defs`.
pub fn document(schema: &Schema, id: u64) -> Value {
    let mut root = match schema.structs.get(&id) {
        Some(s) => struct_schema(schema, s, false),
        None => json!({ "description": format!("struct {id:#x} is not in the schema") }),
    };
    let defs = definitions(schema, id, false);
    if let Value::Object(o) = &mut root {
        o.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        if !defs.is_empty() {
            o.insert("$defs".into(), Value::Object(defs));
        }
    }
    root
}

/// The definitions of every type reachable from `id` (itself included when
/// `with_root`), by name.
pub fn definitions(schema: &Schema, id: u64, with_root: bool) -> Map<String, Value> {
    let mut defs = Map::new();
    for (&t, ()) in &reachable(schema, id) {
        if t == id && !with_root {
            continue;
        }
        if let Some(s) = schema.structs.get(&t) {
            if !s.is_group {
                defs.insert(s.name.clone(), struct_schema(schema, s, true));
            }
        } else if let Some(e) = schema.enums.get(&t) {
            let mut d = json!({ "type": "string", "enum": e.enumerants });
            describe(&mut d, &e.doc);
            defs.insert(e.name.clone(), d);
        }
    }
    defs
}

/// The name under `$defs` of struct or enum `id`.
pub fn name_of(schema: &Schema, id: u64) -> String {
    schema
        .structs
        .get(&id)
        .map(|s| s.name.clone())
        .or_else(|| schema.enums.get(&id).map(|e| e.name.clone()))
        .unwrap_or_else(|| format!("{id:#x}"))
}

fn describe(v: &mut Value, doc: &str) {
    if let (Value::Object(o), false) = (v, doc.is_empty()) {
        o.insert("description".into(), doc.into());
    }
}

/// A struct's schema: an object of its fields, none required, no others allowed, at
/// most one member of its union; `nullable` (a definition, which struct fields refer
/// to) also allows null, an absent struct.
pub fn struct_schema(schema: &Schema, s: &StructSchema, nullable: bool) -> Value {
    let mut properties = Map::new();
    for f in s.fields.iter().filter(|f| !f.is_sink()) {
        properties.insert(f.name.clone(), field_schema(schema, f));
    }
    let mut out = json!({
        "type": if nullable { json!(["object", "null"]) } else { json!("object") },
        "properties": properties,
        "additionalProperties": false,
    });
    describe(&mut out, &s.doc);
    let members: Vec<&str> = s.union_members().map(|f| f.name.as_str()).collect();
    if members.len() > 1 {
        let each: Vec<Value> = members
            .iter()
            .map(|m| json!({ "type": "object", "required": [m] }))
            .collect();
        let mut one_of = each.clone();
        one_of.push(json!({ "not": { "anyOf": each } }));
        out["oneOf"] = Value::Array(one_of);
        let note = format!("At most one of {} (the union).", members.join(", "));
        let doc = if s.doc.is_empty() {
            note
        } else {
            format!("{}\n\n{note}", s.doc)
        };
        out["description"] = doc.into();
    }
    out
}

fn field_schema(schema: &Schema, f: &Field) -> Value {
    let mut v = match &f.kind {
        FieldKind::Group(id) => match schema.structs.get(id) {
            Some(g) => struct_schema(schema, g, false),
            None => json!({}),
        },
        FieldKind::Inline(g) => struct_schema(schema, g, false),
        FieldKind::Slot {
            ty, bits, default, ..
        } => {
            let mut v = type_schema(schema, ty);
            let d = default
                .clone()
                .or_else(|| primitive_default(schema, ty, *bits));
            if let (Value::Object(o), Some(d)) = (&mut v, d) {
                o.insert("default".into(), d);
            }
            v
        }
    };
    describe(&mut v, &f.doc);
    v
}

/// A primitive field's default as JSON (none when it is the type's zero).
fn primitive_default(schema: &Schema, ty: &Type, bits: u64) -> Option<Value> {
    if bits == 0 {
        return None;
    }
    Some(match ty {
        Type::Bool => Value::Bool(true),
        Type::Int8 => Value::from(bits as i8),
        Type::Int16 => Value::from(bits as i16),
        Type::Int32 => Value::from(bits as i32),
        Type::Int64 => int_value((bits as i64).into()),
        Type::UInt8 => Value::from(bits as u8),
        Type::UInt16 => Value::from(bits as u16),
        Type::UInt32 => Value::from(bits as u32),
        Type::UInt64 => int_value(bits.into()),
        Type::Float32 => float_value(f32::from_bits(bits as u32).into()),
        Type::Float64 => float_value(f64::from_bits(bits)),
        Type::Enum(id) => schema
            .enums
            .get(id)
            .and_then(|e| e.enumerants.get(bits as usize))
            .map(|n| Value::String(n.clone()))?,
        _ => return None,
    })
}

fn integer(min: i128, max: i128) -> Value {
    json!({ "type": "integer", "minimum": min, "maximum": max })
}

/// The schema of one type.
pub fn type_schema(schema: &Schema, ty: &Type) -> Value {
    match ty {
        Type::Void => json!({ "type": "null" }),
        Type::Bool => json!({ "type": "boolean" }),
        Type::Int8 => integer(i8::MIN.into(), i8::MAX.into()),
        Type::Int16 => integer(i16::MIN.into(), i16::MAX.into()),
        Type::Int32 => integer(i32::MIN.into(), i32::MAX.into()),
        Type::UInt8 => integer(0, u8::MAX.into()),
        Type::UInt16 => integer(0, u16::MAX.into()),
        Type::UInt32 => integer(0, u32::MAX.into()),
        Type::Int64 => json!({
            "description": format!("Int64: a number, or a decimal string (written as a string beyond ±{MAX_SAFE_INTEGER})"),
            "anyOf": [
                integer(i64::MIN.into(), i64::MAX.into()),
                { "type": "string", "pattern": "^-?[0-9]+$" }
            ]
        }),
        Type::UInt64 => json!({
            "description": format!("UInt64: a number, or a decimal string (written as a string beyond {MAX_SAFE_INTEGER})"),
            "anyOf": [
                integer(0, u64::MAX.into()),
                { "type": "string", "pattern": "^[0-9]+$" }
            ]
        }),
        Type::Float32 | Type::Float64 => json!({
            "anyOf": [
                { "type": "number" },
                { "enum": ["NaN", "Infinity", "-Infinity"] }
            ]
        }),
        Type::Text => json!({ "type": "string" }),
        Type::Data => json!({
            "type": "string",
            "contentEncoding": "base64",
            "pattern": crate::json::base64::PATTERN,
        }),
        Type::Enum(id) => json!({ "$ref": format!("{DEFS}{}", name_of(schema, *id)) }),
        // The definition allows null: an absent struct.
        Type::Struct(id) => json!({ "$ref": format!("{DEFS}{}", name_of(schema, *id)) }),
        Type::List(item) => json!({ "type": "array", "items": type_schema(schema, item) }),
        // Described inline, with its parameters bound (a recursive generic struct
        // stops being described after a few levels).
        Type::Branded(..) => {
            thread_local!(static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
            let depth = DEPTH.with(|d| d.replace(d.get() + 1));
            let out = match schema.struct_of(ty) {
                Ok(s) if depth < 8 => struct_schema(schema, &s, true),
                _ => json!({}),
            };
            DEPTH.with(|d| d.set(depth));
            out
        }
        Type::Interface(_) => json!({
            "type": "null",
            "description": "a capability: JSON cannot carry one (use the typed API)",
        }),
        Type::AnyPointer | Type::Param { .. } => json!({
            "type": "null",
            "description": "an AnyPointer or generic field: JSON cannot carry one (use the typed API)",
        }),
    }
}
