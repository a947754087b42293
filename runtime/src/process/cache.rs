//! The on-disk cache of embedded file trees: the guest runtimes this crate carries and
//! the guest modules generated bindings carry are written here before a worker needs
//! them, so a deployed binary needs nothing but the interpreters.
//!
//! A tree lives in `<cache>/<kind>/<name>-<hash>/`, where the hash covers every path and
//! byte of it (content-addressed: a new build with other files gets a new folder, two
//! builds with the same files share one). The folder is written beside its final place
//! under a temporary name and renamed into place, under an exclusive lock on
//! `<cache>/<kind>/.lock`, so concurrent hosts write it once and nobody sees it half
//! written. Files are read-only and owner-only. Every use verifies the folder against
//! the embedded bytes (same files, same contents, nothing more, owned by this user,
//! writable by nobody else): a tampered or damaged folder is replaced, never run. A
//! cache folder that another user may write to is refused, with its path.

use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Mode of a cached folder, and of a cached file: read-only, owner-only.
const DIR_MODE: u32 = 0o500;
const FILE_MODE: u32 = 0o400;

/// What happened to a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was not there and has been written.
    Written,
    /// It was there, complete and untouched.
    Verified,
    /// It was there but did not match (tampered, damaged or incomplete), and has been
    /// written anew.
    Repaired,
}

/// A tree in place, ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Materialized {
    pub dir: PathBuf,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error(
        "there is no folder to write polyhost's guest runtimes to: set POLYHOST_CACHE_DIR (or \
         XDG_CACHE_HOME, or HOME) to a folder this user owns"
    )]
    NoCacheDir,
    #[error(
        "cache folder `{path}` is {problem}, so polyhost will not run guest code from it: \
         `chmod go-w` it, or set POLYHOST_CACHE_DIR to a private folder"
    )]
    Insecure { path: PathBuf, problem: String },
    #[error(
        "cannot {action} `{path}`: {message}; make the folder writable, free space, or set \
         POLYHOST_CACHE_DIR to another folder"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        message: String,
    },
}

/// Where guest runtimes may keep caches (Python's bytecode, say): the adapter
/// definition's `{cache_dir}`, and where bundled runtimes and generated modules are
/// written (see `cache`). `$POLYHOST_CACHE_DIR`, else `$XDG_CACHE_HOME/polyhost`, else
/// `$HOME/.cache/polyhost`,
/// else `polyhost-<uid>` in the temporary directory, made private (mode 0700) and used
/// only while this user owns it and nobody else may write to it. `None` when there is
/// no such folder: variables that name `{cache_dir}` are then left out. Worked out
/// once per process.
pub fn cache_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("POLYHOST_CACHE_DIR").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(dir));
        }
        let home = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            });
        if let Some(base) = home {
            return Some(base.join("polyhost"));
        }
        // SAFETY: getuid(2) cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("polyhost-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0).then_some(dir)
    })
    .as_deref()
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CacheError + 'a {
    move |e| CacheError::Io {
        action,
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The folder name of a tree: `<name>-<first 32 hex digits of its hash>`.
pub fn folder_name(name: &str, files: &[(&str, &[u8])]) -> String {
    let mut sorted: Vec<&(&str, &[u8])> = files.iter().collect();
    sorted.sort_by_key(|(p, _)| *p);
    let mut hash = Sha256::new();
    for (path, bytes) in sorted {
        hash.update((path.len() as u64).to_le_bytes());
        hash.update(path.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    let digest = hash.finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hex}")
}

/// Puts `files` (paths relative to the tree, `/`-separated) in place under
/// `root/kind/`, verifying or repairing what is there.
pub fn materialize(
    root: &Path,
    kind: &str,
    name: &str,
    files: &[(&str, &[u8])],
) -> Result<Materialized, CacheError> {
    for (path, _) in files {
        let safe = !path.is_empty()
            && !path.starts_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        assert!(safe, "embedded path `{path}` must be relative and plain");
    }
    private_dir(root)?;
    let parent = root.join(kind);
    private_dir(&parent)?;
    let _lock = lock(&parent.join(".lock"))?;
    let dir = parent.join(folder_name(name, files));
    let outcome = match fs::symlink_metadata(&dir) {
        Err(_) => {
            write_tree(&parent, &dir, files)?;
            Outcome::Written
        }
        Ok(_) => match verify(&dir, files) {
            Ok(()) => Outcome::Verified,
            Err(reason) => {
                tracing::warn!(folder = %dir.display(), %reason, "cached guest files do not match the embedded ones; writing them anew");
                remove_tree(&dir)?;
                write_tree(&parent, &dir, files)?;
                Outcome::Repaired
            }
        },
    };
    Ok(Materialized { dir, outcome })
}

/// Creates `dir` (mode 0700) if needed, and checks that it is this user's and that
/// nobody else may write to it.
fn private_dir(dir: &Path) -> Result<(), CacheError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error("create the cache folder", dir))?;
    let meta = fs::metadata(dir).map_err(io_error("read the cache folder", dir))?;
    let problem = if !meta.is_dir() {
        Some("not a folder".to_string())
    } else if meta.uid() != current_uid() {
        Some(format!("owned by uid {}, not this user", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "writable by other users (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(CacheError::Insecure {
            path: dir.to_path_buf(),
            problem,
        }),
        None => Ok(()),
    }
}

fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Takes an exclusive lock on `path` (created if missing) until the file is dropped.
fn lock(path: &Path) -> Result<File, CacheError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error("open the cache lock", path))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io_error("lock the cache lock", path)(e.into()))?;
    Ok(file)
}

/// Writes the tree under a temporary name beside `dir`, then renames it into place.
/// On failure (a full disk, say) the temporary folder is removed again.
fn write_tree(parent: &Path, dir: &Path, files: &[(&str, &[u8])]) -> Result<(), CacheError> {
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        dir.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    if fs::symlink_metadata(&tmp).is_ok() {
        remove_tree(&tmp)?;
    }
    let written = write_tmp_tree(&tmp, files)
        .and_then(|()| fs::rename(&tmp, dir).map_err(io_error("move into place", dir)));
    if written.is_err() && fs::symlink_metadata(&tmp).is_ok() {
        let _ = remove_tree(&tmp);
    }
    written
}

/// Writes every file under `tmp`, then makes the tree read-only.
fn write_tmp_tree(tmp: &Path, files: &[(&str, &[u8])]) -> Result<(), CacheError> {
    let mut dirs = BTreeSet::new();
    for (path, bytes) in files {
        let file = tmp.join(path);
        let folder = file.parent().expect("a file has a folder");
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(io_error("create", folder))?;
        let mut ancestor = folder;
        while ancestor.starts_with(tmp) && dirs.insert(ancestor.to_path_buf()) {
            ancestor = ancestor.parent().expect("inside tmp");
        }
        let mut out = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&file)
            .map_err(io_error("write", &file))?;
        out.write_all(bytes).map_err(io_error("write", &file))?;
        fs::set_permissions(&file, fs::Permissions::from_mode(FILE_MODE))
            .map_err(io_error("make read-only", &file))?;
    }
    dirs.insert(tmp.to_path_buf());
    // Deepest first, so a folder is still writable while its children are set.
    for folder in dirs.iter().rev() {
        fs::set_permissions(folder, fs::Permissions::from_mode(DIR_MODE))
            .map_err(io_error("make read-only", folder))?;
    }
    Ok(())
}

/// Checks the folder holds exactly `files`, untouched and private. The reason when not.
fn verify(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), String> {
    let uid = current_uid();
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        check_entry(&folder, uid, true)?;
        let entries = fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let meta = fs::symlink_metadata(&path).map_err(|e| e.to_string())?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                check_entry(&path, uid, false)?;
                let rel = path.strip_prefix(dir).expect("below dir");
                let rel: Vec<String> = rel
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                found.insert(rel.join("/"));
            }
        }
    }
    for (path, bytes) in files {
        if !found.remove(*path) {
            return Err(format!("{path} is missing"));
        }
        let on_disk = fs::read(dir.join(path)).map_err(|e| format!("{path}: {e}"))?;
        if on_disk != *bytes {
            return Err(format!("{path} differs from the embedded file"));
        }
    }
    match found.into_iter().next() {
        Some(extra) => Err(format!("{extra} is not one of the embedded files")),
        None => Ok(()),
    }
}

