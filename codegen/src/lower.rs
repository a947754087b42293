//! CodeGeneratorRequest -> IR.
//!
//! The only module that touches capnp's `schema_capnp` readers. It walks each requested
//! file's nested declarations in schema order, names every node by its scope path
//! (groups by their field, implicit method structs as `methodParams`/`methodResults`),
//! and turns types, values and annotations into the plain data of `ir.rs`.

use std::collections::HashMap;

use capnp::schema_capnp::{brand, code_generator_request, node, type_};

use crate::error::CodegenError;
use crate::fingerprint;
use crate::ir::*;
use crate::well_known;

type Reader<'a> = code_generator_request::Reader<'a>;

/// Reads the request into the IR of its requested files.
pub fn lower(request: Reader<'_>) -> Result<Ir, CodegenError> {
    Lowering::new(request)?.run()
}

struct Lowering<'a> {
    request: Reader<'a>,
    nodes: HashMap<u64, node::Reader<'a>>,
    names: HashMap<u64, TypeRef>,
    /// Declarations owned by a node, in schema order: nested nodes, then groups in
    /// field order, then implicit method structs in method order.
    children: HashMap<u64, Vec<u64>>,
    /// The declaration that owns each named node (inverse of `children`).
    parents: HashMap<u64, u64>,
    docs: HashMap<u64, (Option<String>, Vec<Option<String>>)>,
}

