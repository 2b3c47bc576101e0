//! Mapping actions: validate, dry-run, apply a document as a new version,
//! roll back to an earlier one, and "always resolve this field this way"
//! (a new version with one field's policy changed). Every stored version
//! carries its own number in its `version` key.

use serde::Serialize;

use super::conflicts::{Choice, resolve_in};
use super::{AuditRow, Changed, Refused, Report, Subject, Why, count};
use crate::domain::{AuditAction, FieldValue, PortalKind, Side};
use crate::store::{Db, LinkState, MappingVersion, StoreError, Window};
use crate::sync::{
    Catalog, Mapping, MappingErrors, Policy, PreviewAction, Snapshot, preview, set_field_policy,
    stamp_version,
};

/// Links read per store query during a dry run.
const DRY_RUN_PAGE: usize = 200;

/// The one validation every stored document passes: it parses (errors at
/// their line) and its status table covers the default catalog of the
/// store's portal (Canny's or Fider's statuses, Linear's default workflow)
/// plus the custom portal statuses seen on the posts in `db` (so a custom
/// status is mappable). Without a store, or when it cannot be read, only
/// Canny's built-in statuses are known.
pub fn validate(db: Option<Db<'_>>, text: &str) -> Result<Mapping, MappingErrors> {
    validate_as(db, None, text)
}

/// [`validate`] for the portal `kind` names (the config's `[portal] kind`,
/// which a store no engine has run on yet cannot tell), else the store's.
pub fn validate_as(
    db: Option<Db<'_>>,
    kind: Option<PortalKind>,
    text: &str,
) -> Result<Mapping, MappingErrors> {
    let kind = kind
        .or_else(|| db.and_then(|db| db.portal_kind().ok()))
        .unwrap_or_default();
    let seen = db
        .and_then(|db| db.portal_statuses_seen().ok())
        .unwrap_or_default();
    let m = Mapping::parse(text)?;
    m.validate_against(&Catalog::default_for(kind).with_custom_statuses(&seen))?;
    Ok(m)
}

/// The document in force: the active stored version, or the built-in
/// default when none was stored yet (the engine syncs with it until one is).
pub fn active_document(db: Db<'_>) -> Result<(Option<MappingVersion>, String), StoreError> {
    Ok(match db.active_mapping()? {
        Some(v) => {
            let text = v.document.clone();
            (Some(v), text)
        }
        None => (None, Mapping::default_for(db.portal_kind()?).to_toml()),
    })
}

/// The mapping in force, parsed (`None` if the stored text does not parse;
/// the engine refuses such a version and says so).
pub fn active(db: Db<'_>) -> Result<Option<Mapping>, StoreError> {
    Ok(Mapping::parse(&active_document(db)?.1).ok())
}

fn invalid(errors: &MappingErrors) -> String {
    let all: Vec<String> = errors.errors().iter().map(ToString::to_string).collect();
    format!("is not valid, nothing was stored: {}", all.join("; "))
}

/// Store `document` as version N (stamped `version = N`) and audit it.
fn store_version(
    db: Db<'_>,
    document: &str,
    note: &str,
) -> Result<Result<i64, Refused>, StoreError> {
    let next = db.next_mapping_version()?;
    let stamped = match stamp_version(document, next) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(Refused::new(
                Subject::Mapping,
                Why::Invalid,
                e.to_string(),
            )));
        }
    };
    let v = db.add_mapping_version(&stamped, super::ACTOR, note)?;
    Ok(Ok(v))
}

