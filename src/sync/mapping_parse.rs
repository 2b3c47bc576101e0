//! Parsing a mapping document from TOML and checking that it makes sense on
//! its own (without knowing the team's real statuses; see `catalog` for that).
//!
//! Syntax and shape errors come from `toml` with a byte span; semantic errors
//! use `toml::Spanned` positions of the offending key, so every message has a
//! line. All semantic problems are collected in one pass.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{LINEAR_FIELDS, PORTAL_FIELDS};

use super::errors::{MappingError, MappingErrors, line_at};
use super::mapping::{Direction, FieldMapping, Mapping, Policy, StatusTable, Transform, VoteRule};

/// The votes-line prefix used when the document does not name one.
pub const DEFAULT_VOTES_PREFIX: &str = "Votes: ";

type S<T> = Spanned<T>;
type SpannedTable = S<BTreeMap<S<String>, S<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDoc {
    version: S<i64>,
    #[serde(default)]
    fields: BTreeMap<S<String>, S<RawField>>,
    #[serde(default)]
    routes: Vec<S<super::routing_parse::RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    portal: S<String>,
    linear: S<String>,
    direction: Option<S<Direction>>,
    on_conflict: Option<S<Policy>>,
    values: Option<SpannedTable>,
    from_linear: Option<SpannedTable>,
    notify_voters: Option<S<Vec<S<String>>>>,
    names: Option<SpannedTable>,
    rule: Option<S<Vec<S<RawRule>>>>,
    line_prefix: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    at_least: i64,
    value: i64,
}

/// What a field holds on one side; decides which transforms can connect them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Status,
    Set,
    Votes,
    Number,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Status => "a status",
            Kind::Set => "a set of names",
            Kind::Votes => "a vote count",
            Kind::Number => "a number",
        }
    }
}

fn portal_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "title" | "details" | "description" => Kind::Text,
        "status" => Kind::Status,
        "tags" => Kind::Set,
        "score" | "votes" => Kind::Votes,
        _ => return None,
    })
}

fn linear_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "title" | "description" => Kind::Text,
        "state" => Kind::Status,
        "labels" => Kind::Set,
        "priority" => Kind::Number,
        _ => return None,
    })
}

/// Collects errors and key lines while one document is checked.
pub(super) struct Ctx<'t> {
    text: &'t str,
    errors: Vec<MappingError>,
    pub(super) lines: BTreeMap<String, usize>,
}

impl Ctx<'_> {
    pub(super) fn line<T>(&self, s: &S<T>) -> usize {
        line_at(self.text, s.span().start)
    }

    pub(super) fn err(&mut self, line: usize, message: String) {
        self.errors.push(MappingError::at(Some(line), message));
    }

    /// Read an ordered `key = "value"` table, remembering each key's line.
    fn pairs(&mut self, path: &str, table: &SpannedTable) -> Vec<(String, String, usize)> {
        let mut out: Vec<(String, String, usize)> = table
            .get_ref()
            .iter()
            .map(|(k, v)| {
                let line = self.line(k);
                (k.get_ref().clone(), v.get_ref().clone(), line)
            })
            .collect();
        out.sort_by_key(|(_, _, line)| *line);
        for (k, _, line) in &out {
            self.lines.insert(format!("{path}.{k}"), *line);
        }
        out
    }
}

