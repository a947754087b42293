//! Code the view precomputes per method and per generic declaration, from a target's
//! manifest, so that templates print it instead of assembling it.
//!
//! - `method_expressions`: expression name -> method shape -> pattern. The shape is
//!   `stream` (a `-> stream` method), `single` (exactly one result field, returned
//!   bare), `struct` (results returned as their struct) or `empty` (no results); `*` is
//!   the fallback. Placeholders: `{name}` (the method's target name), `{method}` and
//!   `{interface}` (schema names), `{ordinal}`, `{params}` and `{results}` (the params
//!   and results type names), `{interface_name}` (the interface's target type name),
//!   the method's `naming.method_forms` by name (`{constant}`), `{interface_id}`, `{timeout_ms}` (the `some` literal around the value, or
//!   the `none` literal), `{idempotent}` (the `true` or `false` literal),
//!   `{result.X}` (expression `X` of the single result's type), and run-wide values.
//! - `parameter_lists`: list name -> how to print a method's parameters as one piece
//!   (`item` per field with `{field}` and `{code.X}`, the field's expression `X`,
//!   joined by `separator`), added to the same `code` map as the method expressions.
//! - `generic_lists`: list name -> how to print a declaration's generic parameters
//!   (`item` per parameter with `{parameter}`, joined by `separator`, inside `open` and
//!   `close`); nothing at all when the declaration has no parameters.

use std::collections::BTreeMap;

use crate::error::CodegenError;
use crate::exprs::fill;
use crate::target::{GenericList, GenericsOf, Manifest, ParametersOf};
use crate::view::model::FieldView;

/// What a method returns, as `method_expressions` patterns are keyed.
pub fn shape(is_stream: bool, single_result: bool, has_results: bool) -> &'static str {
    match (is_stream, single_result, has_results) {
        (true, _, _) => "stream",
        (false, true, _) => "single",
        (false, false, true) => "struct",
        (false, false, false) => "empty",
    }
}

/// The facts of one method its patterns may print.
pub struct MethodFacts<'a> {
    pub shape: &'static str,
    pub name: &'a str,
    pub method: &'a str,
    pub interface: &'a str,
    pub interface_id: &'a str,
    pub interface_name: &'a str,
    /// The method's `naming.method_forms`.
    pub forms: &'a BTreeMap<String, String>,
    pub ordinal: u16,
    pub params: &'a str,
    pub results: &'a str,
    pub timeout_ms: Option<u32>,
    pub idempotent: bool,
    /// The single result field's rendered expressions (empty unless shape is `single`).
    pub result: &'a BTreeMap<String, String>,
}

fn err(manifest: &Manifest, message: String) -> CodegenError {
    CodegenError::Target {
        target: manifest.name.clone(),
        message,
    }
}

