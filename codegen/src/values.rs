//! Schema values (defaults, constants, annotation arguments) -> IR `Value`s: numbers
//! as they are, floats with their bits and text, struct and list values as canonical
//! messages in hex.

use capnp::schema_capnp::value;

use crate::error::CodegenError;
use crate::ir::Value;

/// A schema value (a default, a constant, an annotation's argument) as an IR value.
pub fn value(v: value::Reader<'_>) -> Result<Value, CodegenError> {
    use value::Which as W;
    fn float(bits: u64, f: f64) -> Value {
        let text = if f.is_nan() {
            "nan".to_string()
        } else if f.is_infinite() {
            if f > 0.0 {
                "inf".into()
            } else {
                "-inf".into()
            }
        } else {
            format!("{f:?}")
        };
        Value::Float { bits, text }
    }
    Ok(match v.which()? {
        W::Void(()) => Value::None,
        W::Bool(b) => Value::Bool(b),
        W::Int8(i) => Value::Int(i.into()),
        W::Int16(i) => Value::Int(i.into()),
        W::Int32(i) => Value::Int(i.into()),
        W::Int64(i) => Value::Int(i),
        W::Uint8(i) => Value::UInt(i.into()),
        W::Uint16(i) => Value::UInt(i.into()),
        W::Uint32(i) => Value::UInt(i.into()),
        W::Uint64(i) => Value::UInt(i),
        W::Float32(f) => float(f.to_bits().into(), f.into()),
        W::Float64(f) => float(f.to_bits(), f),
        W::Text(t) => match t {
            Ok(t) => Value::Text(t.to_str()?.to_string()),
            Err(_) => Value::None,
        },
        W::Data(d) => Value::Data(d?.to_vec()),
        W::Enum(e) => Value::Enum(e),
        W::Struct(p) | W::List(p) => {
            if p.is_null() {
                Value::None
            } else {
                Value::Pointer(canonical_hex(p)?)
            }
        }
        W::Interface(()) | W::AnyPointer(_) => Value::None,
    })
}

/// A struct or list value as a canonical single-segment message, in hex.
fn canonical_hex(p: capnp::any_pointer::Reader<'_>) -> Result<String, CodegenError> {
    let mut message = capnp::message::Builder::new_default();
    message.set_root_canonical(p)?;
    let segments = message.get_segments_for_output();
    let mut hex = String::new();
    for byte in segments[0] {
        hex.push_str(&format!("{byte:02x}"));
    }
    Ok(hex)
}
