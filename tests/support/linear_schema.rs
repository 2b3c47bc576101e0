//! Linear's published schema for tests: loaded and validated once per test
//! binary (it is 1.2 MB), from `ROUNDTRIP_LINEAR_SCHEMA` or the shared copy
//! beside the repository. Absent schema → tests say so plainly and skip.

#![allow(dead_code)]

use std::sync::OnceLock;

use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

/// Where the schema is looked for.
pub fn schema_path() -> String {
    std::env::var("ROUNDTRIP_LINEAR_SCHEMA").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/linear/schema.graphql"
        )
        .to_string()
    })
}

/// The validated schema, or `None` (after printing why) when the file is
/// absent.
pub fn schema() -> Option<&'static Valid<Schema>> {
    static SCHEMA: OnceLock<Option<Valid<Schema>>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let path = schema_path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("Linear schema not found at {path}; skipping schema validation");
                return None;
            };
            match Schema::parse_and_validate(text, &path) {
                Ok(s) => Some(s),
                Err(e) => panic!(
                    "the Linear schema at {path} does not validate: {}",
                    e.errors
                ),
            }
        })
        .as_ref()
}

/// Validate a document (and, when given, the variables sent with it) against
/// the schema; `Err` carries apollo-compiler's diagnostics.
pub fn check(
    schema: &Valid<Schema>,
    name: &str,
    document: &str,
    variables: Option<&serde_json::Value>,
) -> Result<(), String> {
    let doc = ExecutableDocument::parse_and_validate(schema, document, name)
        .map_err(|e| format!("{name}: {}", e.errors))?;
    if let Some(vars) = variables {
        let op = doc
            .operations
            .get(None)
            .map_err(|e| format!("{name}: {}", e.message()))?;
        let map: JsonMap = serde_json::from_value(vars.clone())
            .map_err(|e| format!("{name}: variables are not an object: {e}"))?;
        apollo_compiler::request::coerce_variable_values(schema, op, &map)
            .map_err(|e| format!("{name}: variables {vars}: {}", e.message()))?;
    }
    Ok(())
}
