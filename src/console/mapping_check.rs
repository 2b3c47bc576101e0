//! Validate and dry-run a mapping document. The console talks to this small
//! trait so the real checker (the pure `sync` module: full parse with line
//! numbers, per-record preview) can replace the built-in structural one
//! without touching any view.

use crate::domain::{LINEAR_FIELDS, PORTAL_FIELDS};
use crate::store::Db;

/// One problem in a document, at its line when known (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Validates and previews mapping documents.
pub trait MappingChecker {
    /// Every problem found; empty means valid.
    fn validate(&self, document: &str) -> Vec<Diagnostic>;
    /// What applying `document` instead of `active` would change, one line
    /// per change.
    fn preview(&self, db: Db<'_>, active: Option<&str>, document: &str) -> Vec<String>;
}

/// The checker the console uses: the sync module's parser and dry run.
pub fn default_checker() -> Box<dyn MappingChecker> {
    Box::new(SyncChecker)
}

/// Most links a console preview plans (the newest ones), so a preview on a
/// million-link store stays interactive.
pub const PREVIEW_LINKS: usize = 500;

/// Validation by [`crate::sync::Mapping::parse`] (every error at its line)
/// and a dry run with [`crate::sync::preview`] over the newest links, after
/// the per-field policy diff of the structural checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncChecker;

impl MappingChecker for SyncChecker {
    fn validate(&self, document: &str) -> Vec<Diagnostic> {
        match crate::sync::Mapping::parse(document) {
            Ok(_) => Vec::new(),
            Err(errs) => errs
                .errors()
                .iter()
                .map(|e| Diagnostic {
                    line: e.line,
                    message: e.message.clone(),
                })
                .collect(),
        }
    }

    fn preview(&self, db: Db<'_>, active: Option<&str>, document: &str) -> Vec<String> {
        let mapping = match crate::sync::Mapping::parse(document) {
            Ok(m) => m,
            Err(errs) => {
                return errs
                    .errors()
                    .iter()
                    .map(|e| format!("cannot preview: {e}"))
                    .collect();
            }
        };
        let mut out = StructuralChecker.preview(db, active, document);
        let links = match db.links(crate::store::Window::last(PREVIEW_LINKS)) {
            Ok(l) => l,
            Err(e) => {
                out.push(format!("cannot read links: {e}"));
                return out;
            }
        };
        let mut inputs = Vec::new();
        for link in &links {
            let (Some(p), Some(l)) = (&link.portal_id, &link.linear_id) else {
                continue;
            };
            let portal = db.record(crate::domain::Side::Portal, p).ok().flatten();
            let linear = db.record(crate::domain::Side::Linear, l).ok().flatten();
            if let (Some(portal), Some(linear)) = (portal, linear) {
                inputs.push((link.base.clone(), portal.record, linear.record));
            }
        }
        let changes = crate::sync::preview(&mapping, &inputs, chrono::Utc::now());
        out.push(String::new());
        out.push(format!(
            "dry run over the newest {} links ({} with both records mirrored): {} would change",
            links.len(),
            inputs.len(),
            changes.len()
        ));
        for link in &changes {
            for row in &link.rows {
                out.push(format!("  {row}"));
            }
        }
        out
    }
}

/// Structural checks with the `toml` crate: syntax, field names each side
/// understands, and the allowed words for `direction` and `on_conflict`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StructuralChecker;

/// Allowed `direction` values.
pub const DIRECTIONS: &[&str] = &["both", "portal-to-linear", "linear-to-portal", "none"];
/// Allowed `on_conflict` values.
pub const POLICIES: &[&str] = &["ask", "linear-wins", "portal-wins", "newest", "merge"];

/// The 1-based line of `key` inside `[fields.<field>]`, or of the header.
pub fn line_of(doc: &str, field: &str, key: Option<&str>) -> Option<usize> {
    let header = format!("[fields.{field}]");
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines.iter().position(|l| l.trim() == header)?;
    let Some(key) = key else {
        return Some(start + 1);
    };
    lines[start + 1..]
        .iter()
        .take_while(|l| {
            !l.trim_start().starts_with("[fields.")
                || l.trim().starts_with(&format!("[fields.{field}."))
        })
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| start + 2 + i)
        .or(Some(start + 1))
}

fn parse(document: &str) -> Result<toml::Table, Diagnostic> {
    document.parse::<toml::Table>().map_err(|e| {
        let line = e.span().map(|s| {
            document[..s.start.min(document.len())]
                .matches('\n')
                .count()
                + 1
        });
        Diagnostic {
            line,
            message: e.message().to_string(),
        }
    })
}

