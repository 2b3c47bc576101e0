//! PostgreSQL keeps its derived rows (`counters`, `link_keys`) as SQLite's
//! triggers do, and announces commits (LISTEN/NOTIFY and a change counter)
//! the way SQLite's `data_version` lets the console notice them. The same
//! SQL, valid in both dialects, is run against a SQLite store and a migrated
//! PostgreSQL database, and the derived rows are compared.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod pg;
}

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use roundtrip::store::pg::{self, ChangeListener, PgTarget};
use roundtrip::store::{OpenMode, Store};
use support::pg::{PgDb, fresh_db, fresh_db_in_locale};

/// How long a commit may take to reach a listener before the test fails.
const DELIVERY: Duration = Duration::from_secs(10);
/// How long a listener waits to call the line quiet.
const QUIET: Duration = Duration::from_millis(300);

/// Rows, links and their records before a copy: keys come from ids, keys
/// and record URLs (scheme, `www.`, query, fragment, trailing slash and
/// ASCII case dropped; non-ASCII letters kept as they are).
const BEFORE_COPY: &[&str] = &[
    "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash, seen_at)
     VALUES ('portal', 'PostAbcdef0123456789', NULL, 'Dark mode',
             '{\"url\": \"  HTTPS://www.Feedback.test/p/Dark-Mode?ref=mail#top/ \"}', 'h1', 1)",
    "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash, seen_at)
     VALUES ('linear', 'lin-1', 'ENG-1', 'Dark mode',
             '{\"url\": \"https://linear.test/eng/issue/ENG-1/dark-mode\"}', 'h2', 1)",
    "INSERT INTO links (portal_id, linear_id, state, title, created_at, updated_at)
     VALUES ('PostAbcdef0123456789', 'lin-1', 'active', 'Dark mode', 1, 1)",
    "INSERT INTO links (portal_id, state, title, created_at, updated_at)
     VALUES ('short-id', 'active', 'Export', 1, 1)",
    "INSERT INTO jobs (link_id, target, kind, payload, next_run_at, created_at, updated_at)
     VALUES (1, 'linear', 'update', '{}', 0, 1, 1)",
    "INSERT INTO jobs (link_id, target, kind, payload, status, next_run_at, created_at, updated_at)
     VALUES (2, 'portal', 'update', '{}', 'running', 0, 1, 1)",
    "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value, created_at)
     VALUES (1, 'title', 'a', 'b', 'c', 1)",
];

/// Every kind of write the triggers answer to, after the copy.
const AFTER_COPY: &[&str] = &[
    // A link whose Linear record arrives later, with a key of its own first.
    "INSERT INTO links (linear_id, linear_key, state, title, created_at, updated_at)
     VALUES ('lin-2', 'ENG-OLD', 'active', 'Later', 2, 2)",
    "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash, seen_at)
     VALUES ('linear', 'lin-2', 'ENG-2', 'Later', '{\"url\": \"http://Linear.test/ENG-2/Ünïcode\"}', 'h3', 2)",
    // A record's key and URL change; a change of anything else leaves the keys.
    "UPDATE records SET identifier = 'ENG-22' WHERE remote_id = 'lin-2'",
    "UPDATE records SET fields = '{\"url\": \"https://feedback.test/p/renamed/\"}'
     WHERE remote_id = 'PostAbcdef0123456789'",
    "UPDATE records SET seen_at = 5, fields = '{\"url\": \"https://feedback.test/p/renamed/\", \"votes\": 3}'
     WHERE remote_id = 'PostAbcdef0123456789'",
    // A link moves to another issue, with and without a record for it.
    "INSERT INTO records (side, remote_id, identifier, title, fields, content_hash, seen_at)
     VALUES ('linear', 'lin-3', 'OPS-3', 'Moved', '{}', 'h4', 3)",
    "UPDATE links SET linear_id = 'lin-3' WHERE id = 2",
    "UPDATE links SET linear_id = 'lin-404', linear_key = 'ENG-404' WHERE id = 3",
    "UPDATE links SET portal_id = 'AnotherLongPostId42' WHERE id = 2",
    "INSERT INTO links (client_id, state, title, created_at, updated_at)
     VALUES ('client-1', 'pending', '', 4, 4)",
    // Jobs through their states; an update to the same status counts nothing.
    "INSERT INTO jobs (link_id, target, kind, payload, next_run_at, created_at, updated_at)
     VALUES (3, 'linear', 'create', '{}', 0, 4, 4)",
    "UPDATE jobs SET status = 'running' WHERE id = 1",
    "UPDATE jobs SET status = 'succeeded' WHERE id = 1",
    "UPDATE jobs SET status = 'failed', attempts = 1 WHERE id = 2",
    "UPDATE jobs SET status = 'queued' WHERE id = 2",
    "UPDATE jobs SET status = 'queued', attempts = 2 WHERE id = 2",
    "UPDATE jobs SET status = 'dead' WHERE id = 3",
    "INSERT INTO jobs (target, kind, payload, status, next_run_at, created_at, updated_at)
     VALUES ('portal', 'comment', '{}', 'cancelled', 0, 5, 5)",
    "DELETE FROM jobs WHERE id = 4",
    // Conflicts opened, resolved, reopened, created resolved, deleted.
    "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value, created_at)
     VALUES (2, 'status', 'a', 'b', 'c', 5)",
    "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value, status, created_at)
     VALUES (3, 'title', 'a', 'b', 'c', 'resolved', 5)",
    "UPDATE conflicts SET status = 'resolved' WHERE id = 1",
    "UPDATE conflicts SET status = 'open' WHERE id = 3",
    "UPDATE conflicts SET note = 'seen' WHERE id = 3",
    "DELETE FROM conflicts WHERE id = 1",
    // A deleted link takes its keys and (by cascade) its open conflict.
    "DELETE FROM links WHERE id = 2",
];

