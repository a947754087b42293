//! JSON -> capnp: a `serde_json::Value` written into a message with the schema model,
//! by the mapping decode.rs reads back (crate README, "Dynamic calls and JSON").
//! Strict: unknown fields, two members of one union, numbers out of range, strings
//! that are not numbers, bad base64 and unknown enumerants are refused, each error
//! naming the JSON pointer of the value.

use capnp::private::layout::{ElementSize, PointerBuilder, PrimitiveElement, StructBuilder};
use capnp::{any_pointer, struct_list};
use serde_json::Value;

use crate::json::model::{Field, FieldKind, Schema, StructSchema, Type};
use crate::json::raw::{AnyStruct, PointerOut};

/// Why a JSON value could not be written as the schema's type.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("{pointer}: expected {expected}, got {got}")]
    Type {
        pointer: String,
        expected: String,
        got: String,
    },
    #[error("{pointer}: unknown field `{field}` of {of}; its fields are: {known}")]
    UnknownField {
        pointer: String,
        field: String,
        of: String,
        known: String,
    },
    #[error("{pointer}: {given} are members of one union; give at most one")]
    UnionMembers { pointer: String, given: String },
    #[error("{pointer}: {what} cannot be given as JSON; use the typed API")]
    Unsupported { pointer: String, what: &'static str },
    #[error("{pointer}: {message}")]
    Message { pointer: String, message: String },
}

type Result<T> = std::result::Result<T, EncodeError>;

fn type_error(at: &str, expected: impl Into<String>, got: &Value) -> EncodeError {
    let got = match got {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => "a long string".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    };
    EncodeError::Type {
        pointer: at.to_string(),
        expected: expected.into(),
        got,
    }
}

fn capnp_error(at: &str) -> impl Fn(capnp::Error) -> EncodeError + '_ {
    move |e| EncodeError::Message {
        pointer: at.to_string(),
        message: e.to_string(),
    }
}

/// Writes `value` as struct `id` at `p` (a call's params).
pub fn struct_into(
    schema: &Schema,
    id: u64,
    value: &Value,
    p: any_pointer::Builder<'_>,
) -> Result<()> {
    let s = schema.struct_(id).map_err(capnp_error(""))?;
    let pb = p.init_as::<PointerOut<'_>>().0;
    let mut b = pb.init_struct(s.size());
    Encoder { schema }.fill(s, &mut b, value, "")
}

struct Encoder<'s> {
    schema: &'s Schema,
}

/// An integer from a JSON number or decimal string, within `min..=max`.
pub fn int_of(v: &Value, min: i128, max: i128, at: &str) -> Result<i128> {
    let expected = || format!("an integer from {min} to {max} (a number, or a decimal string)");
    let n: Option<i128> = match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
                s.parse::<i128>().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(type_error(at, expected(), v)),
    }
}

fn float_of(v: &Value, at: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| type_error(at, "a number", v)),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => Err(type_error(
            at,
            "a number (or \"NaN\", \"Infinity\", \"-Infinity\")",
            v,
        )),
    }
}

/// Range of an integer type.
fn range(ty: &Type) -> (i128, i128) {
    match ty {
        Type::Int8 => (i8::MIN.into(), i8::MAX.into()),
        Type::Int16 => (i16::MIN.into(), i16::MAX.into()),
        Type::Int32 => (i32::MIN.into(), i32::MAX.into()),
        Type::Int64 => (i64::MIN.into(), i64::MAX.into()),
        Type::UInt8 => (0, u8::MAX.into()),
        Type::UInt16 => (0, u16::MAX.into()),
        Type::UInt32 => (0, u32::MAX.into()),
        _ => (0, u64::MAX.into()),
    }
}

