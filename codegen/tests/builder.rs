//! Each builder option changes what the generator does (an ignored option fails its
//! test), and bad inputs give errors that say what to fix.

use std::path::{Path, PathBuf};

use polyhost_codegen::{Builder, CodegenError, Target};

const SCHEMA: &str = r#"@0xd0e1f2a3b4c5d6e7;
using Polyhost = import "/polyhost.capnp";
struct Point { x @0 :Float64; y @1 :Float64; }
interface Plotter $Polyhost.worker { plot @0 (at :Point) -> (ok :Bool); }
"#;

fn schema_in(dir: &Path) -> PathBuf {
    let path = dir.join("plot.capnp");
    std::fs::write(&path, SCHEMA).unwrap();
    path
}

fn quiet() -> Builder {
    Builder::new().emit_rerun_if_changed(false)
}

#[test]
fn rust_out_dir_receives_raw_and_polyhost_modules() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let output = quiet()
        .schema(schema_in(dir.path()))
        .rust_out_dir(&out)
        .generate()
        .unwrap();
    for name in [
        "plot_capnp.rs",
        "plot.rs",
        "polyhost_bindings.rs",
        "polyhost_guests.rs",
        "polyhost_generated.txt",
        "polyhost_schema_request.bin",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    assert_eq!(output.written.len(), 6);
}

#[test]
fn unchanged_outputs_are_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let b = quiet().schema(schema_in(dir.path())).rust_out_dir(&out);
    b.generate().unwrap();
    let again = b.generate().unwrap();
    assert!(again.written.is_empty(), "rewrote {:?}", again.written);
    std::fs::write(
        dir.path().join("plot.capnp"),
        SCHEMA.replace("y @1 :Float64;", "y @1 :Float64; z @2 :Float64;"),
    )
    .unwrap();
    let changed = b.generate().unwrap();
    assert!(
        changed.written.iter().any(|p| p.ends_with("plot.rs")),
        "schema edit regenerates: {:?}",
        changed.written
    );
}

#[test]
fn parent_module_qualifies_generated_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    quiet()
        .schema(schema_in(dir.path()))
        .parent_module("plugin::bindings")
        .rust_out_dir(&out)
        .generate()
        .unwrap();
    let owned = std::fs::read_to_string(out.join("plot.rs")).unwrap();
    assert!(
        owned.contains("crate::plugin::bindings::plot_capnp::point::Owned"),
        "{owned}"
    );
    let raw = std::fs::read_to_string(out.join("plot_capnp.rs")).unwrap();
    assert!(raw.contains("crate::plugin::bindings::plot_capnp"));
}

#[test]
fn src_prefix_names_schemas_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("api/v1");
    std::fs::create_dir_all(&nested).unwrap();
    let schema = schema_in(&nested);
    let ir = quiet().schema(&schema).src_prefix(dir.path()).ir().unwrap();
    assert_eq!(ir.files[0].path, "api/v1/plot.capnp");
    let ir = quiet().schema(&schema).ir().unwrap();
    assert_eq!(
        ir.files[0].path, "plot.capnp",
        "default prefix: the schema's folder"
    );
}

#[test]
fn import_path_resolves_absolute_imports() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(
        shared.join("geo.capnp"),
        "@0xa1b2c3d4e5f60718;\nstruct Pos { lat @0 :Float64; }\n",
    )
    .unwrap();
    let user = dir.path().join("user.capnp");
    std::fs::write(&user, "@0xb1b2c3d4e5f60719;\nusing Geo = import \"/geo.capnp\";\nstruct Trip { from @0 :Geo.Pos; }\n").unwrap();
    assert!(
        quiet().schema(&user).ir().is_err(),
        "without the import path the import fails"
    );
    let ir = quiet().schema(&user).import_path(&shared).ir().unwrap();
    assert_eq!(
        ir.files[0]
            .imports
            .iter()
            .map(|i| i.path.as_str())
            .collect::<Vec<_>>(),
        ["geo.capnp"]
    );
}

