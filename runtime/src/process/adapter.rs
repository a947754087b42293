//! Adapter definitions: how to start a worker of one guest language.
//!
//! An adapter is a folder holding the guest runtime, the generator templates and
//! `adapter.json`, which this module reads. The adapters polyhost ships travel inside
//! the binary (the `polyhost-adapters` crate) and are written to the cache folder on
//! first use (`Adapter::bundled`); an adapter of your own is a folder on disk
//! (`Adapter::load`). Nothing here knows
//! any particular language: the interpreter, its arguments, the variable that puts
//! the runtime and generated modules on the guest's module search path, and the
//! environment all come from the definition.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;

/// What `adapter.json` holds.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdapterDefinition {
    /// Language name reported in errors and telemetry (`python`).
    pub language: String,
    /// Interpreter looked up on PATH unless overridden (`python3`).
    pub interpreter: String,
    /// Environment variable that overrides the interpreter (`POLYHOST_PYTHON`).
    #[serde(default)]
    pub interpreter_env: Option<String>,
    /// Arguments that make the interpreter print its real executable path, so that
    /// version-manager shims are resolved once instead of on every spawn.
    #[serde(default)]
    pub resolve_interpreter: Vec<String>,
    /// Arguments that make the interpreter print its version.
    #[serde(default)]
    pub version: Vec<String>,
    /// Worker command line after the interpreter; `{entry}` is the plugin entry and
    /// `{runtime_dir}` the guest runtime folder (for a worker started as a script).
    pub args: Vec<String>,
    /// Command line after the interpreter of a template process that forks workers
    /// (see `template.rs` for its protocol); empty when the language cannot fork a
    /// started interpreter, and then every worker starts fresh. Same placeholders as
    /// `args`.
    #[serde(default)]
    pub template: Vec<String>,
    /// Environment variable holding the module search path (`PYTHONPATH`).
    pub search_path_env: String,
    /// Folder (relative to the adapter folder) with the guest runtime package.
    pub runtime_dir: String,
    /// Variables every worker of this language gets; `{cache_dir}` in a value is a
    /// folder for the guest's caches (see `launch::cache_dir`), such as compiled
    /// bytecode, so that workers after the first skip compiling the runtime. A
    /// variable naming it is left out when there is no such folder.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Folder of the generator target (relative to the adapter folder).
    pub templates: String,
    /// What the repository's test suite and regeneration tool need and the runtime
    /// does not read: the adapter's unit-test command, its checked-in generated
    /// modules, how plugin files are named. Its fields are read and documented by
    /// `polyhost_tests::adapters`.
    #[serde(default)]
    pub development: Option<serde_json::Value>,
}

/// A loaded adapter: its folder and definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    pub dir: PathBuf,
    pub definition: AdapterDefinition,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AdapterError {
    #[error("polyhost has no `{language}` adapter; it ships: {available}. For another language, load your adapter folder with `Adapter::load`")]
    Unknown { language: String, available: String },
    #[error("cannot put the {language} runtime in place: {source}")]
    Cache {
        language: String,
        source: crate::process::cache::CacheError,
    },
    #[error("cannot read adapter definition `{path}`: {message}")]
    Definition { path: PathBuf, message: String },
    #[error(
        "{language} interpreter `{interpreter}` cannot be run: {message}; install it or set {hint}"
    )]
    Interpreter {
        language: String,
        interpreter: String,
        message: String,
        hint: String,
    },
}

impl Adapter {
    /// Loads `dir/adapter.json`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Adapter, AdapterError> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join("adapter.json");
        let err = |message: String| AdapterError::Definition {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        let definition = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        Ok(Adapter { dir, definition })
    }

    /// An adapter that ships with polyhost (`python`, `node`, ...), written on first
    /// use into the cache folder (`$POLYHOST_CACHE_DIR`, else `$XDG_CACHE_HOME/polyhost`,
    /// else `~/.cache/polyhost`) and verified there at every call.
    pub fn bundled(language: &str) -> Result<Adapter, AdapterError> {
        let root = crate::process::cache::cache_dir().ok_or_else(|| AdapterError::Cache {
            language: language.to_string(),
            source: crate::process::cache::CacheError::NoCacheDir,
        })?;
        Adapter::bundled_in(language, root)
    }