/// Validate `document` and store it as the new active version. A document
/// identical to the active one (apart from its version number) is not
/// stored again.
pub fn apply(db: Db<'_>, document: &str, note: &str) -> Result<Report, StoreError> {
    let mapping = match validate(Some(db), document) {
        Ok(m) => m,
        Err(errors) => {
            return Ok(Report::refusal(
                AuditAction::ApplyMapping,
                Refused::new(Subject::Mapping, Why::Invalid, invalid(&errors)),
            ));
        }
    };
    let mut report = Report::new(AuditAction::ApplyMapping);
    let previous = db.active_mapping()?;
    if let Some(p) = &previous
        && stamp_version(document, p.version).is_ok_and(|d| d == p.document)
    {
        report.headline = format!(
            "the document is identical to the active version {}; nothing stored",
            p.version
        );
        return Ok(report);
    }
    let v = match store_version(db, document, note)? {
        Ok(v) => v,
        Err(r) => return Ok(Report::refusal(AuditAction::ApplyMapping, r)),
    };
    AuditRow {
        before: Some(previous.map_or("default".into(), |p| format!("v{}", p.version))),
        after: Some(format!("v{v}")),
        reason: format!("apply mapping v{v}: {note}"),
        ..AuditRow::default()
    }
    .append(db, AuditAction::ApplyMapping)?;
    let changed = Changed {
        subject: Subject::MappingVersion(v),
        detail: format!(
            "is stored and active ({}); the engine uses it from its next pass",
            count(mapping.fields.len(), "field")
        ),
    };
    report.headline = changed.to_string();
    report.changed.push(changed);
    Ok(report)
}

/// Why rolling back to `version` is refused, if it is: it does not exist,
/// the engine refused it, or it no longer validates. The console asks this
/// before its confirm dialog.
pub fn check_rollback(db: Db<'_>, version: i64) -> Result<Option<Refused>, StoreError> {
    let refuse = |why, detail: String| {
        Ok(Some(Refused::new(
            Subject::MappingVersion(version),
            why,
            detail,
        )))
    };
    let Some(target) = db.mapping_version(version)? else {
        return refuse(
            Why::NotFound,
            "does not exist (see `roundtrip mapping versions`)".into(),
        );
    };
    if let Some(reason) = &target.refused_reason {
        return refuse(
            Why::State,
            format!("was refused by the engine ({reason}); not activated"),
        );
    }
    if !target.active
        && let Err(errors) = validate(Some(db), &target.document)
    {
        return refuse(
            Why::Invalid,
            format!("no longer validates, not activated: {errors}"),
        );
    }
    Ok(None)
}

/// Make an earlier stored version active again. Rolling back to the
/// active version answers a refusal the engine raised since (the alert
/// clears, the version stays in force); without one it changes nothing.
pub fn rollback(db: Db<'_>, version: i64) -> Result<Report, StoreError> {
    let mut report = Report::new(AuditAction::Rollback);
    if let Some(r) = check_rollback(db, version)? {
        return Ok(Report::refusal(AuditAction::Rollback, r));
    }
    let current = db.active_mapping()?;
    if current.as_ref().is_some_and(|c| c.version == version) {
        let Some(refused) = db.refused_mapping()? else {
            report.headline =
                format!("mapping version {version} is already active; nothing changed");
            return Ok(report);
        };
        db.activate_mapping_version(version)?;
        AuditRow {
            before: Some(format!("v{} refused", refused.version)),
            after: Some(format!("v{version}")),
            reason: format!(
                "keep mapping v{version} in force; answers the refusal of v{}",
                refused.version
            ),
            ..AuditRow::default()
        }
        .append(db, AuditAction::Rollback)?;
        let changed = Changed {
            subject: Subject::MappingVersion(version),
            detail: format!(
                "stays in force; the refusal of version {} is answered",
                refused.version
            ),
        };
        report.headline = changed.to_string();
        report.changed.push(changed);
        return Ok(report);
    }
    db.activate_mapping_version(version)?;
    AuditRow {
        before: current.as_ref().map(|c| format!("v{}", c.version)),
        after: Some(format!("v{version}")),
        reason: format!("roll back mapping to v{version}"),
        ..AuditRow::default()
    }
    .append(db, AuditAction::Rollback)?;
    let changed = Changed {
        subject: Subject::MappingVersion(version),
        detail: match current {
            Some(c) => format!("is active again (was {})", c.version),
            None => "is active again".into(),
        },
    };
    report.headline = changed.to_string();
    report.changed.push(changed);
    Ok(report)
}

