//! capnp -> JSON: a message read with the schema model into a `serde_json::Value`,
//! following the mapping in the crate README ("Dynamic calls and JSON"): every field
//! present (pointer defaults where the wire has null), the union as its one member,
//! 64-bit integers beyond 2^53 as decimal strings, Data as base64, enums by name,
//! non-finite floats as "NaN" / "Infinity" / "-Infinity". Capabilities are refused.

use capnp::private::layout::StructReader;
use capnp::{any_pointer, any_pointer_list, data_list, primitive_list, struct_list, text_list};
use serde_json::{Map, Value};

use crate::json::model::{FieldKind, Schema, StructSchema, Type};
use crate::json::raw::{AnyStruct, StructIn};

/// Integers beyond this magnitude are written as strings (JavaScript's safe range).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a message could not be turned into JSON.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("{pointer}: the results hold a capability, which JSON cannot carry; call this method through its typed client (promise pipelining is for the typed API)")]
    Capability { pointer: String },
    #[error("{pointer}: {what} has no JSON form; use the typed API")]
    Unsupported { pointer: String, what: &'static str },
    #[error(
        "{pointer}: enum value {value} is not in {name}; the worker was built from a newer schema"
    )]
    EnumValue {
        pointer: String,
        value: u16,
        name: String,
    },
    #[error("{pointer}: the message cannot be read: {message}")]
    Message { pointer: String, message: String },
}

type Result<T> = std::result::Result<T, DecodeError>;

fn message_error(pointer: &str) -> impl Fn(capnp::Error) -> DecodeError + '_ {
    move |e| DecodeError::Message {
        pointer: pointer.to_string(),
        message: e.to_string(),
    }
}

/// The struct `id` at `pointer` (a call's params or results) as JSON.
pub fn struct_at(schema: &Schema, id: u64, p: any_pointer::Reader<'_>) -> Result<Value> {
    let s = schema.struct_(id).map_err(message_error(""))?;
    let r = p.get_as::<StructIn<'_>>().map_err(message_error(""))?.0;
    Decoder::new(schema).struct_value(s, &r, "")
}

/// A list of `item` (a stream batch) as JSON values.
pub fn list_at(schema: &Schema, item: &Type, p: any_pointer::Reader<'_>) -> Result<Vec<Value>> {
    match Decoder::new(schema).list(item, p, "")? {
        Value::Array(items) => Ok(items),
        _ => Ok(vec![]),
    }
}

/// A pointer default (a message holding it at its root) as JSON.
pub(crate) fn decode_default(schema: &Schema, ty: &Type, bytes: &[u8]) -> capnp::Result<Value> {
    let mut slice = bytes;
    let message = capnp::serialize::read_message(&mut slice, Default::default())?;
    let root: any_pointer::Reader<'_> = message.get_root()?;
    Decoder::new(schema)
        .pointer(ty, root, "", None)
        .map_err(|e| capnp::Error::failed(e.to_string()))
}

struct Decoder<'s> {
    schema: &'s Schema,
    /// Zero-sized list elements this decode may still turn into JSON values: they take
    /// no bytes on the wire, so a tiny message could claim millions (the typed path's
    /// `codec::ZERO_SIZED_STRUCTS`, a `List(Void)` element counting 1/16).
    zero_sized_left: std::cell::Cell<u64>,
}

impl<'s> Decoder<'s> {
    fn new(schema: &'s Schema) -> Self {
        Decoder {
            schema,
            zero_sized_left: std::cell::Cell::new(crate::rpc::codec::ZERO_SIZED_STRUCTS),
        }
    }

    fn charge_zero_sized(&self, count: u32, at: &str) -> Result<()> {
        let left = self.zero_sized_left.get();
        if u64::from(count) > left {
            return Err(DecodeError::Message {
                pointer: at.into(),
                message: format!(
                    "more zero-sized list elements than one value may hold ({} at most)",
                    crate::rpc::codec::ZERO_SIZED_STRUCTS
                ),
            });
        }
        self.zero_sized_left.set(left - u64::from(count));
        Ok(())
    }
}

/// An integer as JSON: a number within 2^53, else a decimal string.
pub fn int_value(n: i128) -> Value {
    if n.unsigned_abs() <= u128::from(MAX_SAFE_INTEGER) {
        Value::from(n as i64)
    } else {
        Value::String(n.to_string())
    }
}

