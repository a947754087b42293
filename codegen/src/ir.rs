//! The intermediate representation every target renders from.
//!
//! It is read once from the compiler's CodeGeneratorRequest (see `lower.rs`), holds no
//! capnp reader types, is ordered deterministically (by position in the schema file)
//! and serialises with serde, so templates consume it as plain data and insta can
//! snapshot it.

use serde::{Deserialize, Serialize};

/// A 64-bit Cap'n Proto id, printed as `0x` hex so snapshots and templates read it
/// the way schema files write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#018x}", self.0))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(s.trim_start_matches("0x"), 16)
            .map(Id)
            .map_err(serde::de::Error::custom)
    }
}

/// The schema files that were asked for, with everything they declare.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ir {
    pub files: Vec<File>,
    /// Enumerant names (by value) of enums declared in imported files that the
    /// requested files use, so a constant or default of such an enum can be written.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub imported_enums: std::collections::BTreeMap<Id, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct File {
    pub id: Id,
    /// Path as given to the compiler, relative to the source prefix (`calc.capnp`).
    pub path: String,
    /// File name without directories and `.capnp` (`calc`).
    pub stem: String,
    /// Stable hash of the file's declarations; see `fingerprint.rs`.
    pub fingerprint: String,
    pub imports: Vec<Import>,
    pub structs: Vec<Struct>,
    pub enums: Vec<Enum>,
    pub interfaces: Vec<Interface>,
    pub constants: Vec<Constant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Import {
    pub id: Id,
    pub path: String,
    pub stem: String,
}

/// Where a named declaration lives: its file and its scope path inside the file
/// (`["Outer", "Inner"]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TypeRef {
    pub id: Id,
    pub file: Id,
    pub file_stem: String,
    pub scope: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Struct {
    pub name: TypeRef,
    pub doc: Option<String>,
    pub data_words: u16,
    pub pointer_count: u16,
    /// Set for a group: it shares its parent's data and pointer sections.
    pub is_group: bool,
    /// Set for the implicit `method$Params` / `method$Results` structs.
    pub is_method_struct: bool,
    pub generic_params: Vec<String>,
    /// A generic method's own parameters (`get @0 [T] ...`), on its params and
    /// results structs: capnpc's raw struct is generic over them, the owned one holds
    /// AnyPointer in their place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implicit_params: Vec<String>,
    /// Generic parameters of enclosing declarations (a method struct of `Sink(T)`
    /// is generic over `T`).
    pub scope_generic_params: Vec<String>,
    /// The unnamed union, if the struct has one.
    pub union: Option<Union>,
    /// Fields in code order (the order they are written in the schema).
    pub fields: Vec<Field>,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Union {
    /// Offset of the 16-bit discriminant, in 16-bit units of the data section.
    pub discriminant_offset: u32,
    pub member_count: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Field {
    pub name: String,
    pub doc: Option<String>,
    pub ordinal: Option<u16>,
    /// Set when the field is a member of the struct's unnamed union.
    pub discriminant: Option<u16>,
    pub kind: FieldKind,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    /// A value stored at `offset`, in units of the type's size (bits for Bool,
    /// pointer index for pointer types).
    Slot {
        offset: u32,
        #[serde(rename = "type")]
        ty: Type,
        default: Value,
        explicit_default: bool,
    },
    /// A group: its fields live in the parent's sections.
    Group { group: TypeRef },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Type {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    #[serde(rename = "uint8")]
    UInt8,
    #[serde(rename = "uint16")]
    UInt16,
    #[serde(rename = "uint32")]
    UInt32,
    #[serde(rename = "uint64")]
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List {
        element: Box<Type>,
    },
    Enum {
        name: TypeRef,
    },
    Struct {
        name: TypeRef,
        args: Vec<Type>,
    },
    Interface {
        name: TypeRef,
        args: Vec<Type>,
    },
    /// `AnyPointer`, `AnyStruct`, `AnyList` or `Capability`.
    AnyPointer {
        constraint: AnyConstraint,
    },
    /// A generic parameter of an enclosing declaration.
    Param {
        scope: Id,
        index: u16,
        name: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnyConstraint {
    Any,
    Struct,
    List,
    Capability,
}

/// A default or constant value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    #[serde(rename = "uint")]
    UInt(u64),
    /// Floats travel as their bit pattern (NaN and infinities have no JSON form);
    /// `text` is a readable rendering for templates (`nan`, `inf`, `-inf`, `1.5`).
    Float {
        bits: u64,
        text: String,
    },
    Text(String),
    Data(Vec<u8>),
    Enum(u16),
    /// A struct or list value, as a canonical single-segment message (root pointer
    /// first) in hex. Targets decode it with their own reader.
    Pointer(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Enum {
    pub name: TypeRef,
    pub doc: Option<String>,
    pub enumerants: Vec<Enumerant>,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Enumerant {
    pub name: String,
    pub value: u16,
    pub doc: Option<String>,
}

/// Which side implements an interface, from the `polyhost.capnp` annotations.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `$worker`: workers implement it, the host calls it.
    Worker,
    /// `$host`: the host implements it, workers call it.
    Host,
    /// An ordinary capability (returned or passed by other calls).
    Plain,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Interface {
    pub name: TypeRef,
    pub doc: Option<String>,
    pub role: Role,
    pub generic_params: Vec<String>,
    pub superclasses: Vec<Type>,
    pub methods: Vec<Method>,
    /// Default deadline for every method (`$timeoutMs` on the interface).
    pub timeout_ms: Option<u32>,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Method {
    pub name: String,
    pub ordinal: u16,
    pub doc: Option<String>,
    pub params: TypeRef,
    pub results: TypeRef,
    /// `-> stream`: flow-controlled, no results.
    pub is_stream: bool,
    /// `$idempotent`: safe to retry on another worker after a crash.
    pub idempotent: bool,
    /// `$timeoutMs` on the method, else the interface's.
    pub timeout_ms: Option<u32>,
    /// Parameters typed `Sink(T)`: presented as streams.
    pub sinks: Vec<SinkParam>,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SinkParam {
    pub field: String,
    pub item: Type,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Constant {
    pub name: TypeRef,
    pub doc: Option<String>,
    #[serde(rename = "type")]
    pub ty: Type,
    pub value: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Annotation {
    pub id: Id,
    /// Scoped name of the annotation declaration (`polyhost.idempotent`).
    pub name: String,
    pub value: Value,
}

impl Type {
    /// True for types stored in the pointer section.
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            Type::Text
                | Type::Data
                | Type::List { .. }
                | Type::Struct { .. }
                | Type::Interface { .. }
                | Type::AnyPointer { .. }
                | Type::Param { .. }
        )
    }
}

impl Type {
    /// True for polyhost's `Sink(T)`, which every target presents as a stream.
    pub fn is_sink(&self) -> bool {
        matches!(self, Type::Interface { name, .. } if name.id.0 == crate::well_known::SINK_INTERFACE)
    }
}

impl Ir {
    pub fn file(&self, id: Id) -> Option<&File> {
        self.files.iter().find(|f| f.id == id)
    }
}
