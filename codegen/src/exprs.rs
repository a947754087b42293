//! Type-directed expressions: how a target writes a type, reads it, writes it.
//!
//! A manifest maps an expression name (`type`, `read`, `write`, ...) and a type kind
//! (`int32`, `text`, `list`, `struct`, ...) to a pattern. A pattern may name the kind of
//! a list's element (`list.struct`), an AnyPointer's constraint (`any_pointer.list`) or
//! `sink` (polyhost's `Sink(T)`), which win over the plain kind; `*` is the fallback. A
//! group field has only the patterns keyed `group` (its `{name}` is the group's type).
//! Placeholders in `{braces}` are filled in here:
//!
//! - named types: `{name}` (qualified in the target), `{local}`, `{module}` (the file
//!   module), `{stem}`, `{scope_path}`, `{parent_prefix}` (the enclosing scope's path
//!   followed by the path separator; nothing at the top level), `{last}` (the last scope
//!   segment as written), `{id}`;
//! - `{self.X}` is expression `X` of the same type (patterns build on each other);
//! - lists: `{element.X}` is the element's `X` expression; generics:
//!   `{arguments.X}` joins the type arguments' `X` expressions with `, `,
//!   `{angled_arguments.X}` wraps them in `<>` (nothing without arguments),
//!   `{trailing_arguments.X}` puts `, ` before each (nothing without arguments: trailing
//!   call arguments), `{arguments_array.X}` is `, [X1, X2]` (nothing without arguments:
//!   one trailing array argument) and `{first_argument.X}` is the first;
//!   `{parameter}` names a generic parameter and `{parameter_index}` is its position in
//!   its declaration's parameter list; `{constraint}` an AnyPointer's constraint;
//! - fields: `{field}`, `{field_unescaped}` (cased, not escaped), one placeholder per
//!   `naming.field_forms` entry (`{accessor}` in the Rust target), `{schema_field}` (the
//!   name in the schema), `{offset}`, `{default}` (the default as a literal), `{index}`;
//! - run-wide values from the builder (`{polyhost}`, `{root}` for the Rust target);
//! - in the `pointer` literal, `{decode}` is the type's `decode_const` expression.
//!
//! A placeholder the generator does not know is an error naming the pattern, so a typo
//! in a manifest fails the build instead of producing broken code.

use std::collections::BTreeMap;

use crate::error::CodegenError;
use crate::ir::{AnyConstraint, Type, TypeRef, Value};
use crate::target::Manifest;

pub fn kind(ty: &Type) -> &'static str {
    match ty {
        Type::Void => "void",
        Type::Bool => "bool",
        Type::Int8 => "int8",
        Type::Int16 => "int16",
        Type::Int32 => "int32",
        Type::Int64 => "int64",
        Type::UInt8 => "uint8",
        Type::UInt16 => "uint16",
        Type::UInt32 => "uint32",
        Type::UInt64 => "uint64",
        Type::Float32 => "float32",
        Type::Float64 => "float64",
        Type::Text => "text",
        Type::Data => "data",
        Type::List { .. } => "list",
        Type::Enum { .. } => "enum",
        Type::Struct { .. } => "struct",
        Type::Interface { .. } => "interface",
        Type::AnyPointer { .. } => "any_pointer",
        Type::Param { .. } => "parameter",
    }
}

/// In `vars`, marks a group field: patterns are looked up under `group` only (and the
/// type is the group's struct, for `{name}`). Not a placeholder (not lower case).
pub const GROUP: &str = "@group";

/// Fills the `{placeholder}`s of `pattern` (lower-case start; letters, digits, `_` and
/// `.`) with `value(token)`; any other `{` is printed as is.
pub fn fill(
    pattern: &str,
    mut value: impl FnMut(&str) -> Result<String, CodegenError>,
) -> Result<String, CodegenError> {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}');
        let token = end.map(|e| &after[..e]).unwrap_or("");
        let is_placeholder = !token.is_empty()
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && token.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !is_placeholder {
            out.push('{');
            rest = after;
            continue;
        }
        out.push_str(&value(token)?);
        rest = &after[token.len() + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders expressions for one target in the context of one schema file.
pub struct Exprs<'a> {
    pub manifest: &'a Manifest,
    /// The file being rendered: types declared elsewhere are qualified.
    pub current_file: u64,
    /// Run-wide placeholders (`root`, ...).
    pub globals: &'a BTreeMap<String, String>,
    /// Enumerant names by enum id, for enum default literals (`{enumerant}`).
    pub enumerants: &'a BTreeMap<u64, Vec<String>>,
}