#[test]
fn imports_across_sibling_folders_resolve_by_default() {
    // schemas in sibling folders: `capnp compile main/app.capnp` resolves `..` from the
    // folder above both; the default source prefix (the schema's folder) did not.
    let dir = tempfile::tempdir().unwrap();
    for sub in ["common", "main"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(
        dir.path().join("common/types.capnp"),
        "@0xa1b2c3d4e5f6071b;\nstruct Pos { lat @0 :Float64; }\n",
    )
    .unwrap();
    let app = dir.path().join("main/app.capnp");
    std::fs::write(&app, "@0xb1b2c3d4e5f6071c;\nusing T = import \"../common/types.capnp\";\nstruct Trip { from @0 :T.Pos; }\n").unwrap();
    let ir = quiet().schema(&app).ir().unwrap();
    assert_eq!(ir.files[0].path, "app.capnp");
    let imports: Vec<_> = ir.files[0]
        .imports
        .iter()
        .map(|i| i.path.as_str())
        .collect();
    assert_eq!(imports, ["../common/types.capnp"]);
    // the Rust target names its module by the schema's name
    let rendered = quiet()
        .schema(&app)
        .render(&Target::rust().unwrap())
        .unwrap();
    assert!(
        rendered.iter().any(|r| r.path == Path::new("app.rs")),
        "{:?}",
        rendered.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // with an explicit prefix above both, names are relative to it
    let ir = quiet().schema(&app).src_prefix(dir.path()).ir().unwrap();
    assert_eq!(ir.files[0].path, "main/app.capnp");
    // an import of a file that is not there is still the compiler's error
    std::fs::write(
        &app,
        "@0xb1b2c3d4e5f6071c;\nusing T = import \"../nowhere/types.capnp\";\n",
    )
    .unwrap();
    assert!(matches!(
        quiet().schema(&app).ir(),
        Err(CodegenError::Compile { .. })
    ));
}

#[test]
fn rust_refusals_name_the_schema_struct_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refused.capnp");
    std::fs::write(
        &path,
        "@0xd1e2f3a4b5c6d7ea;\nstruct Outer { struct Bag { ok @0 :Int32; items @1 :List(Capability); } }\n",
    )
    .unwrap();
    let err = quiet()
        .schema(&path)
        .rust_out_dir(dir.path().join("gen"))
        .generate()
        .unwrap_err();
    assert!(
        matches!(&err, CodegenError::RustUnsupported { schema, place, .. } if schema == "refused.capnp" && place == "Outer.Bag.items"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "refused.capnp: Outer.Bag.items: List(Capability) is unsupported by the Rust target"
    );
}

#[test]
fn rust_refusals_name_lists_of_pointers_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gaps.capnp");
    for (body, place, what) in [
        ("struct S { a @0 :List(AnyList); }", "S.a", "List(AnyList)"),
        (
            "struct S { g :group { c @0 :List(List(Capability)); } }",
            "S.g.c",
            "List(List(Capability))",
        ),
    ] {
        std::fs::write(&path, format!("@0xd1e2f3a4b5c6d7eb;\n{body}\n")).unwrap();
        let err = quiet()
            .schema(&path)
            .rust_out_dir(dir.path().join("gen"))
            .generate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("gaps.capnp: {place}: {what} is unsupported by the Rust target")
        );
    }
}

#[test]
fn imported_enum_constants_and_reserved_type_names_render() {
    // a constant of an enum declared in an imported file needs its enumerant names;
    // a struct named like a prelude type (`Box`) must not shadow it in Rust
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("units.capnp"),
        "@0xa1b2c3d4e5f6071d;\nenum Unit { meter @0; second @1; }\n",
    )
    .unwrap();
    let main = dir.path().join("main.capnp");
    std::fs::write(&main, "@0xb1b2c3d4e5f6071e;\nusing U = import \"units.capnp\";\nconst unit :U.Unit = second;\nstruct Box { v @0 :Int32; }\nstruct S { b @0 :Box; }\n").unwrap();
    for target in [
        Target::rust().unwrap(),
        Target::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/python/templates"))
            .unwrap(),
    ] {
        let rendered = quiet().schema(&main).render(&target).unwrap();
        let text: String = rendered.iter().map(|r| r.contents.as_str()).collect();
        assert!(
            text.contains("Unit::Second") || text.contains("Unit.SECOND"),
            "{text}"
        );
    }
    let rust = quiet()
        .schema(&main)
        .render(&Target::rust().unwrap())
        .unwrap();
    let text: String = rust.iter().map(|r| r.contents.as_str()).collect();
    assert!(text.contains("pub struct Box_ {"), "{text}");
    assert!(text.contains("Option<::std::boxed::Box<Box_>>"), "{text}");
}

