//! A target: a folder of handlebars templates plus `manifest.json`.
//!
//! The manifest says which files to render, the naming conventions of the language and
//! how each IR type kind is written in it (type expressions, read and write expressions,
//! default literals). Everything language-specific lives there, so a new language is a
//! new folder, not a change to the generator. The manifest is checked against a JSON
//! schema derived from `Manifest` (schemars + jsonschema), so a mistake is reported by
//! its path in the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::error::CodegenError;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Target name, e.g. `rust`, `python`.
    pub name: String,
    /// Files to render: once per schema file or once per generator run.
    pub files: Vec<OutputFile>,
    /// Templates registered as partials (`{{> struct}}`), by file name without `.hbs`.
    #[serde(default)]
    pub partials: Vec<String>,
    /// Comment syntax for the generated header, e.g. `//` or `#`.
    pub line_comment: String,
    pub naming: Naming,
    /// Type-level expression patterns (`type`, ...): expression name -> type kind ->
    /// pattern, rendered for every field, parameter, constant and type argument.
    /// See `exprs.rs`.
    pub expressions: BTreeMap<String, BTreeMap<String, String>>,
    /// Field-level patterns (`read`, `write`, ...), rendered for struct fields only;
    /// they may use the field placeholders (`{field}`, `{offset}`, `{default}`, ...).
    #[serde(default)]
    pub field_expressions: BTreeMap<String, BTreeMap<String, String>>,
    /// Method-level patterns (`descriptor`, `returns`, ...): expression name -> method
    /// shape (`stream`, `single`, `struct`, `empty`, `*`) -> pattern, rendered once per
    /// method into `code`. See `method_code.rs`.
    #[serde(default)]
    pub method_expressions: BTreeMap<String, BTreeMap<String, String>>,
    /// Generic parameter lists (`parameters`, `bounds`, ...), rendered once per struct
    /// and interface into `generics`. See `method_code.rs`.
    #[serde(default)]
    pub generic_lists: BTreeMap<String, GenericList>,
    /// A method's parameters as one piece of code (a signature's parameters, the
    /// fields of a params constructor), rendered once per method into `code` beside
    /// the method expressions. See `method_code.rs`.
    #[serde(default)]
    pub parameter_lists: BTreeMap<String, ParameterList>,
    /// Literal patterns for default values: `true`, `false`, `null`, `nan`, `inf`,
    /// `-inf`, `text`, `data`, `enum`, `pointer`, and for optional method facts `some`
    /// (`{}` is the value) and `none`. A missing one prints the value's plain text.
    #[serde(default)]
    pub literals: BTreeMap<String, String>,
}

/// How one generic parameter list is printed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericList {
    /// Which parameters: the declaration's own (`declared`, the default) or, for a
    /// generic method's params and results structs, the method's (`implicit`).
    #[serde(default)]
    pub of: GenericsOf,
    /// One parameter; `{parameter}` is its name.
    pub item: String,
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default = "default_open")]
    pub open: String,
    #[serde(default = "default_close")]
    pub close: String,
}

fn default_separator() -> String {
    ", ".into()
}
fn default_open() -> String {
    "<".into()
}
fn default_close() -> String {
    ">".into()
}

