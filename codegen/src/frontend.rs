//! Schema front end: runs the official Cap'n Proto compiler, embedded as WebAssembly
//! (`capnpc-embedded`), and returns the CodeGeneratorRequest bytes.
//!
//! `polyhost.capnp` is staged into a private import directory so user schemas can
//! `import "/polyhost.capnp"` without configuring anything. An explicit compiler binary
//! is used only when the caller asks for one (`Builder::capnp_binary`).

use std::path::{Path, PathBuf};

use crate::error::CodegenError;

/// The worker protocol and annotations, shipped with the generator.
pub const POLYHOST_SCHEMA: &str = polyhost_schema::POLYHOST_CAPNP;

pub struct Compile<'a> {
    pub files: &'a [PathBuf],
    pub src_prefix: Option<&'a Path>,
    pub import_paths: &'a [PathBuf],
    pub capnp_binary: Option<&'a Path>,
    /// Where `polyhost.capnp` is staged (a directory the generator owns).
    pub staging_dir: &'a Path,
}

pub fn compile(c: &Compile<'_>) -> Result<Vec<u8>, CodegenError> {
    if c.files.is_empty() {
        return Err(CodegenError::NoSchemas);
    }
    for f in c.files {
        std::fs::metadata(f).map_err(|source| CodegenError::MissingSchema {
            path: f.clone(),
            source,
        })?;
    }
    let import_dir = stage_polyhost_schema(c.staging_dir)?;
    let files = c
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match c.capnp_binary {
        None => {
            let mut cmd = capnpc_embedded::CompileCommand::new();
            for f in c.files {
                cmd.file(f);
            }
            if let Some(p) = c.src_prefix {
                cmd.src_prefix(p);
            }
            cmd.import_path(&import_dir);
            for p in c.import_paths {
                cmd.import_path(p);
            }
            cmd.compile().map_err(|e| CodegenError::Compile {
                files,
                detail: e.to_string(),
            })
        }
        Some(binary) => {
            let mut cmd = std::process::Command::new(binary);
            cmd.arg("compile")
                .arg("-o-")
                .arg(format!("--import-path={}", import_dir.display()));
            if let Some(p) = c.src_prefix {
                cmd.arg(format!("--src-prefix={}", p.display()));
            }
            for p in c.import_paths {
                cmd.arg(format!("--import-path={}", p.display()));
            }
            cmd.args(c.files).stderr(std::process::Stdio::inherit());
            let out = cmd.output().map_err(|e| CodegenError::Compile {
                files: files.clone(),
                detail: format!("cannot run `{}`: {e}", binary.display()),
            })?;
            if !out.status.success() {
                return Err(CodegenError::Compile {
                    files,
                    detail: format!("`{}` exited with {}", binary.display(), out.status),
                });
            }
            Ok(out.stdout)
        }
    }
}

/// Writes `polyhost.capnp` into `dir/polyhost-import/` (only when its bytes changed)
/// and returns that import directory.
fn stage_polyhost_schema(dir: &Path) -> Result<PathBuf, CodegenError> {
    let import_dir = dir.join("polyhost-import");
    crate::render::write_if_changed(
        &import_dir.join("polyhost.capnp"),
        POLYHOST_SCHEMA.as_bytes(),
    )?;
    Ok(import_dir)
}