impl Mapping {
    /// Parse and check a mapping document. Every error carries the 1-based
    /// line of the key at fault; all semantic errors are reported together.
    pub fn parse(text: &str) -> Result<Mapping, MappingErrors> {
        let raw: RawDoc = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_at(text, s.start)).unwrap_or(1);
            MappingErrors(vec![MappingError::at(
                Some(line),
                e.message().trim().to_string(),
            )])
        })?;
        let mut ctx = Ctx {
            text,
            errors: Vec::new(),
            lines: BTreeMap::new(),
        };
        let version_line = ctx.line(&raw.version);
        ctx.lines.insert("version".into(), version_line);
        if *raw.version.get_ref() < 1 {
            ctx.err(
                version_line,
                format!("version must be 1 or more, not {}", raw.version.get_ref()),
            );
        }
        let mut entries: Vec<(&S<String>, &S<RawField>)> = raw.fields.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        let mut fields = Vec::new();
        for (name, field) in entries {
            if let Some(f) = build_field(&mut ctx, name, field.get_ref()) {
                fields.push(f);
            }
        }
        check_targets(&mut ctx, &fields);
        let routes = super::routing_parse::build_routes(&mut ctx, &raw.routes);
        if ctx.errors.is_empty() {
            Ok(Mapping {
                version: *raw.version.get_ref(),
                fields,
                routes,
                lines: ctx.lines,
            })
        } else {
            ctx.errors.sort_by_key(|e| e.line);
            Err(MappingErrors(ctx.errors))
        }
    }
}

fn build_field(ctx: &mut Ctx<'_>, name: &S<String>, raw: &RawField) -> Option<FieldMapping> {
    let fname = name.get_ref().clone();
    let path = format!("fields.{fname}");
    let header = ctx.line(name);
    ctx.lines.insert(path.clone(), header);
    let direction = raw
        .direction
        .as_ref()
        .map_or(Direction::Both, |d| *d.get_ref());
    let dir_line = raw.direction.as_ref().map_or(header, |d| ctx.line(d));
    let on_conflict = raw
        .on_conflict
        .as_ref()
        .map_or(Policy::Ask, |p| *p.get_ref());
    let policy_line = raw.on_conflict.as_ref().map_or(header, |p| ctx.line(p));

    let portal = raw.portal.get_ref().clone();
    let linear = raw.linear.get_ref().clone();
    let pk = portal_kind(&portal);
    let lk = linear_kind(&linear);
    if pk.is_none() {
        let line = ctx.line(&raw.portal);
        ctx.err(
            line,
            format!(
                "{path}: unknown portal field '{portal}' (portal fields: {})",
                PORTAL_FIELDS.join(", ")
            ),
        );
    }
    if lk.is_none() {
        let line = ctx.line(&raw.linear);
        ctx.err(
            line,
            format!(
                "{path}: unknown Linear field '{linear}' (Linear fields: {})",
                LINEAR_FIELDS.join(", ")
            ),
        );
    }
    let (pk, lk) = (pk?, lk?);

    let transform = match (pk, lk) {
        (Kind::Text, Kind::Text) => Transform::Text,
        (Kind::Status, Kind::Status) => {
            Transform::Status(status_table(ctx, &path, header, raw, direction))
        }
        (Kind::Set, Kind::Set) => Transform::Labels {
            names: label_names(ctx, &path, raw, direction),
        },
        (Kind::Votes, Kind::Number) => Transform::VotesToPriority {
            rule: vote_rule(ctx, &path, header, raw),
        },
        (Kind::Votes, Kind::Text) if linear == "description" => Transform::VotesLine {
            prefix: raw
                .line_prefix
                .as_ref()
                .map_or(DEFAULT_VOTES_PREFIX.to_string(), |p| p.get_ref().clone()),
        },
        (p, l) => {
            let line = ctx.line(&raw.linear);
            ctx.err(
                line,
                format!(
                    "{path}: portal '{portal}' ({}) cannot be mapped to Linear '{linear}' ({})",
                    p.describe(),
                    l.describe()
                ),
            );
            return None;
        }
    };

    check_keys_apply(ctx, &path, raw, &transform);

    if matches!(
        transform,
        Transform::VotesToPriority { .. } | Transform::VotesLine { .. }
    ) && direction.writes_to(crate::domain::Side::Portal)
    {
        ctx.err(
            dir_line,
            format!(
                "{path}: direction \"{direction}\" would write votes back to the portal, but \
                 the score → {linear} transform cannot be inverted; use direction = \"portal-to-linear\" \
                 (or \"none\")"
            ),
        );
    }
    if on_conflict == Policy::Merge
        && !matches!(transform, Transform::Text | Transform::Labels { .. })
    {
        ctx.err(
            policy_line,
            format!(
                "{path}: on_conflict = \"merge\" only works for text and tag/label sets; use ask, \
                 linear-wins, portal-wins or newest"
            ),
        );
    }

    Some(FieldMapping {
        name: fname,
        portal,
        linear,
        direction,
        on_conflict,
        transform,
    })
}

