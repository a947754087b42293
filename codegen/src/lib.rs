//! polyhost-codegen: Cap'n Proto schemas to typed polyhost bindings.
//!
//! The data path, one module each:
//! `frontend` (embedded compiler -> CodeGeneratorRequest) -> `lower` (-> `ir`, with
//! `fingerprint`) -> `view` (+ `exprs`, `method_code`, `naming`: names and code for one
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
pub mod method_code;
pub mod naming;
pub mod refusals;
pub mod render;
pub mod target;
pub mod values;
pub mod view;
pub mod well_known;

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
    guests: Vec<Guest>,
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
            guests: vec![],
            capnp_binary: None,
            rerun_if_changed: std::env::var_os("CARGO_MANIFEST_DIR").is_some()
                && std::env::var_os("OUT_DIR").is_some(),
            polyhost_crate: "polyhost".into(),
        }
    }
}

/// One guest target the run renders.
#[derive(Debug, Clone)]
struct Guest {
    source: GuestSource,
    /// Where its modules are also written, for plugin authors' editors.
    out_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
enum GuestSource {
    /// A language whose adapter ships with polyhost.
    Bundled(String),
    /// A target folder of the user's.
    Folder(PathBuf),
}

impl Guest {
    fn target(&self) -> Result<Target, CodegenError> {
        match &self.source {
            GuestSource::Bundled(language) => Target::bundled(language),
            GuestSource::Folder(dir) => Target::load(dir),
        }
    }
}

/// Every file one run generates, before anything is written.
struct Plan {
    ir: Ir,
    /// Rust bindings (raw capnpc modules, polyhost modules, the guest module table),
    /// by path relative to the Rust output folder.
    rust: Vec<(PathBuf, Vec<u8>)>,
    guests: Vec<RenderedGuest>,
}

/// One guest target, rendered.
struct RenderedGuest {
    /// The language: the target's manifest name.
    language: String,
    /// The folder its modules are also written to, if the build asked for one.
    out_dir: Option<PathBuf>,
    files: Vec<Rendered>,
    /// The target's files on disk, for rerun-if-changed.
    sources: Vec<PathBuf>,
}

impl Plan {
    /// Every generated file once: (key as `Builder::generated_files` names it, path
    /// below the Rust output folder, contents). Guest modules are listed under their
    /// language, at their embedded copy.
    fn listing(&self) -> Vec<(String, PathBuf, &[u8])> {
        let mut out = Vec::new();
        for (path, bytes) in &self.rust {
            // The embedded request is binary, not source.
            if !path.starts_with(GUEST_MODULES_DIR) && path != Path::new(SCHEMA_REQUEST_FILE) {
                out.push((
                    format!("rust/{}", slash_path(path)),
                    path.clone(),
                    &bytes[..],
                ));
            }
        }
        for RenderedGuest {
            language, files, ..
        } in &self.guests
        {
            for r in files {
                let copy = Path::new(GUEST_MODULES_DIR).join(language).join(&r.path);
                out.push((
                    format!("{language}/{}", slash_path(&r.path)),
                    copy,
                    r.contents.as_bytes(),
                ));
            }
        }
        out
    }

    /// `polyhost_generated.txt`: the listing as `key<TAB>path` lines, which
    /// `polyhost::generated_files(env!("OUT_DIR"))` reads back for snapshot tests.
    fn listing_file(&self) -> String {
        self.listing()
            .into_iter()
            .map(|(key, path, _)| format!("{key}\t{}\n", slash_path(&path)))
            .collect()
    }
}

/// The file, in the Rust output folder, that lists every generated file.
pub const LISTING_FILE: &str = "polyhost_generated.txt";

/// The CodeGeneratorRequest, beside the Rust bindings, that they embed
/// (`Bindings::schema_request`: calls by name and the JSON mapping read it).
pub const SCHEMA_REQUEST_FILE: &str = "polyhost_schema_request.bin";

/// Folder, below the Rust output folder, where the embedded guest modules are kept.
const GUEST_MODULES_DIR: &str = "polyhost_guests";

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

