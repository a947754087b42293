//! Schema front end: runs the official Cap'n Proto compiler, embedded as WebAssembly
//! (`capnpc-embedded`), and returns the CodeGeneratorRequest bytes.
//!
//! `polyhost.capnp` is staged into a private import directory so user schemas can
//! `import "/polyhost.capnp"` without configuring anything. An explicit compiler binary
//! is used only when the caller asks for one (`Builder::capnp_binary`).
//!
//! Relative imports (`import "../common/types.capnp"`) resolve as `capnp compile`
//! resolves them from any directory above both files: the compiler is started at the
//! filesystem root, so `..` only stops there. Handing it the source prefix instead
//! would make the prefix the "starting directory" that `..` cannot leave. The prefix
//! is applied afterwards (`rename`): a file under it is named relative to it, as
//! `--src-prefix` names it; an imported file beside it gets a `../` name.

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
    let cwd = std::env::current_dir().map_err(|e| CodegenError::Compile {
        files: String::new(),
        detail: format!("no current directory: {e}"),
    })?;
    let absolute = |p: &Path| {
        let p = cwd.join(p);
        p.canonicalize().unwrap_or(p)
    };
    let files = c
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match c.capnp_binary {
        None => {
            // The embedded compiler's working directory is `/`: with no source
            // prefix, every file starts from the root.
            let mut cmd = capnpc_embedded::CompileCommand::new();
            for f in c.files {
                cmd.file(absolute(f));
            }
            cmd.import_path(&import_dir);
            for p in c.import_paths {
                cmd.import_path(absolute(p));
            }
            let request = cmd.compile().map_err(|e| CodegenError::Compile {
                files: files.clone(),
                detail: e.to_string(),
            })?;
            rename(&request, c.src_prefix.map(&absolute).as_deref()).map_err(|e| {
                CodegenError::Compile {
                    files,
                    detail: e.to_string(),
                }
            })
        }
        Some(binary) => {
            // Run from `/` with absolute paths, like the embedded compiler.
            // A bare name is looked up on PATH; a path is made absolute.
            let binary = if binary.components().count() > 1 {
                absolute(binary)
            } else {
                binary.to_path_buf()
            };
            let mut cmd = std::process::Command::new(&binary);
            cmd.current_dir("/")
                .arg("compile")
                .arg("-o-")
                .arg(format!("--import-path={}", absolute(&import_dir).display()));
            for p in c.import_paths {
                cmd.arg(format!("--import-path={}", absolute(p).display()));
            }
            cmd.args(c.files.iter().map(|f| absolute(f)))
                .stderr(std::process::Stdio::inherit());
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
            rename(&out.stdout, c.src_prefix.map(&absolute).as_deref()).map_err(|e| {
                CodegenError::Compile {
                    files,
                    detail: e.to_string(),
                }
            })
        }
    }
}

/// Renames the files of a request compiled from `/` (display names are paths from the
/// root, `home/me/app/schema/calc.capnp:Point`) as the source prefix names them
/// (`calc.capnp:Point`). Only names of files that exist at `/<name>` are touched
/// (those found through an import path are already named by it). A requested file
/// outside the prefix keeps its full name: capnpc writes its module to that path,
/// which must stay inside the output folder.
fn rename(request: &[u8], prefix: Option<&Path>) -> capnp::Result<Vec<u8>> {
    use capnp::schema_capnp::code_generator_request;
    let Some(prefix) = prefix else {
        return Ok(request.to_vec());
    };
    let message = read_request(request)?;
    let reader: code_generator_request::Reader<'_> = message.get_root()?;
    let mut requested = std::collections::HashSet::new();
    for f in reader.get_requested_files()? {
        requested.insert(f.get_filename()?.to_string()?);
    }
    let new_name = |file: &str| -> Option<String> {
        let on_disk = Path::new("/").join(file);
        if file.starts_with('/') || !on_disk.is_file() {
            return None;
        }
        match on_disk.strip_prefix(prefix) {
            Ok(inside) => Some(inside.to_string_lossy().replace('\\', "/")),
            Err(_) if requested.contains(file) => None,
            Err(_) => Some(relative(prefix, &on_disk)),
        }
    };
    let mut out = capnp::message::Builder::new_default();
    out.set_root(reader)?;
    let mut root: code_generator_request::Builder<'_> = out.get_root()?;
    let mut nodes = root.reborrow().get_nodes()?;
    for i in 0..nodes.len() {
        let mut node = nodes.reborrow().get(i);
        let name = node.reborrow().get_display_name()?.to_string()?;
        let (file, rest) = name.split_at(name.find(':').unwrap_or(name.len()));
        if let Some(new) = new_name(file) {
            // The prefix length counts the file's name: it moves by the change in length.
            let moved = new.len() as i64 - file.len() as i64;
            let prefix_len = i64::from(node.reborrow().get_display_name_prefix_length()) + moved;
            node.set_display_name(format!("{new}{rest}").as_str());
            node.set_display_name_prefix_length(u32::try_from(prefix_len).unwrap_or(0));
        }
    }
    let mut files = root.get_requested_files()?;
    for i in 0..files.len() {
        let mut f = files.reborrow().get(i);
        let name = f.reborrow().get_filename()?.to_string()?;
        if let Some(new) = new_name(&name) {
            f.set_filename(new.as_str());
        }
    }
    Ok(capnp::serialize::write_message_to_words(&out))
}

/// `to` as a path from the directory `from`, with `..` where it leaves it.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
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

/// Reads a CodeGeneratorRequest as the compiler wrote it. It comes from the compiler,
/// not from a peer, so it is read without a traversal limit.
pub(crate) fn read_request(
    mut request: &[u8],
) -> capnp::Result<capnp::message::Reader<capnp::serialize::BufferSegments<&[u8]>>> {
    capnp::serialize::read_message_from_flat_slice(
        &mut request,
        capnp::message::ReaderOptions {
            traversal_limit_in_words: None,
            nesting_limit: 128,
        },
    )
}
