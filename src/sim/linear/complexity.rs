//! Query complexity as Linear documents it (API-NOTES section 3): a scalar
//! field costs 0.1, an object 1, and a connection multiplies the cost of its
//! `nodes`/`edges` by `first`/`last` (50 when absent); the total is rounded
//! up. Computed before execution so a too-complex query costs nothing and is
//! refused with "Query too complex".
//!
//! Work is done in tenths to stay exact. Fragments are counted whatever
//! their type condition (an upper bound, as a server must before it knows
//! the concrete types), with repeated response keys merged.

use apollo_compiler::Node;
use apollo_compiler::executable::{Field, SelectionSet};
use apollo_compiler::schema::ExtendedType;

use super::exec::Executor;

/// Queries above this many points are refused.
pub const MAX_COMPLEXITY: u64 = 10_000;

/// Default page size Linear assumes for a connection without `first`/`last`.
pub const DEFAULT_PAGE: u64 = 50;

/// Complexity of a selection set in whole points (rounded up).
pub fn complexity<'a>(ex: &Executor<'a>, set: &'a SelectionSet) -> u64 {
    tenths(ex, &[set]).div_ceil(10)
}

fn is_connection(ex: &Executor<'_>, f: &Field) -> bool {
    let name = f.ty().inner_named_type();
    name.as_str().ends_with("Connection")
        && matches!(ex_types(ex, name.as_str()), Some(ExtendedType::Object(_)))
}

fn ex_types<'s>(ex: &Executor<'s>, name: &str) -> Option<&'s ExtendedType> {
    ex.schema().types.get(name)
}

fn page_size(ex: &Executor<'_>, f: &Field) -> u64 {
    let args = ex.args(f);
    ["first", "last"]
        .iter()
        .find_map(|k| args.get(*k).and_then(serde_json::Value::as_u64))
        .unwrap_or(DEFAULT_PAGE)
}

fn tenths<'a>(ex: &Executor<'a>, sets: &[&'a SelectionSet]) -> u64 {
    let mut total = 0u64;
    for (_, fields) in ex.collect(None, sets) {
        total = total.saturating_add(field_tenths(ex, &fields));
    }
    total
}

fn field_tenths<'a>(ex: &Executor<'a>, fields: &[&'a Node<Field>]) -> u64 {
    let f = fields[0];
    if f.name == "__typename" {
        return 0;
    }
    let subs: Vec<&'a SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
    match ex_types(ex, f.ty().inner_named_type().as_str()) {
        Some(ExtendedType::Scalar(_)) | Some(ExtendedType::Enum(_)) | None => 1,
        Some(_) if is_connection(ex, f) => {
            let n = page_size(ex, f);
            let mut total = 0u64;
            for (_, inner) in ex.collect(None, &subs) {
                let c = field_tenths(ex, &inner);
                total = total.saturating_add(if key_is_paged(&inner) {
                    c.saturating_mul(n)
                } else {
                    c
                });
            }
            total
        }
        Some(_) => 10u64.saturating_add(tenths(ex, &subs)),
    }
}

fn key_is_paged(fields: &[&Node<Field>]) -> bool {
    matches!(fields[0].name.as_str(), "nodes" | "edges")
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::ExecutableDocument;
    use serde_json::Map;

    fn cost(q: &str) -> u64 {
        let schema = crate::sim::linear::schema::schema().unwrap();
        let doc = ExecutableDocument::parse_and_validate(schema, q, "q.graphql").unwrap();
        let vars = Map::new();
        let ex = Executor::new(schema, &doc, &vars);
        let op = doc.operations.get(None).unwrap();
        complexity(&ex, &op.selection_set)
    }

    #[test]
    fn documented_examples() {
        assert_eq!(cost("{ user(id: \"x\") { name } }"), 2);
        assert_eq!(
            cost("{ user(id: \"x\") { createdIssues { nodes { id title createdAt } } } }"),
            66
        );
        assert_eq!(
            cost(
                "{ user(id: \"x\") { createdIssues(first: 10) { nodes { id title createdAt } } } }"
            ),
            14
        );
    }

    #[test]
    fn fragments_and_page_info() {
        let q = "query { issues(first: 2) { ...P pageInfo { hasNextPage endCursor } } } fragment P on IssueConnection { nodes { id } }";
        // nodes: 2 × (1 + 0.1) = 2.2; pageInfo: 1 + 0.2 = 1.2; total 3.4 → 4
        assert_eq!(cost(q), 4);
    }

    #[test]
    fn nested_connections_multiply() {
        let q = "{ issues(first: 250) { nodes { comments(first: 250) { nodes { id body } } } } }";
        assert!(cost(q) > MAX_COMPLEXITY);
    }
}