    /// Generates the modules of a guest language whose adapter ships with polyhost
    /// (`"python"`, `"node"`) and embeds them in the Rust bindings, where
    /// `PoolBuilder::bindings(&schema::BINDINGS)` hands them to that language's workers.
    /// Use it for every language your pools run; nothing is written outside `OUT_DIR`.
    pub fn guest(self, language: &str) -> Self {
        self.add_guest(GuestSource::Bundled(language.to_string()), None)
    }

    /// Like [`guest`](Self::guest), and also writes the modules into `out_dir` (say
    /// `plugin/gen`), so that plugin authors' editors and type checkers see them. The
    /// workers still get the embedded copy, so a deployed binary needs no such folder.
    pub fn write_guest(self, language: &str, out_dir: impl AsRef<Path>) -> Self {
        self.add_guest(
            GuestSource::Bundled(language.to_string()),
            Some(out_dir.as_ref().to_path_buf()),
        )
    }

    /// Renders a guest target of your own (a folder with `manifest.json` and its
    /// templates, for a language polyhost does not ship) into `out_dir`, and embeds
    /// the modules under the manifest's `name` like a bundled language's.
    pub fn guest_target(self, target_dir: impl AsRef<Path>, out_dir: impl AsRef<Path>) -> Self {
        self.add_guest(
            GuestSource::Folder(target_dir.as_ref().to_path_buf()),
            Some(out_dir.as_ref().to_path_buf()),
        )
    }