/// Keys that only make sense for one transform are errors elsewhere, so a
/// misplaced `rule` or `values` is not silently ignored.
fn check_keys_apply(ctx: &mut Ctx<'_>, path: &str, raw: &RawField, transform: &Transform) {
    let is_status = matches!(transform, Transform::Status(_));
    let is_labels = matches!(transform, Transform::Labels { .. });
    let is_rule = matches!(transform, Transform::VotesToPriority { .. });
    let is_line = matches!(transform, Transform::VotesLine { .. });
    let mut misplaced = Vec::new();
    if !is_status {
        if let Some(v) = &raw.values {
            misplaced.push(("values", "status → state", ctx.line(v)));
        }
        if let Some(v) = &raw.from_linear {
            misplaced.push(("from_linear", "status → state", ctx.line(v)));
        }
        if let Some(v) = &raw.notify_voters {
            misplaced.push(("notify_voters", "status → state", ctx.line(v)));
        }
    }
    if !is_labels && let Some(v) = &raw.names {
        misplaced.push(("names", "tags → labels", ctx.line(v)));
    }
    if !is_rule && let Some(v) = &raw.rule {
        misplaced.push(("rule", "score → priority", ctx.line(v)));
    }
    if !is_line && let Some(v) = &raw.line_prefix {
        misplaced.push(("line_prefix", "score → description", ctx.line(v)));
    }
    for (key, applies, line) in misplaced {
        ctx.err(
            line,
            format!("{path}: '{key}' only applies to a {applies} field"),
        );
    }
}

fn status_table(
    ctx: &mut Ctx<'_>,
    path: &str,
    header: usize,
    raw: &RawField,
    direction: Direction,
) -> StatusTable {
    let values = raw
        .values
        .as_ref()
        .map(|t| ctx.pairs(&format!("{path}.values"), t))
        .unwrap_or_default();
    let from_linear = raw
        .from_linear
        .as_ref()
        .map(|t| ctx.pairs(&format!("{path}.from_linear"), t))
        .unwrap_or_default();
    let to_linear = direction.writes_to(crate::domain::Side::Linear);
    let to_portal = direction.writes_to(crate::domain::Side::Portal);

    if to_linear && values.is_empty() {
        ctx.err(
            header,
            format!(
                "{path}: statuses are written to Linear but there is no [{path}.values] table \
                 (portal status → Linear state)"
            ),
        );
    }
    if to_portal && values.is_empty() && from_linear.is_empty() {
        ctx.err(
            header,
            format!(
                "{path}: statuses are written to the portal but neither [{path}.values] nor \
                 [{path}.from_linear] says which portal status a Linear state means"
            ),
        );
    }
    if to_portal {
        // Reading a Linear state back must give one portal status.
        for (i, (p, l, line)) in values.iter().enumerate() {
            if let Some((first, _, _)) = values[..i]
                .iter()
                .find(|(_, l2, _)| l2.eq_ignore_ascii_case(l))
            {
                ctx.err(
                    *line,
                    format!(
                        "{path}.values: '{first}' and '{p}' both map to Linear '{l}', so an issue in \
                         '{l}' cannot be mapped back to one portal status; give each its own state \
                         or set direction = \"portal-to-linear\""
                    ),
                );
            }
        }
    }
    if to_linear {
        for (l, p, line) in &from_linear {
            if !values.iter().any(|(vp, _, _)| vp == p) {
                ctx.err(
                    *line,
                    format!(
                        "{path}.from_linear: Linear '{l}' maps to portal status '{p}', which has no \
                         mapping in [{path}.values], so it could never be written back to Linear"
                    ),
                );
            }
        }
    }
    let mut notify = Vec::new();
    if let Some(list) = &raw.notify_voters {
        for s in list.get_ref() {
            let name = s.get_ref();
            let known = values.iter().any(|(p, _, _)| p == name)
                || from_linear.iter().any(|(_, p, _)| p == name);
            if !known {
                let line = ctx.line(s);
                ctx.err(
                    line,
                    format!(
                        "{path}.notify_voters: '{name}' is not a portal status this mapping uses"
                    ),
                );
            }
            notify.push(name.clone());
        }
    }
    StatusTable {
        values: values.into_iter().map(|(p, l, _)| (p, l)).collect(),
        from_linear: from_linear.into_iter().map(|(l, p, _)| (l, p)).collect(),
        notify_voters: notify,
    }
}

