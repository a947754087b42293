//! Rendering: a target's templates applied to the views, and writing the results.
//!
//! Handlebars runs without HTML escaping (the output is source code). Output is tidied
//! (trailing spaces removed, runs of blank lines collapsed) so templates can be laid
//! out for reading, and a file is written only when its bytes change, so builds that
//! regenerate identical bindings stay incremental.

use std::path::{Path, PathBuf};

use handlebars::Handlebars;

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
        let fail = |source| CodegenError::Render {
            target: name.clone(),
            template: file.template.clone(),
            source: Box::new(source),
        };
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
