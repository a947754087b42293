//! polyhost-codegen: Cap'n Proto schemas to typed polyhost bindings.
//!
//! The data path, one module each:
//! `frontend` (embedded compiler -> CodeGeneratorRequest) -> `lower` (-> `ir`, with
//! `fingerprint`) -> `view` (+ `exprs`, `naming`: names and type expressions for one
//! `target`) -> `render` (handlebars -> files).
//!
//! From a `build.rs`:
//!
//! ```no_run
//! polyhost_codegen::Builder::new()
//!     .schema_dir("schema")
//!     .build(); // on a schema error: prints the compiler's file:line:col and fails
//! ```
//! and in the crate root: `include!(concat!(env!("OUT_DIR"), "/polyhost_bindings.rs"));`

pub mod error;
pub mod exprs;
pub mod fingerprint;
pub mod frontend;
pub mod ir;
pub mod lower;
pub mod naming;
pub mod refusals;
pub mod render;
pub mod target;
pub mod view;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::CodegenError;
pub use ir::Ir;
pub use render::Rendered;
pub use target::Target;

/// Configures and runs the generator. Every setter says when to use it.
#[derive(Debug, Clone)]
pub struct Builder {
    schemas: Vec<PathBuf>,
    schema_dirs: Vec<PathBuf>,
    src_prefix: Option<PathBuf>,
    import_paths: Vec<PathBuf>,
    rust_out: Option<PathBuf>,
    parent_module: Vec<String>,
    guest_targets: Vec<(PathBuf, PathBuf)>,
    capnp_binary: Option<PathBuf>,
    rerun_if_changed: bool,
    polyhost_crate: String,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            schemas: vec![],
            schema_dirs: vec![],
            src_prefix: None,
            import_paths: vec![],
            rust_out: None,
            parent_module: vec![],
            guest_targets: vec![],
            capnp_binary: None,
            rerun_if_changed: std::env::var_os("CARGO_MANIFEST_DIR").is_some()
                && std::env::var_os("OUT_DIR").is_some(),
            polyhost_crate: "polyhost".into(),
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Output {
    pub ir: Ir,
    /// Files written or left unchanged, by absolute path.
    pub files: Vec<PathBuf>,
    /// The subset that was (re)written.
    pub written: Vec<PathBuf>,
    /// Inputs announced with `cargo:rerun-if-changed` (empty when that is off).
    pub rerun_if_changed: Vec<PathBuf>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one schema file. Its directory becomes the source prefix unless
    /// `src_prefix` is set, so `schema/calc.capnp` is named `calc.capnp` in headers.
    pub fn schema(mut self, path: impl AsRef<Path>) -> Self {
        self.schemas.push(path.as_ref().to_path_buf());
        self
    }

    /// Adds every `*.capnp` file directly inside `dir` (sorted by name); the usual
    /// choice for a crate with a `schema/` folder.
    pub fn schema_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.schema_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Strips this prefix from schema paths in generated names and headers. Set it
    /// when schemas live in nested folders and their relative paths matter.
    pub fn src_prefix(mut self, dir: impl AsRef<Path>) -> Self {
        self.src_prefix = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Adds a directory searched by `import "/x.capnp"`. `polyhost.capnp` is always
    /// importable without this.
    pub fn import_path(mut self, dir: impl AsRef<Path>) -> Self {
        self.import_paths.push(dir.as_ref().to_path_buf());
        self
    }

    /// Where the Rust bindings go (default: `$OUT_DIR`). Set it to check generated
    /// code into the source tree.
    pub fn rust_out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.rust_out = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The module path (from the crate root, `::`-separated) where the bindings are
    /// included, when not at the crate root: `.parent_module("plugin::bindings")`.
    pub fn parent_module(mut self, path: &str) -> Self {
        self.parent_module = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        self
    }

    /// Also renders a guest-language target (a folder with `manifest.json`, e.g.
    /// `adapters/python/templates`) into `out_dir`, for the workers' modules.
    pub fn guest_target(mut self, target_dir: impl AsRef<Path>, out_dir: impl AsRef<Path>) -> Self {
        self.guest_targets.push((
            target_dir.as_ref().to_path_buf(),
            out_dir.as_ref().to_path_buf(),
        ));
        self
    }

    /// Uses this `capnp` binary instead of the embedded compiler. Only for users who
    /// need a specific compiler build; nothing else needs it.
    pub fn capnp_binary(mut self, path: impl AsRef<Path>) -> Self {
        self.capnp_binary = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` for schemas, imports and templates
    /// (default: on inside a build script, off elsewhere).
    pub fn emit_rerun_if_changed(mut self, on: bool) -> Self {
        self.rerun_if_changed = on;
        self
    }

    /// The crate path that provides `polyhost_capnp` to generated code (default
    /// `polyhost`). Only the polyhost crate itself sets this, to `crate`.
    pub fn polyhost_crate(mut self, path: &str) -> Self {
        self.polyhost_crate = path.to_string();
        self
    }

    fn schema_files(&self) -> Result<Vec<PathBuf>, CodegenError> {
        let mut files = self.schemas.clone();
        for dir in &self.schema_dirs {
            let entries = std::fs::read_dir(dir).map_err(|source| CodegenError::MissingSchema {
                path: dir.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "capnp"))
                .collect();
            found.sort();
            files.extend(found);
        }
        if files.is_empty() {
            return Err(CodegenError::NoSchemas);
        }
        Ok(files)
    }

    fn staging_dir(&self) -> PathBuf {
        std::env::var_os("OUT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("polyhost-codegen"))
    }

    /// Runs the compiler and returns the raw CodeGeneratorRequest.
    pub fn request(&self) -> Result<Vec<u8>, CodegenError> {
        let files = self.schema_files()?;
        let src_prefix = self
            .src_prefix
            .clone()
            .or_else(|| files[0].parent().map(Path::to_path_buf));
        frontend::compile(&frontend::Compile {
            files: &files,
            src_prefix: src_prefix.as_deref(),
            import_paths: &self.import_paths,
            capnp_binary: self.capnp_binary.as_deref(),
            staging_dir: &self.staging_dir(),
        })
    }

    /// Compiles the schemas and returns their IR.
    pub fn ir(&self) -> Result<Ir, CodegenError> {
        ir_of_request(&self.request()?)
    }

    fn globals(&self) -> BTreeMap<String, String> {
        let mut root = String::from("crate::");
        for m in &self.parent_module {
            root.push_str(m);
            root.push_str("::");
        }
        let polyhost = if self.polyhost_crate == "crate" {
            "crate".to_string()
        } else {
            format!("::{}", self.polyhost_crate)
        };
        [
            ("root".to_string(), root),
            ("polyhost".to_string(), polyhost),
        ]
        .into_iter()
        .collect()
    }

    /// Renders `target` for the schemas without writing anything (snapshot tests).
    pub fn render(&self, target: &Target) -> Result<Vec<Rendered>, CodegenError> {
        let ir = self.ir()?;
        render_ir(&ir, target, &self.globals())
    }

    /// Generates everything: the raw capnp Rust modules (capnpc), the polyhost Rust
    /// bindings and every guest target. Writes only files whose bytes changed.
    pub fn generate(&self) -> Result<Output, CodegenError> {
        let request = self.request()?;
        let ir = ir_of_request(&request)?;
        let globals = self.globals();
        let mut files = Vec::new();
        let mut written = Vec::new();
        let mut write = |path: PathBuf, bytes: &[u8]| -> Result<(), CodegenError> {
            if render::write_if_changed(&path, bytes)? {
                written.push(path.clone());
            }
            files.push(path);
            Ok(())
        };

        let rust_out = match &self.rust_out {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| CodegenError::Target {
                target: "rust".into(),
                message: "OUT_DIR is not set: call `rust_out_dir(...)` when not running from build.rs".into(),
            })?),
        };
        refusals::check_rust(&ir)?;
        for (name, bytes) in self.raw_rust_modules(&request)? {
            write(rust_out.join(name), &bytes)?;
        }
        let rust = Target::rust()?;
        for r in render_ir(&ir, &rust, &globals)? {
            write(rust_out.join(&r.path), r.contents.as_bytes())?;
        }
        let mut target_sources = rust.source_files();
        for (dir, out) in &self.guest_targets {
            let target = Target::load(dir)?;
            for r in render_ir(&ir, &target, &globals)? {
                write(out.join(&r.path), r.contents.as_bytes())?;
            }
            target_sources.extend(target.source_files());
        }
        let mut rerun = Vec::new();
        if self.rerun_if_changed {
            rerun.extend(self.schema_files()?);
            rerun.extend(target_sources);
            rerun.extend(self.schema_dirs.iter().chain(&self.import_paths).cloned());
            for path in &rerun {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        Ok(Output {
            ir,
            files,
            written,
            rerun_if_changed: rerun,
        })
    }

    /// For `build.rs`: generates, and on error prints it (the compiler's own
    /// `file:line:col` lines are already on stderr) and exits with status 1, so the
    /// build fails without a panic backtrace.
    pub fn build(&self) -> Output {
        match self.generate() {
            Ok(out) => out,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }

    /// capnpc's raw modules for the request, as (file name, bytes).
    fn raw_rust_modules(&self, request: &[u8]) -> Result<Vec<(String, Vec<u8>)>, CodegenError> {
        let staging = self.staging_dir().join("capnpc-staging");
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|source| CodegenError::Write {
            path: staging.clone(),
            source,
        })?;
        let mut cmd = capnpc::codegen::CodeGenerationCommand::new();
        cmd.output_directory(&staging);
        if !self.parent_module.is_empty() {
            cmd.default_parent_module(self.parent_module.clone());
        }
        if self.polyhost_crate != "crate" {
            // User crates need no direct `capnp` dependency: the raw code names the
            // one polyhost re-exports.
            cmd.capnp_root(&format!("::{}::__private::capnp", self.polyhost_crate));
            cmd.crates_provide_map(
                [(
                    lower::well_known::POLYHOST_FILE,
                    self.polyhost_crate.clone(),
                )]
                .into_iter()
                .collect(),
            );
        }
        cmd.run(request)
            .map_err(|e| CodegenError::Capnpc(e.to_string()))?;
        let mut out = Vec::new();
        for entry in walk(&staging) {
            let bytes = std::fs::read(&entry).map_err(|source| CodegenError::Write {
                path: entry.clone(),
                source,
            })?;
            // capnpc writes `sub/x_capnp.rs` for a schema named `sub/x.capnp`, but
            // names its module `x_capnp` wherever it is, as the bindings include it.
            let name = entry
                .file_name()
                .expect("walk yields files")
                .to_string_lossy()
                .into_owned();
            out.push((name, bytes));
        }
        out.sort();
        Ok(out)
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Reads a CodeGeneratorRequest (bytes as the compiler wrote them) into the IR.
pub fn ir_of_request(request: &[u8]) -> Result<Ir, CodegenError> {
    let mut slice = request;
    let message = capnp::serialize::read_message_from_flat_slice(
        &mut slice,
        capnp::message::ReaderOptions {
            traversal_limit_in_words: None,
            nesting_limit: 128,
        },
    )?;
    let root: capnp::schema_capnp::code_generator_request::Reader<'_> = message.get_root()?;
    lower::lower(root)
}

/// Renders one target from an IR.
pub fn render_ir(
    ir: &Ir,
    target: &Target,
    globals: &BTreeMap<String, String>,
) -> Result<Vec<Rendered>, CodegenError> {
    let run = view::ViewBuilder::new(&target.manifest, ir, globals).run()?;
    render::render(target, &run)
}
