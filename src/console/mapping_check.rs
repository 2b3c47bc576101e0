//! Validate and dry-run a mapping document. The console talks to this small
//! trait so the real checker (the pure `sync` module: full parse with line
//! numbers, per-record preview) can replace the built-in structural one
//! without touching any view.

use crate::domain::{LINEAR_FIELDS, PORTAL_FIELDS};
use crate::store::Db;
use crate::sync::{Direction, Mapping, Policy};

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
    /// Every problem found; empty means valid. `db` tells which custom
    /// portal statuses the company's posts use.
    fn validate(&self, db: Db<'_>, document: &str) -> Vec<Diagnostic>;
    /// What applying `document` instead of `active` would change, one line
    /// per change.
    fn preview(&self, db: Db<'_>, active: Option<&str>, document: &str) -> Vec<String>;
}

/// The checker the console uses: the sync module's parser and dry run.
pub fn default_checker() -> Box<dyn MappingChecker> {
    Box::new(SyncChecker)
}

/// What a preview says when the document syncs exactly as the active one.
const NO_CHANGES: &str = "no changes against the active version";

/// Most changes a console preview lists (all are counted).
pub const PREVIEW_CHANGES: usize = 200;

/// Validation by [`crate::ops::mapping::validate`] — the check every apply
/// passes, errors at their line — and the same dry run as `roundtrip
/// mapping preview` (every active link), after the per-field policy diff of
/// the structural checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncChecker;

fn diagnostics(errs: &crate::sync::MappingErrors) -> Vec<Diagnostic> {
    errs.errors()
        .iter()
        .map(|e| Diagnostic {
            line: e.line,
            message: e.message.clone(),
        })
        .collect()
}

impl MappingChecker for SyncChecker {
    fn validate(&self, db: Db<'_>, document: &str) -> Vec<Diagnostic> {
        match crate::ops::mapping::validate(Some(db), document) {
            Ok(_) => Vec::new(),
            Err(errs) => diagnostics(&errs),
        }
    }

    fn preview(&self, db: Db<'_>, active: Option<&str>, document: &str) -> Vec<String> {
        let mapping = match crate::ops::mapping::validate(Some(db), document) {
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
        let active_routes = active
            .and_then(|a| Mapping::parse(a).ok())
            .map(|m| m.routes)
            .unwrap_or_default();
        if active_routes != mapping.routes {
            out.retain(|l| l != NO_CHANGES);
            let names = |rs: &[crate::sync::Route]| {
                if rs.is_empty() {
                    "none".to_string()
                } else {
                    rs.iter()
                        .map(|r| format!("'{}'", r.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            out.push(format!(
                "~ routes: {} (active version: {})",
                names(&mapping.routes),
                names(&active_routes)
            ));
        }
        match crate::ops::route_preview::route_preview(db, &mapping, PREVIEW_CHANGES) {
            Ok(Some(routes)) => {
                out.push(String::new());
                out.push(format!(
                    "routing of every portal post: {}",
                    routes.summary()
                ));
                for r in &routes.rows {
                    out.push(format!("  {}", r.describe()));
                }
                if routes.posts_examined > routes.rows.len() {
                    out.push(format!(
                        "  … and {} more (`roundtrip mapping preview` lists them all)",
                        routes.posts_examined - routes.rows.len()
                    ));
                }
            }
            Ok(None) => {}
            Err(e) => out.push(format!("cannot read posts: {e}")),
        }
        let run = match crate::ops::mapping::dry_run(db, &mapping, PREVIEW_CHANGES) {
            Ok(r) => r,
            Err(e) => {
                out.push(format!("cannot read links: {e}"));
                return out;
            }
        };
        out.push(String::new());
        out.push(format!("dry run over every active link: {}", run.summary()));
        for c in &run.changes {
            out.push(format!("  {}", c.describe()));
        }
        if run.changes_total > run.changes.len() {
            out.push(format!(
                "  … and {} more (`roundtrip mapping preview` lists them all)",
                run.changes_total - run.changes.len()
            ));
        }
        out
    }
}

/// Structural checks with the `toml` crate: syntax, field names each side
/// understands, and the allowed words for `direction` and `on_conflict`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StructuralChecker;

/// Allowed `direction` values.
fn directions() -> Vec<&'static str> {
    Direction::ALL.iter().map(|d| d.as_str()).collect()
}

/// Allowed `on_conflict` values.
fn policies() -> Vec<&'static str> {
    Policy::ALL.iter().map(|p| p.as_str()).collect()
}

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
    fn validate(&self, _db: Db<'_>, document: &str) -> Vec<Diagnostic> {
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
            let checks: [(&str, Vec<&str>, bool); 4] = [
                ("portal", PORTAL_FIELDS.to_vec(), true),
                ("linear", LINEAR_FIELDS.to_vec(), true),
                ("direction", directions(), false),
                ("on_conflict", policies(), false),
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
            out.push(NO_CHANGES.into());
        } else {
            let links = db.summary().map(|s| s.links).unwrap_or(0);
            out.push(format!(
                "applies to {links} linked records on their next change"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version = 1\n\n[fields.title]\nportal = \"title\"\nlinear = \"title\"\ndirection = \"both\"\non_conflict = \"ask\"\n";

    #[test]
    fn reports_errors_at_their_line() {
        let store = crate::store::Store::open_in_memory().unwrap();
        let db = store.db();
        assert!(StructuralChecker.validate(db, DOC).is_empty());
        let bad = DOC.replace("\"ask\"", "\"sometimes\"");
        let d = StructuralChecker.validate(db, &bad);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].line, Some(7));
        let syntax = DOC.replace("direction = \"both\"", "direction = ");
        assert_eq!(StructuralChecker.validate(db, &syntax)[0].line, Some(6));
    }
}
