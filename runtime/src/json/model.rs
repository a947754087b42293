//! The schema model of the dynamic JSON path: structs, enums and interfaces read from a
//! CodeGeneratorRequest (`capnp::schema_capnp`), with layouts, defaults, doc comments
//! (`sourceInfo`) and the `$idempotent` / `$timeoutMs` / `$worker` annotations. No
//! generated Rust is needed for a schema to be encoded, decoded or called.
//!
//! Method names: [`Method::name`](crate::Method) is `&'static str`, so each method's
//! `Interface.method` name is leaked once when a schema is loaded and held here. A
//! schema embedded in bindings is loaded once per process ([`Schema::embedded`]);
//! a schema loaded from bytes ([`Schema::from_request`]) leaks one short string per
//! method each time it is loaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use capnp::schema_capnp::{code_generator_request, field, node, type_, value};

use crate::rpc::capability::Method;

/// `$worker`, `$idempotent`, `$timeoutMs` and `Sink(T)` in schema/polyhost.capnp.
const WORKER_ANNOTATION: u64 = 0xbe8e1cfbd08ab08e;
const HOST_ANNOTATION: u64 = 0xcd00f7148f6244e4;
const IDEMPOTENT_ANNOTATION: u64 = 0xd92225709558ae77;
const TIMEOUT_ANNOTATION: u64 = 0xea38287f05f1922c;
pub(crate) const SINK_INTERFACE: u64 = 0x950d47d539ceb3b3;

/// Why a CodeGeneratorRequest could not be loaded as a schema model.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SchemaError {
    #[error("the schema request cannot be read ({0}); it must be the CodeGeneratorRequest the Cap'n Proto compiler wrote")]
    Read(String),
    #[error("no method `{name}` in the schema; the `$worker` methods are: {known}")]
    UnknownMethod { name: String, known: String },
    #[error("`{name}` is not `Interface.method`")]
    BadMethodName { name: String },
}

impl From<capnp::Error> for SchemaError {
    fn from(e: capnp::Error) -> Self {
        SchemaError::Read(e.to_string())
    }
}

impl From<capnp::NotInSchema> for SchemaError {
    fn from(e: capnp::NotInSchema) -> Self {
        SchemaError::Read(e.to_string())
    }
}

impl From<std::str::Utf8Error> for SchemaError {
    fn from(e: std::str::Utf8Error) -> Self {
        SchemaError::Read(e.to_string())
    }
}

/// A field's or element's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List(Box<Type>),
    Enum(u64),
    Struct(u64),
    /// A generic struct with its parameters bound (`Pair(Text, Point)`): scope id and
    /// the types bound to its parameters, per scope.
    Branded(u64, crate::json::generics::Brand),
    /// A generic parameter (`Key` inside `Pair(Key, Value)`): its scope and index;
    /// replaced by the bound type when the struct is instantiated.
    Param {
        scope: u64,
        index: u16,
    },
    /// A capability: not representable in JSON.
    Interface(u64),
    /// `AnyPointer` or a generic parameter: not representable in JSON.
    AnyPointer,
}

impl Type {
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            Type::Text
                | Type::Data
                | Type::List(_)
                | Type::Struct(_)
                | Type::Branded(..)
                | Type::Param { .. }
                | Type::Interface(_)
                | Type::AnyPointer
        )
    }
}

/// A primitive field's default as raw bits (what the wire value is XORed with).
pub type DefaultBits = u64;

/// Where a field's value lives.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// In the data section (`offset` in units of the type's size) or the pointer
    /// section (`offset` is the pointer index).
    Slot {
        offset: u32,
        ty: Type,
        /// Primitive default bits (0 for none and for pointers).
        bits: DefaultBits,
        /// A pointer field's default, as JSON (`None`: null reads as empty / null).
        default: Option<serde_json::Value>,
        /// A List or struct default as a message holding it at its root (decoded
        /// into `default` once the whole model is loaded).
        default_message: Option<Vec<u8>>,
    },
    /// A group: its fields share this struct's layout.
    Group(u64),
    /// A group of an instantiated generic struct, its parameters bound.
    Inline(Box<StructSchema>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub doc: String,
    /// The union discriminant value, for union members.
    pub discriminant: Option<u16>,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StructSchema {
    pub id: u64,
    /// The schema's qualified name (`Shape.Style`).
    pub name: String,
    pub doc: String,
    pub data_words: u16,
    pub pointers: u16,
    pub is_group: bool,
    /// Byte offset of the union discriminant / 2, when the struct has a union.
    pub discriminant_offset: Option<u32>,
    /// In declaration order.
    pub fields: Vec<Field>,
}

impl Field {
    /// A `Sink(T)` field: the call path fills it, JSON never carries it.
    pub fn is_sink(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::Slot {
                ty: Type::Interface(SINK_INTERFACE),
                ..
            }
        )
    }
}