fn label_names(
    ctx: &mut Ctx<'_>,
    path: &str,
    raw: &RawField,
    direction: Direction,
) -> Vec<(String, String)> {
    let names = raw
        .names
        .as_ref()
        .map(|t| ctx.pairs(&format!("{path}.names"), t))
        .unwrap_or_default();
    if direction.writes_to(crate::domain::Side::Portal) {
        for (i, (p, l, line)) in names.iter().enumerate() {
            if let Some((first, _, _)) = names[..i].iter().find(|(_, l2, _)| l2 == l) {
                ctx.err(
                    *line,
                    format!(
                        "{path}.names: tags '{first}' and '{p}' both map to Linear label '{l}', so \
                         the label cannot be mapped back; use direction = \"portal-to-linear\" or \
                         distinct labels"
                    ),
                );
            }
        }
    }
    names.into_iter().map(|(p, l, _)| (p, l)).collect()
}

fn vote_rule(ctx: &mut Ctx<'_>, path: &str, header: usize, raw: &RawField) -> Vec<VoteRule> {
    let Some(rule) = &raw.rule else {
        ctx.err(
            header,
            format!(
                "{path}: score → priority needs a rule, e.g. rule = [ {{ at_least = 50, value = 2 }} ]"
            ),
        );
        return Vec::new();
    };
    let mut out: Vec<VoteRule> = Vec::new();
    for r in rule.get_ref() {
        let line = ctx.line(r);
        let RawRule { at_least, value } = *r.get_ref();
        if !(0..=4).contains(&value) {
            ctx.err(
                line,
                format!("{path}.rule: priority {value} is not a Linear priority (0 none, 1 urgent … 4 low)"),
            );
        }
        if at_least < 0 {
            ctx.err(
                line,
                format!("{path}.rule: at_least must not be negative, not {at_least}"),
            );
        }
        if out.iter().any(|o| o.at_least == at_least) {
            ctx.err(
                line,
                format!("{path}.rule: two thresholds at {at_least} votes"),
            );
        }
        out.push(VoteRule { at_least, value });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.at_least));
    out
}

/// Two fields writing the same remote field would fight each other; the one
/// allowed overlap is the votes line living inside the Linear description.
fn check_targets(ctx: &mut Ctx<'_>, fields: &[FieldMapping]) {
    let active: Vec<&FieldMapping> = fields
        .iter()
        .filter(|f| f.direction != Direction::None)
        .collect();
    for (i, f) in active.iter().enumerate() {
        let line = ctx
            .lines
            .get(&format!("fields.{}", f.name))
            .copied()
            .unwrap_or(1);
        for g in &active[..i] {
            if g.portal == f.portal && !is_votes(f) && !is_votes(g) {
                ctx.err(
                    line,
                    format!(
                        "fields.{}: portal field '{}' is already mapped by fields.{}",
                        f.name, f.portal, g.name
                    ),
                );
            }
            let line_overlap = matches!(f.transform, Transform::VotesLine { .. })
                != matches!(g.transform, Transform::VotesLine { .. });
            if g.linear == f.linear && !line_overlap {
                ctx.err(
                    line,
                    format!(
                        "fields.{}: Linear field '{}' is already mapped by fields.{}",
                        f.name, f.linear, g.name
                    ),
                );
            }
        }
    }
}

fn is_votes(f: &FieldMapping) -> bool {
    matches!(
        f.transform,
        Transform::VotesLine { .. } | Transform::VotesToPriority { .. }
    )
}
