//! Arguments checked against a tool's input JSON Schema, every problem reported at its
//! JSON pointer as [`ToolError::InvalidArguments`]: for backends that do not validate
//! their arguments themselves.

use serde_json::Value;

use crate::tool::{ArgumentProblem, ToolError};

/// Longest message kept per problem (a message may quote the offending value).
const MAX_MESSAGE_CHARS: usize = 300;

/// A compiled input schema.
pub struct ArgumentValidator {
    validator: jsonschema::Validator,
}

/// The schema itself is not a valid JSON Schema.
#[derive(Debug, thiserror::Error)]
#[error("the input schema of a tool is not a valid JSON Schema: {0}")]
pub struct SchemaError(String);

impl ArgumentValidator {
    /// Compiles `schema` (its `$schema` picks the draft; 2020-12 when absent).
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        let validator =
            jsonschema::validator_for(schema).map_err(|e| SchemaError(e.to_string()))?;
        Ok(ArgumentValidator { validator })
    }

    /// `Ok` when `arguments` fit the schema, else every problem found.
    pub fn check(&self, arguments: &Value) -> Result<(), ToolError> {
        let problems: Vec<ArgumentProblem> = self
            .validator
            .iter_errors(arguments)
            .map(|e| ArgumentProblem::new(e.instance_path().as_str(), clip(e.to_string())))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ToolError::InvalidArguments { problems })
        }
    }
}

fn clip(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validator() -> ArgumentValidator {
        ArgumentValidator::new(&json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "times": {"type": "integer"}},
            "required": ["name"],
            "additionalProperties": false
        }))
        .unwrap()
    }

    #[test]
    fn fitting_arguments_pass() {
        assert_eq!(
            validator().check(&json!({"name": "Ada", "times": 2})),
            Ok(())
        );
    }

    #[test]
    fn each_problem_is_reported_at_its_pointer() {
        let Err(ToolError::InvalidArguments { problems }) =
            validator().check(&json!({"name": 42, "times": "x"}))
        else {
            panic!("expected invalid arguments")
        };
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert!(pointers.contains(&"/name"), "{problems:?}");
        assert!(pointers.contains(&"/times"), "{problems:?}");
    }

    #[test]
    fn a_missing_field_is_named_in_the_message() {
        let Err(ToolError::InvalidArguments { problems }) = validator().check(&json!({})) else {
            panic!("expected invalid arguments")
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "");
        assert!(problems[0].message.contains("name"), "{problems:?}");
    }

    #[test]
    fn long_messages_are_clipped() {
        let long = "x".repeat(5000);
        let Err(ToolError::InvalidArguments { problems }) =
            validator().check(&json!({ "name": "a", &long: 1 }))
        else {
            panic!("expected invalid arguments")
        };
        assert!(problems[0].message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn an_invalid_schema_is_an_error() {
        assert!(ArgumentValidator::new(&json!({"type": 12})).is_err());
    }
}
