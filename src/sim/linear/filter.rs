//! The parts of Linear's filter language roundtrip relies on.
//!
//! `IssueFilter` on `updatedAt`/`createdAt`/`archivedAt` (DateComparator,
//! values may be ISO datetimes or ISO durations such as `-P2W` relative to
//! now), `team` (`id`/`key`/`name`), `state` (`id`/`name`/`type`), `title`,
//! `id`, `number`, `labels` (`some`/`every` by name or id), and `and`/`or`.
//! Comparator keys the simulator does not know are ignored (they match),
//! which errs towards returning more, never fewer, records.

use chrono::{Duration as ChronoDuration, Utc};
use serde_json::Value;

use super::model::{Issue, Label, Time};
use super::store::Store;

/// Parse a DateTimeOrDuration: an RFC 3339 time or an ISO 8601 duration
/// (`P1D`, `-P2W`, `-PT6H`) taken relative to now.
pub fn parse_date(v: &str) -> Option<Time> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
    }
    let (neg, rest) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = ChronoDuration::zero();
    let mut num = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' | '.' => num.push(c),
            unit => {
                let n: f64 = num.parse().ok()?;
                num.clear();
                let secs = match (unit, in_time) {
                    ('Y', false) => n * 365.0 * 86400.0,
                    ('M', false) => n * 30.0 * 86400.0,
                    ('W', false) => n * 7.0 * 86400.0,
                    ('D', false) => n * 86400.0,
                    ('H', true) => n * 3600.0,
                    ('M', true) => n * 60.0,
                    ('S', true) => n,
                    _ => return None,
                };
                total += ChronoDuration::milliseconds((secs * 1000.0) as i64);
            }
        }
    }
    if !num.is_empty() {
        return None;
    }
    Some(if neg {
        Utc::now() - total
    } else {
        Utc::now() + total
    })
}

