//! Templates render in strict mode: a misspelt variable fails generation with the
//! template and line that named it, instead of printing nothing.

use std::path::Path;

use polyhost_codegen::{Builder, CodegenError, Target};

const SCHEMA: &str = r#"@0xd0e1f2a3b4c5d6e8;
using Polyhost = import "/polyhost.capnp";
struct Point { x @0 :Float64; y @1 :Float64; }
interface Plotter $Polyhost.worker { plot @0 (at :Point) -> (ok :Bool); }
"#;

/// A copy of the bundled Rust target; with `change` = (template, find, replace), that
/// template has its first `find` replaced. Returns the folder and the 1-based line of
/// the replacement.
fn rust_target_copy(dir: &Path, change: Option<(&str, &str, &str)>) -> (std::path::PathBuf, usize) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/rust");
    let target = dir.join("rust-target");
    std::fs::create_dir_all(&target).unwrap();
    let mut line = 0;
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut text = std::fs::read_to_string(&path).unwrap();
        if let Some((_, find, replace)) = change.filter(|c| c.0 == name) {
            let at = text
                .find(find)
                .unwrap_or_else(|| panic!("{find} not in {name}"));
            line = text[..at].lines().count() + usize::from(text[..at].ends_with('\n'));
            text = text.replacen(find, replace, 1);
        }
        std::fs::write(target.join(&name), text).unwrap();
    }
    assert!(change.is_none() || line > 0, "{change:?}: no such template");
    (target, line)
}

fn render(dir: &Path, target: &Path) -> Result<(), CodegenError> {
    let schema = dir.join("plot.capnp");
    std::fs::write(&schema, SCHEMA).unwrap();
    let target = Target::load(target)?;
    Builder::new()
        .emit_rerun_if_changed(false)
        .schema(&schema)
        .render(&target)
        .map(drop)
}

#[test]
fn the_unchanged_copy_renders() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _) = rust_target_copy(dir.path(), None);
    render(dir.path(), &target).expect("the bundled Rust target renders in strict mode");
}

#[test]
fn a_misspelt_printed_variable_names_template_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (target, line) = rust_target_copy(
        dir.path(),
        Some(("client.hbs", "{{schema_name}}", "{{schema_nmae}}")),
    );
    let err = render(dir.path(), &target).expect_err("a misspelt variable must fail");
    match &err {
        CodegenError::MissingVariable {
            template,
            line: at,
            variable,
            ..
        } => {
            assert_eq!(template, "client.hbs", "{err}");
            assert_eq!(*at, line, "{err}");
            assert!(variable.contains("schema_nmae"), "{err}");
        }
        other => panic!("expected MissingVariable, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("client.hbs") && message.contains(&format!("line {line}")),
        "{message}"
    );
}

#[test]
fn a_misspelt_condition_names_template_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (target, line) = rust_target_copy(
        dir.path(),
        Some(("struct.hbs", "{{#if union}}", "{{#if unoin}}")),
    );
    let err = render(dir.path(), &target).expect_err("a misspelt condition must fail");
    match &err {
        CodegenError::MissingVariable {
            template,
            line: at,
            variable,
            ..
        } => {
            assert_eq!((template.as_str(), *at), ("struct.hbs", line), "{err}");
            assert!(variable.contains("unoin"), "{err}");
        }
        other => panic!("expected MissingVariable, got {other}"),
    }
}