/// "Always do this for this field": save a new version where `field`'s
/// conflicts go to `winner`, then resolve these conflicts that way now.
pub fn always(db: Db<'_>, field: &str, winner: Side, ids: &[i64]) -> Result<Report, StoreError> {
    let policy = match winner {
        Side::Portal => Policy::PortalWins,
        Side::Linear => Policy::LinearWins,
    };
    let (_, current) = active_document(db)?;
    let refuse = |why, detail: String| {
        Ok(Report::refusal(
            AuditAction::SavePolicy,
            Refused::new(Subject::Mapping, why, detail),
        ))
    };
    let edited = match set_field_policy(&current, field, policy) {
        Ok(d) => d,
        Err(e) => return refuse(Why::Invalid, format!("cannot be changed: {e}")),
    };
    let mapping = match validate(Some(db), &edited) {
        Ok(m) => m,
        Err(errors) => return refuse(Why::Invalid, invalid(&errors)),
    };
    let old = active(db)?
        .and_then(|m| m.field(field).map(|f| f.on_conflict))
        .map_or("unset".to_string(), |p| p.as_str().to_string());
    let note = format!("always resolve {field} as {policy}");
    let v = match store_version(db, &edited, &note)? {
        Ok(v) => v,
        Err(r) => return Ok(Report::refusal(AuditAction::SavePolicy, r)),
    };
    AuditRow {
        field: Some(field.to_string()),
        before: Some(format!("on_conflict = {old}")),
        after: Some(format!("on_conflict = {policy}")),
        reason: format!("{note}: saved as mapping v{v}"),
        ..AuditRow::default()
    }
    .append(db, AuditAction::SavePolicy)?;
    let mut report = Report::new(AuditAction::SavePolicy);
    report.changed.push(Changed {
        subject: Subject::MappingVersion(v),
        detail: format!("is stored and active ({field}: {policy})"),
    });
    let choice = match winner {
        Side::Portal => Choice::Portal,
        Side::Linear => Choice::Linear,
    };
    let before = report.changed.len();
    resolve_in(db, Some(&mapping), ids, &choice, &note, &mut report)?;
    report.headline = format!(
        "saved mapping v{v} ({field}: {policy}); resolved {}",
        count(report.changed.len() - before, "conflict")
    );
    Ok(report)
}

/// One change in a dry run. Field names are a stable JSON contract
/// (`mapping preview --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunChange {
    /// The link.
    pub link_id: i64,
    /// The link as "portal-id ↔ ENG-42".
    pub link: String,
    /// The link's title.
    pub title: String,
    /// The field (the written side's name for writes).
    pub field: String,
    /// "write" or "conflict".
    pub action: &'static str,
    /// The side written; null for conflicts.
    pub side: Option<Side>,
    /// Current value on the written side (the portal's value for conflicts).
    pub from: FieldValue,
    /// Value written (Linear's value for conflicts).
    pub to: FieldValue,
}

impl DryRunChange {
    /// One line for humans: "p-1 ↔ ENG-1 · title on linear: 'a' → 'b'".
    pub fn describe(&self) -> String {
        let short = |v: &FieldValue| match v {
            FieldValue::Text(_) => format!("'{}'", v.display_short(40)),
            _ => v.display_short(40),
        };
        match self.side {
            Some(side) => format!(
                "{} · {} on {side}: {} → {}",
                self.link,
                self.field,
                short(&self.from),
                short(&self.to)
            ),
            None => format!(
                "{} · {}: conflict (portal {} vs Linear {})",
                self.link,
                self.field,
                short(&self.from),
                short(&self.to)
            ),
        }
    }
}

/// What a mapping would change on every active link whose two records are
/// mirrored. Field names are a stable JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// Links looked at.
    pub links_examined: usize,
    /// Links not planned: not active, a side deleted, or not seen on both sides.
    pub links_skipped: usize,
    /// Links with at least one change.
    pub links_changed: usize,
    /// Every change counted.
    pub changes_total: usize,
    /// The first `limit` changes.
    pub changes: Vec<DryRunChange>,
}