impl Exprs<'_> {
    fn err(&self, message: String) -> CodegenError {
        CodegenError::Target {
            target: self.manifest.name.clone(),
            message,
        }
    }

    /// The target's name for a declared type, qualified when it is in another file.
    pub fn type_name(&self, r: &TypeRef) -> String {
        let naming = &self.manifest.naming;
        let local = naming.type_name(&r.scope);
        if r.file.0 == self.current_file {
            local
        } else {
            naming
                .foreign_type
                .replace("{module}", &naming.file_module(&r.file_stem))
                .replace("{name}", &local)
        }
    }

    fn pattern(
        &self,
        expr: &str,
        ty: &Type,
        vars: &BTreeMap<&str, String>,
    ) -> Result<&str, CodegenError> {
        let table = self
            .manifest
            .expressions
            .get(expr)
            .or_else(|| self.manifest.field_expressions.get(expr))
            .ok_or_else(|| {
                self.err(format!(
                    "no expression `{expr}` in the manifest's `expressions`"
                ))
            })?;
        if vars.contains_key(GROUP) {
            return table.get("group").map(String::as_str).ok_or_else(|| {
                self.err(format!(
                    "expression `{expr}` has no pattern for a `group` field"
                ))
            });
        }
        let k = kind(ty);
        let specific = match ty {
            Type::List { element } => Some(format!("list.{}", kind(element))),
            Type::AnyPointer { constraint } => Some(format!(
                "any_pointer.{}",
                match constraint {
                    AnyConstraint::Any => "any",
                    AnyConstraint::Struct => "struct",
                    AnyConstraint::List => "list",
                    AnyConstraint::Capability => "capability",
                }
            )),
            _ if ty.is_sink() => Some("sink".to_string()),
            _ => None,
        };
        specific
            .and_then(|s| table.get(&s))
            .or_else(|| table.get(k))
            .or_else(|| table.get("*"))
            .map(String::as_str)
            .ok_or_else(|| {
                self.err(format!(
                    "expression `{expr}` has no pattern for type kind `{k}` (add `{k}` or `*`)"
                ))
            })
    }

    /// Renders expression `expr` for `ty`; `vars` adds field-level placeholders.
    pub fn render(
        &self,
        expr: &str,
        ty: &Type,
        vars: &BTreeMap<&str, String>,
    ) -> Result<String, CodegenError> {
        let pattern = self.pattern(expr, ty, vars)?;
        fill(pattern, |token| {
            self.placeholder(expr, pattern, token, ty, vars)
        })
    }

    fn placeholder(
        &self,
        expr: &str,
        pattern: &str,
        token: &str,
        ty: &Type,
        vars: &BTreeMap<&str, String>,
    ) -> Result<String, CodegenError> {
        let unknown = || {
            self.err(format!(
                "pattern `{pattern}` of expression `{expr}` uses unknown placeholder `{{{token}}}`"
            ))
        };
        if let Some(v) = vars.get(token) {
            return Ok(v.clone());
        }
        if let Some(v) = self.globals.get(token) {
            return Ok(v.clone());
        }
        let no_vars = BTreeMap::new();
        if let Some(sub) = token.strip_prefix("self.") {
            return self.render(sub, ty, vars);
        }
        if let Some(sub) = token.strip_prefix("element.") {
            let Type::List { element } = ty else {
                return Err(unknown());
            };
            return self.render(sub, element, &no_vars);
        }
        let args = match ty {
            Type::Struct { args, .. } | Type::Interface { args, .. } => args.as_slice(),
            _ => &[],
        };
        if let Some(sub) = token.strip_prefix("arguments.") {
            let parts = args
                .iter()
                .map(|a| self.render(sub, a, &no_vars))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(parts.join(", "));
        }
        if let Some(sub) = token.strip_prefix("angled_arguments.") {
            if args.is_empty() {
                return Ok(String::new());
            }
            let parts = args
                .iter()
                .map(|a| self.render(sub, a, &no_vars))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(format!("<{}>", parts.join(", ")));
        }
        if let Some(sub) = token.strip_prefix("trailing_arguments.") {
            let parts = args
                .iter()
                .map(|a| self.render(sub, a, &no_vars))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(parts.iter().map(|p| format!(", {p}")).collect());
        }
        if let Some(sub) = token.strip_prefix("arguments_array.") {
            if args.is_empty() {
                return Ok(String::new());
            }
            let parts = args
                .iter()
                .map(|a| self.render(sub, a, &no_vars))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(format!(", [{}]", parts.join(", ")));
        }
        if let Some(sub) = token.strip_prefix("first_argument.") {
            let default = Type::AnyPointer {
                constraint: AnyConstraint::Any,
            };
            return self.render(sub, args.first().unwrap_or(&default), &no_vars);
        }
        let named = match ty {
            Type::Struct { name, .. } | Type::Interface { name, .. } | Type::Enum { name } => {
                Some(name)
            }
            _ => None,
        };
        let naming = &self.manifest.naming;
        match (token, named, ty) {
            ("name", Some(r), _) => Ok(self.type_name(r)),
            ("local", Some(r), _) => Ok(naming.type_name(&r.scope)),
            ("module", Some(r), _) => Ok(naming.file_module(&r.file_stem)),
            ("stem", Some(r), _) => Ok(r.file_stem.clone()),
            ("scope_path", Some(r), _) => Ok(naming.scope_path(&r.scope)),
            ("parent_prefix", Some(r), _) => {
                let parent = &r.scope[..r.scope.len().saturating_sub(1)];
                Ok(if parent.is_empty() {
                    String::new()
                } else {
                    naming.scope_path(parent) + &naming.path_separator
                })
            }
            ("last", Some(r), _) => Ok(r.scope.last().cloned().unwrap_or_default()),
            ("id", Some(r), _) => Ok(format!("{:#x}", r.id.0)),
            ("parameter", _, Type::Param { name, .. }) => Ok(name.clone()),
            ("parameter_index", _, Type::Param { index, .. }) => Ok(index.to_string()),
            ("constraint", _, Type::AnyPointer { constraint }) => {
                Ok(format!("{constraint:?}").to_lowercase())
            }
            _ => Err(unknown()),
        }
    }

    /// A default value as a literal of the target language.
    pub fn literal(&self, ty: &Type, value: &Value) -> Result<String, CodegenError> {
        // A target that prints no defaults (docs, say) may leave `literals` out; the
        // fallback is the value's plain text.
        let lit = |key: &str| -> Result<String, CodegenError> {
            Ok(self
                .manifest
                .literals
                .get(key)
                .cloned()
                .unwrap_or_else(|| match key {
                    "text" | "data" => "{}".to_string(),
                    "enum" => "{value}".to_string(),
                    "pointer" => "{hex}".to_string(),
                    other => other.to_string(),
                }))
        };
        Ok(match value {
            Value::None => lit("null")?,
            Value::Bool(true) => lit("true")?,
            Value::Bool(false) => lit("false")?,
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float { text, .. } => match text.as_str() {
                "nan" | "inf" | "-inf" => lit(text)?,
                t => t.to_string(),
            },
            Value::Text(t) => {
                lit("text")?.replace("{}", &serde_json::to_string(t).expect("strings serialise"))
            }
            Value::Data(d) => lit("data")?.replace(
                "{}",
                &d.iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
            ),
            Value::Enum(v) => {
                let Type::Enum { name } = ty else {
                    return Ok(v.to_string());
                };
                let enumerant = self
                    .enumerants
                    .get(&name.id.0)
                    .and_then(|names| names.get(usize::from(*v)))
                    .map(|raw| self.manifest.naming.enumerant(raw))
                    .ok_or_else(|| {
                        self.err(format!("enum {:#x} has no enumerant {v}", name.id.0))
                    })?;
                lit("enum")?
                    .replace("{name}", &self.type_name(name))
                    .replace("{enumerant}", &enumerant)
                    .replace("{value}", &v.to_string())
            }
            Value::Pointer(hex) => {
                let type_expr = self.render("type", ty, &BTreeMap::new())?;
                let mut out = lit("pointer")?;
                // `{decode}`: the manifest's `decode_const` expression for the type (how
                // a constant of it is decoded), for targets that need one per kind
                if out.contains("{decode}") {
                    out = out.replace(
                        "{decode}",
                        &self.render("decode_const", ty, &BTreeMap::new())?,
                    );
                }
                let mut out = out.replace("{type}", &type_expr).replace("{hex}", hex);
                for (key, value) in self.globals {
                    out = out.replace(&format!("{{{key}}}"), value);
                }
                out
            }
        })
    }
}