fn doc(s: capnp::Result<capnp::text::Reader<'_>>) -> Option<String> {
    let text = s.ok()?.to_str().ok()?.trim_end().to_string();
    (!text.is_empty()).then(|| {
        text.lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn text(s: capnp::Result<capnp::text::Reader<'_>>) -> Result<String, CodegenError> {
    Ok(s?.to_str()?.to_string())
}

/// Ids of the enums `ty` names (list elements and type arguments included).
fn enums_in(ty: &Type, out: &mut Vec<u64>) {
    match ty {
        Type::Enum { name } => out.push(name.id.0),
        Type::List { element } => enums_in(element, out),
        Type::Struct { args, .. } | Type::Interface { args, .. } => {
            args.iter().for_each(|a| enums_in(a, out))
        }
        _ => {}
    }
}

fn stem_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".capnp")
        .unwrap_or(file)
        .replace(['-', '.'], "_")
}

impl<'a> Lowering<'a> {
    fn new(request: Reader<'a>) -> Result<Self, CodegenError> {
        let mut nodes = HashMap::new();
        for n in request.get_nodes()? {
            nodes.insert(n.get_id(), n);
        }
        let mut docs = HashMap::new();
        for info in request.get_source_info()? {
            let members = info
                .get_members()?
                .iter()
                .map(|m| doc(m.get_doc_comment()))
                .collect();
            docs.insert(info.get_id(), (doc(info.get_doc_comment()), members));
        }
        let mut this = Lowering {
            request,
            nodes,
            names: HashMap::new(),
            children: HashMap::new(),
            parents: HashMap::new(),
            docs,
        };
        // Name every file's declarations, requested or imported, so references to
        // imported types resolve.
        let files: Vec<_> = this
            .nodes
            .values()
            .filter(|n| matches!(n.which(), Ok(node::File(()))))
            .map(|n| n.get_id())
            .collect();
        for id in files {
            let path = text(this.nodes[&id].get_display_name())?;
            let stem = stem_of(&path);
            this.name_nested(id, id, &stem, &[])?;
        }
        Ok(this)
    }

    /// Records scope names for `parent`'s nested nodes, groups and method structs.
    fn name_nested(
        &mut self,
        file: u64,
        parent: u64,
        stem: &str,
        scope: &[String],
    ) -> Result<(), CodegenError> {
        let node = self.nodes[&parent];
        let mut children: Vec<(u64, Vec<String>)> = Vec::new();
        for nested in node.get_nested_nodes()? {
            let mut s = scope.to_vec();
            s.push(text(nested.get_name())?);
            children.push((nested.get_id(), s));
        }
        match node.which()? {
            node::Struct(st) => {
                for field in st.get_fields()? {
                    if let capnp::schema_capnp::field::Group(g) = field.which()? {
                        let mut s = scope.to_vec();
                        s.push(text(field.get_name())?);
                        children.push((g.get_type_id(), s));
                    }
                }
            }
            node::Interface(iface) => {
                for method in iface.get_methods()? {
                    let name = text(method.get_name())?;
                    for (id, suffix) in [
                        (method.get_param_struct_type(), "Params"),
                        (method.get_result_struct_type(), "Results"),
                    ] {
                        let implicit = self
                            .nodes
                            .get(&id)
                            .map(|n| n.get_scope_id() == 0)
                            .unwrap_or(false);
                        if implicit {
                            let mut s = scope.to_vec();
                            s.push(format!("{name}{suffix}"));
                            children.push((id, s));
                        }
                    }
                }
            }
            _ => {}
        }
        for (id, s) in children {
            if !self.nodes.contains_key(&id) || self.names.contains_key(&id) {
                continue;
            }
            self.names.insert(
                id,
                TypeRef {
                    id: Id(id),
                    file: Id(file),
                    file_stem: stem.to_string(),
                    scope: s.clone(),
                },
            );
            self.children.entry(parent).or_default().push(id);
            self.parents.insert(id, parent);
            self.name_nested(file, id, stem, &s)?;
        }
        Ok(())
    }

    fn type_ref(&self, id: u64) -> Result<TypeRef, CodegenError> {
        self.names
            .get(&id)
            .cloned()
            .ok_or(CodegenError::UnknownNode { id })
    }

    fn run(&self) -> Result<Ir, CodegenError> {
        let mut files = Vec::new();
        for requested in self.request.get_requested_files()? {
            files.push(self.file(requested)?);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut imported_enums = std::collections::BTreeMap::new();
        let declared: std::collections::HashSet<u64> = files
            .iter()
            .flat_map(|f| &f.enums)
            .map(|e| e.name.id.0)
            .collect();
        let mut used = Vec::new();
        for f in &files {
            for s in &f.structs {
                for field in &s.fields {
                    if let crate::ir::FieldKind::Slot { ty, .. } = &field.kind {
                        enums_in(ty, &mut used);
                    }
                }
            }
            for c in &f.constants {
                enums_in(&c.ty, &mut used);
            }
        }
        for id in used {
            if declared.contains(&id) {
                continue;
            }
            let Some(node::Enum(e)) = self.nodes.get(&id).map(|n| n.which()).transpose()? else {
                continue;
            };
            let mut names = Vec::new();
            for en in e.get_enumerants()? {
                names.push(text(en.get_name())?);
            }
            imported_enums.insert(Id(id), names);
        }
        Ok(Ir {
            files,
            imported_enums,
        })
    }

    fn file(
        &self,
        requested: code_generator_request::requested_file::Reader<'_>,
    ) -> Result<File, CodegenError> {
        let id = requested.get_id();
        let path = text(requested.get_filename())?;
        let mut imports = Vec::new();
        for imp in requested.get_imports()? {
            let name = text(imp.get_name())?;
            imports.push(Import {
                id: Id(imp.get_id()),
                stem: stem_of(&name),
                path: name.trim_start_matches('/').to_string(),
            });
        }
        let mut file = File {
            id: Id(id),
            stem: stem_of(&path),
            path,
            fingerprint: String::new(),
            imports,
            structs: vec![],
            enums: vec![],
            interfaces: vec![],
            constants: vec![],
        };
        self.collect(id, &mut file)?;
        file.fingerprint = fingerprint::of_file(&file);
        Ok(file)
    }

    /// Adds `parent`'s declarations to `file`, depth first in schema order.
    fn collect(&self, parent: u64, file: &mut File) -> Result<(), CodegenError> {
        for &id in self.children.get(&parent).map(Vec::as_slice).unwrap_or(&[]) {
            let n = self.nodes[&id];
            match n.which()? {
                node::Struct(_) => file.structs.push(self.structure(n)?),
                node::Enum(_) => file.enums.push(self.enumeration(n)?),
                node::Interface(_) => file.interfaces.push(self.interface(n)?),
                node::Const(c) => file.constants.push(Constant {
                    name: self.type_ref(id)?,
                    doc: self.node_doc(id),
                    ty: self.ty(c.get_type()?)?,
                    value: crate::values::value(c.get_value()?)?,
                }),
                node::Annotation(_) | node::File(()) => {}
            }
            self.collect(id, file)?;
        }
        Ok(())
    }

    fn node_doc(&self, id: u64) -> Option<String> {
        self.docs.get(&id).and_then(|(d, _)| d.clone())
    }

    fn member_doc(&self, id: u64, index: usize) -> Option<String> {
        self.docs
            .get(&id)
            .and_then(|(_, m)| m.get(index).cloned().flatten())
    }

    fn params_of(&self, n: node::Reader<'_>) -> Result<Vec<String>, CodegenError> {
        n.get_parameters()?
            .iter()
            .map(|p| text(p.get_name()))
            .collect()
    }

    /// Generic parameters of the declarations enclosing `id`, outermost first (capnpc
    /// makes nested types generic over them too).
    fn scope_params(&self, id: u64) -> Result<Vec<String>, CodegenError> {
        let mut chain = Vec::new();
        let mut current = self.parents.get(&id).copied();
        while let Some(p) = current {
            chain.push(p);
            current = self.parents.get(&p).copied();
        }
        let mut out = Vec::new();
        for p in chain.into_iter().rev() {
            if let Some(n) = self.nodes.get(&p) {
                out.extend(self.params_of(*n)?);
            }
        }
        Ok(out)
    }

    fn structure(&self, n: node::Reader<'_>) -> Result<Struct, CodegenError> {
        let node::Struct(st) = n.which()? else {
            unreachable!("checked by caller")
        };
        let id = n.get_id();
        let mut fields = Vec::new();
        for (index, f) in st.get_fields()?.iter().enumerate() {
            let discriminant = f.get_discriminant_value();
            let kind = match f.which()? {
                capnp::schema_capnp::field::Slot(slot) => FieldKind::Slot {
                    offset: slot.get_offset(),
                    ty: self.ty(slot.get_type()?)?,
                    default: crate::values::value(slot.get_default_value()?)?,
                    explicit_default: slot.get_had_explicit_default(),
                },
                capnp::schema_capnp::field::Group(g) => FieldKind::Group {
                    group: self.type_ref(g.get_type_id())?,
                },
            };
            let ordinal = match f.get_ordinal().which()? {
                capnp::schema_capnp::field::ordinal::Explicit(o) => Some(o),
                capnp::schema_capnp::field::ordinal::Implicit(()) => None,
            };
            fields.push((
                f.get_code_order(),
                Field {
                    name: text(f.get_name())?,
                    doc: self.member_doc(id, index),
                    ordinal,
                    discriminant: (discriminant != 0xffff).then_some(discriminant),
                    kind,
                    annotations: self.annotations(f.get_annotations()?)?,
                },
            ));
        }
        fields.sort_by_key(|(order, _)| *order);
        let name = self.type_ref(id)?;
        let is_method_struct = n.get_scope_id() == 0;
        Ok(Struct {
            name,
            doc: self.node_doc(id),
            data_words: st.get_data_word_count(),
            pointer_count: st.get_pointer_count(),
            is_group: st.get_is_group(),
            is_method_struct,
            // a generic method's parameters are AnyPointer in its params and results
            // (see `ty`): they are not generic structs
            generic_params: if is_method_struct {
                vec![]
            } else {
                self.params_of(n)?
            },
            implicit_params: if is_method_struct {
                self.params_of(n)?
            } else {
                vec![]
            },
            scope_generic_params: self.scope_params(id)?,
            union: (st.get_discriminant_count() > 0).then(|| Union {
                discriminant_offset: st.get_discriminant_offset(),
                member_count: st.get_discriminant_count(),
            }),
            fields: fields.into_iter().map(|(_, f)| f).collect(),
            annotations: self.annotations(n.get_annotations()?)?,
        })
    }

    fn enumeration(&self, n: node::Reader<'_>) -> Result<Enum, CodegenError> {
        let node::Enum(e) = n.which()? else {
            unreachable!("checked by caller")
        };
        let id = n.get_id();
        let mut enumerants = Vec::new();
        for (i, en) in e.get_enumerants()?.iter().enumerate() {
            enumerants.push((
                en.get_code_order(),
                Enumerant {
                    name: text(en.get_name())?,
                    value: i as u16,
                    doc: self.member_doc(id, i),
                },
            ));
        }
        enumerants.sort_by_key(|(o, _)| *o);
        Ok(Enum {
            name: self.type_ref(id)?,
            doc: self.node_doc(id),
            enumerants: enumerants.into_iter().map(|(_, e)| e).collect(),
            annotations: self.annotations(n.get_annotations()?)?,
        })
    }

    fn interface(&self, n: node::Reader<'_>) -> Result<Interface, CodegenError> {
        let node::Interface(iface) = n.which()? else {
            unreachable!("checked by caller")
        };
        let id = n.get_id();
        let annotations = self.annotations(n.get_annotations()?)?;
        let has = |aid: u64| annotations.iter().any(|a| a.id.0 == aid);
        let role = match (has(well_known::WORKER_ANNOTATION), has(well_known::HOST_ANNOTATION)) {
            (true, true) => return Err(CodegenError::Schema {
                message: format!("interface `{}` is marked both $worker and $host; an interface has one implementing side", self.type_ref(id)?.scope.join(".")),
            }),
            (true, false) => Role::Worker,
            (false, true) => Role::Host,
            (false, false) => Role::Plain,
        };
        let timeout_ms = timeout_of(&annotations);
        let mut superclasses = Vec::new();
        for sc in iface.get_superclasses()? {
            superclasses.push(Type::Interface {
                name: self.type_ref(sc.get_id())?,
                args: self.brand_args(sc.get_id(), sc.get_brand()?)?,
            });
        }
        let mut methods = Vec::new();
        for (index, m) in iface.get_methods()?.iter().enumerate() {
            let method_annotations = self.annotations(m.get_annotations()?)?;
            let params_id = m.get_param_struct_type();
            let sinks = self.sink_params(params_id)?;
            methods.push((
                m.get_code_order(),
                Method {
                    name: text(m.get_name())?,
                    ordinal: index as u16,
                    doc: self.member_doc(id, index),
                    params: self.type_ref(params_id)?,
                    results: self
                        .type_ref(m.get_result_struct_type())
                        .unwrap_or(TypeRef {
                            id: Id(m.get_result_struct_type()),
                            file: Id(0),
                            file_stem: "stream".into(),
                            scope: vec!["StreamResult".into()],
                        }),
                    is_stream: m.get_result_struct_type() == well_known::STREAM_RESULT,
                    idempotent: method_annotations
                        .iter()
                        .any(|a| a.id.0 == well_known::IDEMPOTENT_ANNOTATION),
                    timeout_ms: timeout_of(&method_annotations).or(timeout_ms),
                    sinks,
                    annotations: method_annotations,
                },
            ));
        }
        methods.sort_by_key(|(o, _)| *o);
        Ok(Interface {
            name: self.type_ref(id)?,
            doc: self.node_doc(id),
            role,
            generic_params: self.params_of(n)?,
            superclasses,
            methods: methods.into_iter().map(|(_, m)| m).collect(),
            timeout_ms,
            annotations,
        })
    }

    /// The fields of a params struct typed `Sink(T)`.
    fn sink_params(&self, params_id: u64) -> Result<Vec<SinkParam>, CodegenError> {
        let Some(n) = self.nodes.get(&params_id) else {
            return Ok(vec![]);
        };
        let node::Struct(st) = n.which()? else {
            return Ok(vec![]);
        };
        let mut sinks = Vec::new();
        for f in st.get_fields()? {
            if let capnp::schema_capnp::field::Slot(slot) = f.which()? {
                let ty = self.ty(slot.get_type()?)?;
                if let (true, Type::Interface { args, .. }) = (ty.is_sink(), ty) {
                    {
                        let item = args.into_iter().next().unwrap_or(Type::AnyPointer {
                            constraint: AnyConstraint::Any,
                        });
                        sinks.push(SinkParam {
                            field: text(f.get_name())?,
                            item,
                        });
                    }
                }
            }
        }
        Ok(sinks)
    }

    fn brand_args(&self, id: u64, b: brand::Reader<'_>) -> Result<Vec<Type>, CodegenError> {
        let params: Vec<String> = match self.nodes.get(&id) {
            Some(n) => n
                .get_parameters()?
                .iter()
                .map(|p| text(p.get_name()))
                .collect::<Result<_, _>>()?,
            None => vec![],
        };
        for scope in b.get_scopes()? {
            if scope.get_scope_id() != id {
                continue;
            }
            match scope.which()? {
                brand::scope::Bind(bindings) => {
                    let mut args = Vec::new();
                    for binding in bindings? {
                        args.push(match binding.which()? {
                            brand::binding::Unbound(()) => Type::AnyPointer {
                                constraint: AnyConstraint::Any,
                            },
                            brand::binding::Type(t) => self.ty(t?)?,
                        });
                    }
                    return Ok(args);
                }
                // inside the generic declaration itself: its own parameters
                brand::scope::Inherit(()) => {
                    return Ok(params
                        .into_iter()
                        .enumerate()
                        .map(|(index, name)| Type::Param {
                            scope: Id(id),
                            index: index as u16,
                            name,
                        })
                        .collect())
                }
            }
        }
        // A generic used without parameters (`Box` for `Box(T)`): every parameter is
        // AnyPointer, as capnp reads it.
        Ok(params
            .iter()
            .map(|_| Type::AnyPointer {
                constraint: AnyConstraint::Any,
            })
            .collect())
    }

    fn ty(&self, t: type_::Reader<'_>) -> Result<Type, CodegenError> {
        use type_::Which as W;
        Ok(match t.which()? {
            W::Void(()) => Type::Void,
            W::Bool(()) => Type::Bool,
            W::Int8(()) => Type::Int8,
            W::Int16(()) => Type::Int16,
            W::Int32(()) => Type::Int32,
            W::Int64(()) => Type::Int64,
            W::Uint8(()) => Type::UInt8,
            W::Uint16(()) => Type::UInt16,
            W::Uint32(()) => Type::UInt32,
            W::Uint64(()) => Type::UInt64,
            W::Float32(()) => Type::Float32,
            W::Float64(()) => Type::Float64,
            W::Text(()) => Type::Text,
            W::Data(()) => Type::Data,
            W::List(l) => Type::List {
                element: Box::new(self.ty(l.get_element_type()?)?),
            },
            W::Enum(e) => Type::Enum {
                name: self.type_ref(e.get_type_id())?,
            },
            W::Struct(s) => Type::Struct {
                name: self.type_ref(s.get_type_id())?,
                args: self.brand_args(s.get_type_id(), s.get_brand()?)?,
            },
            W::Interface(i) => Type::Interface {
                name: self.type_ref(i.get_type_id())?,
                args: self.brand_args(i.get_type_id(), i.get_brand()?)?,
            },
            W::AnyPointer(a) => match a.which()? {
                type_::any_pointer::Unconstrained(u) => Type::AnyPointer {
                    constraint: match u.which()? {
                        type_::any_pointer::unconstrained::AnyKind(()) => AnyConstraint::Any,
                        type_::any_pointer::unconstrained::Struct(()) => AnyConstraint::Struct,
                        type_::any_pointer::unconstrained::List(()) => AnyConstraint::List,
                        type_::any_pointer::unconstrained::Capability(()) => {
                            AnyConstraint::Capability
                        }
                    },
                },
                // A generic method's own parameter (`get @0 [T] () -> (v :T)`): the
                // caller picks T per call, so bindings take any pointer.
                type_::any_pointer::Parameter(p)
                    if self.nodes.get(&p.get_scope_id()).is_some_and(|n| {
                        n.get_scope_id() == 0 && matches!(n.which(), Ok(node::Struct(_)))
                    }) =>
                {
                    Type::AnyPointer {
                        constraint: AnyConstraint::Any,
                    }
                }
                type_::any_pointer::Parameter(p) => {
                    let scope = p.get_scope_id();
                    let index = p.get_parameter_index();
                    let name = self
                        .nodes
                        .get(&scope)
                        .and_then(|n| n.get_parameters().ok())
                        .and_then(|ps| ps.iter().nth(index as usize))
                        .and_then(|p| p.get_name().ok()?.to_string().ok())
                        .unwrap_or_else(|| format!("T{index}"));
                    Type::Param {
                        scope: Id(scope),
                        index,
                        name,
                    }
                }
                type_::any_pointer::ImplicitMethodParameter(_) => Type::AnyPointer {
                    constraint: AnyConstraint::Any,
                },
            },
        })
    }

    fn annotations(
        &self,
        list: capnp::struct_list::Reader<'_, capnp::schema_capnp::annotation::Owned>,
    ) -> Result<Vec<Annotation>, CodegenError> {
        let mut out = Vec::new();
        for a in list {
            let id = a.get_id();
            let name = self
                .names
                .get(&id)
                .map(|r| format!("{}.{}", r.file_stem, r.scope.join(".")))
                .unwrap_or_else(|| format!("{id:#x}"));
            out.push(Annotation {
                id: Id(id),
                name,
                value: crate::values::value(a.get_value()?)?,
            });
        }
        Ok(out)
    }
}

fn timeout_of(annotations: &[Annotation]) -> Option<u32> {
    annotations
        .iter()
        .find(|a| a.id.0 == well_known::TIMEOUT_ANNOTATION)
        .and_then(|a| match a.value {
            Value::UInt(v) => u32::try_from(v).ok(),
            _ => None,
        })
}
