//! The inbox under replay floods and the store's own health: digest
//! deduplication, per-record coalescing, pruning, integrity checks and the
//! lock probe.

use std::time::Duration;

use super::*;
use crate::domain::Side;
use crate::store::test_backends::on_both_backends;

fn delivery(id: &str, record: &str, digest: Option<&str>) -> NewDelivery {
    NewDelivery {
        source: Side::Linear,
        delivery_id: id.into(),
        event: "Issue".into(),
        record_id: Some(record.into()),
        removed: false,
        signed_digest: digest.map(str::to_string),
        evidence: None,
    }
}

on_both_backends! {
fn the_same_signed_content_under_fresh_delivery_ids_is_stored_once(store) {
    let db = store.db();
    assert!(
        db.insert_delivery(&delivery("d-1", "i1", Some("abc")))
            .unwrap()
    );
    for i in 0..50 {
        let replay = delivery(&format!("fresh-{i}"), "i1", Some("abc"));
        assert!(!db.insert_delivery(&replay).unwrap(), "replay {i} stored");
    }
    assert!(
        db.insert_delivery(&delivery("d-2", "i1", Some("def")))
            .unwrap()
    );
    let portal = NewDelivery {
        source: Side::Portal,
        ..delivery("d-9", "p1", Some("abc"))
    };
    assert!(
        db.insert_delivery(&portal).unwrap(),
        "digests are per source"
    );
    assert_eq!(db.count_pending_deliveries().unwrap(), 3);
}
}

on_both_backends! {
fn one_mark_covers_every_pending_delivery_of_a_record_up_to_the_horizon(store) {
    let db = store.db();
    for i in 0..30 {
        let record = if i % 3 == 0 { "other" } else { "busy" };
        db.insert_delivery(&delivery(&format!("d{i}"), record, None))
            .unwrap();
    }
    let pending = db.pending_deliveries(100).unwrap();
    let horizon = pending.iter().map(|d| d.id).max().unwrap();
    // A delivery arriving after the read is not covered by it.
    db.insert_delivery(&delivery("late", "busy", None)).unwrap();
    let busy = pending
        .iter()
        .find(|d| d.record_id.as_deref() == Some("busy"))
        .unwrap();
    assert_eq!(db.mark_record_processed(busy, horizon).unwrap(), 20);
    let left = db.pending_deliveries(100).unwrap();
    assert_eq!(left.len(), 11);
    assert_eq!(
        left.iter()
            .filter(|d| d.record_id.as_deref() == Some("busy"))
            .map(|d| d.delivery_id.as_str())
            .collect::<Vec<_>>(),
        vec!["late"]
    );
    let no_record = NewDelivery {
        record_id: None,
        ..delivery("none", "x", None)
    };
    db.insert_delivery(&no_record).unwrap();
    let item = db
        .pending_deliveries(100)
        .unwrap()
        .into_iter()
        .find(|d| d.record_id.is_none())
        .unwrap();
    assert_eq!(db.mark_record_processed(&item, i64::MAX).unwrap(), 1);
}
}

on_both_backends! {
fn pruning_takes_only_processed_deliveries_older_than_the_cutoff(store) {
    let db = store.db();
    for i in 0..10 {
        db.insert_delivery(&delivery(&format!("d{i}"), &format!("r{i}"), None))
            .unwrap();
    }
    for d in db.pending_deliveries(5).unwrap() {
        db.mark_delivery_processed(d.id).unwrap();
    }
    assert_eq!(db.prune_deliveries(0, 100).unwrap(), 0, "none older than 0");
    let future = now_ms() + 1000;
    assert_eq!(db.prune_deliveries(future, 3).unwrap(), 3, "bounded batch");
    assert_eq!(db.prune_deliveries(future, 100).unwrap(), 2);
    assert_eq!(db.count_pending_deliveries().unwrap(), 5, "pending stay");
}
}

#[test]
fn a_store_with_overwritten_record_pages_fails_its_check_naming_the_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    {
        let mut store = Store::open(&path, OpenMode::Create).unwrap();
        store.verify_integrity().unwrap();
        assert!(store.db().integrity().unwrap().unwrap().ok);
        store
            .write(|db| {
                for i in 0..3000 {
                    db.conn.execute(
                        "INSERT INTO records (side, remote_id, title, fields, content_hash, seen_at)
                         VALUES ('portal', ?1, ?2, '{}', 'h', 0)",
                        super::sql::params![format!("p{i}"), "x".repeat(200)],
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        store.checkpoint().unwrap();
    }
    let root: i64 = {
        let store = Store::open(&path, OpenMode::ReadOnly).unwrap();
        store
            .sqlite()
            .unwrap()
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'records'",
                (),
                |r| r.get(0),
            )
            .unwrap()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096usize;
    let at = (root as usize - 1) * page;
    for b in &mut bytes[at + 100..at + page] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let store = Store::open(&path, OpenMode::Existing).unwrap();
    let err = store.verify_integrity().unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::FailedIntegrity { .. }), "{msg}");
    assert!(msg.contains(".recover"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn the_lock_probe_sees_another_connection_holding_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let store = Store::open(&path, OpenMode::Create).unwrap();
    assert_eq!(
        probe_write_lock(&path, Duration::from_millis(50)),
        LockProbe::Free
    );
    store
        .sqlite()
        .unwrap()
        .execute_batch("BEGIN IMMEDIATE")
        .unwrap();
    assert_eq!(
        probe_write_lock(&path, Duration::from_millis(50)),
        LockProbe::Held
    );
    store.sqlite().unwrap().execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        probe_write_lock(&path, Duration::from_millis(50)),
        LockProbe::Free
    );
    assert_eq!(
        probe_write_lock(&dir.path().join("none.db"), Duration::from_millis(50)),
        LockProbe::Unknown
    );
}
