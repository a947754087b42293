//! Every adapter folder beside this crate (`python/`, `node/`, ...: each one with an
//! `adapter.json`), embedded file by file. The folders stay the single source of the
//! guest runtimes, their generator templates and their launch recipes; this crate is how
//! they travel inside `polyhost` (which writes a runtime to a cache folder before it
//! starts workers) and `polyhost-codegen` (which renders the templates), so a built
//! binary needs nothing but the interpreters.
//!
//! Adapters are discovered, not listed: `build.rs` embeds every subfolder that has an
//! `adapter.json`, leaving out its `tests/` and caches.

/// One adapter folder, as files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bundled {
    /// The folder's name, which is also the adapter's language (`python`).
    pub language: &'static str,
    /// Every embedded file: path relative to the adapter folder (`/`-separated),
    /// contents. Sorted by path.
    pub files: &'static [(&'static str, &'static [u8])],
}

impl Bundled {
    /// The contents of one file, by its path in the adapter folder.
    pub fn file(&self, path: &str) -> Option<&'static [u8]> {
        self.files
            .binary_search_by(|(p, _)| (*p).cmp(path))
            .ok()
            .map(|i| self.files[i].1)
    }

    /// The files below `dir` (a folder of the adapter, `templates`), with paths
    /// relative to it.
    pub fn files_under<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'static str, &'static [u8])> + 'a {
        let dir = dir.trim_end_matches('/');
        self.files.iter().filter_map(move |(path, bytes)| {
            let rest = if dir.is_empty() || dir == "." {
                Some(*path)
            } else {
                path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
            };
            rest.map(|r| (r, *bytes))
        })
    }
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Every bundled adapter, sorted by language.
pub fn all() -> &'static [Bundled] {
    BUNDLED
}

/// The bundled adapter of `language`, if there is one.
pub fn find(language: &str) -> Option<&'static Bundled> {
    BUNDLED.iter().find(|a| a.language == language)
}

/// The languages there are adapters for, for error messages.
pub fn languages() -> Vec<&'static str> {
    BUNDLED.iter().map(|a| a.language).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_adapter_folder_is_embedded_with_its_recipe_and_without_its_tests() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("adapter.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        assert_eq!(languages(), on_disk);
        for adapter in all() {
            let recipe = adapter.file("adapter.json").expect("adapter.json embedded");
            let disk = std::fs::read(root.join(adapter.language).join("adapter.json")).unwrap();
            assert_eq!(recipe, &disk[..]);
            assert!(
                adapter.files.iter().all(|(p, _)| !p.starts_with("tests/")),
                "{}: tests are not embedded",
                adapter.language
            );
            assert!(adapter.files.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        }
    }

    #[test]
    fn files_under_a_folder_are_relative_to_it() {
        let python = find("python").expect("the Python adapter");
        let templates: Vec<&str> = python.files_under("templates").map(|(p, _)| p).collect();
        assert!(templates.contains(&"manifest.json"), "{templates:?}");
        assert_eq!(python.files_under(".").count(), python.files.len());
        assert!(find("cobol").is_none());
    }
}
