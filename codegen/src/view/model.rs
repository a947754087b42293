//! The data a target's templates see: one `FileView` per schema file, inside the
//! `RunView` of the whole run. Every field is documented in the Rust target's README
//! (`codegen/targets/rust/README.md`); templates render in strict mode, so a name not
//! here is an error.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ir::Role;

#[derive(Debug, Serialize)]
pub struct RunView {
    pub generator: &'static str,
    pub files: Vec<FileView>,
    /// Run-wide values (`polyhost`, `root`): templates print them anywhere as
    /// `{{polyhost}}` (render registers one helper per value), patterns as `{polyhost}`.
    #[serde(skip)]
    pub globals: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct FileView {
    pub path: String,
    pub stem: String,
    pub module: String,
    pub id: String,
    pub fingerprint: String,
    pub generator: &'static str,
    /// The generated-file header, already commented for the target.
    pub header: Vec<String>,
    pub imports: Vec<ImportView>,
    pub structs: Vec<StructView>,
    pub enums: Vec<EnumView>,
    pub interfaces: Vec<InterfaceView>,
    /// Indices into `interfaces` with every interface after the ones it extends from
    /// the same file (otherwise in schema order), for languages that define a class
    /// after its bases.
    pub interface_order: Vec<usize>,
    pub constants: Vec<ConstantView>,
    /// Whether a method of the file takes a `Sink(T)` parameter.
    pub has_sinks: bool,
}

#[derive(Debug, Serialize)]
pub struct ImportView {
    pub path: String,
    pub stem: String,
    pub module: String,
    /// Whether the file refers to a type of the import (an import made only for its
    /// annotations, like `/capnp/c++.capnp`, needs no import in the target).
    pub used: bool,
}

#[derive(Debug, Serialize, Clone)]
pub struct NameView {
    pub name: String,
    pub scope_path: String,
    /// `scope_path` of the enclosing scope ("" at the top level).
    pub parent_path: String,
    /// The last scope segment as written in the schema.
    pub last: String,
    pub schema_name: String,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct StructView {
    #[serde(flatten)]
    pub name: NameView,
    pub doc: Vec<String>,
    pub data_words: u16,
    pub pointer_count: u16,
    pub is_group: bool,
    pub is_method_struct: bool,
    /// Every type-level expression of the struct itself (its generic parameters as
    /// arguments), e.g. the Rust target's `raw_path`.
    pub code: BTreeMap<String, String>,
    pub generic_params: Vec<String>,
    /// A generic method's own parameters (params and results structs only).
    pub implicit_params: Vec<String>,
    pub scope_generic_params: Vec<String>,
    /// Every `generic_lists` entry of the manifest for this struct ("" when it has no
    /// parameters of that list's kind).
    pub generics: BTreeMap<String, String>,
    /// Every field in code order.
    pub fields: Vec<FieldView>,
    /// Fields outside the unnamed union.
    pub plain_fields: Vec<FieldView>,
    /// Some field outside the unnamed union holds data (one not of type Void): a
    /// struct whose plain fields are all Void writes nothing for them.
    pub writes_plain_fields: bool,
    pub union: Option<UnionView>,
    /// The unnamed union's members (empty without one), so templates can loop over
    /// them without testing `union` first.
    pub union_members: Vec<FieldView>,
}

#[derive(Debug, Serialize)]
pub struct UnionView {
    pub discriminant_offset: u32,
    /// The member with discriminant 0 (what an all-zero struct holds).
    pub default_member: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct FieldView {
    pub name: String,
    /// The field's name cased for the target but not escaped.
    pub unescaped: String,
    /// The name as written in the schema.
    pub schema_name: String,
    /// The name cased as a type (union variants, group types).
    pub variant: String,
    /// The manifest's `naming.field_forms` of the name (the Rust target's `accessor`).
    pub forms: BTreeMap<String, String>,
    pub doc: Vec<String>,
    pub kind: &'static str,
    pub offset: u32,
    pub discriminant: Option<u16>,
    pub is_void: bool,
    pub is_pointer: bool,
    pub is_group: bool,
    pub group: Option<NameView>,
    pub default: String,
    pub explicit_default: bool,
    /// Every type-level and field-level expression of the manifest for this field
    /// (empty for a group).
    pub code: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct EnumView {
    #[serde(flatten)]
    pub name: NameView,
    pub doc: Vec<String>,
    /// Every type-level expression of the enum itself.
    pub code: BTreeMap<String, String>,
    pub enumerants: Vec<EnumerantView>,
}

#[derive(Debug, Serialize)]
pub struct EnumerantView {
    pub name: String,
    pub schema_name: String,
    pub value: u16,
    pub doc: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct InterfaceView {
    #[serde(flatten)]
    pub name: NameView,
    pub doc: Vec<String>,
    pub role: Role,
    pub is_worker: bool,
    pub is_host: bool,
    pub generic_params: Vec<String>,
    /// Every `generic_lists` entry of the manifest for this interface.
    pub generics: BTreeMap<String, String>,
    pub superclasses: Vec<SuperView>,
    /// More than one superclass.
    pub several_superclasses: bool,
    pub methods: Vec<MethodView>,
}

#[derive(Debug, Serialize)]
pub struct SuperView {
    /// Every type-level expression of the superclass type.
    pub code: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct MethodView {
    pub name: String,
    pub schema_name: String,
    pub variant: String,
    pub ordinal: u16,
    pub doc: Vec<String>,
    pub params: NameView,
    pub results: NameView,
    pub param_fields: Vec<FieldView>,
    pub result_fields: Vec<FieldView>,
    /// Params that are not `Sink(T)` (what a caller passes).
    pub plain_params: Vec<FieldView>,
    /// The only result field, when there is exactly one (returned bare).
    pub single_result: Option<FieldView>,
    /// True when params/results are the implicit `(a :A, b :B)` structs rather than
    /// a named struct type.
    pub params_implicit: bool,
    pub results_implicit: bool,
    pub is_stream: bool,
    pub idempotent: bool,
    pub timeout_ms: Option<u32>,
    pub sinks: Vec<SinkView>,
    /// More than one `Sink(T)` parameter.
    pub several_sinks: bool,
    /// The manifest's `naming.method_forms` of the name (the Rust target's `constant`).
    pub forms: BTreeMap<String, String>,
    /// `stream`, `single`, `struct` or `empty`: what the method returns.
    pub shape: &'static str,
    /// Every `method_expressions` entry of the manifest for this method (the Rust
    /// target's `descriptor`, `returns`).
    pub code: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct SinkView {
    pub field: String,
    /// Every type-level expression of the item type `T`.
    pub item: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct ConstantView {
    pub name: String,
    pub kind: &'static str,
    pub doc: Vec<String>,
    /// Every type-level expression of the constant's type.
    pub code: BTreeMap<String, String>,
    pub value: String,
}