#[test]
fn schema_dir_takes_every_schema_in_order() {
    let dir = tempfile::tempdir().unwrap();
    schema_in(dir.path());
    std::fs::write(
        dir.path().join("a.capnp"),
        "@0xc1b2c3d4e5f6071a;\nstruct A {}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a schema").unwrap();
    let ir = quiet().schema_dir(dir.path()).ir().unwrap();
    let paths: Vec<_> = ir.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.capnp", "plot.capnp"]);
}

#[test]
fn rerun_if_changed_lists_schemas_and_templates_only_when_on() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_in(dir.path());
    let target = write_target(dir.path(), DOC_MANIFEST);
    let on = Builder::new()
        .emit_rerun_if_changed(true)
        .schema(&schema)
        .rust_out_dir(dir.path().join("a"))
        .guest_target(&target, dir.path().join("docs"))
        .generate()
        .unwrap();
    assert!(on.rerun_if_changed.contains(&schema));
    assert!(on.rerun_if_changed.contains(&target.join("manifest.json")));
    assert!(
        on.rerun_if_changed.contains(&target.join("doc.md.hbs")),
        "{:?}",
        on.rerun_if_changed
    );
    let off = quiet()
        .schema(&schema)
        .rust_out_dir(dir.path().join("b"))
        .generate()
        .unwrap();
    assert!(off.rerun_if_changed.is_empty());
}

#[test]
fn capnp_binary_is_used_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let err = quiet()
        .schema(schema_in(dir.path()))
        .capnp_binary("/nonexistent/capnp")
        .ir()
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/capnp"), "{err}");
}

/// A target is data: this one lists structs as Markdown, with no generator change.
fn write_target(dir: &Path, manifest: &str) -> PathBuf {
    let target = dir.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("manifest.json"), manifest).unwrap();
    std::fs::write(
        target.join("doc.md.hbs"),
        "# {{path}}\n{{#each structs}}\n## {{name}}\n{{#each fields}}\n- {{name}}: {{code.type}}\n{{/each}}\n{{/each}}\n",
    )
    .unwrap();
    target
}

const DOC_MANIFEST: &str = r#"{
  "name": "markdown",
  "files": [{ "template": "doc.md.hbs", "path": "{stem}.md" }],
  "line_comment": "<!--",
  "naming": {
    "types": "keep", "fields": "snake", "methods": "snake", "enumerants": "keep",
    "constants": "upper_snake", "modules": "snake", "nested_separator": ".",
    "path_separator": ".", "file_module": "{stem}", "foreign_type": "{module}.{name}",
    "keywords": [], "escape": "{}_"
  },
  "expressions": { "type": { "list": "list of {element.type}", "struct": "{name}", "*": "scalar" } },
  "literals": {}
}"#;

#[test]
fn guest_targets_are_folders_of_templates() {
    let dir = tempfile::tempdir().unwrap();
    let target = write_target(dir.path(), DOC_MANIFEST);
    let out = dir.path().join("docs");
    quiet()
        .schema(schema_in(dir.path()))
        .rust_out_dir(dir.path().join("rust"))
        .guest_target(&target, &out)
        .generate()
        .unwrap();
    let doc = std::fs::read_to_string(out.join("plot.md")).unwrap();
    assert!(doc.contains("## Point\n- x: scalar\n- y: scalar"), "{doc}");
    assert!(doc.contains("## Plotter.plotParams\n- at: Point"), "{doc}");
}

#[test]
fn a_bad_manifest_is_reported_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = DOC_MANIFEST.replace("\"line_comment\": \"<!--\",", "\"line_comment\": 7,");
    let err = Target::load(&write_target(dir.path(), &bad)).unwrap_err();
    assert!(matches!(err, CodegenError::Target { .. }));
    assert!(err.to_string().contains("/line_comment"), "{err}");
}

