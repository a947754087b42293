//! Generic structs in the JSON path: a `Pair(Text, Point)` field is a `Type::Branded`
//! whose struct is instantiated (its `Type::Param` fields replaced by the bound types)
//! when it is encoded, decoded or described. Unbound parameters are AnyPointer.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use capnp::schema_capnp::brand;

use crate::json::model::{FieldKind, Schema, StructSchema, Type};

/// The types bound to generic parameters: (scope id, one type per parameter).
pub type Brand = Vec<(u64, Vec<Type>)>;

/// A brand's bindings (scopes that bind nothing, or inherit, are left out).
pub(crate) fn brand_of(
    b: brand::Reader<'_>,
    type_of: &dyn Fn(capnp::schema_capnp::type_::Reader<'_>) -> capnp::Result<Type>,
) -> capnp::Result<Brand> {
    let mut out = Vec::new();
    for scope in b.get_scopes()? {
        if let brand::scope::Which::Bind(bindings) = scope.which()? {
            let mut types = Vec::new();
            for binding in bindings? {
                types.push(match binding.which()? {
                    brand::binding::Which::Type(t) => type_of(t?)?,
                    brand::binding::Which::Unbound(()) => Type::AnyPointer,
                });
            }
            if !types.is_empty() {
                out.push((scope.get_scope_id(), types));
            }
        }
    }
    Ok(out)
}

/// `ty` with the parameters `brand` binds replaced.
pub fn substitute(ty: &Type, brand: &Brand) -> Type {
    match ty {
        Type::Param { scope, index } => brand
            .iter()
            .find(|(s, _)| s == scope)
            .and_then(|(_, types)| types.get(*index as usize).cloned())
            .unwrap_or(Type::AnyPointer),
        Type::Branded(id, inner) => Type::Branded(
            *id,
            inner
                .iter()
                .map(|(s, types)| (*s, types.iter().map(|t| substitute(t, brand)).collect()))
                .collect(),
        ),
        Type::List(item) => Type::List(Box::new(substitute(item, brand))),
        other => other.clone(),
    }
}

impl Schema {
    /// The struct a `Struct` or `Branded` type names, instantiated for the latter.
    pub fn struct_of(&self, ty: &Type) -> capnp::Result<Cow<'_, StructSchema>> {
        match ty {
            Type::Struct(id) => self.struct_(*id).map(Cow::Borrowed),
            Type::Branded(id, brand) => self.instantiate(*id, brand).map(Cow::Owned),
            other => Err(capnp::Error::failed(format!("{other:?} is not a struct"))),
        }
    }

    fn instantiate(&self, id: u64, brand: &Brand) -> capnp::Result<StructSchema> {
        let mut s = self.struct_(id)?.clone();
        for f in &mut s.fields {
            match &mut f.kind {
                FieldKind::Slot { ty, .. } => *ty = substitute(ty, brand),
                FieldKind::Group(g) => {
                    f.kind = FieldKind::Inline(Box::new(self.instantiate(*g, brand)?));
                }
                FieldKind::Inline(_) => {}
            }
        }
        Ok(s)
    }
}

/// Every struct and enum whose definition a document for `root` needs, by id
/// (instantiated generic structs are described inline, their bound types here).
pub(crate) fn reachable(schema: &Schema, root: u64) -> BTreeMap<u64, ()> {
    let mut seen = BTreeMap::new();
    let mut instantiated = HashSet::new();
    let mut todo: Vec<Cow<'_, StructSchema>> = Vec::new();
    let mut types = vec![Type::Struct(root)];
    loop {
        while let Some(ty) = types.pop() {
            match ty {
                Type::List(item) => types.push(*item),
                Type::Enum(id) => {
                    seen.insert(id, ());
                }
                Type::Struct(id) if seen.insert(id, ()).is_none() => {
                    if let Ok(s) = schema.struct_(id) {
                        todo.push(Cow::Borrowed(s));
                    }
                }
                Type::Branded(id, ref brand) if instantiated.insert(format!("{id}{brand:?}")) => {
                    if let Ok(s) = schema.instantiate(id, brand) {
                        todo.push(Cow::Owned(s));
                    }
                }
                _ => {}
            }
        }
        let Some(s) = todo.pop() else { break };
        for f in &s.fields {
            match &f.kind {
                FieldKind::Group(g) => types.push(Type::Struct(*g)),
                FieldKind::Inline(g) => todo.push(Cow::Owned((**g).clone())),
                FieldKind::Slot { ty, .. } => types.push(ty.clone()),
            }
        }
    }
    seen
}