    fn add_guest(mut self, source: GuestSource, out_dir: Option<PathBuf>) -> Self {
        match self.guests.iter_mut().find(|g| g.source == source) {
            Some(existing) if out_dir.is_some() => existing.out_dir = out_dir,
            Some(_) => {}
            None => self.guests.push(Guest { source, out_dir }),
        }
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

    /// Every file a build would generate, by path → contents, without writing
    /// anything: `rust/<file>` for the Rust bindings (capnpc's raw modules, the
    /// polyhost modules, the guest module table) and `<language>/<file>` for every
    /// guest target. Made for snapshot tests of your own bindings:
    /// `insta::assert_snapshot!(path, contents)` for each entry.
    pub fn generated_files(&self) -> Result<BTreeMap<String, String>, CodegenError> {
        Ok(self
            .plan()?
            .listing()
            .into_iter()
            .map(|(key, _, contents)| (key, String::from_utf8_lossy(contents).into_owned()))
            .collect())
    }

    /// Renders every output in memory.
    fn plan(&self) -> Result<Plan, CodegenError> {
        let request = self.request()?;
        let ir = ir_of_request(&request)?;
        let globals = self.globals();
        refusals::check_rust(&ir)?;
        let mut rust: Vec<(PathBuf, Vec<u8>)> = self
            .raw_rust_modules(&request)?
            .into_iter()
            .map(|(name, bytes)| (PathBuf::from(name), bytes))
            .collect();
        for r in render_ir(&ir, &Target::rust()?, &globals)? {
            rust.push((r.path, r.contents.into_bytes()));
        }
        let mut guests = Vec::new();
        for guest in &self.guests {
            let target = guest.target()?;
            let rendered = render_ir(&ir, &target, &globals)?;
            let language = target.manifest.name.clone();
            for r in &rendered {
                let path = Path::new(GUEST_MODULES_DIR).join(&language).join(&r.path);
                rust.push((path, r.contents.clone().into_bytes()));
            }
            guests.push(RenderedGuest {
                language,
                out_dir: guest.out_dir.clone(),
                files: rendered,
                sources: target.source_files(),
            });
        }
        rust.push((
            PathBuf::from("polyhost_guests.rs"),
            self.guest_table(&guests).into_bytes(),
        ));
        rust.push((
            PathBuf::from(SCHEMA_REQUEST_FILE),
            Self::canonical_request(&request)?,
        ));
        Ok(Plan { ir, rust, guests })
    }

    /// The request in canonical form, as one segment: the compiler's own output splits it into
    /// segments by allocation, which varies with its surroundings (the length of the staging
    /// folder's path, say), so the same schema would give different bytes in different builds.
    fn canonical_request(request: &[u8]) -> Result<Vec<u8>, CodegenError> {
        let invalid = |e: capnp::Error| CodegenError::Compile {
            files: String::new(),
            detail: format!("the compiler's request cannot be read: {e}"),
        };
        let mut bytes = request;
        let message = capnp::serialize::read_message_from_flat_slice(
            &mut bytes,
            capnp::message::ReaderOptions {
                traversal_limit_in_words: None,
                nesting_limit: 128,
            },
        )
        .map_err(invalid)?;
        let words = message.canonicalize().map_err(invalid)?;
        let body = capnp::Word::words_to_bytes(&words);
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(words.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        Ok(out)
    }

    /// `polyhost_guests.rs`: the guest modules of every target, embedded with
    /// `include_str!` from the copies beside it.
    fn guest_table(&self, guests: &[RenderedGuest]) -> String {
        let polyhost = &self.globals()["polyhost"];
        let mut out = format!(
            "// @generated by {}. Do not edit: change the schemas and rebuild.\n\
             //\n\
             // The guest modules generated from these schemas, embedded so that a pool hands\n\
             // them to its workers (`PoolBuilder::bindings(&<schema>::BINDINGS)`).\n\n\
             #[doc(hidden)]\n\
             pub static POLYHOST_GUEST_MODULES: &[{polyhost}::GuestModules] = &[\n",
            view::GENERATOR
        );
        for RenderedGuest {
            language, files, ..
        } in guests
        {
            out.push_str(&format!(
                "    {polyhost}::GuestModules {{\n        language: {language:?},\n        files: &[\n"
            ));
            for r in files {
                let path = slash_path(&r.path);
                out.push_str(&format!(
                    "            ({path:?}, include_str!(\"{GUEST_MODULES_DIR}/{language}/{path}\")),\n"
                ));
            }
            out.push_str("        ],\n    },\n");
        }
        out.push_str("];\n");
        out.push_str(&format!(
            "\n/// The CodeGeneratorRequest of these schemas (with doc comments), for calls by\n\
             /// name and the JSON mapping (`Bindings::schema_request`).\n\
             #[doc(hidden)]\n\
             pub static POLYHOST_SCHEMA_REQUEST: &[u8] = include_bytes!(\"{SCHEMA_REQUEST_FILE}\");\n"
        ));
        out
    }

    /// Generates everything: the raw capnp Rust modules (capnpc), the polyhost Rust
    /// bindings with the guest modules embedded, and every guest target that asked
    /// for an output folder. Writes only files whose bytes changed.
    pub fn generate(&self) -> Result<Output, CodegenError> {
        let plan = self.plan()?;
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
        for (path, bytes) in &plan.rust {
            write(rust_out.join(path), bytes)?;
        }
        write(rust_out.join(LISTING_FILE), plan.listing_file().as_bytes())?;
        let mut target_sources = Vec::new();
        for RenderedGuest {
            out_dir,
            files: rendered,
            sources,
            ..
        } in &plan.guests
        {
            if let Some(out) = out_dir {
                for r in rendered {
                    write(out.join(&r.path), r.contents.as_bytes())?;
                }
            }
            target_sources.extend(sources.iter().cloned());
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
            ir: plan.ir,
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
        // One folder per call: builds and snapshot tests may generate concurrently.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = self
            .staging_dir()
            .join(format!("capnpc-staging-{}-{call}", std::process::id()));
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
                [(well_known::POLYHOST_FILE, self.polyhost_crate.clone())]
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
        let _ = std::fs::remove_dir_all(&staging);
        Ok(out)
    }
}

/// A relative path with `/` separators, as generated code and snapshot keys name it.
fn slash_path(path: &Path) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    parts.join("/")
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

/// The guest languages whose targets ship with the generator (`node`, `python`, ...),
/// for [`Builder::guest`].
pub fn bundled_languages() -> Vec<&'static str> {
    polyhost_adapters::languages()
}

/// Reads a CodeGeneratorRequest (bytes as the compiler wrote them) into the IR.
pub fn ir_of_request(request: &[u8]) -> Result<Ir, CodegenError> {
    let message = frontend::read_request(request)?;
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