/// What the triggers keep, in one comparable value.
#[derive(Debug, PartialEq, Eq)]
struct Derived {
    counters: Vec<(String, i64)>,
    link_keys: Vec<(String, i64)>,
    links: Vec<(i64, Option<String>, i64)>,
}

fn sqlite_derived(conn: &rusqlite::Connection) -> Derived {
    let pairs = |sql: &str| -> Vec<(String, i64)> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    Derived {
        counters: pairs("SELECT name, n FROM counters ORDER BY name"),
        link_keys: pairs("SELECT key, link_id FROM link_keys ORDER BY key, link_id"),
        links: conn
            .prepare("SELECT id, linear_key, search_rev FROM links ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
    }
}

fn pg_derived(client: &mut postgres::Client) -> Derived {
    let mut pairs = |sql: &str| -> Vec<(String, i64)> {
        client
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    Derived {
        // The "C" collation orders as SQLite's BINARY does.
        counters: pairs("SELECT name, n FROM counters ORDER BY name COLLATE \"C\""),
        link_keys: pairs("SELECT key, link_id FROM link_keys ORDER BY key COLLATE \"C\", link_id"),
        links: client
            .query(
                "SELECT id, linear_key, search_rev FROM links ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    }
}

fn migrated() -> PgDb {
    migrate(fresh_db())
}

fn migrate(db: PgDb) -> PgDb {
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    pg::migrate_schema(&mut tx, &db.url).unwrap();
    tx.commit().unwrap();
    db
}

fn target(db: &PgDb) -> PgTarget {
    PgTarget::parse(&db.url, Some(db.password.clone())).unwrap()
}

#[test]
fn postgres_keeps_counters_and_link_keys_as_sqlite_does_before_and_after_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    drop(Store::open(&path, OpenMode::Create).unwrap());
    let sqlite = rusqlite::Connection::open(&path).unwrap();
    sqlite.pragma_update(None, "foreign_keys", true).unwrap();
    for sql in BEFORE_COPY {
        sqlite
            .execute(sql, [])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // Written through the triggers on a fresh PostgreSQL database, in a
    // locale whose lower() folds more than ASCII (SQLite's does not) ...
    let direct = migrate(fresh_db_in_locale("C.utf8"));
    let mut client = direct.client();
    let folded: String = client.query_one("SELECT lower('Ü')", &[]).unwrap().get(0);
    assert_eq!(
        folded, "ü",
        "C.utf8 should fold non-ASCII letters: the test needs such a locale"
    );
    for sql in BEFORE_COPY {
        client
            .execute(*sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(pg_derived(&mut client), sqlite_derived(&sqlite));

    // ... and copied by `store migrate`, then written on both sides.
    let copied = fresh_db();
    pg::copy_store(
        &Store::open(&path, OpenMode::Existing).unwrap(),
        &target(&copied),
    )
    .unwrap();
    let mut copy_client = copied.client();
    assert_eq!(pg_derived(&mut copy_client), sqlite_derived(&sqlite));
    for sql in AFTER_COPY {
        sqlite
            .execute(sql, [])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        for c in [&mut client, &mut copy_client] {
            c.execute(*sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let expected = sqlite_derived(&sqlite);
        assert_eq!(pg_derived(&mut client), expected, "after {sql}");
        assert_eq!(
            pg_derived(&mut copy_client),
            expected,
            "after {sql} (copied)"
        );
    }

    // The result is what the writes say, not merely the same on both sides.
    let got = sqlite_derived(&sqlite);
    let counters: Vec<(&str, i64)> = got.counters.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(
        counters,
        [
            ("conflicts.open", 1),
            ("jobs.cancelled", 0),
            ("jobs.dead", 1),
            ("jobs.failed", 0),
            ("jobs.queued", 1),
            ("jobs.running", 0),
            ("jobs.succeeded", 1),
            ("links", 3),
        ]
    );
    let keys: BTreeSet<(&str, i64)> = got
        .link_keys
        .iter()
        .map(|(k, l)| (k.as_str(), *l))
        .collect();
    let expected: BTreeSet<(&str, i64)> = [
        ("feedback.test/p/renamed", 1),
        ("postabcdef0123456789", 1),
        ("23456789", 1),
        ("lin-1", 1),
        ("eng-1", 1),
        ("linear.test/eng/issue/eng-1/dark-mode", 1),
        ("lin-404", 3),
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(
        got.links,
        [
            (1, Some("ENG-1".to_string()), 1),
            (3, None, 2),
            (4, None, 0)
        ],
        "a link moved to an issue without a record loses the key it was given, as on SQLite"
    );
}

#[test]
fn a_commit_by_another_connection_wakes_the_listener() {
    let db = migrated();
    let mut listener = ChangeListener::connect(&db.url, Some(db.password.clone())).unwrap();
    assert!(
        !listener.wait(Duration::ZERO).unwrap(),
        "nothing committed yet"
    );

    let writer = std::thread::spawn({
        let mut client = db.client();
        move || {
            client
                .execute(
                    "INSERT INTO events (at, level, target, message) VALUES (1, 'info', 't', 'm')",
                    &[],
                )
                .unwrap();
        }
    });
    let started = Instant::now();
    assert!(
        listener.wait(DELIVERY).unwrap(),
        "no wake-up within {DELIVERY:?}"
    );
    assert!(started.elapsed() < DELIVERY);
    writer.join().unwrap();
    assert!(!listener.wait(QUIET).unwrap(), "one commit, one wake-up");
}

/// Every notification on the channel up to and including the one carrying
/// `until` (a change counter value), from a plain LISTENing connection.
fn notifications_until(client: &mut postgres::Client, until: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + DELIVERY;
    let mut notes = client.notifications();
    while !seen.contains(&until) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = notes
            .timeout_iter(left)
            .next()
            .unwrap()
            .unwrap_or_else(|| panic!("no notification {until} within {DELIVERY:?}: {seen:?}"));
        assert_eq!(n.channel(), pg::CHANNEL);
        seen.push(n.payload().parse().unwrap());
    }
    seen
}

/// A migrated database, watched by a [`ChangeListener`] and by a plain
/// LISTENing connection, with a connection to write on and the change
/// counter before any write.
fn watched() -> (
    PgDb,
    ChangeListener,
    postgres::Client,
    postgres::Client,
    i64,
) {
    let db = migrated();
    let listener = ChangeListener::connect(&db.url, Some(db.password.clone())).unwrap();
    let mut raw = db.client();
    raw.batch_execute(&format!("LISTEN {}", pg::CHANNEL))
        .unwrap();
    let mut client = db.client();
    let before = pg::change_version(&mut client).unwrap();
    (db, listener, raw, client, before)
}

fn commit_marker(client: &mut postgres::Client) -> i64 {
    client
        .execute("INSERT INTO meta (key, value) VALUES ('marker', '1') ON CONFLICT (key) DO UPDATE SET value = meta.value || '1'", &[])
        .unwrap();
    pg::change_version(client).unwrap()
}

#[test]
fn a_rolled_back_write_wakes_nobody_and_counts_nothing() {
    let (_db, mut listener, mut raw, mut client, before) = watched();

    let mut tx = client.transaction().unwrap();
    tx.execute(
        "INSERT INTO links (client_id, state, created_at, updated_at) VALUES ('c', 'pending', 1, 1)",
        &[],
    )
    .unwrap();
    tx.rollback().unwrap();
    assert!(
        !listener.wait(QUIET).unwrap(),
        "a rollback woke the listener"
    );
    assert_eq!(pg::change_version(&mut client).unwrap(), before);

    // Notifications arrive in commit order: had the rollback notified, it
    // would come before the marker committed after it.
    let marker = commit_marker(&mut client);
    assert_eq!(marker, before + 1);
    assert_eq!(notifications_until(&mut raw, marker), [marker]);
    assert!(listener.wait(DELIVERY).unwrap());
}

#[test]
fn many_writes_in_one_transaction_are_one_wake_up() {
    let (_db, mut listener, mut raw, mut client, before) = watched();

    let mut tx = client.transaction().unwrap();
    for i in 0..40 {
        tx.execute(
            "INSERT INTO links (client_id, state, created_at, updated_at) VALUES ($1, 'pending', 1, 1)",
            &[&format!("c-{i}")],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO events (at, level, target, message) VALUES (1, 'info', 't', $1)",
            &[&format!("e-{i}")],
        )
        .unwrap();
    }
    tx.execute("UPDATE links SET title = 'x'", &[]).unwrap();
    tx.execute("DELETE FROM events", &[]).unwrap();
    // A savepoint rolled back after the first write keeps the transaction's
    // one notification.
    tx.batch_execute("SAVEPOINT s; UPDATE links SET title = 'y'; ROLLBACK TO SAVEPOINT s")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(pg::change_version(&mut client).unwrap(), before + 1);
    assert!(listener.wait(DELIVERY).unwrap());
    assert!(
        !listener.wait(QUIET).unwrap(),
        "one transaction woke the listener twice"
    );

    // A savepoint rolled back before any other write takes its mark with
    // it: the write after it still counts.
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SAVEPOINT s; UPDATE links SET title = 'y'; ROLLBACK TO SAVEPOINT s")
        .unwrap();
    tx.execute("UPDATE links SET title = 'z' WHERE client_id = 'c-0'", &[])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(pg::change_version(&mut client).unwrap(), before + 2);
    assert!(listener.wait(DELIVERY).unwrap());

    let marker = commit_marker(&mut client);
    assert_eq!(
        notifications_until(&mut raw, marker),
        [before + 1, before + 2, marker],
        "one notification per committing transaction"
    );
}

#[test]
fn the_change_counter_grows_with_each_changing_commit_and_never_with_reads() {
    let db = migrated();
    let mut a = db.client();
    let mut b = db.client();
    let v0 = pg::change_version(&mut a).unwrap();

    // Reads, a write matching no row, and writes to derived tables only.
    a.query("SELECT * FROM links", &[]).unwrap();
    a.query("SELECT * FROM counters", &[]).unwrap();
    a.execute("UPDATE jobs SET status = 'dead' WHERE id < 0", &[])
        .unwrap();
    a.execute("INSERT INTO link_keys (key, link_id) VALUES ('k', 1)", &[])
        .unwrap();
    assert_eq!(pg::change_version(&mut b).unwrap(), v0);

    // Each watched table counts, once per commit.
    let writes = [
        "INSERT INTO records (side, remote_id, title, fields, content_hash, seen_at) VALUES ('portal', 'p', '', '{}', 'h', 1)",
        "INSERT INTO links (portal_id, created_at, updated_at) VALUES ('p', 1, 1)",
        "INSERT INTO jobs (link_id, target, kind, payload, next_run_at, created_at, updated_at) VALUES (1, 'linear', 'create', '{}', 0, 1, 1)",
        "INSERT INTO job_attempts (job_id, attempt, started_at, duration_ms, outcome) VALUES (1, 1, 1, 1, 'ok')",
        "INSERT INTO conflicts (link_id, field, base_value, portal_value, linear_value, created_at) VALUES (1, 'f', 'a', 'b', 'c', 1)",
        "INSERT INTO mappings (version, document, created_by, created_at) VALUES (1, '', 'operator', 1)",
        "INSERT INTO audit (at, actor, action) VALUES (1, 'engine', 'write')",
        "INSERT INTO events (at, level, target, message) VALUES (1, 'warn', 't', 'm')",
        "INSERT INTO meta (key, value) VALUES ('k', 'v')",
        "INSERT INTO quota_samples (connector, kind, lim, remaining, sampled_at) VALUES ('linear', 'requests', 1, 1, 1)",
        "INSERT INTO inbox (source, delivery_id, event, received_at) VALUES ('linear', 'd', 'Issue', 1)",
        "UPDATE jobs SET status = 'running'",
        "DELETE FROM events",
    ];
    for (i, sql) in writes.iter().enumerate() {
        a.execute(*sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(
            pg::change_version(&mut b).unwrap(),
            v0 + i as i64 + 1,
            "after {sql}"
        );
    }
    let v1 = pg::change_version(&mut b).unwrap();

    // Two writers in flight at once both count; neither is seen before it
    // commits.
    let mut ta = a.transaction().unwrap();
    let mut tb = b.transaction().unwrap();
    ta.execute("UPDATE meta SET value = 'a'", &[]).unwrap();
    tb.execute(
        "INSERT INTO events (at, level, target, message) VALUES (2, 'info', 't', 'b')",
        &[],
    )
    .unwrap();
    let mut c = db.client();
    assert_eq!(pg::change_version(&mut c).unwrap(), v1);
    tb.commit().unwrap();
    assert_eq!(pg::change_version(&mut c).unwrap(), v1 + 1);
    ta.commit().unwrap();
    assert_eq!(pg::change_version(&mut c).unwrap(), v1 + 2);
}

#[test]
fn a_listener_with_a_wrong_password_fails_in_one_sentence() {
    let db = migrated();
    let err = ChangeListener::connect(&db.url, Some("not-the-password".into()))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot connect to PostgreSQL at {}: password authentication failed",
            db.url
        )),
        "{err}"
    );
    assert!(!err.contains("not-the-password"), "{err}");
}
