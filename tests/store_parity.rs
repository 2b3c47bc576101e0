//! One store, two backends, the same answers: a store filled the way the
//! console benchmark fills one (links with both records, jobs with
//! attempts and failures, open conflicts, audit, events, quota) is copied
//! into PostgreSQL with `store migrate`'s copy, and every read the console,
//! the CLI and the engine make is asked of both and must return the same
//! rows in the same order. This is where a dialect difference (NULL
//! ordering, collation, case folding, a JSON function) shows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod pg;
}

use std::collections::BTreeMap;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtrip::console::app::App;
use roundtrip::console::bench::{SCRIPT_LEN, Sizes, drive, fill};
use roundtrip::console::clock::Clock;
use roundtrip::console::theme::Theme;
use roundtrip::domain::{ErrorClass, JobStatus, Side};
use roundtrip::store::pg::{PgTarget, copy_store};
use roundtrip::store::{
    ConflictFilter, ConflictStatus, JobFilter, Level, LinkOrder, LinkQuery, LinkState,
    NaiveBaseline, OpenMode, Store, Window, WriteMinutes,
};

/// Each read, named, with its answer as text; reads relative to the clock
/// use `now`, the same instant for both stores.
fn answers(store: &Store, now: i64) -> Vec<(String, String)> {
    let db = store.db();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut ask = |name: &str, answer: String| out.push((name.to_string(), answer));
    let windows = [
        Window::first(50),
        Window::last(50),
        Window::first(50).after(1200),
        Window::last(50).after(1200),
        Window::first(3002),
        Window::last(3),
    ];
    for (i, w) in windows.iter().enumerate() {
        ask(
            &format!("links {i}"),
            format!("{:?}", db.links(*w).unwrap()),
        );
        for order in [LinkOrder::Id, LinkOrder::Title] {
            ask(
                &format!("links_ordered {order:?} {i}"),
                format!("{:?}", db.links_ordered(order, *w).unwrap()),
            );
        }
        for side in [Side::Portal, Side::Linear] {
            ask(
                &format!("records {side:?} {i}"),
                format!("{:?}", db.records(side, *w).unwrap()),
            );
        }
        for filter in [
            JobFilter::default(),
            JobFilter {
                status: Some(JobStatus::Dead),
                error_class: None,
            },
            JobFilter {
                status: Some(JobStatus::Failed),
                error_class: Some(ErrorClass::Server),
            },
        ] {
            ask(
                &format!("jobs {filter:?} {i}"),
                format!("{:?}", db.jobs(&filter, *w).unwrap()),
            );
            ask(
                &format!("count_jobs {filter:?}"),
                format!("{:?}", db.count_jobs(&filter).unwrap()),
            );
        }
        for statuses in [
            vec![JobStatus::Failed, JobStatus::Dead],
            vec![JobStatus::Queued],
            vec![],
        ] {
            for class in [None, Some(ErrorClass::Server)] {
                ask(
                    &format!("jobs_in_statuses {statuses:?} {class:?} {i}"),
                    format!("{:?}", db.jobs_in_statuses(&statuses, class, *w).unwrap()),
                );
            }
        }
        for status in [None, Some(ConflictStatus::Open)] {
            let filter = ConflictFilter {
                status,
                field: None,
            };
            ask(
                &format!("conflicts {status:?} {i}"),
                format!("{:?}", db.conflicts(&filter, *w).unwrap()),
            );
        }
        ask(
            &format!("audit {i}"),
            format!("{:?}", db.audit(*w).unwrap()),
        );
        ask(
            &format!("audit_for_link {i}"),
            format!("{:?}", db.audit_for_link(7, *w).unwrap()),
        );
        for level in [Level::Info, Level::Warn] {
            ask(
                &format!("events {level:?} {i}"),
                format!("{:?}", db.events(level, *w).unwrap()),
            );
        }
        ask(
            &format!("deliveries {i}"),
            format!("{:?}", db.deliveries(*w).unwrap()),
        );
    }
    for text in [
        "request",
        "banana",
        "apple*",
        "REQUEST #12",
        "ENG-1",
        "eng-12",
        "#40",
        "L40",
        "nothing here",
    ] {
        let q = LinkQuery::parse(text).unwrap();
        for before in [None, Some(2000)] {
            ask(
                &format!("search {text:?} {before:?}"),
                format!("{:?}", db.search_links(&q, before, 25).unwrap()),
            );
        }
    }
    for id in [1, 40, 999, 2999] {
        ask(&format!("link {id}"), format!("{:?}", db.link(id).unwrap()));
        ask(&format!("job {id}"), format!("{:?}", db.job(id).unwrap()));
        ask(
            &format!("attempts {id}"),
            format!("{:?}", db.attempts(id).unwrap()),
        );
        ask(
            &format!("conflict {id}"),
            format!("{:?}", db.conflict(id).unwrap()),
        );
        ask(
            &format!("comment_links {id}"),
            format!("{:?}", db.comment_links(id).unwrap()),
        );
        ask(
            &format!("first_unknown_outcome_at {id}"),
            format!("{:?}", db.first_unknown_outcome_at(id).unwrap()),
        );
    }
    ask(
        "links_by_id",
        format!(
            "{:?}",
            db.links_by_id(&[2999, 1, 40, 999_999, 40, 3004]).unwrap()
        ),
    );
    ask(
        "links_by_id none",
        format!("{:?}", db.links_by_id(&[]).unwrap()),
    );
    ask("counts", format!("{:?}", db.counts().unwrap()));
    let mut summary = db.summary().unwrap();
    // Read at different instants; every stored count must still agree.
    summary.heartbeat_ms = None;
    ask("summary", format!("{summary:?}"));
    ask("latest_quota", format!("{:?}", db.latest_quota().unwrap()));
    ask(
        "mapping_versions",
        format!("{:?}", db.mapping_versions().unwrap()),
    );
    ask(
        "active_mapping",
        format!("{:?}", db.active_mapping().unwrap()),
    );
    ask(
        "oldest_unsent_job",
        format!("{:?}", db.oldest_unsent_job().unwrap()),
    );
    ask("next_job_due", format!("{:?}", db.next_job_due().unwrap()));
    ask(
        "unapplied_resolutions",
        format!("{:?}", db.unapplied_resolutions(50).unwrap()),
    );
    ask(
        "pending_deliveries",
        format!("{:?}", db.pending_deliveries(50).unwrap()),
    );
    ask(
        "portal_statuses_seen",
        format!("{:?}", db.portal_statuses_seen().unwrap()),
    );
    ask("unrouted", format!("{:?}", db.unrouted(50).unwrap()));
    ask(
        "changelog_groups",
        format!("{:?}", db.changelog_groups(50).unwrap()),
    );
    ask(
        "live_record_ids portal",
        format!("{:?}", db.live_record_ids(Side::Portal).unwrap().len()),
    );
    ask(
        "records_fresh_since linear",
        format!(
            "{:?}",
            db.records_fresh_since(Side::Linear, 0).unwrap().len()
        ),
    );
    ask(
        "active_links_with_deleted_record",
        format!("{:?}", db.active_links_with_deleted_record(50).unwrap()),
    );
    let activity = db
        .activity(now, 30, 24 * 3600 * 1000, &mut WriteMinutes::default())
        .unwrap();
    ask("activity", format!("{activity:?}"));
    ask(
        "naive jobs_page",
        format!("{:?}", NaiveBaseline::jobs_page(&db, 100, 20).unwrap()),
    );
    ask(
        "naive search_links_like",
        format!(
            "{:?}",
            NaiveBaseline::search_links_like(&db, "request #4", 20).unwrap()
        ),
    );
    ask(
        "engine_writes_by_minute",
        format!("{:?}", db.engine_writes_by_minute(0, i64::MAX / 2).unwrap()),
    );
    out
}

