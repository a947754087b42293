//! Validation of a call's JSON params against the method's params JSON Schema
//! (`jsonschema`), before anything is encoded or sent. Validators are compiled once per
//! schema and struct and kept in the schema model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::json::model::Schema;

/// One way the params did not match their schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON pointer of the offending value (`""` for the params object itself).
    pub pointer: String,
    /// What was expected there.
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Compiled validators of one schema model, by struct id.
#[derive(Default)]
pub struct Validators(Mutex<HashMap<u64, Arc<jsonschema::Validator>>>);

impl std::fmt::Debug for Validators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validators")
    }
}

impl Clone for Validators {
    /// A clone compiles its own.
    fn clone(&self) -> Self {
        Validators::default()
    }
}

impl PartialEq for Validators {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Checks `value` against the JSON Schema of struct `id`; every mismatch found.
pub fn check(schema: &Schema, id: u64, value: &Value) -> Result<(), Vec<Invalid>> {
    let validator = {
        let mut cache = schema
            .validators
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match cache.get(&id) {
            Some(v) => v.clone(),
            None => {
                let document = crate::json::json_schema::document(schema, id);
                match jsonschema::validator_for(&document) {
                    Ok(v) => cache.entry(id).or_insert(Arc::new(v)).clone(),
                    Err(e) => {
                        return Err(vec![Invalid {
                            pointer: String::new(),
                            message: format!("the params schema does not compile: {e}"),
                        }])
                    }
                }
            }
        }
    };
    let errors: Vec<Invalid> = validator
        .iter_errors(value)
        .map(|e| Invalid {
            pointer: e.instance_path().as_str().to_string(),
            message: e.to_string(),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