/// Does `t` satisfy a DateComparator object?
pub fn date_matches(t: Option<&Time>, cmp: &Value) -> bool {
    let Some(obj) = cmp.as_object() else {
        return true;
    };
    obj.iter().all(|(op, v)| {
        let one = |v: &Value| v.as_str().and_then(parse_date);
        match (op.as_str(), t) {
            ("null", _) => v.as_bool().is_none_or(|want| want == t.is_none()),
            (_, None) => matches!(op.as_str(), "neq" | "nin"),
            ("eq", Some(t)) => one(v).is_some_and(|x| *t == x),
            ("neq", Some(t)) => one(v).is_some_and(|x| *t != x),
            ("gt", Some(t)) => one(v).is_some_and(|x| *t > x),
            ("gte", Some(t)) => one(v).is_some_and(|x| *t >= x),
            ("lt", Some(t)) => one(v).is_some_and(|x| *t < x),
            ("lte", Some(t)) => one(v).is_some_and(|x| *t <= x),
            ("in", Some(t)) => list(v).iter().any(|x| one(x) == Some(*t)),
            ("nin", Some(t)) => !list(v).iter().any(|x| one(x) == Some(*t)),
            _ => true,
        }
    })
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Does `s` satisfy a StringComparator (or ID/Enum comparator) object?
pub fn string_matches(s: Option<&str>, cmp: &Value) -> bool {
    let Some(obj) = cmp.as_object() else {
        return true;
    };
    obj.iter().all(|(op, v)| {
        let want = v.as_str().unwrap_or_default();
        let lower = || s.unwrap_or_default().to_lowercase();
        match op.as_str() {
            "null" => v.as_bool().is_none_or(|n| n == s.is_none()),
            "eq" => s == Some(want),
            "neq" => s != Some(want),
            "eqIgnoreCase" => s.is_some_and(|s| s.eq_ignore_ascii_case(want)),
            "neqIgnoreCase" => !s.is_some_and(|s| s.eq_ignore_ascii_case(want)),
            "in" => list(v).iter().any(|x| x.as_str() == s),
            "nin" => !list(v).iter().any(|x| x.as_str() == s),
            "contains" => s.is_some_and(|s| s.contains(want)),
            "notContains" => !s.is_some_and(|s| s.contains(want)),
            "containsIgnoreCase" | "containsIgnoreCaseAndAccent" => {
                lower().contains(&want.to_lowercase())
            }
            "notContainsIgnoreCase" => !lower().contains(&want.to_lowercase()),
            "startsWith" => s.is_some_and(|s| s.starts_with(want)),
            "startsWithIgnoreCase" => lower().starts_with(&want.to_lowercase()),
            "notStartsWith" => !s.is_some_and(|s| s.starts_with(want)),
            "endsWith" => s.is_some_and(|s| s.ends_with(want)),
            "notEndsWith" => !s.is_some_and(|s| s.ends_with(want)),
            _ => true,
        }
    })
}

/// Does `n` satisfy a NumberComparator object?
pub fn number_matches(n: f64, cmp: &Value) -> bool {
    let Some(obj) = cmp.as_object() else {
        return true;
    };
    obj.iter().all(|(op, v)| {
        let x = v.as_f64();
        match op.as_str() {
            "eq" => x == Some(n),
            "neq" => x != Some(n),
            "gt" => x.is_some_and(|x| n > x),
            "gte" => x.is_some_and(|x| n >= x),
            "lt" => x.is_some_and(|x| n < x),
            "lte" => x.is_some_and(|x| n <= x),
            "in" => list(v).iter().any(|x| x.as_f64() == Some(n)),
            "nin" => !list(v).iter().any(|x| x.as_f64() == Some(n)),
            _ => true,
        }
    })
}

fn label_matches(l: &Label, f: &Value) -> bool {
    let Some(obj) = f.as_object() else {
        return true;
    };
    obj.iter().all(|(k, v)| match k.as_str() {
        "id" => string_matches(Some(&l.id), v),
        "name" => string_matches(Some(&l.name), v),
        _ => true,
    })
}

/// Does an issue satisfy an IssueFilter object?
pub fn issue_matches(store: &Store, i: &Issue, filter: &Value) -> bool {
    let Some(obj) = filter.as_object() else {
        return true;
    };
    obj.iter().all(|(k, v)| match k.as_str() {
        "and" => list(v).iter().all(|f| issue_matches(store, i, f)),
        "or" => {
            let fs = list(v);
            fs.is_empty() || fs.iter().any(|f| issue_matches(store, i, f))
        }
        "id" => string_matches(Some(&i.id), v),
        "number" => number_matches(f64::from(i.number), v),
        "priority" => number_matches(i.priority as f64, v),
        "title" => string_matches(Some(&i.title), v),
        "description" => string_matches(i.description.as_deref(), v),
        "updatedAt" => date_matches(Some(&i.updated_at), v),
        "createdAt" => date_matches(Some(&i.created_at), v),
        "archivedAt" => date_matches(i.archived_at.as_ref(), v),
        "team" => match store.team(&i.team_id) {
            Some(t) => v.as_object().is_none_or(|o| {
                o.iter().all(|(tk, tv)| match tk.as_str() {
                    "id" => string_matches(Some(&t.id), tv),
                    "key" => string_matches(Some(&t.key), tv),
                    "name" => string_matches(Some(&t.name), tv),
                    _ => true,
                })
            }),
            None => false,
        },
        "state" => match store.state(&i.state_id) {
            Some(s) => v.as_object().is_none_or(|o| {
                o.iter().all(|(sk, sv)| match sk.as_str() {
                    "id" => string_matches(Some(&s.id), sv),
                    "name" => string_matches(Some(&s.name), sv),
                    "type" => string_matches(Some(&s.kind), sv),
                    _ => true,
                })
            }),
            None => false,
        },
        "project" => match i.project_id.as_deref().and_then(|p| store.project(p)) {
            Some(p) => v.as_object().is_none_or(|o| {
                o.iter().all(|(pk, pv)| match pk.as_str() {
                    "id" => string_matches(Some(&p.id), pv),
                    "name" => string_matches(Some(&p.name), pv),
                    "null" => pv.as_bool() != Some(true),
                    _ => true,
                })
            }),
            None => v.get("null").and_then(Value::as_bool) == Some(true),
        },
        "cycle" => match i.cycle_id.as_deref().and_then(|c| store.cycle(c)) {
            Some(c) => v.as_object().is_none_or(|o| {
                o.iter().all(|(ck, cv)| match ck.as_str() {
                    "id" => string_matches(Some(&c.id), cv),
                    "number" => number_matches(f64::from(c.number), cv),
                    "null" => cv.as_bool() != Some(true),
                    _ => true,
                })
            }),
            None => v.get("null").and_then(Value::as_bool) == Some(true),
        },
        "labels" => {
            let labels: Vec<&Label> = i
                .label_ids
                .iter()
                .filter_map(|id| store.label(id))
                .collect();
            v.as_object().is_none_or(|o| {
                o.iter().all(|(lk, lv)| match lk.as_str() {
                    "some" => labels.iter().any(|l| label_matches(l, lv)),
                    "every" => labels.iter().all(|l| label_matches(l, lv)),
                    "none" => !labels.iter().any(|l| label_matches(l, lv)),
                    "length" => number_matches(labels.len() as f64, lv),
                    _ => labels
                        .iter()
                        .any(|l| label_matches(l, &serde_json::json!({lk: lv}))),
                })
            })
        }
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_and_durations() {
        let t = parse_date("2026-11-20T10:00:00.000Z").unwrap();
        assert!(date_matches(
            Some(&t),
            &json!({"gt": "2026-11-20T09:59:59.999Z"})
        ));
        assert!(!date_matches(
            Some(&t),
            &json!({"gt": "2026-11-20T10:00:00.000Z"})
        ));
        assert!(date_matches(
            Some(&t),
            &json!({"gte": "2026-11-20T10:00:00.000Z", "lt": "2027-01-01"})
        ));
        let two_weeks_ago = parse_date("-P2W").unwrap();
        assert!((Utc::now() - two_weeks_ago).num_days() == 14);
        assert!(parse_date("-PT6H").is_some() && parse_date("nonsense").is_none());
    }

    #[test]
    fn strings() {
        assert!(string_matches(
            Some("Export to CSV"),
            &json!({"containsIgnoreCase": "csv"})
        ));
        assert!(!string_matches(
            Some("Export to CSV"),
            &json!({"contains": "csv"})
        ));
        assert!(string_matches(
            Some("Done"),
            &json!({"in": ["Done", "Canceled"]})
        ));
    }
}
