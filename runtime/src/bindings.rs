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