#[test]
fn every_read_answers_the_same_on_sqlite_and_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("filled.db");
    fill(
        &path,
        Sizes {
            links: 3_000,
            jobs: 900,
            conflicts: 60,
        },
    )
    .unwrap();
    // Titles whose order depends on case folding, and links missing a side.
    {
        let mut store = Store::open(&path, OpenMode::Existing).unwrap();
        store
            .write(|d| -> roundtrip::store::Result<()> {
                let base = std::collections::BTreeMap::new();
                for (i, title) in [
                    "apple pie",
                    "Banana split",
                    "cherry Request",
                    "Apple crumble",
                    "banana",
                ]
                .iter()
                .enumerate()
                {
                    d.insert_link(
                        Some(&format!("mixed-{i}")),
                        None,
                        Some(&format!("c-{i}")),
                        LinkState::Pending,
                        title,
                        &base,
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    let sqlite = Store::open(&path, OpenMode::ReadOnly).unwrap();
    let db = support::pg::fresh_db();
    let target = PgTarget::parse(&db.url, Some(db.password.clone())).unwrap();
    copy_store(&sqlite, &target).unwrap();
    let postgres = Store::open_postgres(&target, OpenMode::ReadOnly).unwrap();

    let now = roundtrip::store::now_ms();
    let expected = answers(&sqlite, now);
    let got = answers(&postgres, now);
    assert_eq!(expected.len(), got.len());
    let mut differ = Vec::new();
    for ((name, want), (_, have)) in expected.iter().zip(&got) {
        if want != have {
            differ.push(format!(
                "{name}:\n  sqlite:   {}\n  postgres: {}",
                &want[..want.len().min(600)],
                &have[..have.len().min(600)]
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} reads differ:\n{}",
        differ.len(),
        expected.len(),
        differ.join("\n")
    );
    // The fill is rich enough for the comparison to mean something.
    let s = sqlite.db().summary().unwrap();
    assert_eq!(s.links, 3_005);
    assert!(s.open_conflicts > 0 && s.jobs_in(JobStatus::Dead) > 0);

    // The console's keys cost a few statements each on either store: on
    // PostgreSQL each is a round trip, and a page named row by row or a
    // summary read value by value made one key dozens of them (P4).
    for (backend, store) in [("sqlite", sqlite), ("postgres", postgres)] {
        let costs = key_costs(store, now);
        let over: Vec<_> = costs
            .iter()
            .filter(|(key, n)| **n > most_statements(key))
            .collect();
        assert!(over.is_empty(), "{backend}: {over:?} (all: {costs:?})");
        assert!(costs.len() >= 10, "{backend}: {costs:?}");
    }
}

/// The most statements one key may send: a view coming on screen reads
/// the summary and its first page (a first use on PostgreSQL also
/// prepares); a key inside the loaded rows reads at most the selected
/// row's details.
fn most_statements(key: &str) -> u64 {
    match key.rsplit(' ').next() {
        Some("j" | "PageUp") => 1,
        Some("G" | "g" | "PageDown") => 5,
        _ => 12,
    }
}

/// The most statements each key of the console benchmark's script sent
/// over two runs of it, by key kind ("Jobs G").
fn key_costs(store: Store, now: i64) -> BTreeMap<String, u64> {
    let mut app = App::new(store, true, Clock::Fixed(now), Theme::color()).unwrap();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let (_, by_key) = drive(&mut app, &mut term, 2 * SCRIPT_LEN);
    by_key
        .into_iter()
        .map(|(key, cost)| (key, cost.most_statements))
        .collect()
}

#[test]
fn a_reader_on_postgresql_sees_another_connections_commit_in_its_data_version() {
    let db = support::pg::fresh_db();
    let target = PgTarget::parse(&db.url, Some(db.password.clone())).unwrap();
    let mut writer = Store::open_postgres(&target, OpenMode::Create).unwrap();
    let reader = Store::open_postgres(&target, OpenMode::ReadOnly).unwrap();
    let before = reader.data_version().unwrap();
    reader.db().summary().unwrap();
    assert_eq!(
        reader.data_version().unwrap(),
        before,
        "a read changes nothing"
    );
    writer
        .write(|d| d.log_event(Level::Info, "test", "a commit"))
        .unwrap();
    let after = reader.data_version().unwrap();
    assert!(after > before, "{before} -> {after}");
    let refused = reader
        .db()
        .log_event(Level::Info, "test", "from the reader");
    assert!(
        matches!(refused, Err(roundtrip::store::StoreError::ReadOnly)),
        "{refused:?}"
    );
}
