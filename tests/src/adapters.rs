//! The adapters under test, discovered: every folder of the adapters root that has an
//! `adapter.json`. Nothing in the test suite lists languages; the conformance suite,
//! the fault tests, the unit-test runner, the staleness check and the `regenerate`
//! tool all start here.
//!
//! The runtime reads the launch fields of `adapter.json`; this module reads its
//! `development` object, which says how the repository develops the adapter:
//!
//! ```json
//! "development": {
//!   "plugin_suffix": ".py",                     // a plugin file's suffix
//!   "plugin_entry": "{stem}:{function}",        // entry point of function in file <stem><suffix>
//!   "unit_tests": {                             // the adapter's own unit tests
//!     "args": ["-m", "unittest", "discover", "-s", "tests"],  // after the interpreter, in the adapter folder
//!     "env": {"PYTHONDONTWRITEBYTECODE": "1"},  // added to the environment
//!     "report": "stderr",                       // where the runner reports: "stdout" or "stderr"
//!     "count_prefix": "Ran ",                   // a report line: this, then how many tests ran
//!     "pass_prefix": "OK"                       // a report line starting so says they all passed
//!   },
//!   "syntax_check": ["-c", "...", "{file}"],     // after the interpreter: checks one generated file
//!   "generated_modules": [                      // checked-in modules, kept current
//!     {"schema": "schema/polyhost.capnp", "src_prefix": "schema", "out": "polyhost"},
//!     // "templates": another target folder of the adapter (default: its `templates`)
//!     {"schema": "schema/polyhost.capnp", "src_prefix": "schema", "out": "polyhost",
//!      "templates": "templates/constants_only"}
//!   ]
//! }
//! ```
//!
//! `schema` and `src_prefix` are relative to the repository root, `out` to the adapter
//! folder. The adapters root is `adapters/` of the repository, or
//! `$POLYHOST_ADAPTERS_ROOT`; the conformance guests' root is
//! `tests/conformance/guests/`, or `$POLYHOST_CONFORMANCE_GUESTS`. Both are also
//! arguments of [`discover`], for tests that build a root of their own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// Where adapters are discovered: `$POLYHOST_ADAPTERS_ROOT`, else `adapters/`.
pub fn adapters_root() -> PathBuf {
    std::env::var_os("POLYHOST_ADAPTERS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("adapters"))
}

/// Where conformance guests are discovered: `$POLYHOST_CONFORMANCE_GUESTS`, else
/// `tests/conformance/guests/`.
pub fn guests_root() -> PathBuf {
    std::env::var_os("POLYHOST_CONFORMANCE_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/conformance/guests"))
}

/// The `development` object of `adapter.json` (see the module comment).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Development {
    /// A plugin file's suffix (`.py`).
    #[serde(default)]
    pub plugin_suffix: Option<String>,
    /// The entry point of `{function}` in the file `{stem}<plugin_suffix>`.
    #[serde(default)]
    pub plugin_entry: Option<String>,
    /// How to run the adapter's own unit tests.
    #[serde(default)]
    pub unit_tests: Option<UnitTests>,
    /// Arguments after the interpreter that check one generated file (`{file}`).
    #[serde(default)]
    pub syntax_check: Vec<String>,
    /// The generated modules checked into the adapter folder.
    #[serde(default)]
    pub generated_modules: Vec<GeneratedModules>,
}

/// How to run an adapter's unit tests and read their report.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnitTests {
    /// Arguments after the interpreter, run in the adapter folder.
    pub args: Vec<String>,
    /// Variables added to the environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the runner writes its report: `stdout` or `stderr`.
    pub report: Report,
    /// A report line that starts with this, then the number of tests that ran.
    pub count_prefix: String,
    /// A report line that starts with this says every test passed.
    pub pass_prefix: String,
}

/// An output stream of a process.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    Stdout,
    Stderr,
}