pub fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::String("NaN".into())
    } else if f.is_infinite() {
        Value::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

impl Decoder<'_> {
    fn struct_value(&self, s: &StructSchema, r: &StructReader<'_>, at: &str) -> Result<Value> {
        let mut out = Map::new();
        let which = s
            .discriminant_offset
            .map(|o| r.get_data_field::<u16>(o as usize));
        for f in &s.fields {
            if (f.discriminant.is_some() && f.discriminant != which) || f.is_sink() {
                continue;
            }
            let here = format!("{at}/{}", f.name);
            let v = match &f.kind {
                FieldKind::Group(id) => {
                    let g = self.schema.struct_(*id).map_err(message_error(&here))?;
                    self.struct_value(g, r, &here)?
                }
                FieldKind::Inline(g) => self.struct_value(g, r, &here)?,
                FieldKind::Slot {
                    offset,
                    ty,
                    bits,
                    default,
                    ..
                } => self.slot(r, *offset as usize, ty, *bits, default.as_ref(), &here)?,
            };
            out.insert(f.name.clone(), v);
        }
        Ok(Value::Object(out))
    }

    fn slot(
        &self,
        r: &StructReader<'_>,
        offset: usize,
        ty: &Type,
        bits: u64,
        default: Option<&Value>,
        at: &str,
    ) -> Result<Value> {
        Ok(match ty {
            Type::Void => Value::Null,
            Type::Bool => Value::Bool(r.get_bool_field_mask(offset, bits != 0)),
            Type::Int8 => Value::from(r.get_data_field_mask::<i8>(offset, bits as i8)),
            Type::Int16 => Value::from(r.get_data_field_mask::<i16>(offset, bits as i16)),
            Type::Int32 => Value::from(r.get_data_field_mask::<i32>(offset, bits as i32)),
            Type::Int64 => int_value(r.get_data_field_mask::<i64>(offset, bits as i64).into()),
            Type::UInt8 => Value::from(r.get_data_field_mask::<u8>(offset, bits as u8)),
            Type::UInt16 => Value::from(r.get_data_field_mask::<u16>(offset, bits as u16)),
            Type::UInt32 => Value::from(r.get_data_field_mask::<u32>(offset, bits as u32)),
            Type::UInt64 => int_value(r.get_data_field_mask::<u64>(offset, bits).into()),
            Type::Float32 => float_value(r.get_data_field_mask::<f32>(offset, bits as u32).into()),
            Type::Float64 => float_value(r.get_data_field_mask::<f64>(offset, bits)),
            Type::Enum(id) => {
                let n = r.get_data_field_mask::<u16>(offset, bits as u16);
                self.enumerant(*id, n, at)?
            }
            _ => {
                let p = any_pointer::Reader::new(r.get_pointer_field(offset));
                self.pointer(ty, p, at, default)?
            }
        })
    }

    fn enumerant(&self, id: u64, n: u16, at: &str) -> Result<Value> {
        let e = self.schema.enum_(id).map_err(message_error(at))?;
        match e.enumerants.get(n as usize) {
            Some(name) => Ok(Value::String(name.clone())),
            None => Err(DecodeError::EnumValue {
                pointer: at.into(),
                value: n,
                name: e.name.clone(),
            }),
        }
    }

    fn pointer(
        &self,
        ty: &Type,
        p: any_pointer::Reader<'_>,
        at: &str,
        default: Option<&Value>,
    ) -> Result<Value> {
        if p.is_null() {
            if let Some(d) = default {
                return Ok(d.clone());
            }
        }
        let err = message_error(at);
        Ok(match ty {
            Type::Text => {
                let t = p.get_as::<capnp::text::Reader<'_>>().map_err(&err)?;
                Value::String(t.to_string().map_err(capnp::Error::from).map_err(&err)?)
            }
            Type::Data => {
                let d = p.get_as::<capnp::data::Reader<'_>>().map_err(&err)?;
                Value::String(crate::json::base64::encode(d))
            }
            Type::Struct(_) | Type::Branded(..) => {
                if p.is_null() {
                    return Ok(Value::Null);
                }
                let s = self.schema.struct_of(ty).map_err(&err)?;
                let r = p.get_as::<StructIn<'_>>().map_err(&err)?.0;
                self.struct_value(&s, &r, at)?
            }
            Type::List(item) => self.list(item, p, at)?,
            Type::Interface(_) => {
                if p.is_null() {
                    Value::Null
                } else {
                    return Err(DecodeError::Capability { pointer: at.into() });
                }
            }
            Type::AnyPointer | Type::Param { .. } => {
                if p.is_null() {
                    return Ok(Value::Null);
                }
                return Err(DecodeError::Unsupported {
                    pointer: at.into(),
                    what: "an AnyPointer or generic field",
                });
            }
            _ => unreachable!("primitive types are not pointers"),
        })
    }

    fn list(&self, item: &Type, p: any_pointer::Reader<'_>, at: &str) -> Result<Value> {
        let err = message_error(at);
        macro_rules! prim {
            ($t:ty, $f:expr) => {{
                let l = p.get_as::<primitive_list::Reader<'_, $t>>().map_err(&err)?;
                l.iter().map($f).collect::<Vec<Value>>()
            }};
        }
        let items: Vec<Value> = match item {
            Type::Void => {
                let l = p.get_as::<primitive_list::Reader<'_, ()>>().map_err(&err)?;
                self.charge_zero_sized(l.len().div_ceil(16), at)?;
                vec![Value::Null; l.len() as usize]
            }
            Type::Bool => prim!(bool, Value::Bool),
            Type::Int8 => prim!(i8, Value::from),
            Type::Int16 => prim!(i16, Value::from),
            Type::Int32 => prim!(i32, Value::from),
            Type::Int64 => prim!(i64, |n| int_value(n.into())),
            Type::UInt8 => prim!(u8, Value::from),
            Type::UInt16 => prim!(u16, Value::from),
            Type::UInt32 => prim!(u32, Value::from),
            Type::UInt64 => prim!(u64, |n| int_value(n.into())),
            Type::Float32 => prim!(f32, |f| float_value(f.into())),
            Type::Float64 => prim!(f64, float_value),
            Type::Enum(id) => {
                let l = p
                    .get_as::<primitive_list::Reader<'_, u16>>()
                    .map_err(&err)?;
                let mut out = Vec::with_capacity(l.len() as usize);
                for (i, n) in l.iter().enumerate() {
                    out.push(self.enumerant(*id, n, &format!("{at}/{i}"))?);
                }
                out
            }
            Type::Text => {
                let l = p.get_as::<text_list::Reader<'_>>().map_err(&err)?;
                let mut out = Vec::with_capacity(l.len() as usize);
                for t in l.iter() {
                    out.push(Value::String(
                        t.map_err(&err)?
                            .to_string()
                            .map_err(capnp::Error::from)
                            .map_err(&err)?,
                    ));
                }
                out
            }
            Type::Data => {
                let l = p.get_as::<data_list::Reader<'_>>().map_err(&err)?;
                let mut out = Vec::with_capacity(l.len() as usize);
                for d in l.iter() {
                    out.push(Value::String(crate::json::base64::encode(d.map_err(&err)?)));
                }
                out
            }
            Type::Struct(_) | Type::Branded(..) => {
                let s = self.schema.struct_of(item).map_err(&err)?;
                let l = p
                    .get_as::<struct_list::Reader<'_, AnyStruct>>()
                    .map_err(&err)?;
                // Elements all have the list's size: the first one says whether it is zero.
                let zero_sized = match l.try_get(0) {
                    Some(first) => first.0.total_size().map_err(&err)?.word_count == 0,
                    None => false,
                };
                if zero_sized {
                    self.charge_zero_sized(l.len(), at)?;
                }
                let mut out = Vec::with_capacity(l.len() as usize);
                for (i, r) in l.iter().enumerate() {
                    out.push(self.struct_value(&s, &r.0, &format!("{at}/{i}"))?);
                }
                out
            }
            Type::List(_) | Type::Interface(_) | Type::AnyPointer | Type::Param { .. } => {
                let l = p.get_as::<any_pointer_list::Reader<'_>>().map_err(&err)?;
                let mut out = Vec::with_capacity(l.len() as usize);
                for (i, e) in l.iter().enumerate() {
                    out.push(self.pointer(item, e.map_err(&err)?, &format!("{at}/{i}"), None)?);
                }
                out
            }
        };
        Ok(Value::Array(items))
    }
}