impl DryRun {
    /// The summary line: "12 changes on 3 of 40 links (2 skipped: …)".
    pub fn summary(&self) -> String {
        format!(
            "{} change{} on {} of {} links{}",
            self.changes_total,
            if self.changes_total == 1 { "" } else { "s" },
            self.links_changed,
            self.links_examined,
            if self.links_skipped > 0 {
                format!(
                    " ({} skipped: not active, deleted, or not yet seen on both sides)",
                    self.links_skipped
                )
            } else {
                String::new()
            }
        )
    }
}

/// Plan `mapping` against every active link, as the engine would on the
/// links' next merge; keeps the first `limit` changes and counts the rest.
pub fn dry_run(db: Db<'_>, mapping: &Mapping, limit: usize) -> Result<DryRun, StoreError> {
    let now = chrono::Utc::now();
    let mut out = DryRun {
        links_examined: 0,
        links_skipped: 0,
        links_changed: 0,
        changes_total: 0,
        changes: Vec::new(),
    };
    let mut window = Window::first(DRY_RUN_PAGE);
    loop {
        let page = db.link_mirrors(window)?;
        let Some(last) = page.last() else { break };
        window = window.after(last.link.id);
        for m in &page {
            out.links_examined += 1;
            let (Some(p), Some(l)) = (&m.portal, &m.linear) else {
                out.links_skipped += 1;
                continue;
            };
            if m.link.state != LinkState::Active || p.deleted_at.is_some() || l.deleted_at.is_some()
            {
                out.links_skipped += 1;
                continue;
            }
            let input: [(Snapshot, _, _); 1] =
                [(m.link.base.clone(), p.record.clone(), l.record.clone())];
            for lp in preview(mapping, &input, now) {
                if lp.rows.is_empty() {
                    continue;
                }
                out.links_changed += 1;
                for row in lp.rows {
                    out.changes_total += 1;
                    if out.changes.len() >= limit {
                        continue;
                    }
                    let (action, side) = match row.action {
                        PreviewAction::Write(s) => ("write", Some(s)),
                        PreviewAction::Conflict => ("conflict", None),
                    };
                    out.changes.push(DryRunChange {
                        link_id: m.link.id,
                        link: row.link,
                        title: m.link.title.clone(),
                        field: row.field,
                        action,
                        side,
                        from: row.from,
                        to: row.to,
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Actor;
    use crate::store::Store;

    fn store() -> Store {
        let mut s = Store::open_in_memory().unwrap();
        s.write(|db| {
            db.add_mapping_version(
                &Mapping::default_canny_linear().to_toml(),
                Actor::BuiltIn,
                "default",
            )
        })
        .unwrap();
        s
    }

    #[test]
    fn a_stored_version_carries_its_number_and_identical_is_not_stored() {
        let mut s = store();
        let doc = Mapping::default_canny_linear().to_toml().replace(
            "\"in progress\" = \"In Progress\"",
            "\"in progress\" = \"In Review\"",
        );
        let r = s.write(|db| apply(db, &doc, "review")).unwrap();
        assert_eq!(r.changed[0].subject, Subject::MappingVersion(2));
        let stored = s.db().active_mapping().unwrap().unwrap();
        assert_eq!(Mapping::parse(&stored.document).unwrap().version, 2);
        assert_eq!(stored.document, doc.replace("version = 1", "version = 2"));
        let again = s.write(|db| apply(db, &doc, "again")).unwrap();
        assert!(again.changed.is_empty() && again.refused.is_empty());
        assert!(again.headline.contains("identical to the active version 2"));
        assert_eq!(again.exit_code(), 0);
    }

    #[test]
    fn invalid_documents_and_missing_versions_are_refused() {
        let mut s = store();
        let r = s
            .write(|db| apply(db, "version = 1\n[fields.title]\nportal = 3\n", "x"))
            .unwrap();
        assert_eq!(r.exit_code(), 2);
        assert!(
            r.headline.starts_with("the mapping is not valid"),
            "{}",
            r.headline
        );
        let r = s.write(|db| rollback(db, 9)).unwrap();
        assert_eq!(
            r.headline,
            "mapping version 9 does not exist (see `roundtrip mapping versions`)"
        );
        assert_eq!(r.exit_code(), 1);
        assert!(check_rollback(s.db(), 1).unwrap().is_none());
        assert!(
            s.write(|db| rollback(db, 1))
                .unwrap()
                .headline
                .contains("already active")
        );
    }

    #[test]
    fn a_refused_version_cannot_be_rolled_back_to() {
        let mut s = store();
        let v2 = s
            .write(|db| db.add_mapping_version("version = 2\nbroken", Actor::Operator, "x"))
            .unwrap();
        s.write(|db| db.refuse_mapping_version(v2, "line 2: expected `=`", 1))
            .unwrap();
        assert_eq!(s.db().active_mapping().unwrap().unwrap().version, 1);
        let r = s.write(|db| rollback(db, v2)).unwrap();
        assert!(
            r.headline.contains("was refused by the engine"),
            "{}",
            r.headline
        );
        // Rolling back to the version in force answers the refusal.
        let r = s.write(|db| rollback(db, 1)).unwrap();
        assert_eq!(
            r.headline,
            "mapping version 1 stays in force; the refusal of version 2 is answered"
        );
        assert!(s.db().refused_mapping().unwrap().is_none());
        let r = s.write(|db| rollback(db, 1)).unwrap();
        assert!(r.headline.contains("already active"), "{}", r.headline);
    }

    #[test]
    fn a_custom_status_seen_on_a_post_is_mappable() {
        let mut s = store();
        let doc = Mapping::default_canny_linear().to_toml().replace(
            "\"closed\" = \"Canceled\"\n",
            "\"closed\" = \"Canceled\"\n\"beta\" = \"In Review\"\n",
        );
        let r = s.write(|db| apply(db, &doc, "beta")).unwrap();
        assert_eq!(r.exit_code(), 2, "no post is in 'beta' yet: {}", r.headline);
        assert!(
            r.headline.contains("'beta' is not a portal status"),
            "{}",
            r.headline
        );
        let post = crate::domain::Record {
            remote_id: "p1".into(),
            status: "beta".into(),
            ..crate::domain::Record::default()
        };
        s.write(|db| db.upsert_record(Side::Portal, &post)).unwrap();
        assert!(
            validate(None, &doc).is_err(),
            "without a store only built-ins"
        );
        assert!(validate(Some(s.db()), &doc).is_ok());
        let r = s.write(|db| apply(db, &doc, "beta")).unwrap();
        assert_eq!(
            r.changed[0].subject,
            Subject::MappingVersion(2),
            "{}",
            r.headline
        );
    }

    #[test]
    fn always_saves_the_policy_keeping_the_rest_of_the_document() {
        let mut s = store();
        let r = s
            .write(|db| always(db, "title", Side::Linear, &[]))
            .unwrap();
        assert_eq!(
            r.headline,
            "saved mapping v2 (title: linear-wins); resolved 0 conflicts"
        );
        let doc = s.db().active_mapping().unwrap().unwrap().document;
        let m = Mapping::parse(&doc).unwrap();
        assert_eq!(m.version, 2);
        assert_eq!(m.field("title").unwrap().on_conflict, Policy::LinearWins);
        assert!(
            doc.starts_with("# roundtrip field mapping"),
            "comments kept: {doc}"
        );
        let r = s.write(|db| always(db, "nope", Side::Portal, &[])).unwrap();
        assert_eq!(
            r.headline,
            "the mapping cannot be changed: the mapping has no field `nope`"
        );
        let audit = s.db().audit(Window::first(10)).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, AuditAction::SavePolicy);
        assert_eq!(audit[0].before.as_deref(), Some("on_conflict = ask"));
    }
}
