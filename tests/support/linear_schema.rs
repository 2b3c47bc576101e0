//! Linear's published schema for tests: the description-free copy embedded
//! in the repository (`assets/linear/schema.graphql`, the same asset the
//! simulator serves), parsed and validated once per test binary. There is no
//! fallback and no skip: a missing or broken asset fails the build or the
//! test.

#![allow(dead_code)]

use std::sync::OnceLock;

use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

/// The embedded schema text.
pub const SCHEMA_SDL: &str = include_str!("../../assets/linear/schema.graphql");

/// The validated schema.
pub fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        match Schema::parse_and_validate(SCHEMA_SDL, "assets/linear/schema.graphql") {
            Ok(s) => s,
            Err(e) => panic!("the embedded Linear schema does not validate: {}", e.errors),
        }
    })
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

/// Linear's documented complexity estimate (API-NOTES section 3): a scalar
/// costs 0.1, an object 1, and a connection multiplies its children by
/// `first`/`last` (50 when absent); the total is rounded up. `variables`
/// supply `$first`-style arguments. Used to keep every document we send,
/// at its largest, under the 10,000-point cap.
pub fn estimate_complexity(
    schema: &Valid<Schema>,
    document: &str,
    variables: &serde_json::Value,
) -> Result<u64, String> {
    use apollo_compiler::ast::Value as AstValue;
    use apollo_compiler::executable::{Selection, SelectionSet};

    fn page_size(field: &apollo_compiler::executable::Field, vars: &serde_json::Value) -> f64 {
        field
            .arguments
            .iter()
            .filter(|a| a.name == "first" || a.name == "last")
            .find_map(|a| match a.value.as_ref() {
                AstValue::Int(i) => i.try_to_i32().ok().map(f64::from),
                AstValue::Variable(v) => vars.get(v.as_str()).and_then(|x| x.as_f64()),
                _ => None,
            })
            .unwrap_or(50.0)
    }

    fn cost(set: &SelectionSet, vars: &serde_json::Value) -> f64 {
        set.selections
            .iter()
            .map(|s| match s {
                Selection::Field(f) if f.selection_set.selections.is_empty() => 0.1,
                Selection::Field(f) => {
                    let connection = f.ty().inner_named_type().as_str().ends_with("Connection");
                    if connection {
                        page_size(f, vars) * cost(&f.selection_set, vars)
                    } else {
                        1.0 + cost(&f.selection_set, vars)
                    }
                }
                Selection::InlineFragment(i) => cost(&i.selection_set, vars),
                Selection::FragmentSpread(_) => 0.0,
            })
            .sum()
    }

    let doc = ExecutableDocument::parse_and_validate(schema, document, "complexity")
        .map_err(|e| e.errors.to_string())?;
    let op = doc
        .operations
        .get(None)
        .map_err(|e| e.message().to_string())?;
    // `nodes` inside a connection are objects: counted once per item above.
    Ok(cost(&op.selection_set, variables).ceil() as u64)
}
