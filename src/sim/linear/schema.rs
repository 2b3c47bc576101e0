//! Linear's published schema, embedded, parsed once and shared.
//!
//! The simulator validates every incoming document against the same type
//! definitions Linear publishes, so a document that would be refused by Linear
//! is refused here too. The asset is the published SDL with descriptions
//! removed (names, arguments, types, nullability and directives are the facts
//! of the API; descriptions are only prose). Parsing the 1,200 types takes
//! about 0.1 s, so it happens once per process.

use std::sync::OnceLock;

use apollo_compiler::Schema;
use apollo_compiler::ast::{Definition, Document, FieldDefinition, InputValueDefinition};
use apollo_compiler::validation::Valid;

use super::error::SimError;

/// The embedded schema text (see the header comment for its source).
pub const SCHEMA_SDL: &str = include_str!("../../../assets/linear/schema.graphql");

/// Header written above the stripped schema so its origin stays on record.
pub const SCHEMA_HEADER: &str = "# Linear's public GraphQL schema as published with @linear/sdk 88.3.0\n\
# (linear/linear commit 8335e09a, packages/sdk/src/schema.graphql),\n\
# with descriptions removed. Type and field names, arguments, types,\n\
# nullability and directives are unchanged. Regenerate with:\n\
#   cargo test --lib sim::linear::schema::regenerate -- --ignored\n";

static SCHEMA: OnceLock<Result<Valid<Schema>, String>> = OnceLock::new();

/// The parsed and validated schema, built on first use and shared after.
pub fn schema() -> Result<&'static Valid<Schema>, SimError> {
    SCHEMA
        .get_or_init(|| {
            Schema::parse_and_validate(SCHEMA_SDL, "linear/schema.graphql")
                .map_err(|e| e.errors.to_string())
        })
        .as_ref()
        .map_err(|e| SimError::Schema(e.clone()))
}

fn strip_fields(fields: &mut [apollo_compiler::Node<FieldDefinition>]) {
    for f in fields {
        let f = f.make_mut();
        f.description = None;
        strip_inputs(&mut f.arguments);
    }
}

fn strip_inputs(inputs: &mut [apollo_compiler::Node<InputValueDefinition>]) {
    for i in inputs {
        i.make_mut().description = None;
    }
}

/// Remove every description from an SDL document, keeping everything else.
pub fn strip_descriptions(sdl: &str) -> Result<String, SimError> {
    let mut doc = Document::parse(sdl, "schema.graphql")
        .map_err(|e| SimError::Schema(e.errors.to_string()))?;
    for def in &mut doc.definitions {
        match def {
            Definition::SchemaDefinition(d) => d.make_mut().description = None,
            Definition::DirectiveDefinition(d) => {
                let d = d.make_mut();
                d.description = None;
                strip_inputs(&mut d.arguments);
            }
            Definition::ScalarTypeDefinition(d) => d.make_mut().description = None,
            Definition::ObjectTypeDefinition(d) => {
                let d = d.make_mut();
                d.description = None;
                strip_fields(&mut d.fields);
            }
            Definition::InterfaceTypeDefinition(d) => {
                let d = d.make_mut();
                d.description = None;
                strip_fields(&mut d.fields);
            }
            Definition::UnionTypeDefinition(d) => d.make_mut().description = None,
            Definition::EnumTypeDefinition(d) => {
                let d = d.make_mut();
                d.description = None;
                for v in &mut d.values {
                    v.make_mut().description = None;
                }
            }
            Definition::InputObjectTypeDefinition(d) => {
                let d = d.make_mut();
                d.description = None;
                strip_inputs(&mut d.fields);
            }
            _ => {}
        }
    }
    Ok(format!("{SCHEMA_HEADER}\n{doc}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_parses_and_has_roots() {
        let s = schema().unwrap();
        assert!(s.get_object("Query").is_some());
        assert!(s.get_object("Mutation").is_some());
        assert!(
            s.get_object("Issue")
                .unwrap()
                .fields
                .contains_key("identifier")
        );
    }

    #[test]
    fn strip_keeps_structure() {
        let out = strip_descriptions(
            "\"\"\"doc\"\"\"\ntype Query {\n  \"a field\"\n  a(\"arg\" x: Int = 3): String @deprecated(reason: \"old\")\n}\n",
        )
        .unwrap();
        assert!(!out.contains("doc") && !out.contains("a field") && !out.contains("\"arg\""));
        assert!(out.contains("a(x: Int = 3): String @deprecated(reason: \"old\")"));
    }

    /// Writes assets/linear/schema.graphql from the shared published schema.
    #[test]
    #[ignore]
    fn regenerate() {
        let root = env!("CARGO_MANIFEST_DIR");
        let src =
            std::fs::read_to_string(format!("{root}/../shared/linear/schema.graphql")).unwrap();
        let out = strip_descriptions(&src).unwrap();
        std::fs::write(format!("{root}/assets/linear/schema.graphql"), out).unwrap();
    }
}