    /// Like [`bundled`](Self::bundled), with the runtime written under `cache_root`
    /// (a folder only this user may write to), for hosts that keep their caches
    /// elsewhere.
    pub fn bundled_in(
        language: &str,
        cache_root: impl AsRef<Path>,
    ) -> Result<Adapter, AdapterError> {
        let embedded = polyhost_adapters::find(language).ok_or_else(|| AdapterError::Unknown {
            language: language.to_string(),
            available: polyhost_adapters::languages().join(", "),
        })?;
        let placed = crate::process::cache::materialize(
            cache_root.as_ref(),
            "runtimes",
            language,
            embedded.files,
        )
        .map_err(|source| AdapterError::Cache {
            language: language.to_string(),
            source,
        })?;
        Adapter::load(placed.dir)
    }

    /// The guest runtime folder, put first on the module search path.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.join(&self.definition.runtime_dir)
    }

    /// The generator target folder of this language.
    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join(&self.definition.templates)
    }

    /// The interpreter to run: an explicit path, else the definition's override
    /// variable, else its name; resolved once to the real executable.
    pub fn resolve_interpreter(&self, explicit: Option<&Path>) -> Result<PathBuf, AdapterError> {
        let d = &self.definition;
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| {
                d.interpreter_env
                    .as_ref()
                    .and_then(std::env::var_os)
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(&d.interpreter));
        if d.resolve_interpreter.is_empty() {
            return Ok(named);
        }
        // Resolved once per process: a version-manager shim costs tens of ms a run.
        static RESOLVED: OnceLock<Mutex<HashMap<PathBuf, PathBuf>>> = OnceLock::new();
        let cache = RESOLVED.get_or_init(Mutex::default);
        if let Some(real) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&named) {
            return Ok(real.clone());
        }
        let out = Command::new(&named)
            .args(&d.resolve_interpreter)
            .output()
            .map_err(|e| self.interpreter_error(&named, e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(
                self.interpreter_error(&named, format!("exited with {}: {stderr}", out.status))
            );
        }
        let real = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let real = if real.is_empty() {
            named.clone()
        } else {
            PathBuf::from(real)
        };
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(named, real.clone());
        Ok(real)
    }

    fn interpreter_error(&self, interpreter: &Path, message: String) -> AdapterError {
        let d = &self.definition;
        AdapterError::Interpreter {
            language: d.language.clone(),
            interpreter: interpreter.display().to_string(),
            message,
            hint: d
                .interpreter_env
                .clone()
                .map(|v| format!("{v} or the pool's interpreter"))
                .unwrap_or_else(|| "the pool's interpreter".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bundled adapter loads from the cache, names folders that exist, names
    /// itself as its folder does, and resolves its interpreter.
    #[test]
    fn every_bundled_adapter_loads_and_resolves() {
        let cache = tempfile::tempdir().unwrap();
        assert!(!polyhost_adapters::all().is_empty());
        for bundled in polyhost_adapters::all() {
            let adapter = Adapter::bundled_in(bundled.language, cache.path()).unwrap();
            assert_eq!(adapter.definition.language, bundled.language);
            assert!(adapter.dir.starts_with(cache.path()));
            assert!(
                adapter.runtime_dir().is_dir(),
                "{}: runtime_dir",
                bundled.language
            );
            assert!(
                adapter.templates_dir().join("manifest.json").is_file(),
                "{}: templates",
                bundled.language
            );
            let real = adapter.resolve_interpreter(None).unwrap();
            assert!(real.is_absolute(), "{real:?}");
        }
    }

    #[test]
    fn an_unknown_language_names_the_ones_there_are() {
        let err = Adapter::bundled("cobol").unwrap_err();
        assert!(err.to_string().contains("python"), "{err}");
    }

    #[test]
    fn a_missing_interpreter_is_named_in_the_error() {
        let python = Adapter::bundled("python").unwrap();
        let err = python
            .resolve_interpreter(Some(Path::new("/no/such/python")))
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/python"), "{err}");
    }
}