fn check_entry(path: &Path, uid: u32, is_dir: bool) -> Result<(), String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind_ok = if is_dir {
        meta.is_dir()
    } else {
        meta.is_file()
    };
    if !kind_ok {
        return Err(format!(
            "{} is not a plain {}",
            path.display(),
            if is_dir { "folder" } else { "file" }
        ));
    }
    if meta.uid() != uid {
        return Err(format!("{} is owned by uid {}", path.display(), meta.uid()));
    }
    if meta.mode() & 0o222 != 0 {
        return Err(format!(
            "{} is writable (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Removes a tree of read-only folders.
fn remove_tree(dir: &Path) -> Result<(), CacheError> {
    fn unlock(path: &Path) {
        if let Ok(meta) = fs::symlink_metadata(path) {
            if meta.is_dir() {
                let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
                if let Ok(entries) = fs::read_dir(path) {
                    for e in entries.flatten() {
                        unlock(&e.path());
                    }
                }
            }
        }
    }
    unlock(dir);
    let meta = fs::symlink_metadata(dir).map_err(io_error("read", dir))?;
    if meta.is_dir() {
        fs::remove_dir_all(dir).map_err(io_error("remove the damaged folder", dir))
    } else {
        fs::remove_file(dir).map_err(io_error("remove the damaged folder", dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &[(&str, &[u8])] = &[("a.txt", b"alpha"), ("pkg/b.py", b"print('b')\n")];

    fn cache() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn make_writable(path: &Path) {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn a_tree_is_written_once_then_verified() {
        let root = cache();
        let first = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        assert_eq!(first.outcome, Outcome::Written);
        assert_eq!(
            fs::read(first.dir.join("pkg/b.py")).unwrap(),
            b"print('b')\n"
        );
        let mode = fs::metadata(first.dir.join("a.txt")).unwrap().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
        let again = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        assert_eq!(
            again,
            Materialized {
                dir: first.dir,
                outcome: Outcome::Verified
            }
        );
    }

    #[test]
    fn hosts_starting_at_once_write_a_tree_once() {
        let root = cache();
        let barrier = std::sync::Barrier::new(4);
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        materialize(root.path(), "runtimes", "demo", FILES)
                            .unwrap()
                            .outcome
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let written = outcomes.iter().filter(|o| **o == Outcome::Written).count();
        assert_eq!(written, 1, "{outcomes:?}");
        assert!(
            outcomes.iter().all(|o| *o != Outcome::Repaired),
            "{outcomes:?}"
        );
        let names: Vec<_> = fs::read_dir(root.path().join("runtimes"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "the tree and the lock, nothing half-written: {names:?}"
        );
    }

    #[test]
    fn other_contents_get_another_folder() {
        let root = cache();
        let a = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        let b = materialize(root.path(), "runtimes", "demo", &[("a.txt", b"beta")]).unwrap();
        assert_ne!(a.dir, b.dir);
        assert_eq!(b.outcome, Outcome::Written);
    }

    #[test]
    fn a_tampered_file_is_rewritten() {
        let root = cache();
        let m = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        let victim = m.dir.join("pkg/b.py");
        make_writable(&m.dir.join("pkg"));
        make_writable(&victim);
        fs::write(&victim, b"import os; os.system('evil')\n").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(FILE_MODE)).unwrap();
        let again = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        assert_eq!(again.outcome, Outcome::Repaired);
        assert_eq!(fs::read(&victim).unwrap(), b"print('b')\n");
    }

    #[test]
    fn an_added_file_or_a_writable_file_is_rewritten() {
        let root = cache();
        let m = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        make_writable(&m.dir.join("pkg"));
        fs::write(m.dir.join("pkg/sitecustomize.py"), b"evil").unwrap();
        let again = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        assert_eq!(again.outcome, Outcome::Repaired);
        assert!(!m.dir.join("pkg/sitecustomize.py").exists());

        make_writable(&m.dir.join("a.txt"));
        let again = materialize(root.path(), "runtimes", "demo", FILES).unwrap();
        assert_eq!(again.outcome, Outcome::Repaired);
    }

    #[test]
    fn a_cache_folder_others_may_write_to_is_refused_by_name() {
        let root = cache();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = materialize(root.path(), "runtimes", "demo", FILES).unwrap_err();
        assert!(
            matches!(err, CacheError::Insecure { ref path, .. } if path == root.path()),
            "{err}"
        );
        assert!(
            err.to_string().contains(&root.path().display().to_string()),
            "{err}"
        );
        assert!(err.to_string().contains("writable by other users"), "{err}");
    }

    #[test]
    fn a_cache_folder_that_cannot_be_made_is_a_typed_error_naming_it() {
        let root = cache();
        let blocker = root.path().join("file");
        fs::write(&blocker, b"").unwrap();
        let inside = blocker.join("cache");
        let err = materialize(&inside, "runtimes", "demo", FILES).unwrap_err();
        assert!(
            matches!(err, CacheError::Io { ref path, .. } if path == &inside),
            "{err}"
        );
        assert!(err.to_string().contains("POLYHOST_CACHE_DIR"), "{err}");
    }
}
