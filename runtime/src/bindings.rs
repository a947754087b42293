//! What generated bindings hand a pool: the schema fingerprint its workers must have
//! been built from, and the guest modules generated from the schema for each language
//! the build script asked for (`polyhost_codegen::Builder::guest`), embedded in the
//! binary. A pool writes its language's modules into the cache (see `cache`) and puts
//! them on the workers' module search path, so no build-tree path is needed at run
//! time.

/// A schema's bindings: `<schema>::BINDINGS` in generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bindings {
    /// The schema file (`greeter.capnp`).
    pub schema: &'static str,
    /// Its fingerprint; workers report theirs and the pool refuses a mismatch.
    pub fingerprint: &'static str,
    /// The guest modules generated in the same build, one entry per language.
    pub guests: &'static [GuestModules],
    /// The CodeGeneratorRequest the bindings were generated from (every schema of
    /// the build, with doc comments): what calls by name and the JSON mapping read
    /// (`polyhost::json::Schema::embedded`). Empty in bindings made by hand.
    pub schema_request: &'static [u8],
}

/// The modules generated for one guest language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestModules {
    /// The language (`python`), as the adapter names itself.
    pub language: &'static str,
    /// (path relative to the module folder, contents).
    pub files: &'static [(&'static str, &'static str)],
}

impl Bindings {
    /// The modules generated for `language`, if the build asked for them.
    pub fn modules_for(&self, language: &str) -> Option<&'static GuestModules> {
        self.guests.iter().find(|g| g.language == language)
    }
}

/// The listing `polyhost_codegen::Builder` writes beside the Rust bindings.
const LISTING_FILE: &str = "polyhost_generated.txt";

#[derive(Debug, thiserror::Error)]
pub enum GeneratedFilesError {
    #[error(
        "`{path}` cannot be read ({source}): it is written by polyhost_codegen::Builder in \
         build.rs; pass the folder it generated into (`env!(\"OUT_DIR\")` by default)"
    )]
    Listing {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("generated file `{path}` cannot be read: {source}; rebuild to regenerate it")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Every file the build script generated into `dir`, by path → contents: `rust/<file>`
/// for the Rust bindings and `<language>/<file>` for each guest language's modules,
/// the same keys as `polyhost_codegen::Builder::generated_files`. Made for snapshot
/// tests of your own bindings, which see exactly what the build made:
/// `polyhost::generated_files(env!("OUT_DIR"))` in an integration test.
pub fn generated_files(
    dir: impl AsRef<std::path::Path>,
) -> Result<std::collections::BTreeMap<String, String>, GeneratedFilesError> {
    let dir = dir.as_ref();
    let listing = dir.join(LISTING_FILE);
    let text =
        std::fs::read_to_string(&listing).map_err(|source| GeneratedFilesError::Listing {
            path: listing.clone(),
            source,
        })?;
    let mut files = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some((key, path)) = line.split_once('\t') else {
            continue;
        };
        let path = dir.join(path);
        let contents = std::fs::read_to_string(&path)
            .map_err(|source| GeneratedFilesError::File { path, source })?;
        files.insert(key.to_string(), contents);
    }
    Ok(files)
}
