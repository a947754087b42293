//! Embeds every adapter folder beside this crate (each subfolder with an
//! `adapter.json`), leaving out what is not needed to run or generate: `tests/`,
//! hidden files and caches. Writes `$OUT_DIR/bundled.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Names never embedded, at any depth.
const SKIPPED: &[&str] = &["tests", "__pycache__", "node_modules"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut adapters: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the adapters folder is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("adapter.json").is_file())
        .collect();
    adapters.sort();
    let mut out = String::from(
        "/// Every adapter folder, sorted by language.\nstatic BUNDLED: &[Bundled] = &[\n",
    );
    for dir in &adapters {
        println!("cargo:rerun-if-changed={}", dir.display());
        let language = dir.file_name().unwrap().to_string_lossy();
        let mut files = Vec::new();
        collect(dir, dir, &mut files);
        files.sort();
        writeln!(out, "    Bundled {{ language: {language:?}, files: &[").unwrap();
        for (rel, abs) in files {
            writeln!(
                out,
                "        ({rel:?}, include_bytes!({:?})),",
                abs.display().to_string()
            )
            .unwrap();
        }
        out.push_str("    ] },\n");
    }
    out.push_str("];\n");
    println!("cargo:rerun-if-changed={}", root.display());
    let dest = Path::new(&std::env::var("OUT_DIR").expect("cargo sets it")).join("bundled.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every file below `dir`, as (path relative to `base` with `/`, absolute path).
fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, out);
        } else if path.is_file() {
            let rel = path.strip_prefix(base).unwrap();
            let rel: Vec<String> = rel
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            out.push((rel.join("/"), path));
        }
    }
}