impl Encoder<'_> {
    fn fill(&self, s: &StructSchema, b: &mut StructBuilder<'_>, v: &Value, at: &str) -> Result<()> {
        let Value::Object(obj) = v else {
            return Err(type_error(at, format!("an object ({})", s.name), v));
        };
        for key in obj.keys() {
            if !s.fields.iter().any(|f| &f.name == key && !f.is_sink()) {
                return Err(EncodeError::UnknownField {
                    pointer: at.into(),
                    field: key.clone(),
                    of: s.name.clone(),
                    known: s
                        .fields
                        .iter()
                        .filter(|f| !f.is_sink())
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let given: Vec<&Field> = s
            .union_members()
            .filter(|f| obj.contains_key(&f.name))
            .collect();
        if given.len() > 1 {
            return Err(EncodeError::UnionMembers {
                pointer: at.into(),
                given: given
                    .iter()
                    .map(|f| format!("`{}`", f.name))
                    .collect::<Vec<_>>()
                    .join(" and "),
            });
        }
        for f in &s.fields {
            let Some(value) = obj.get(&f.name) else {
                continue;
            };
            let here = format!("{at}/{}", f.name);
            if let (Some(d), Some(offset)) = (f.discriminant, s.discriminant_offset) {
                b.set_data_field::<u16>(offset as usize, d);
            }
            match &f.kind {
                FieldKind::Group(id) => {
                    let g = self.schema.struct_(*id).map_err(capnp_error(&here))?;
                    self.fill(g, b, value, &here)?;
                }
                FieldKind::Inline(g) => self.fill(g, b, value, &here)?,
                FieldKind::Slot {
                    offset, ty, bits, ..
                } => self.slot(b, *offset as usize, ty, *bits, value, &here)?,
            }
        }
        Ok(())
    }

    fn slot(
        &self,
        b: &mut StructBuilder<'_>,
        offset: usize,
        ty: &Type,
        bits: u64,
        v: &Value,
        at: &str,
    ) -> Result<()> {
        let int = |v: &Value| {
            let (min, max) = range(ty);
            int_of(v, min, max, at)
        };
        match ty {
            Type::Void => {
                if !v.is_null() {
                    return Err(type_error(at, "null (Void)", v));
                }
            }
            Type::Bool => {
                let x = v
                    .as_bool()
                    .ok_or_else(|| type_error(at, "true or false", v))?;
                b.set_bool_field_mask(offset, x, bits != 0);
            }
            Type::Int8 => b.set_data_field_mask::<i8>(offset, int(v)? as i8, bits as i8),
            Type::Int16 => b.set_data_field_mask::<i16>(offset, int(v)? as i16, bits as i16),
            Type::Int32 => b.set_data_field_mask::<i32>(offset, int(v)? as i32, bits as i32),
            Type::Int64 => b.set_data_field_mask::<i64>(offset, int(v)? as i64, bits as i64),
            Type::UInt8 => b.set_data_field_mask::<u8>(offset, int(v)? as u8, bits as u8),
            Type::UInt16 => b.set_data_field_mask::<u16>(offset, int(v)? as u16, bits as u16),
            Type::UInt32 => b.set_data_field_mask::<u32>(offset, int(v)? as u32, bits as u32),
            Type::UInt64 => b.set_data_field_mask::<u64>(offset, int(v)? as u64, bits),
            Type::Float32 => {
                b.set_data_field_mask::<f32>(offset, float_of(v, at)? as f32, bits as u32)
            }
            Type::Float64 => b.set_data_field_mask::<f64>(offset, float_of(v, at)?, bits),
            Type::Enum(id) => {
                let n = self.enumerant(*id, v, at)?;
                b.set_data_field_mask::<u16>(offset, n, bits as u16);
            }
            _ => {
                let pb = b.reborrow().get_pointer_field(offset);
                self.pointer(ty, pb, v, at)?;
            }
        }
        Ok(())
    }

    fn enumerant(&self, id: u64, v: &Value, at: &str) -> Result<u16> {
        let e = self.schema.enum_(id).map_err(capnp_error(at))?;
        let expected = || {
            format!(
                "one of {} ({})",
                e.enumerants
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                e.name
            )
        };
        let name = v.as_str().ok_or_else(|| type_error(at, expected(), v))?;
        e.enumerants
            .iter()
            .position(|n| n == name)
            .map(|i| i as u16)
            .ok_or_else(|| type_error(at, expected(), v))
    }

    fn pointer(&self, ty: &Type, mut pb: PointerBuilder<'_>, v: &Value, at: &str) -> Result<()> {
        if v.is_null() {
            // Null: the field's default (a null pointer reads as it).
            return Ok(());
        }
        match ty {
            Type::Text => {
                let s = v.as_str().ok_or_else(|| type_error(at, "a string", v))?;
                pb.set_text(s.into());
            }
            Type::Data => {
                let s = v
                    .as_str()
                    .ok_or_else(|| type_error(at, "a base64 string", v))?;
                let bytes = crate::json::base64::decode(s).ok_or_else(|| {
                    type_error(at, "base64 (standard alphabet, padded with =)", v)
                })?;
                pb.set_data(&bytes);
            }
            Type::Struct(_) | Type::Branded(..) => {
                let s = self.schema.struct_of(ty).map_err(capnp_error(at))?;
                let mut b = pb.init_struct(s.size());
                self.fill(&s, &mut b, v, at)?;
            }
            Type::List(item) => {
                let items = v.as_array().ok_or_else(|| type_error(at, "an array", v))?;
                self.list(item, pb, items, at)?;
            }
            Type::Interface(_) => {
                return Err(EncodeError::Unsupported {
                    pointer: at.into(),
                    what: "a capability",
                })
            }
            Type::AnyPointer | Type::Param { .. } => {
                return Err(EncodeError::Unsupported {
                    pointer: at.into(),
                    what: "an AnyPointer or generic field",
                })
            }
            _ => unreachable!("primitive types are not pointers"),
        }
        Ok(())
    }

    fn list(&self, item: &Type, pb: PointerBuilder<'_>, items: &[Value], at: &str) -> Result<()> {
        let n = u32::try_from(items.len()).map_err(|_| EncodeError::Message {
            pointer: at.into(),
            message: "a list holds at most 2^29 elements".into(),
        })?;
        let here = |i: usize| format!("{at}/{i}");
        macro_rules! prim {
            ($t:ty, $f:expr) => {{
                let l = pb.init_list(<$t as PrimitiveElement>::element_size(), n);
                for (i, v) in items.iter().enumerate() {
                    let x: $t = $f(v, &here(i))?;
                    <$t as PrimitiveElement>::set(&l, i as u32, x);
                }
            }};
        }
        let int = |v: &Value, at: &str| {
            let (min, max) = range(item);
            int_of(v, min, max, at)
        };
        match item {
            Type::Void => prim!((), |v: &Value, at: &str| if v.is_null() {
                Ok(())
            } else {
                Err(type_error(at, "null (Void)", v))
            }),
            Type::Bool => prim!(bool, |v: &Value, at: &str| v
                .as_bool()
                .ok_or_else(|| type_error(at, "true or false", v))),
            Type::Int8 => prim!(i8, |v, at| int(v, at).map(|n| n as i8)),
            Type::Int16 => prim!(i16, |v, at| int(v, at).map(|n| n as i16)),
            Type::Int32 => prim!(i32, |v, at| int(v, at).map(|n| n as i32)),
            Type::Int64 => prim!(i64, |v, at| int(v, at).map(|n| n as i64)),
            Type::UInt8 => prim!(u8, |v, at| int(v, at).map(|n| n as u8)),
            Type::UInt16 => prim!(u16, |v, at| int(v, at).map(|n| n as u16)),
            Type::UInt32 => prim!(u32, |v, at| int(v, at).map(|n| n as u32)),
            Type::UInt64 => prim!(u64, |v, at| int(v, at).map(|n| n as u64)),
            Type::Float32 => prim!(f32, |v, at| float_of(v, at).map(|f| f as f32)),
            Type::Float64 => prim!(f64, float_of),
            Type::Enum(id) => prim!(u16, |v, at: &str| self.enumerant(*id, v, at)),
            Type::Struct(_) | Type::Branded(..) => {
                let s = self.schema.struct_of(item).map_err(capnp_error(at))?;
                let mut pb = pb;
                pb.reborrow().init_struct_list(n, s.size());
                let mut list = any_pointer::Builder::new(pb)
                    .get_as::<struct_list::Builder<'_, AnyStruct>>()
                    .map_err(capnp_error(at))?;
                for (i, v) in items.iter().enumerate() {
                    let mut b = list.reborrow().get(i as u32).0;
                    self.fill(&s, &mut b, v, &here(i))?;
                }
            }
            _ => {
                let mut l = pb.init_list(ElementSize::Pointer, n);
                for (i, v) in items.iter().enumerate() {
                    let e = l.reborrow().get_pointer_element(i as u32);
                    if v.is_null() && matches!(item, Type::Text | Type::Data | Type::List(_)) {
                        return Err(type_error(
                            &here(i),
                            "a value (list elements are not null)",
                            v,
                        ));
                    }
                    self.pointer(item, e, v, &here(i))?;
                }
            }
        }
        Ok(())
    }
}