#[test]
fn an_unknown_placeholder_is_an_error_naming_the_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let bad = DOC_MANIFEST.replace("\"*\": \"scalar\"", "\"*\": \"{nmae}\"");
    let target = Target::load(&write_target(dir.path(), &bad)).unwrap();
    let err = quiet()
        .schema(schema_in(dir.path()))
        .render(&target)
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown placeholder `{nmae}`"),
        "{err}"
    );
}

#[test]
fn no_schemas_is_an_error_that_says_how_to_add_one() {
    let err = quiet().ir().unwrap_err();
    assert!(err.to_string().contains(".schema("), "{err}");
}

#[test]
fn generic_arguments_render_as_trailing_arguments_or_one_array() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = DOC_MANIFEST.replace(
        r#""struct": "{name}""#,
        r#""struct": "{name}({trailing_arguments.type}) [{arguments_array.type}]", "text": "T", "data": "D""#,
    );
    let target = Target::load(&write_target(dir.path(), &manifest)).unwrap();
    let path = dir.path().join("pairs.capnp");
    std::fs::write(
        &path,
        "@0xd0e1f2a3b4c5d6e8;\nstruct Pair(A, B) { a @0 :A; b @1 :B; }\nstruct Plain { x @0 :Int8; }\n\
         struct Uses { p @0 :Pair(Text, Data); q @1 :Plain; }\n",
    )
    .unwrap();
    let rendered = quiet().schema(&path).render(&target).unwrap();
    let doc = &rendered[0].contents;
    assert!(doc.contains("- p: Pair(, T, D) [, [T, D]]"), "{doc}");
    assert!(doc.contains("- q: Plain() []"), "{doc}");
}

#[test]
fn a_bundled_guest_is_embedded_in_the_rust_bindings_and_written_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let rust = dir.path().join("rust");
    let node = dir.path().join("node");
    quiet()
        .schema(schema_in(dir.path()))
        .rust_out_dir(&rust)
        .guest("python")
        .write_guest("node", &node)
        .generate()
        .unwrap();
    let table = std::fs::read_to_string(rust.join("polyhost_guests.rs")).unwrap();
    assert!(table.contains("language: \"python\""), "{table}");
    assert!(
        table.contains("include_str!(\"polyhost_guests/python/plot_capnp.py\")"),
        "{table}"
    );
    assert!(table.contains("language: \"node\""), "{table}");
    let embedded =
        std::fs::read_to_string(rust.join("polyhost_guests/python/plot_capnp.py")).unwrap();
    assert!(embedded.contains("FINGERPRINT"), "{embedded}");
    assert!(
        node.join("plot_capnp.mjs").is_file(),
        "write_guest writes the modules"
    );
    assert!(node.join("plot_capnp.d.ts").is_file());
    let rust_module = std::fs::read_to_string(rust.join("plot.rs")).unwrap();
    assert!(
        rust_module.contains("pub const BINDINGS: ::polyhost::Bindings"),
        "{rust_module}"
    );
}

#[test]
fn generated_files_lists_every_output_by_target_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let files = quiet()
        .schema(schema_in(dir.path()))
        .guest("python")
        .guest("node")
        .generated_files()
        .unwrap();
    for key in [
        "rust/plot.rs",
        "rust/plot_capnp.rs",
        "rust/polyhost_bindings.rs",
        "rust/polyhost_guests.rs",
        "python/plot_capnp.py",
        "node/plot_capnp.mjs",
        "node/plot_capnp.d.ts",
    ] {
        assert!(
            files.contains_key(key),
            "{key} missing from {:?}",
            files.keys()
        );
    }
    assert!(
        !files.keys().any(|k| k.starts_with("rust/polyhost_guests/")),
        "each guest module once, under its language"
    );
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries.len(), 1, "only the schema: {entries:?}");
}

#[test]
fn an_unknown_guest_language_names_the_bundled_ones() {
    let dir = tempfile::tempdir().unwrap();
    let err = quiet()
        .schema(schema_in(dir.path()))
        .guest("cobol")
        .generated_files()
        .unwrap_err();
    assert!(matches!(err, CodegenError::UnknownGuest { .. }), "{err}");
    assert!(err.to_string().contains("python"), "{err}");
    assert!(err.to_string().contains("guest_target"), "{err}");
}
