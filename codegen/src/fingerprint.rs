//! Stable schema fingerprints.
//!
//! A fingerprint is the SHA-256 of the IR of one schema file's declarations (names,
//! ids, layouts, types, defaults, annotations, but not doc comments), printed as 16 hex
//! digits. It changes exactly when the wire-relevant content of the schema changes, and
//! is the same on every machine, so a worker's generated module and the host's bindings
//! can be compared at start-up.

use sha2::{Digest, Sha256};

use crate::ir::File;

pub fn of_file(file: &File) -> String {
    let mut stripped = file.clone();
    stripped.fingerprint.clear();
    for s in &mut stripped.structs {
        s.doc = None;
        s.fields.iter_mut().for_each(|f| f.doc = None);
    }
    for e in &mut stripped.enums {
        e.doc = None;
        e.enumerants.iter_mut().for_each(|v| v.doc = None);
    }
    for i in &mut stripped.interfaces {
        i.doc = None;
        i.methods.iter_mut().for_each(|m| m.doc = None);
    }
    for c in &mut stripped.constants {
        c.doc = None;
    }
    let bytes = serde_json::to_vec(&stripped).expect("the IR always serialises");
    let digest = Sha256::digest(&bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