impl StructSchema {
    pub fn size(&self) -> capnp::private::layout::StructSize {
        capnp::private::layout::StructSize {
            data: self.data_words,
            pointers: self.pointers,
        }
    }
    pub fn union_members(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.discriminant.is_some())
    }
    pub fn plain_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.discriminant.is_none())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumSchema {
    pub id: u64,
    pub name: String,
    pub doc: String,
    /// Enumerant names, by value.
    pub enumerants: Vec<String>,
}

/// A method of an interface, as the JSON path calls it.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSchema {
    /// The descriptor calls carry (its `name` is `Interface.method`, leaked once).
    pub method: Method,
    /// The method's own name (`greet`).
    pub short_name: String,
    pub doc: String,
    pub params: u64,
    pub results: u64,
    /// A `Sink(T)` param: its field name and the item type; the JSON call returns the
    /// items as a stream.
    pub sink: Option<(String, Type)>,
}

impl MethodSchema {
    /// `Interface.method`.
    pub fn name(&self) -> &'static str {
        self.method.name
    }
    pub fn idempotent(&self) -> bool {
        self.method.idempotent
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceSchema {
    pub id: u64,
    pub name: String,
    pub doc: String,
    pub is_worker: bool,
    /// `$host`: the host implements it for the workers.
    pub is_host: bool,
    pub methods: Vec<MethodSchema>,
}

/// Every type of a CodeGeneratorRequest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub structs: HashMap<u64, StructSchema>,
    pub enums: HashMap<u64, EnumSchema>,
    /// Interfaces of the requested files, in file order.
    pub interfaces: Vec<InterfaceSchema>,
    /// Compiled params validators, by struct id.
    pub(crate) validators: crate::json::validate::Validators,
}

impl Schema {
    /// Loads the CodeGeneratorRequest `bytes` (as `polyhost_codegen` or `capnp compile
    /// -o-` writes it).
    pub fn from_request(bytes: &[u8]) -> Result<Schema, SchemaError> {
        let mut slice = bytes;
        let message = capnp::serialize::read_message(
            &mut slice,
            capnp::message::ReaderOptions {
                traversal_limit_in_words: None,
                nesting_limit: 512,
            },
        )?;
        let request: code_generator_request::Reader<'_> = message.get_root()?;
        load(request)
    }