fn literal(manifest: &Manifest, key: &str, fallback: &str) -> String {
    manifest
        .literals
        .get(key)
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// Every `method_expressions` entry for one method.
pub fn method_code(
    manifest: &Manifest,
    globals: &BTreeMap<String, String>,
    m: &MethodFacts<'_>,
) -> Result<BTreeMap<String, String>, CodegenError> {
    let mut out = BTreeMap::new();
    for (expr, table) in &manifest.method_expressions {
        let pattern = table
            .get(m.shape)
            .or_else(|| table.get("*"))
            .ok_or_else(|| {
                err(
                    manifest,
                    format!(
                        "method expression `{expr}` has no pattern for shape `{}` (add it or `*`)",
                        m.shape
                    ),
                )
            })?;
        let text = fill(pattern, |token| {
            let value = match token {
                "name" => m.name.to_string(),
                "method" => m.method.to_string(),
                "interface" => m.interface.to_string(),
                "interface_id" => m.interface_id.to_string(),
                "interface_name" => m.interface_name.to_string(),
                form if m.forms.contains_key(form) => m.forms[form].clone(),
                "ordinal" => m.ordinal.to_string(),
                "params" => m.params.to_string(),
                "results" => m.results.to_string(),
                "timeout_ms" => match m.timeout_ms {
                    Some(ms) => literal(manifest, "some", "{}").replace("{}", &ms.to_string()),
                    None => literal(manifest, "none", "null"),
                },
                "idempotent" => literal(manifest, &m.idempotent.to_string(), &m.idempotent.to_string()),
                _ => match token.strip_prefix("result.") {
                    Some(sub) => m.result.get(sub).cloned().ok_or_else(|| {
                        err(
                            manifest,
                            format!(
                                "method expression `{expr}` uses `{{result.{sub}}}` for shape `{}`, which has no single result with expression `{sub}`",
                                m.shape
                            ),
                        )
                    })?,
                    None => globals.get(token).cloned().ok_or_else(|| {
                        err(
                            manifest,
                            format!("method expression `{expr}` uses unknown placeholder `{{{token}}}`"),
                        )
                    })?,
                },
            };
            Ok(value)
        })?;
        out.insert(expr.clone(), text);
    }
    Ok(out)
}

/// Every `parameter_lists` entry for a method whose params struct has `params` (of
/// which `plain` are not `Sink(T)`), added to `code`.
pub fn parameter_lists(
    manifest: &Manifest,
    globals: &BTreeMap<String, String>,
    params: &[FieldView],
    plain: &[FieldView],
    code: &mut BTreeMap<String, String>,
) -> Result<(), CodegenError> {
    for (list, spec) in &manifest.parameter_lists {
        if code.contains_key(list) {
            return Err(err(
                manifest,
                format!("`{list}` is both a method expression and a parameter list"),
            ));
        }
        let fields = match spec.of {
            ParametersOf::Params => params,
            ParametersOf::PlainParams => plain,
        };
        let items = fields
            .iter()
            .map(|f| {
                fill(&spec.item, |token| {
                    let value = match token {
                        "field" => Some(f.name.clone()),
                        "schema_field" => Some(f.schema_name.clone()),
                        _ => match token.strip_prefix("code.") {
                            Some(expr) => f.code.get(expr).cloned(),
                            None => globals.get(token).cloned(),
                        },
                    };
                    value.ok_or_else(|| {
                        err(
                            manifest,
                            format!(
                                "parameter list `{list}` uses `{{{token}}}`, which field `{}` does not have",
                                f.schema_name
                            ),
                        )
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        code.insert(list.clone(), items.join(&spec.separator));
    }
    Ok(())
}

/// Every `generic_lists` entry for a declaration with these generic parameters (and, for
/// a generic method's params and results structs, the method's own).
pub fn generic_lists(
    manifest: &Manifest,
    globals: &BTreeMap<String, String>,
    declared: &[String],
    implicit: &[String],
) -> Result<BTreeMap<String, String>, CodegenError> {
    let mut out = BTreeMap::new();
    for (list, spec) in &manifest.generic_lists {
        out.insert(
            list.clone(),
            generic_list(manifest, globals, list, spec, declared, implicit)?,
        );
    }
    Ok(out)
}

fn generic_list(
    manifest: &Manifest,
    globals: &BTreeMap<String, String>,
    list: &str,
    spec: &GenericList,
    declared: &[String],
    implicit: &[String],
) -> Result<String, CodegenError> {
    let parameters = match spec.of {
        GenericsOf::Declared => declared,
        GenericsOf::Implicit => implicit,
    };
    if parameters.is_empty() {
        return Ok(String::new());
    }
    let items = parameters
        .iter()
        .map(|p| {
            fill(&spec.item, |token| match token {
                "parameter" => Ok(p.clone()),
                _ => globals.get(token).cloned().ok_or_else(|| {
                    err(
                        manifest,
                        format!("generic list `{list}` uses unknown placeholder `{{{token}}}`"),
                    )
                }),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!(
        "{}{}{}",
        spec.open,
        items.join(&spec.separator),
        spec.close
    ))
}
