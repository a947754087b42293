//! Schema constructs the Rust target cannot generate, found before capnpc runs so the
//! error names the schema file, the declaration and the field.
//!
//! capnpc (the raw Rust readers and builders the owned types wrap) refuses lists whose
//! elements are any kind of AnyPointer (`List(Capability)`, `List(AnyList)`; the schema
//! compiler itself refuses `List(AnyPointer)`, `List(AnyStruct)` and `List(T)`) or a
//! generic parameter, at any depth (`List(List(Capability))`), and constants of
//! interface or `AnyPointer` type; its own message names neither the file nor the
//! field.

use crate::error::CodegenError;
use crate::ir::{AnyConstraint, FieldKind, Ir, Type};

/// The first construct of `ir` the Rust target refuses, as an error naming it.
pub fn check_rust(ir: &Ir) -> Result<(), CodegenError> {
    for file in &ir.files {
        for s in &file.structs {
            for f in &s.fields {
                let FieldKind::Slot { ty, .. } = &f.kind else {
                    continue;
                };
                if let Some(what) = list_of_pointers(ty) {
                    return Err(CodegenError::RustUnsupported {
                        schema: file.path.clone(),
                        place: format!("{}.{}", s.name.scope.join("."), f.name),
                        what,
                    });
                }
            }
        }
        for c in &file.constants {
            let what = match &c.ty {
                Type::Interface { .. } => Some("a constant of interface type"),
                Type::AnyPointer { .. } | Type::Param { .. } => {
                    Some("a constant of AnyPointer type")
                }
                _ => None,
            };
            if let Some(what) = what {
                return Err(CodegenError::RustUnsupported {
                    schema: file.path.clone(),
                    place: c.name.scope.join("."),
                    what: what.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// `Some(description)` when `ty` is a list (of lists...) of AnyPointer or a parameter.
fn list_of_pointers(ty: &Type) -> Option<String> {
    let Type::List { element } = ty else {
        return None;
    };
    match element.as_ref() {
        Type::AnyPointer { constraint } => Some(format!(
            "List({})",
            match constraint {
                AnyConstraint::Any => "AnyPointer",
                AnyConstraint::Struct => "AnyStruct",
                AnyConstraint::List => "AnyList",
                AnyConstraint::Capability => "Capability",
            }
        )),
        Type::Param { name, .. } => Some(format!("List({name}), a list of a generic parameter,")),
        inner => list_of_pointers(inner).map(|w| format!("List({w})")),
    }
}