impl MappingChecker for StructuralChecker {
    fn validate(&self, document: &str) -> Vec<Diagnostic> {
        let table = match parse(document) {
            Ok(t) => t,
            Err(d) => return vec![d],
        };
        let mut out = Vec::new();
        let Some(fields) = table.get("fields").and_then(|f| f.as_table()) else {
            return vec![Diagnostic {
                line: None,
                message: "the document has no [fields.*] tables".into(),
            }];
        };
        for (name, spec) in fields {
            let Some(spec) = spec.as_table() else {
                out.push(Diagnostic {
                    line: None,
                    message: format!("fields.{name} must be a table"),
                });
                continue;
            };
            let checks: [(&str, &[&str], bool); 4] = [
                ("portal", PORTAL_FIELDS, true),
                ("linear", LINEAR_FIELDS, true),
                ("direction", DIRECTIONS, false),
                ("on_conflict", POLICIES, false),
            ];
            for (key, allowed, required) in checks {
                match spec.get(key) {
                    None if required => out.push(Diagnostic {
                        line: line_of(document, name, None),
                        message: format!("fields.{name} needs `{key}`"),
                    }),
                    None => {}
                    Some(v) => {
                        let ok = v.as_str().is_some_and(|s| allowed.contains(&s));
                        if !ok {
                            out.push(Diagnostic {
                                line: line_of(document, name, Some(key)),
                                message: format!(
                                    "fields.{name}.{key} is {v}; expected one of {}",
                                    allowed.join(", ")
                                ),
                            });
                        }
                    }
                }
            }
        }
        out.sort_by_key(|d| d.line);
        out
    }

    fn preview(&self, db: Db<'_>, active: Option<&str>, document: &str) -> Vec<String> {
        let new = match parse(document) {
            Ok(t) => t,
            Err(d) => {
                return vec![format!(
                    "cannot preview: line {}: {}",
                    d.line.unwrap_or(0),
                    d.message
                )];
            }
        };
        let old = active.and_then(|a| parse(a).ok()).unwrap_or_default();
        let fields = |t: &toml::Table| {
            t.get("fields")
                .and_then(|f| f.as_table())
                .cloned()
                .unwrap_or_default()
        };
        let (old_f, new_f) = (fields(&old), fields(&new));
        let mut out = Vec::new();
        for (name, spec) in &new_f {
            match old_f.get(name) {
                None => out.push(format!("+ field {name} added")),
                Some(prev) if prev != spec => {
                    let (Some(p), Some(n)) = (prev.as_table(), spec.as_table()) else {
                        continue;
                    };
                    for (k, v) in n {
                        if p.get(k) != Some(v) {
                            let before = p.get(k).map_or("unset".to_string(), ToString::to_string);
                            out.push(format!("~ fields.{name}.{k}: {before} → {v}"));
                        }
                    }
                    for k in p.keys().filter(|k| !n.contains_key(*k)) {
                        out.push(format!("- fields.{name}.{k} removed"));
                    }
                }
                Some(_) => {}
            }
        }
        for name in old_f.keys().filter(|k| !new_f.contains_key(*k)) {
            out.push(format!("- field {name} removed (no longer synced)"));
        }
        if out.is_empty() {
            out.push("no changes against the active version".into());
        } else {
            let links = db.summary().map(|s| s.links).unwrap_or(0);
            out.push(format!(
                "applies to {links} linked records on their next change"
            ));
        }
        out
    }
}

/// Set `fields.<field>.on_conflict` in a document (the "always resolve this
/// field this way" action). Comments are not preserved by the `toml` crate.
pub fn set_field_policy(
    document: &str,
    field: &str,
    policy: &str,
    version: i64,
) -> Result<String, String> {
    let mut table = parse(document).map_err(|d| d.message)?;
    let spec = table
        .get_mut("fields")
        .and_then(|f| f.as_table_mut())
        .and_then(|f| f.get_mut(field))
        .and_then(|s| s.as_table_mut())
        .ok_or_else(|| format!("the active mapping has no field `{field}`"))?;
    spec.insert("on_conflict".into(), toml::Value::String(policy.into()));
    if table.contains_key("version") {
        table.insert("version".into(), toml::Value::Integer(version));
    }
    toml::to_string(&table).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version = 1\n\n[fields.title]\nportal = \"title\"\nlinear = \"title\"\ndirection = \"both\"\non_conflict = \"ask\"\n";

    #[test]
    fn reports_errors_at_their_line() {
        assert!(StructuralChecker.validate(DOC).is_empty());
        let bad = DOC.replace("\"ask\"", "\"sometimes\"");
        let d = StructuralChecker.validate(&bad);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, Some(7));
        let syntax = DOC.replace("direction = \"both\"", "direction = ");
        assert_eq!(StructuralChecker.validate(&syntax)[0].line, Some(6));
    }

    #[test]
    fn policy_edit_changes_only_that_field() {
        let out = set_field_policy(DOC, "title", "linear-wins", 2).unwrap();
        assert!(out.contains("on_conflict = \"linear-wins\""));
        assert!(out.contains("version = 2"));
        assert!(set_field_policy(DOC, "nope", "ask", 2).is_err());
    }
}
