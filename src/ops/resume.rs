//! Resume: lift a pause the engine raised — the mass-delete guard, or a
//! connector paused after its credentials were refused (fix the secret
//! first). The engine picks the change up from the store; held-back deletes
//! are applied at the next reconcile.

use serde::Serialize;

use super::{AuditRow, Changed, Report, Subject};
use crate::domain::{AuditAction, Side};
use crate::store::{Db, Level, StoreError, meta_keys};

/// A pause the engine can raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pause {
    /// Delete propagation, paused by the mass-delete guard.
    Deletes,
    /// One side's connector, paused after an auth failure.
    Connector(Side),
}

impl Pause {
    /// What the pause holds back, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Pause::Deletes => "delete propagation",
            Pause::Connector(Side::Linear) => "the Linear connector",
            Pause::Connector(Side::Portal) => "the portal connector",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Pause::Deletes => meta_keys::DELETES_PAUSED,
            Pause::Connector(side) => meta_keys::paused(side),
        }
    }

    fn side(self) -> Option<Side> {
        match self {
            Pause::Deletes => None,
            Pause::Connector(side) => Some(side),
        }
    }
}

/// Clear the pause (if it is set) and say what it was.
pub fn resume(db: Db<'_>, pause: Pause) -> Result<Report, StoreError> {
    let mut report = Report::new(AuditAction::Resume);
    let label = pause.label();
    let Some(why) = db.meta(pause.key())? else {
        report.headline = format!("{label} was not paused; nothing to do");
        return Ok(report);
    };
    db.clear_meta(pause.key())?;
    AuditRow {
        side: pause.side(),
        before: Some(format!("paused: {why}")),
        after: Some("resumed".into()),
        reason: format!("resume {label}"),
        ..AuditRow::default()
    }
    .append(db, AuditAction::Resume)?;
    db.log_event(
        Level::Info,
        super::ACTOR.as_str(),
        &format!("{} resumed {label}", super::ACTOR),
    )?;
    let changed = Changed {
        subject: Subject::Pause(pause),
        detail: format!("resumed (it was paused: {why})"),
    };
    report.headline = changed.to_string();
    report.changed.push(changed);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn resume_clears_and_audits_once() {
        let mut s = Store::open_in_memory().unwrap();
        s.db()
            .set_meta(meta_keys::DELETES_PAUSED, "25 deletes in 10 min")
            .unwrap();
        let r = s.write(|db| resume(db, Pause::Deletes)).unwrap();
        assert_eq!(
            r.headline,
            "delete propagation resumed (it was paused: 25 deletes in 10 min)"
        );
        assert!(s.db().meta(meta_keys::DELETES_PAUSED).unwrap().is_none());
        let r = s.write(|db| resume(db, Pause::Deletes)).unwrap();
        assert_eq!(
            r.headline,
            "delete propagation was not paused; nothing to do"
        );
        assert_eq!(
            s.db().audit(crate::store::Window::first(5)).unwrap().len(),
            1
        );
    }
}