    /// The schema embedded in generated bindings (`Bindings::schema_request`), loaded
    /// once per process.
    pub fn embedded(bytes: &'static [u8]) -> Result<Arc<Schema>, SchemaError> {
        type Loaded = Mutex<HashMap<(usize, usize), Arc<Schema>>>;
        static LOADED: OnceLock<Loaded> = OnceLock::new();
        let key = (bytes.as_ptr() as usize, bytes.len());
        let cache = LOADED.get_or_init(Mutex::default);
        if let Some(s) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(s.clone());
        }
        let schema = Arc::new(Schema::from_request(bytes)?);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        Ok(cache.entry(key).or_insert(schema).clone())
    }

    /// The `$worker` interfaces' methods: what can be called by name.
    pub fn worker_methods(&self) -> impl Iterator<Item = &MethodSchema> {
        self.interfaces
            .iter()
            .filter(|i| i.is_worker)
            .flat_map(|i| i.methods.iter())
    }

    /// The `$worker` method `Interface.method`.
    pub fn method(&self, name: &str) -> Result<&MethodSchema, SchemaError> {
        if !name.contains('.') {
            return Err(SchemaError::BadMethodName { name: name.into() });
        }
        self.worker_methods()
            .find(|m| m.name() == name)
            .ok_or_else(|| SchemaError::UnknownMethod {
                name: name.into(),
                known: self
                    .worker_methods()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    pub fn struct_(&self, id: u64) -> capnp::Result<&StructSchema> {
        self.structs
            .get(&id)
            .ok_or_else(|| capnp::Error::failed(format!("struct {id:#x} is not in the schema")))
    }

    pub fn enum_(&self, id: u64) -> capnp::Result<&EnumSchema> {
        self.enums
            .get(&id)
            .ok_or_else(|| capnp::Error::failed(format!("enum {id:#x} is not in the schema")))
    }
}

fn load(request: code_generator_request::Reader<'_>) -> Result<Schema, SchemaError> {
    let mut docs: HashMap<u64, (String, Vec<String>)> = HashMap::new();
    for info in request.get_source_info()? {
        let text = |r: capnp::Result<capnp::text::Reader<'_>>| -> String {
            r.ok()
                .and_then(|t| t.to_str().ok())
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let members = info
            .get_members()?
            .iter()
            .map(|m| text(m.get_doc_comment()))
            .collect();
        docs.insert(info.get_id(), (text(info.get_doc_comment()), members));
    }
    let nodes: HashMap<u64, node::Reader<'_>> = request
        .get_nodes()?
        .iter()
        .map(|n| (n.get_id(), n))
        .collect();
    let name_of = |n: &node::Reader<'_>| -> capnp::Result<String> {
        let display = n.get_display_name()?.to_string()?;
        let prefix = display.find(':').map_or(0, |i| i + 1);
        Ok(display[prefix..].replace(':', "."))
    };
    let doc_of = |id: u64| docs.get(&id).map(|d| d.0.clone()).unwrap_or_default();
    let member_doc = |id: u64, i: usize| {
        docs.get(&id)
            .and_then(|d| d.1.get(i).cloned())
            .unwrap_or_default()
    };
    let mut schema = Schema::default();
    let mut pending_defaults = Vec::new();
    for (&id, n) in &nodes {
        match n.which()? {
            node::Which::Struct(s) => {
                let mut fields = Vec::new();
                for (i, f) in s.get_fields()?.iter().enumerate() {
                    let discriminant = match f.get_discriminant_value() {
                        field::NO_DISCRIMINANT => None,
                        d => Some(d),
                    };
                    let kind = match f.which()? {
                        field::Which::Slot(slot) => {
                            let ty = type_of(slot.get_type()?)?;
                            let (bits, default, message) = default_of(slot.get_default_value()?)?;
                            if message.is_some() {
                                pending_defaults.push((id, fields.len()));
                            }
                            FieldKind::Slot {
                                offset: slot.get_offset(),
                                ty,
                                bits,
                                default,
                                default_message: message,
                            }
                        }
                        field::Which::Group(g) => FieldKind::Group(g.get_type_id()),
                    };
                    fields.push(Field {
                        name: f.get_name()?.to_string()?,
                        doc: member_doc(id, i),
                        discriminant,
                        kind,
                    });
                }
                schema.structs.insert(
                    id,
                    StructSchema {
                        id,
                        name: name_of(n)?,
                        doc: doc_of(id),
                        data_words: s.get_data_word_count(),
                        pointers: s.get_pointer_count(),
                        is_group: s.get_is_group(),
                        discriminant_offset: (s.get_discriminant_count() > 0)
                            .then(|| s.get_discriminant_offset()),
                        fields,
                    },
                );
            }
            node::Which::Enum(e) => {
                let enumerants = e
                    .get_enumerants()?
                    .iter()
                    .map(|en| en.get_name().and_then(|t| Ok(t.to_string()?)))
                    .collect::<capnp::Result<Vec<_>>>()?;
                schema.enums.insert(
                    id,
                    EnumSchema {
                        id,
                        name: name_of(n)?,
                        doc: doc_of(id),
                        enumerants,
                    },
                );
            }
            _ => {}
        }
    }
    // Interfaces of the requested files, in declaration order.
    for file in request.get_requested_files()? {
        let mut queue = vec![file.get_id()];
        while let Some(scope) = queue.pop() {
            let Some(n) = nodes.get(&scope) else { continue };
            let nested: Vec<u64> = n.get_nested_nodes()?.iter().map(|x| x.get_id()).collect();
            queue.extend(nested.into_iter().rev());
            if let node::Which::Interface(i) = n.which()? {
                schema
                    .interfaces
                    .push(interface(&nodes, n, i, &name_of, &doc_of, &member_doc)?);
            }
        }
    }
    // Pointer defaults decode with the whole model in place.
    for (id, index) in pending_defaults {
        let Some(FieldKind::Slot {
            ty,
            default_message: Some(words),
            ..
        }) = schema
            .structs
            .get(&id)
            .map(|s| s.fields[index].kind.clone())
        else {
            continue;
        };
        let json = crate::json::decode::decode_default(&schema, &ty, &words)?;
        if let Some(FieldKind::Slot { default, .. }) = schema
            .structs
            .get_mut(&id)
            .map(|s| &mut s.fields[index].kind)
        {
            *default = Some(json);
        }
    }
    Ok(schema)
}

fn interface(
    nodes: &HashMap<u64, node::Reader<'_>>,
    n: &node::Reader<'_>,
    i: node::interface::Reader<'_>,
    name_of: &dyn Fn(&node::Reader<'_>) -> capnp::Result<String>,
    doc_of: &dyn Fn(u64) -> String,
    member_doc: &dyn Fn(u64, usize) -> String,
) -> Result<InterfaceSchema, SchemaError> {
    let id = n.get_id();
    let name = name_of(n)?;
    let mut is_worker = false;
    let mut is_host = false;
    let mut interface_timeout = None;
    for a in n.get_annotations()? {
        match a.get_id() {
            WORKER_ANNOTATION => is_worker = true,
            HOST_ANNOTATION => is_host = true,
            TIMEOUT_ANNOTATION => interface_timeout = uint32(a.get_value()?),
            _ => {}
        }
    }
    let mut methods = Vec::new();
    for (index, m) in i.get_methods()?.iter().enumerate() {
        let short_name = m.get_name()?.to_string()?;
        let mut idempotent = false;
        let mut timeout_ms = interface_timeout;
        for a in m.get_annotations()? {
            match a.get_id() {
                IDEMPOTENT_ANNOTATION => idempotent = true,
                TIMEOUT_ANNOTATION => timeout_ms = uint32(a.get_value()?),
                _ => {}
            }
        }
        let params = m.get_param_struct_type();
        let sink = sink_param(nodes, params)?;
        let full: &'static str = Box::leak(format!("{name}.{short_name}").into_boxed_str());
        methods.push(MethodSchema {
            method: Method {
                interface_id: id,
                method_id: index as u16,
                name: full,
                timeout_ms,
                idempotent,
            },
            short_name,
            doc: member_doc(id, index),
            params,
            results: m.get_result_struct_type(),
            sink,
        });
    }
    Ok(InterfaceSchema {
        id,
        name,
        doc: doc_of(id),
        is_worker,
        is_host,
        methods,
    })
}

/// The `Sink(T)` field of a params struct, with `T`.
fn sink_param(
    nodes: &HashMap<u64, node::Reader<'_>>,
    params: u64,
) -> capnp::Result<Option<(String, Type)>> {
    let Some(node::Which::Struct(s)) = nodes.get(&params).map(|n| n.which()).transpose()? else {
        return Ok(None);
    };
    for f in s.get_fields()? {
        if let field::Which::Slot(slot) = f.which()? {
            if let type_::Which::Interface(i) = slot.get_type()?.which()? {
                if i.get_type_id() == SINK_INTERFACE {
                    let item = i
                        .get_brand()?
                        .get_scopes()?
                        .iter()
                        .find(|s| s.get_scope_id() == SINK_INTERFACE)
                        .and_then(|s| match s.which() {
                            Ok(capnp::schema_capnp::brand::scope::Which::Bind(b)) => b
                                .ok()
                                .and_then(|b| b.iter().next())
                                .and_then(|b| match b.which() {
                                    Ok(capnp::schema_capnp::brand::binding::Which::Type(t)) => {
                                        t.ok().and_then(|t| type_of(t).ok())
                                    }
                                    _ => None,
                                }),
                            _ => None,
                        })
                        .unwrap_or(Type::AnyPointer);
                    return Ok(Some((f.get_name()?.to_string()?, item)));
                }
            }
        }
    }
    Ok(None)
}

fn uint32(v: value::Reader<'_>) -> Option<u32> {
    match v.which() {
        Ok(value::Which::Uint32(n)) => Some(n),
        _ => None,
    }
}

pub(crate) fn type_of(t: type_::Reader<'_>) -> capnp::Result<Type> {
    Ok(match t.which()? {
        type_::Which::Void(()) => Type::Void,
        type_::Which::Bool(()) => Type::Bool,
        type_::Which::Int8(()) => Type::Int8,
        type_::Which::Int16(()) => Type::Int16,
        type_::Which::Int32(()) => Type::Int32,
        type_::Which::Int64(()) => Type::Int64,
        type_::Which::Uint8(()) => Type::UInt8,
        type_::Which::Uint16(()) => Type::UInt16,
        type_::Which::Uint32(()) => Type::UInt32,
        type_::Which::Uint64(()) => Type::UInt64,
        type_::Which::Float32(()) => Type::Float32,
        type_::Which::Float64(()) => Type::Float64,
        type_::Which::Text(()) => Type::Text,
        type_::Which::Data(()) => Type::Data,
        type_::Which::List(l) => Type::List(Box::new(type_of(l.get_element_type()?)?)),
        type_::Which::Enum(e) => Type::Enum(e.get_type_id()),
        type_::Which::Struct(s) => {
            let brand = crate::json::generics::brand_of(s.get_brand()?, &type_of)?;
            if brand.is_empty() {
                Type::Struct(s.get_type_id())
            } else {
                Type::Branded(s.get_type_id(), brand)
            }
        }
        type_::Which::Interface(i) => Type::Interface(i.get_type_id()),
        type_::Which::AnyPointer(p) => match p.which()? {
            type_::any_pointer::Which::Parameter(p) => Type::Param {
                scope: p.get_scope_id(),
                index: p.get_parameter_index(),
            },
            _ => Type::AnyPointer,
        },
    })
}

/// A slot's default: primitive bits; a Text or Data default as JSON; a List or struct
/// default as a message to decode once the model is loaded.
#[allow(clippy::type_complexity)]
fn default_of(
    v: value::Reader<'_>,
) -> capnp::Result<(DefaultBits, Option<serde_json::Value>, Option<Vec<u8>>)> {
    use value::Which as V;
    let bits = match v.which()? {
        V::Void(()) | V::Interface(()) | V::AnyPointer(_) => 0,
        V::Bool(b) => b as u64,
        V::Int8(n) => n as u8 as u64,
        V::Int16(n) => n as u16 as u64,
        V::Int32(n) => n as u32 as u64,
        V::Int64(n) => n as u64,
        V::Uint8(n) => n as u64,
        V::Uint16(n) => n as u64,
        V::Uint32(n) => n as u64,
        V::Uint64(n) => n,
        V::Float32(f) => f.to_bits() as u64,
        V::Float64(f) => f.to_bits(),
        V::Enum(n) => n as u64,
        V::Text(t) => {
            let t = t?;
            if t.is_empty() {
                return Ok((0, None, None));
            }
            let text = t.to_string()?;
            return Ok((0, Some(serde_json::Value::String(text)), None));
        }
        V::Data(d) => {
            let d = d?;
            if d.is_empty() {
                return Ok((0, None, None));
            }
            let text = crate::json::base64::encode(d);
            return Ok((0, Some(serde_json::Value::String(text)), None));
        }
        V::List(p) | V::Struct(p) => {
            if p.is_null() {
                return Ok((0, None, None));
            }
            let mut message = capnp::message::Builder::new_default();
            message.set_root::<capnp::any_pointer::Owned>(p)?;
            return Ok((
                0,
                None,
                Some(capnp::serialize::write_message_to_words(&message)),
            ));
        }
    };
    Ok((bits, None, None))
}