/// How one parameter list of a method is printed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterList {
    /// Which fields: every field of the params struct (`params`, the default) or only
    /// those that are not `Sink(T)` (`plain_params`: what a caller passes).
    #[serde(default)]
    pub of: ParametersOf,
    /// One field: `{field}` is its name, `{code.X}` its expression `X`.
    pub item: String,
    /// Between items (default: nothing).
    #[serde(default)]
    pub separator: String,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ParametersOf {
    #[default]
    Params,
    PlainParams,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GenericsOf {
    #[default]
    Declared,
    Implicit,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Template file in the target folder.
    pub template: String,
    /// Output path; `{stem}` is the schema file's stem (`calc` for `calc.capnp`).
    pub path: String,
    #[serde(default)]
    pub per: Per,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    #[default]
    Schema,
    Run,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// `FooBar`
    Pascal,
    /// `fooBar`
    Camel,
    /// `foo_bar`
    Snake,
    /// `FOO_BAR`
    UpperSnake,
    /// `_` before every capital but the first, then lower case: `fooBar` -> `foo_bar`,
    /// `HTTPServer` -> `h_t_t_p_server` (capnp-rust's module and accessor names)
    SnakeAtCapitals,
    /// as written in the schema
    Keep,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Naming {
    pub types: Case,
    pub fields: Case,
    pub methods: Case,
    pub enumerants: Case,
    pub constants: Case,
    /// Case of scope segments in `{scope_path}` (modules of a raw binding).
    pub modules: Case,
    /// Further spellings of every field a target needs, by name: each is printed as
    /// `forms.<name>` of the field and is placeholder `{<name>}` in field expressions
    /// (the Rust target's `accessor`, capnp-rust's `get_<accessor>`). Not escaped.
    #[serde(default)]
    pub field_forms: BTreeMap<String, Case>,
    /// The same for methods: `forms.<name>` of a method (the Rust target's `constant`,
    /// the name of its descriptor).
    #[serde(default)]
    pub method_forms: BTreeMap<String, Case>,
    /// Joins the segments of a nested type's name (`Outer` + `Inner`).
    pub nested_separator: String,
    /// Joins scope segments in `{scope_path}`.
    pub path_separator: String,
    /// Module name of a generated schema file; `{stem}` is the file's stem.
    pub file_module: String,
    /// How a type from another schema file is referenced: `{module}` and `{name}`.
    pub foreign_type: String,
    /// Words that cannot be used as names.
    pub keywords: Vec<String>,
    /// How a name that is a keyword is escaped: `{}` is the name.
    pub escape: String,
    /// Words that cannot be type names (builtins a module must not shadow).
    #[serde(default)]
    pub reserved_types: Vec<String>,
    /// Words a scope segment (module) cannot be; escaped with `module_escape`.
    #[serde(default)]
    pub module_keywords: Vec<String>,
    #[serde(default = "default_escape")]
    pub module_escape: String,
}

fn default_escape() -> String {
    "{}_".into()
}

/// A loaded target: manifest plus template sources.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where the target came from, for messages: its folder, or `bundled <language>`.
    pub origin: String,
    /// Its folder on disk, when it was loaded from one (for `cargo:rerun-if-changed`).
    pub dir: Option<PathBuf>,
    pub manifest: Manifest,
    pub templates: BTreeMap<String, String>,
}

/// The Rust target's files (`targets/rust/`), embedded by build.rs.
static RUST_TARGET: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/rust_target.rs"));

impl Target {
    /// The Rust target that ships with the generator.
    pub fn rust() -> Result<Target, CodegenError> {
        Target::from_files("bundled rust", |name| {
            RUST_TARGET
                .iter()
                .find(|(p, _)| *p == name)
                .map(|(_, text)| text.to_string())
                .ok_or_else(|| "not in the bundled target".to_string())
        })
    }

    /// The target of a guest language whose adapter ships with polyhost (`python`,
    /// `node`, ...: every folder of the `polyhost-adapters` crate).
    pub fn bundled(language: &str) -> Result<Target, CodegenError> {
        let adapter =
            polyhost_adapters::find(language).ok_or_else(|| CodegenError::UnknownGuest {
                language: language.to_string(),
                available: polyhost_adapters::languages().join(", "),
            })?;
        let origin = format!("bundled {language}");
        let recipe: serde_json::Value = adapter
            .file("adapter.json")
            .and_then(|b| serde_json::from_slice(b).ok())
            .ok_or_else(|| CodegenError::Target {
                target: origin.clone(),
                message: "the adapter's adapter.json is missing or not JSON".into(),
            })?;
        let dir = recipe["templates"]
            .as_str()
            .unwrap_or("templates")
            .to_string();
        Target::from_files(&origin, |name| {
            let path = format!("{dir}/{name}");
            let bytes = adapter
                .file(&path)
                .ok_or_else(|| format!("`{path}` is not in the adapter"))?;
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("`{path}` is not UTF-8"))
        })
    }

    /// Loads a target folder (`manifest.json` plus the templates it names).
    pub fn load(dir: &Path) -> Result<Target, CodegenError> {
        let mut target = Target::from_files(&dir.display().to_string(), |name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
        })?;
        target.dir = Some(dir.to_path_buf());
        Ok(target)
    }

    /// Loads a target from `read`, which gives a file of the target by name
    /// (`manifest.json`, then every template the manifest names).
    fn from_files(
        origin: &str,
        read: impl Fn(&str) -> Result<String, String>,
    ) -> Result<Target, CodegenError> {
        let err = |message: String| CodegenError::Target {
            target: origin.to_string(),
            message,
        };
        let text = read("manifest.json").map_err(|e| err(format!("manifest.json: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| err(format!("`manifest.json` is not JSON: {e}")))?;
        validate(&json).map_err(|m| err(format!("`manifest.json`: {m}")))?;
        let manifest: Manifest = serde_json::from_value(json).map_err(|e| err(e.to_string()))?;
        let mut templates = BTreeMap::new();
        let names = manifest
            .files
            .iter()
            .map(|f| f.template.clone())
            .chain(manifest.partials.iter().map(|p| format!("{p}.hbs")));
        for name in names {
            let source = read(&name)
                .map_err(|e| err(format!("template `{name}` named in the manifest: {e}")))?;
            templates.insert(name, source);
        }
        Ok(Target {
            origin: origin.to_string(),
            dir: None,
            manifest,
            templates,
        })
    }

    /// Every file the target reads from disk, for `cargo:rerun-if-changed` (none for a
    /// bundled target: it changes only with the generator).
    pub fn source_files(&self) -> Vec<PathBuf> {
        let Some(dir) = &self.dir else {
            return vec![];
        };
        std::iter::once(dir.join("manifest.json"))
            .chain(self.templates.keys().map(|t| dir.join(t)))
            .collect()
    }
}

/// Checks a manifest against the JSON schema of `Manifest`, reporting every error with
/// its location.
fn validate(json: &serde_json::Value) -> Result<(), String> {
    let schema = serde_json::to_value(schemars::schema_for!(Manifest)).expect("schema serialises");
    let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
    let messages: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("at `{}`: {}", e.instance_path(), e))
        .collect();
    if messages.is_empty() {
        Ok(())
    } else {
        Err(messages.join("; "))
    }
}
