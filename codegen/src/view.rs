//! IR -> the data a target's templates print.
//!
//! Names are already converted and escaped for the target, type expressions already
//! rendered (`exprs.rs`), doc comments already split into lines, so templates only
//! print and loop. One view per schema file (`FileView`), plus the run view listing
//! every file.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::CodegenError;
use crate::exprs::{kind, Exprs};
use crate::ir::{self, FieldKind, Role, Type, TypeRef};
use crate::target::Manifest;

pub const GENERATOR: &str = concat!("polyhost-codegen ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Serialize)]
pub struct RunView {
    pub generator: &'static str,
    pub files: Vec<FileView>,
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
    pub globals: BTreeMap<String, String>,
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
    pub generic_params: Vec<String>,
    /// A generic method's own parameters (params and results structs only).
    pub implicit_params: Vec<String>,
    pub scope_generic_params: Vec<String>,
    /// Every field in code order.
    pub fields: Vec<FieldView>,
    /// Fields outside the unnamed union.
    pub plain_fields: Vec<FieldView>,
    /// Some field outside the unnamed union holds data (one not of type Void): a
    /// struct whose plain fields are all Void writes nothing for them.
    pub writes_plain_fields: bool,
    pub union: Option<UnionView>,
}

#[derive(Debug, Serialize)]
pub struct UnionView {
    pub discriminant_offset: u32,
    pub members: Vec<FieldView>,
    /// The member with discriminant 0 (what an all-zero struct holds).
    pub default_member: String,
}

#[derive(Debug, Serialize, Clone)]
pub struct FieldView {
    pub name: String,
    /// The field's name cased for the target but not escaped.
    pub plain: String,
    /// The name as written in the schema.
    pub schema_name: String,
    /// The name cased as a type (union variants, group types).
    pub variant: String,
    /// capnpc-rust's stem for accessors (`get_<capnpc>`).
    pub capnpc: String,
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
    pub exprs: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct EnumView {
    #[serde(flatten)]
    pub name: NameView,
    pub doc: Vec<String>,
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
    pub superclasses: Vec<SuperView>,
    pub methods: Vec<MethodView>,
}

#[derive(Debug, Serialize)]
pub struct SuperView {
    pub exprs: BTreeMap<String, String>,
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
}

#[derive(Debug, Serialize)]
pub struct SinkView {
    pub field: String,
    pub item: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct ConstantView {
    pub name: String,
    pub kind: &'static str,
    pub doc: Vec<String>,
    pub exprs: BTreeMap<String, String>,
    pub value: String,
}

/// Ids of the files whose types `file` refers to (fields, constants, superclasses,
/// method params and results; a `-> stream` method's results are implicit).
fn files_used(file: &ir::File) -> std::collections::BTreeSet<u64> {
    fn walk(ty: &Type, out: &mut std::collections::BTreeSet<u64>) {
        match ty {
            Type::List { element } => walk(element, out),
            Type::Enum { name } => {
                out.insert(name.file.0);
            }
            Type::Struct { name, args } | Type::Interface { name, args } => {
                out.insert(name.file.0);
                args.iter().for_each(|a| walk(a, out));
            }
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for s in &file.structs {
        for f in &s.fields {
            if let FieldKind::Slot { ty, .. } = &f.kind {
                walk(ty, &mut out);
            }
        }
    }
    file.constants.iter().for_each(|c| walk(&c.ty, &mut out));
    for i in &file.interfaces {
        i.superclasses.iter().for_each(|t| walk(t, &mut out));
        for m in &i.methods {
            out.insert(m.params.file.0);
            if !m.is_stream {
                out.insert(m.results.file.0);
            }
        }
    }
    out
}

/// Positions of `interfaces` ordered so that each comes after its superclasses declared
/// in the same list; otherwise the original order is kept.
fn bases_first(interfaces: &[ir::Interface]) -> Vec<usize> {
    fn visit(i: usize, interfaces: &[ir::Interface], state: &mut [u8], out: &mut Vec<usize>) {
        if state[i] != 0 {
            return; // placed, or on the current path (capnp rejects cycles anyway)
        }
        state[i] = 1;
        for sup in &interfaces[i].superclasses {
            if let Type::Interface { name, .. } = sup {
                if let Some(j) = interfaces.iter().position(|x| x.name.id == name.id) {
                    visit(j, interfaces, state, out);
                }
            }
        }
        state[i] = 2;
        out.push(i);
    }
    let mut state = vec![0u8; interfaces.len()];
    let mut out = Vec::with_capacity(interfaces.len());
    for i in 0..interfaces.len() {
        visit(i, interfaces, &mut state, &mut out);
    }
    out
}

fn doc_lines(doc: &Option<String>) -> Vec<String> {
    doc.as_deref()
        .map(|d| d.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

pub struct ViewBuilder<'a> {
    pub manifest: &'a Manifest,
    pub ir: &'a ir::Ir,
    pub globals: &'a BTreeMap<String, String>,
    pub enumerants: BTreeMap<u64, Vec<String>>,
}

impl<'a> ViewBuilder<'a> {
    pub fn new(
        manifest: &'a Manifest,
        ir: &'a ir::Ir,
        globals: &'a BTreeMap<String, String>,
    ) -> Self {
        let enumerants = ir
            .files
            .iter()
            .flat_map(|f| &f.enums)
            .map(|e| {
                (
                    e.name.id.0,
                    e.enumerants.iter().map(|v| v.name.clone()).collect(),
                )
            })
            .chain(
                ir.imported_enums
                    .iter()
                    .map(|(id, names)| (id.0, names.clone())),
            )
            .collect();
        ViewBuilder {
            manifest,
            ir,
            globals,
            enumerants,
        }
    }

    pub fn run(&self) -> Result<RunView, CodegenError> {
        Ok(RunView {
            generator: GENERATOR,
            files: self
                .ir
                .files
                .iter()
                .map(|f| self.file(f))
                .collect::<Result<_, _>>()?,
            globals: self.globals.clone(),
        })
    }

    fn exprs(&self, file: &ir::File) -> Exprs<'_> {
        Exprs {
            manifest: self.manifest,
            current_file: file.id.0,
            globals: self.globals,
            enumerants: &self.enumerants,
        }
    }

    pub fn file(&self, file: &ir::File) -> Result<FileView, CodegenError> {
        let naming = &self.manifest.naming;
        let c = &self.manifest.line_comment;
        let header = vec![
            format!("{c} @generated by {GENERATOR} from `{}`. Do not edit: change the schema and rebuild.", file.path),
            format!("{c} schema: {}", file.path),
            format!("{c} fingerprint: {}", file.fingerprint),
        ];
        let x = self.exprs(file);
        let used = files_used(file);
        let mut structs = Vec::new();
        for s in &file.structs {
            structs.push(self.structure(&x, s)?);
        }
        let mut interfaces = Vec::new();
        for i in &file.interfaces {
            interfaces.push(self.interface(&x, file, i)?);
        }
        Ok(FileView {
            path: file.path.clone(),
            stem: file.stem.clone(),
            module: naming.file_module(&file.stem),
            id: format!("{:#x}", file.id.0),
            fingerprint: file.fingerprint.clone(),
            generator: GENERATOR,
            header,
            imports: file
                .imports
                .iter()
                .map(|i| ImportView {
                    path: i.path.clone(),
                    stem: i.stem.clone(),
                    module: naming.file_module(&i.stem),
                    used: used.contains(&i.id.0),
                })
                .collect(),
            has_sinks: file
                .interfaces
                .iter()
                .any(|i| i.methods.iter().any(|m| !m.sinks.is_empty())),
            structs,
            enums: file
                .enums
                .iter()
                .map(|e| EnumView {
                    name: self.name(&x, &e.name),
                    doc: doc_lines(&e.doc),
                    enumerants: e
                        .enumerants
                        .iter()
                        .map(|v| EnumerantView {
                            name: naming.enumerant(&v.name),
                            schema_name: v.name.clone(),
                            value: v.value,
                            doc: doc_lines(&v.doc),
                        })
                        .collect(),
                })
                .collect(),
            interface_order: bases_first(&file.interfaces),
            interfaces,
            constants: file
                .constants
                .iter()
                .map(|k| {
                    Ok(ConstantView {
                        name: naming.constant(&k.name.scope),
                        kind: kind(&k.ty),
                        doc: doc_lines(&k.doc),
                        exprs: self.type_exprs(&x, &k.ty, &BTreeMap::new())?,
                        value: x.literal(&k.ty, &k.value)?,
                    })
                })
                .collect::<Result<_, CodegenError>>()?,
            globals: self.globals.clone(),
        })
    }

    fn name(&self, x: &Exprs<'_>, r: &TypeRef) -> NameView {
        NameView {
            name: x.type_name(r),
            scope_path: self.manifest.naming.scope_path(&r.scope),
            parent_path: self
                .manifest
                .naming
                .scope_path(&r.scope[..r.scope.len().saturating_sub(1)]),
            last: r.scope.last().cloned().unwrap_or_default(),
            schema_name: r.scope.join("."),
            id: format!("{:#x}", r.id.0),
        }
    }

    /// Every type-level manifest expression for `ty`.
    fn type_exprs(
        &self,
        x: &Exprs<'_>,
        ty: &Type,
        vars: &BTreeMap<&str, String>,
    ) -> Result<BTreeMap<String, String>, CodegenError> {
        let mut out = BTreeMap::new();
        for expr in self.manifest.expressions.keys() {
            out.insert(expr.clone(), x.render(expr, ty, vars)?);
        }
        Ok(out)
    }

    /// Type-level and field-level expressions for a struct field.
    fn field_exprs(
        &self,
        x: &Exprs<'_>,
        ty: &Type,
        vars: &BTreeMap<&str, String>,
    ) -> Result<BTreeMap<String, String>, CodegenError> {
        let mut out = self.type_exprs(x, ty, vars)?;
        for expr in self.manifest.field_expressions.keys() {
            out.insert(expr.clone(), x.render(expr, ty, vars)?);
        }
        Ok(out)
    }

    fn field(&self, x: &Exprs<'_>, index: usize, f: &ir::Field) -> Result<FieldView, CodegenError> {
        let naming = &self.manifest.naming;
        let name = naming.field(&f.name);
        let plain = crate::naming::convert(&f.name, naming.fields);
        let capnpc = crate::naming::capnpc_snake(&f.name);
        let mut view = FieldView {
            name: name.clone(),
            plain: plain.clone(),
            schema_name: f.name.clone(),
            variant: crate::naming::convert(&f.name, naming.types),
            capnpc: capnpc.clone(),
            doc: doc_lines(&f.doc),
            kind: "group",
            offset: 0,
            discriminant: f.discriminant,
            is_void: false,
            is_pointer: false,
            is_group: false,
            group: None,
            default: String::new(),
            explicit_default: false,
            exprs: BTreeMap::new(),
        };
        match &f.kind {
            FieldKind::Group { group } => {
                view.is_group = true;
                view.group = Some(self.name(x, group));
            }
            FieldKind::Slot {
                offset,
                ty,
                default,
                explicit_default,
            } => {
                view.kind = if ty.is_sink() { "sink" } else { kind(ty) };
                view.offset = *offset;
                view.is_void = matches!(ty, Type::Void);
                view.is_pointer = ty.is_pointer();
                view.default = x.literal(ty, default)?;
                view.explicit_default = *explicit_default;
                let vars: BTreeMap<&str, String> = [
                    ("field", name),
                    ("field_raw", plain),
                    ("capnpc", capnpc),
                    ("schema_field", f.name.clone()),
                    ("offset", offset.to_string()),
                    ("default", view.default.clone()),
                    ("index", index.to_string()),
                ]
                .into_iter()
                .collect();
                view.exprs = self.field_exprs(x, ty, &vars)?;
            }
        }
        Ok(view)
    }

    fn structure(&self, x: &Exprs<'_>, s: &ir::Struct) -> Result<StructView, CodegenError> {
        let fields = s
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| self.field(x, i, f))
            .collect::<Result<Vec<_>, _>>()?;
        let union = s.union.as_ref().map(|u| {
            let members: Vec<FieldView> = fields
                .iter()
                .filter(|f| f.discriminant.is_some())
                .cloned()
                .collect();
            UnionView {
                discriminant_offset: u.discriminant_offset,
                default_member: members
                    .iter()
                    .find(|m| m.discriminant == Some(0))
                    .map(|m| m.name.clone())
                    .unwrap_or_default(),
                members,
            }
        });
        Ok(StructView {
            name: self.name(x, &s.name),
            doc: doc_lines(&s.doc),
            data_words: s.data_words,
            pointer_count: s.pointer_count,
            is_group: s.is_group,
            is_method_struct: s.is_method_struct,
            generic_params: s.generic_params.clone(),
            implicit_params: s.implicit_params.clone(),
            scope_generic_params: s.scope_generic_params.clone(),
            writes_plain_fields: fields
                .iter()
                .any(|f| f.discriminant.is_none() && !f.is_void),
            plain_fields: fields
                .iter()
                .filter(|f| f.discriminant.is_none())
                .cloned()
                .collect(),
            fields,
            union,
        })
    }

    fn struct_fields(&self, x: &Exprs<'_>, r: &TypeRef) -> Result<Vec<FieldView>, CodegenError> {
        let Some(s) = self
            .ir
            .files
            .iter()
            .flat_map(|f| &f.structs)
            .find(|s| s.name.id == r.id)
        else {
            return Ok(vec![]);
        };
        s.fields
            .iter()
            .enumerate()
            .map(|(i, f)| self.field(x, i, f))
            .collect()
    }

    fn interface(
        &self,
        x: &Exprs<'_>,
        _file: &ir::File,
        i: &ir::Interface,
    ) -> Result<InterfaceView, CodegenError> {
        let naming = &self.manifest.naming;
        let mut methods = Vec::new();
        for m in &i.methods {
            let param_fields = self.struct_fields(x, &m.params)?;
            let result_fields = if m.is_stream {
                vec![]
            } else {
                self.struct_fields(x, &m.results)?
            };
            let sink_names: Vec<String> = m.sinks.iter().map(|s| naming.field(&s.field)).collect();
            let implicit = |r: &TypeRef| {
                self.ir
                    .files
                    .iter()
                    .flat_map(|f| &f.structs)
                    .any(|s| s.name.id == r.id && s.is_method_struct)
            };
            methods.push(MethodView {
                plain_params: param_fields
                    .iter()
                    .filter(|f| !sink_names.contains(&f.name))
                    .cloned()
                    .collect(),
                single_result: if result_fields.len() == 1 && (m.is_stream || implicit(&m.results))
                {
                    result_fields.first().cloned()
                } else {
                    None
                },
                params_implicit: implicit(&m.params),
                results_implicit: m.is_stream || implicit(&m.results),
                name: naming.method(&m.name),
                schema_name: m.name.clone(),
                variant: crate::naming::convert(&m.name, naming.types),
                ordinal: m.ordinal,
                doc: doc_lines(&m.doc),
                params: self.name(x, &m.params),
                results: self.name(x, &m.results),
                param_fields,
                result_fields,
                is_stream: m.is_stream,
                idempotent: m.idempotent,
                timeout_ms: m.timeout_ms,
                sinks: m
                    .sinks
                    .iter()
                    .map(|s| {
                        Ok(SinkView {
                            field: naming.field(&s.field),
                            item: self.type_exprs(x, &s.item, &BTreeMap::new())?,
                        })
                    })
                    .collect::<Result<_, CodegenError>>()?,
            });
        }
        Ok(InterfaceView {
            name: self.name(x, &i.name),
            doc: doc_lines(&i.doc),
            role: i.role,
            is_worker: i.role == Role::Worker,
            is_host: i.role == Role::Host,
            generic_params: i.generic_params.clone(),
            superclasses: i
                .superclasses
                .iter()
                .map(|t| {
                    Ok(SuperView {
                        exprs: self.type_exprs(x, t, &BTreeMap::new())?,
                    })
                })
                .collect::<Result<_, CodegenError>>()?,
            methods,
        })
    }
}