impl UnitTests {
    /// Reads the runner's report: how many tests ran, or why the report does not say
    /// that more than none ran and all passed.
    pub fn judge(&self, report: &str) -> Result<usize, String> {
        let ran: usize = report
            .lines()
            .find_map(|l| {
                l.strip_prefix(&self.count_prefix)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .ok_or_else(|| format!("no report line `{}<count>`", self.count_prefix))?;
        if ran == 0 {
            return Err("no tests ran".into());
        }
        if !report.lines().any(|l| l.starts_with(&self.pass_prefix)) {
            return Err(format!("no report line starting `{}`", self.pass_prefix));
        }
        Ok(ran)
    }
}

/// One schema whose modules are checked into the adapter folder.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeneratedModules {
    /// The schema, from the repository root.
    pub schema: String,
    /// The schema's source prefix (its import root), from the repository root.
    pub src_prefix: String,
    /// The folder the modules go to, inside the adapter folder.
    pub out: String,
    /// The target folder that renders them, inside the adapter folder; the adapter's
    /// own `templates` when absent.
    #[serde(default)]
    pub templates: Option<String>,
}

/// What is wrong with an adapter folder, said so that it can be fixed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot list the adapters root {root}: {source}")]
    Root {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Load(#[from] polyhost::AdapterError),
    #[error("{path}: the `development` object is malformed: {message} (see polyhost_tests::adapters for its fields)")]
    Development { path: PathBuf, message: String },
    #[error("{adapter}: adapter.json has no development.{field}; add it (see the README's \"Adapters and the conformance suite\")")]
    Missing {
        adapter: String,
        field: &'static str,
    },
    #[error("{adapter} has no conformance guest: write {expected} implementing `Conformance` of tests/conformance/schema/conformance.capnp (see tests/conformance/README.md)")]
    NoGuest { adapter: String, expected: PathBuf },
}

/// One discovered adapter folder.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The folder's name (`python`): names its tests and its conformance guest folder.
    pub name: String,
    /// The adapter, loaded from its folder.
    pub adapter: polyhost::Adapter,
    /// Its `development` object.
    pub development: Development,
}

/// Every adapter folder under `root`, sorted by name.
pub fn discover(root: &Path) -> Result<Vec<Discovered>, DiscoveryError> {
    let entries = std::fs::read_dir(root).map_err(|source| DiscoveryError::Root {
        root: root.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("adapter.json").is_file())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load(d)).collect()
}

/// The adapter folder `dir`.
pub fn load(dir: &Path) -> Result<Discovered, DiscoveryError> {
    let adapter = polyhost::Adapter::load(dir)?;
    let development = match &adapter.definition.development {
        None => Development::default(),
        Some(value) => {
            serde_json::from_value(value.clone()).map_err(|e| DiscoveryError::Development {
                path: dir.join("adapter.json"),
                message: e.to_string(),
            })?
        }
    };
    Ok(Discovered {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        adapter,
        development,
    })
}

/// The adapter folder `name` under [`adapters_root`], with a message saying what is
/// wrong when it cannot be loaded.
pub fn named(name: &str) -> Discovered {
    let dir = adapters_root().join(name);
    load(&dir).unwrap_or_else(|e| panic!("[{name}] {e}"))
}

impl Discovered {
    fn field<'a, T>(
        &'a self,
        value: Option<&'a T>,
        field: &'static str,
    ) -> Result<&'a T, DiscoveryError> {
        value.ok_or_else(|| DiscoveryError::Missing {
            adapter: self.name.clone(),
            field,
        })
    }

    /// The file name of a plugin whose stem is `stem` (`fault_plugin.py`).
    pub fn plugin_file(&self, stem: &str) -> Result<String, DiscoveryError> {
        let suffix = self.field(self.development.plugin_suffix.as_ref(), "plugin_suffix")?;
        Ok(format!("{stem}{suffix}"))
    }

    /// The entry point of `function` in the plugin file of stem `stem`.
    pub fn plugin_entry(&self, stem: &str, function: &str) -> Result<String, DiscoveryError> {
        let format = self.field(self.development.plugin_entry.as_ref(), "plugin_entry")?;
        Ok(format
            .replace("{stem}", stem)
            .replace("{function}", function))
    }

    /// How to run the adapter's unit tests.
    pub fn unit_tests(&self) -> Result<&UnitTests, DiscoveryError> {
        self.field(self.development.unit_tests.as_ref(), "unit_tests")
    }

    /// The adapter's conformance guest in `guests_root/<name>/`: its folder, entry
    /// point and source file name.
    pub fn conformance_guest(&self, guests_root: &Path) -> Result<GuestFiles, DiscoveryError> {
        const STEM: &str = "conformance_guest";
        let dir = guests_root.join(&self.name);
        let file = self.plugin_file(STEM)?;
        if !dir.join(&file).is_file() {
            return Err(DiscoveryError::NoGuest {
                adapter: self.name.clone(),
                expected: dir.join(&file),
            });
        }
        Ok(GuestFiles {
            entry: self.plugin_entry(STEM, "make")?,
            dir,
            file,
        })
    }

    /// Every checked-in generated module rendered with this adapter's templates today:
    /// (path from the repository root, the schema it comes from, contents).
    pub fn render_generated_modules(&self) -> Result<Vec<(PathBuf, String, String)>, String> {
        let root = repo_root();
        let mut out = Vec::new();
        for m in &self.development.generated_modules {
            let templates = match &m.templates {
                Some(dir) => self.adapter.dir.join(dir),
                None => self.adapter.templates_dir(),
            };
            let target = polyhost_codegen::Target::load(&templates).map_err(|e| {
                format!(
                    "[{}] the templates in {} do not load: {e}",
                    self.name,
                    templates.display()
                )
            })?;
            let rendered = polyhost_codegen::Builder::new()
                .schema(root.join(&m.schema))
                .src_prefix(root.join(&m.src_prefix))
                .emit_rerun_if_changed(false)
                .render(&target)
                .map_err(|e| format!("[{}] rendering {}: {e}", self.name, m.schema))?;
            if rendered.is_empty() {
                return Err(format!("[{}] {} renders no file", self.name, m.schema));
            }
            for file in rendered {
                let path = self.adapter.dir.join(&m.out).join(&file.path);
                let path = path
                    .strip_prefix(&root)
                    .map(Path::to_path_buf)
                    .unwrap_or(path);
                out.push((path, m.schema.clone(), file.contents));
            }
        }
        Ok(out)
    }
}

/// A conformance guest's files.
#[derive(Debug, Clone)]
pub struct GuestFiles {
    /// Its folder (put on the module search path).
    pub dir: PathBuf,
    /// Its entry point, in the adapter's syntax.
    pub entry: String,
    /// Its source file's name (tracebacks of its exceptions name it).
    pub file: String,
}

include!(concat!(env!("OUT_DIR"), "/discovered.rs"));

/// Runs `scenario` with the adapter's name (the default runner of `for_adapters!`).
pub async fn by_name<F, Fut>(adapter: &'static str, scenario: F)
where
    F: FnOnce(&'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(adapter).await
}

/// Runs `scenario` with the adapter [`named`] `adapter`.
pub fn with_discovered(adapter: &'static str, scenario: impl FnOnce(&Discovered)) {
    scenario(&named(adapter))
}
