//! Rendering: a target's templates applied to the views, and writing the results.
//!
//! Handlebars runs in strict mode and without HTML escaping (the output is source
//! code): a variable the view does not have, even as the condition of `{{#if}}` or
//! `{{#unless}}`, fails the render with the template and line that named it, so a
//! misspelt `{{code.type}}` cannot silently print nothing. Run-wide values print as
//! `{{polyhost}}` anywhere. Output is tidied
//! (trailing spaces removed, runs of blank lines collapsed) so templates can be laid
//! out for reading, and a file is written only when its bytes change, so builds that
//! regenerate identical bindings stay incremental.

use std::path::{Path, PathBuf};

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output, RenderContext,
    RenderError, RenderErrorReason, Renderable,
};

use crate::error::CodegenError;
use crate::target::{Per, Target};
use crate::view::RunView;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Path relative to the target's output directory.
    pub path: PathBuf,
    pub contents: String,
}

pub fn render(target: &Target, run: &RunView) -> Result<Vec<Rendered>, CodegenError> {
    let name = &target.manifest.name;
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(true);
    hb.register_helper("if", Box::new(StrictIf { positive: true }));
    hb.register_helper("unless", Box::new(StrictIf { positive: false }));
    for (key, value) in &run.globals {
        hb.register_helper(key, Box::new(RunValue(value.clone())));
    }
    for (template, source) in &target.templates {
        let key = template.strip_suffix(".hbs").unwrap_or(template);
        hb.register_template_string(key, source)
            .map_err(|source| CodegenError::Template {
                target: name.clone(),
                template: template.clone(),
                source: Box::new(source),
            })?;
    }
    let mut out = Vec::new();
    for file in &target.manifest.files {
        let key = file.template.strip_suffix(".hbs").unwrap_or(&file.template);
        let fail = |source| render_error(target, &file.template, source);
        match file.per {
            Per::Run => {
                let contents = hb.render(key, run).map_err(fail)?;
                out.push(Rendered {
                    path: PathBuf::from(&file.path),
                    contents: tidy(&contents),
                });
            }
            Per::Schema => {
                for view in &run.files {
                    let contents = hb.render(key, view).map_err(fail)?;
                    let path = PathBuf::from(file.path.replace("{stem}", &view.stem));
                    out.push(Rendered {
                        path,
                        contents: tidy(&contents),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// `{{#if x}}` / `{{#unless x}}` that fail when `x` is not in the view (handlebars'
/// own treat a missing value as false, even in strict mode).
struct StrictIf {
    positive: bool,
}

impl HelperDef for StrictIf {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let helper = if self.positive { "if" } else { "unless" };
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(helper, 0))?;
        if param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(param.relative_path().cloned()).into());
        }
        let chosen = if param.value().is_truthy(false) == self.positive {
            h.template()
        } else {
            h.inverse()
        };
        match chosen {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// `{{polyhost}}`, `{{root}}`, ...: a run-wide value, printed the same in every context
/// (a helper, so no `@root.` path is needed inside loops).
struct RunValue(String);

impl HelperDef for RunValue {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        out.write(&self.0)?;
        Ok(())
    }
}

/// A render failure, named by the template file and line where it happened (a partial's
/// own file when it failed inside one).
fn render_error(target: &Target, rendering: &str, e: RenderError) -> CodegenError {
    let template = e
        .template_name
        .as_ref()
        .map(|key| {
            let file = format!("{key}.hbs");
            if target.templates.contains_key(&file) {
                file
            } else {
                key.clone()
            }
        })
        .unwrap_or_else(|| rendering.to_string());
    let line = e.line_no.unwrap_or(0);
    let column = e.column_no.unwrap_or(0);
    match e.reason() {
        RenderErrorReason::MissingVariable(variable) => CodegenError::MissingVariable {
            target: target.manifest.name.clone(),
            template,
            line,
            column,
            variable: variable.clone().unwrap_or_default(),
        },
        _ => CodegenError::Render {
            target: target.manifest.name.clone(),
            template,
            line,
            source: Box::new(e),
        },
    }
}

/// Strips trailing whitespace and collapses runs of blank lines into one.
pub fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Writes `bytes` to `path` unless it already holds exactly them. Returns whether it
/// wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, CodegenError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| CodegenError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| CodegenError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(true)
}
