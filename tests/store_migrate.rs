//! PostgreSQL's schema and `roundtrip store migrate` against a real
//! PostgreSQL server (see `support/pg.rs` for where it comes from): the
//! schema matches SQLite's table by table and column by column, and a copy
//! carries every row of every table, once, without ever showing a password.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod pg;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use roundtrip::domain::{
    Actor, AuditAction, ErrorClass, FieldValue, GroupKind, JobStatus, QuotaKind, QuotaSample,
    Record, Side,
};
use roundtrip::store::pg::{self, ColumnKind, TableShape};
use roundtrip::store::{
    ChangelogPost, CommentLink, Lane, Level, LinkBreaker, LinkState, NewAttempt, NewAudit,
    NewConflict, NewDelivery, NewJob, OpenMode, Resolution, Store, now_ms,
};
use roundtrip::sync::Placed;
use support::pg::{PgDb, fresh_db};

const PW_VAR: &str = "ROUNDTRIP_TEST_TARGET_PASSWORD";

fn bin() -> Command {
    let mut c = Command::cargo_bin("roundtrip").unwrap();
    c.env_remove("ROUNDTRIP_DB").env_remove("PGPASSWORD");
    c
}

/// `store migrate` from `db` into `target` with the right password;
/// (exit code, stdout, stderr).
fn migrate(db: &Path, target: &PgDb) -> (i32, String, String) {
    run(bin()
        .args(["store", "migrate", "--from"])
        .arg(db)
        .args(["--to", &target.url, "--password-env", PW_VAR])
        .env(PW_VAR, &target.password))
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn record(id: &str, key: Option<&str>, title: &str) -> Record {
    Record {
        remote_id: id.into(),
        identifier: key.map(Into::into),
        title: title.into(),
        description: format!("{title}, described with a quote ' and a tab\t."),
        status: "open".into(),
        url: Some(format!("https://example.test/p/{id}?ref=x")),
        votes: Some(3),
        ..Record::default()
    }
}

fn job(link: i64) -> NewJob {
    NewJob {
        link_id: Some(link),
        target: Side::Linear,
        kind: "update".parse().unwrap(),
        payload: r#"{"fields":{"title":{"kind":"text","value":"x"}}}"#.into(),
        reason: "title changed on the portal".into(),
        lane: Lane::Live,
        max_attempts: 3,
    }
}

fn attempt(class: Option<ErrorClass>, status: i64) -> NewAttempt {
    NewAttempt {
        started_at: now_ms(),
        duration_ms: 42,
        http_status: Some(status),
        error_class: class,
        message: class.map(|_| "bad gateway".to_string()),
        request_id: Some(format!("req-{status}")),
    }
}

/// A store with rows in every table, written through the store API.
fn filled_store(dir: &Path) -> PathBuf {
    let db = dir.join("rt.db");
    let mut store = Store::open(&db, OpenMode::Create).unwrap();
    store
        .write(|d| -> roundtrip::store::Result<()> {
            let mut links = Vec::new();
            for i in 0..6 {
                let base: BTreeMap<String, FieldValue> = [(
                    "title".to_string(),
                    FieldValue::Text(format!("Idée n°{i} ✓")),
                )]
                .into();
                d.upsert_record(Side::Portal, &record(&format!("p-{i}"), None, "Dark mode"))?;
                d.upsert_record(
                    Side::Linear,
                    &record(&format!("lin-{i}"), Some(&format!("ENG-{i}")), "Dark mode"),
                )?;
                links.push(d.insert_link(
                    Some(&format!("p-{i}")),
                    Some(&format!("lin-{i}")),
                    None,
                    LinkState::Active,
                    &format!("Idée n°{i} ✓"),
                    &base,
                )?);
            }
            d.insert_link(
                None,
                None,
                Some("client-7"),
                LinkState::Pending,
                "",
                &BTreeMap::new(),
            )?;
            d.insert_comment_link(&CommentLink {
                link_id: links[0],
                portal_comment_id: Some("pc-1".into()),
                linear_comment_id: Some("lc-1".into()),
                origin: Side::Portal,
            })?;
            for (n, &link) in links.iter().enumerate() {
                let j = d.insert_job(&job(link))?;
                d.record_attempt(
                    j,
                    &attempt(Some(ErrorClass::Server), 502),
                    JobStatus::Failed,
                    now_ms(),
                )?;
                if n % 2 == 0 {
                    d.record_attempt(j, &attempt(None, 200), JobStatus::Succeeded, now_ms())?;
                }
            }
            let conflict = |link: i64, field: &str| NewConflict {
                link_id: link,
                field: field.into(),
                base: FieldValue::Text("base".into()),
                portal: FieldValue::Text("portal".into()),
                linear: FieldValue::Text("linear".into()),
                portal_changed_at: Some(now_ms() - 60_000),
                linear_changed_at: None,
            };
            d.open_conflict(&conflict(links[0], "title"))?;
            let resolved = d.open_conflict(&conflict(links[1], "description"))?;
            d.resolve_conflict(
                resolved,
                &Resolution::Value(FieldValue::Text("merged".into())),
                Actor::Operator,
            )?;
            let mapping = roundtrip::sync::Mapping::default_canny_linear().to_toml();
            d.add_mapping_version(&mapping, Actor::BuiltIn, "built-in default")?;
            d.add_mapping_version(&mapping, Actor::Operator, "second")?;
            d.add_mapping_version(&mapping, Actor::Operator, "third")?;
            d.activate_mapping_version(2)?;
            d.append_audit(&NewAudit {
                link_id: Some(links[0]),
                side: Some(Side::Linear),
                field: Some("title".into()),
                before: Some("old".into()),
                after: Some("new".into()),
                reason: "title changed on the portal".into(),
                ..NewAudit::new(Actor::Engine, AuditAction::Write)
            })?;
            d.append_audit(&NewAudit::new(Actor::Operator, AuditAction::Resolve))?;
            for n in 0..3 {
                d.insert_delivery(&NewDelivery {
                    source: Side::Linear,
                    delivery_id: format!("dlv-{n}"),
                    event: "Issue".into(),
                    record_id: Some(format!("lin-{n}")),
                    removed: n == 2,
                    signed_digest: Some(format!("{n:064x}")),
                    evidence: (n == 0).then(|| r#"{"updatedFrom":{"title":"a"}}"#.to_string()),
                })?;
            }
            let first = d.pending_deliveries(1)?;
            d.mark_delivery_processed(first[0].id)?;
            d.log_event(Level::Warn, "engine", "linear answered 502")?;
            d.log_event(Level::Info, "engine", "reconcile finished")?;
            d.set_meta("portal.kind", "canny")?;
            d.set_meta("note", "multi\nline \\ value")?;
            d.record_refusal(
                links[2],
                Side::Portal,
                "status",
                &FieldValue::Text("x".into()),
                "no such status",
                None,
            )?;
            d.insert_write_receipt(
                Some(links[3]),
                Side::Linear,
                "lin-3",
                &BTreeMap::new(),
                &BTreeMap::new(),
            )?;
            d.save_link_breaker(&LinkBreaker {
                link_id: links[4],
                failures: 5,
                window_start: now_ms(),
                trips: 1,
                tripped_until: Some(now_ms() + 60_000),
                reason: "502 five times".into(),
            })?;
            d.set_link_route(
                links[5],
                &Placed {
                    route: "bugs".into(),
                    team: Some("PLAT".into()),
                    project: None,
                },
            )?;
            d.mark_unrouted("p-99", "Nobody's post", "no route matches")?;
            d.add_to_changelog(
                GroupKind::Cycle,
                "cycle-1",
                "Cycle 1",
                "bugs",
                "{}",
                &ChangelogPost {
                    portal_id: "p-5".into(),
                    title: "Idée n°5".into(),
                    url: None,
                },
                Some(links[5]),
            )?;
            d.record_quota(&QuotaSample {
                connector: Side::Linear,
                kind: QuotaKind::Requests,
                limit: 1500,
                remaining: 1400,
                reset_at: None,
                sampled_at: chrono::Utc::now(),
            })?;
            Ok(())
        })
        .unwrap();
    db
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
}

fn tables_of(db: &Path) -> Vec<TableShape> {
    pg::sqlite_tables(&Store::open(db, OpenMode::ReadOnly).unwrap()).unwrap()
}

fn cols(t: &TableShape) -> String {
    t.columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every row of `t` in the SQLite file, sorted.
fn sqlite_rows(db: &Path, t: &TableShape) -> Vec<Vec<Cell>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT {} FROM \"{}\"", cols(t), t.name))
        .unwrap();
    let mut rows: Vec<Vec<Cell>> = stmt
        .query_map([], |r| {
            Ok((0..t.columns.len())
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Text(s) => {
                        Cell::Text(String::from_utf8(s.to_vec()).unwrap())
                    }
                    other => panic!("{}: unexpected value {other:?}", t.name),
                })
                .collect())
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows.sort();
    rows
}

/// Every row of `t` in PostgreSQL, sorted.
fn pg_rows(client: &mut postgres::Client, t: &TableShape) -> Vec<Vec<Cell>> {
    let mut rows: Vec<Vec<Cell>> = client
        .query(&format!("SELECT {} FROM \"{}\"", cols(t), t.name), &[])
        .unwrap()
        .iter()
        .map(|r| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, c)| match c.kind {
                    ColumnKind::Integer => r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                    _ => r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text),
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

fn all_pg_rows(target: &PgDb, tables: &[TableShape]) -> BTreeMap<String, Vec<Vec<Cell>>> {
    let mut client = target.client();
    tables
        .iter()
        .map(|t| (t.name.clone(), pg_rows(&mut client, t)))
        .collect()
}

#[test]
fn postgres_schema_has_every_sqlite_table_and_column() {
    let store = Store::open_in_memory().unwrap();
    let sqlite = pg::sqlite_tables(&store).unwrap();
    let target = fresh_db();
    let mut client = target.client();
    let mut tx = client.transaction().unwrap();
    assert_eq!(pg::migrate_schema(&mut tx, &target.url).unwrap(), 0);
    tx.commit().unwrap();
    let pg_tables = pg::pg_tables(&mut client).unwrap();

    assert_eq!(
        pg::migrations::LATEST,
        roundtrip::store::migrations::LATEST,
        "every SQLite migration needs its PostgreSQL twin in src/store/pg/migrations.rs"
    );
    let diff = pg::differences(&sqlite, &pg_tables);
    assert!(diff.is_empty(), "schemas drifted:\n{}", diff.join("\n"));
    let names = |ts: &[TableShape]| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&sqlite), names(&pg_tables));
    assert!(names(&sqlite).contains(&"changelog_posts".to_string()));
    assert!(
        !names(&sqlite).iter().any(|n| n.starts_with("links_fts")),
        "FTS5 tables are derived and left out"
    );

    // Indexes, unique keys and foreign keys (with their ON DELETE) too.
    let sqlite_keys = pg::sqlite_keys(&store, &sqlite).unwrap();
    let pg_keys = pg::pg_keys(&mut client).unwrap();
    let diff = pg::key_differences(&sqlite_keys, &pg_keys);
    assert!(diff.is_empty(), "keys drifted:\n{}", diff.join("\n"));
    assert!(sqlite_keys.indexes.len() > 20, "{:?}", sqlite_keys.indexes);
    assert!(
        sqlite_keys
            .uniques
            .iter()
            .any(|u| u.table == "records" && u.columns == ["side", "remote_id"])
    );
    assert!(
        sqlite_keys
            .foreign
            .iter()
            .any(|f| f.table == "jobs" && f.parent == "links" && f.on_delete == "SET NULL")
    );

    // Every SQLite trigger has its twin on the same table, every table its
    // change trigger (the derived ones excepted).
    let sqlite_triggers = pg::sqlite_triggers(&store).unwrap();
    let pg_triggers = pg::pg_triggers(&mut client).unwrap();
    let diff = pg::trigger_differences(&sqlite_triggers, &pg_triggers, &pg_tables);
    assert!(diff.is_empty(), "triggers drifted:\n{}", diff.join("\n"));
    for table in ["links", "jobs", "conflicts", "records"] {
        assert!(
            sqlite_triggers.iter().any(|t| t.table == table),
            "no SQLite trigger on {table}: {sqlite_triggers:?}"
        );
    }
    let mut grown = sqlite_triggers.clone();
    grown.insert(pg::Trigger {
        table: "jobs".into(),
        name: "jobs_touch".into(),
    });
    let mut unwatched = pg_triggers.clone();
    unwatched.retain(|t| t.name != "events_changed");
    unwatched.insert(pg::Trigger {
        table: "links".into(),
        name: "links_extra".into(),
    });
    assert_eq!(
        pg::trigger_differences(&grown, &unwatched, &pg_tables),
        [
            "SQLite trigger jobs_touch on jobs has no PostgreSQL twin",
            "PostgreSQL trigger links_extra on links exists only in PostgreSQL",
            "table events has no change trigger (events_changed) in PostgreSQL",
        ]
    );

    // The comparison notices a column SQLite gained without its twin.
    let mut grown = sqlite.clone();
    grown[0].columns.push(pg::Column {
        name: "added_later".into(),
        kind: ColumnKind::Integer,
        not_null: false,
    });
    let diff = pg::differences(&grown, &pg_tables);
    assert_eq!(
        diff,
        vec![format!(
            "column {}.added_later is missing in PostgreSQL",
            grown[0].name
        )]
    );

    // Migrating again changes nothing; a newer schema is refused in one sentence.
    let mut tx = client.transaction().unwrap();
    assert_eq!(
        pg::migrate_schema(&mut tx, &target.url).unwrap(),
        pg::migrations::LATEST
    );
    tx.execute("INSERT INTO roundtrip_schema (version) VALUES (99)", &[])
        .unwrap();
    let err = pg::migrate_schema(&mut tx, &target.url)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "the PostgreSQL store at {} has schema version 99, newer than this roundtrip understands ({}); upgrade roundtrip",
            target.url,
            pg::migrations::LATEST
        )
    );
}

#[test]
fn migrate_copies_every_row_of_every_table_and_prints_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_store(dir.path());
    let tables = tables_of(&db);
    let empty: Vec<&str> = tables
        .iter()
        .filter(|t| sqlite_rows(&db, t).is_empty())
        .map(|t| t.name.as_str())
        .collect();
    assert!(
        empty.is_empty(),
        "the fixture leaves tables empty: {empty:?}"
    );
    let target = fresh_db();

    let (code, stdout, stderr) = migrate(&db, &target);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.starts_with(&format!(
            "Copied {} into {} (schema version {}):\n",
            db.display(),
            target.url,
            pg::migrations::LATEST
        )),
        "{stdout}"
    );
    let mut total = 0;
    for t in &tables {
        let rows = sqlite_rows(&db, t);
        total += rows.len();
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(t.name.as_str()))
            .unwrap_or_else(|| panic!("no summary line for {}: {stdout}", t.name));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(rows.len().to_string().as_str()),
            "{line}"
        );
        let mut client = target.client();
        assert_eq!(pg_rows(&mut client, t), rows, "rows of {} differ", t.name);
    }
    let last = stdout.lines().last().unwrap();
    assert!(
        last.split_whitespace().collect::<Vec<_>>()[..6]
            == [
                "total",
                &total.to_string(),
                "rows",
                "in",
                &tables.len().to_string(),
                "tables,"
            ],
        "{last}"
    );

    // Ids PostgreSQL numbers itself come after the copied ones.
    let mut client = target.client();
    let max: i64 = client
        .query_one("SELECT max(id) FROM links", &[])
        .unwrap()
        .get(0);
    let next: i64 = client
        .query_one(
            "INSERT INTO links (client_id, created_at, updated_at) VALUES ('new', 0, 0) RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(next, max + 1);
}

#[test]
fn a_second_migrate_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_store(dir.path());
    let tables = tables_of(&db);
    let target = fresh_db();
    let (code, _, stderr) = migrate(&db, &target);
    assert_eq!(code, 0, "{stderr}");
    let before = all_pg_rows(&target, &tables);

    {
        let mut store = Store::open(&db, OpenMode::Existing).unwrap();
        store
            .write(|d| d.log_event(Level::Info, "engine", "written after the copy"))
            .unwrap();
    }
    let (code, stdout, stderr) = migrate(&db, &target);
    assert_eq!(code, 1, "stdout: {stdout}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "roundtrip: error: the PostgreSQL database at {} already holds roundtrip data (table audit has rows); migrate into an empty database",
            target.url
        )
    );
    assert_eq!(all_pg_rows(&target, &tables), before);
}

#[test]
fn a_missing_or_unreadable_source_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&missing)
        .args(["--to", "postgres://rt@127.0.0.1:1/rt"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "roundtrip: error: no store at {}",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(!missing.exists());

    let garbage = dir.path().join("notes.txt");
    std::fs::write(
        &garbage,
        "not a database, just some text that is long enough",
    )
    .unwrap();
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&garbage)
        .args(["--to", "postgres://rt@127.0.0.1:1/rt"]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "roundtrip: error: {} is not a roundtrip store (not a SQLite database)",
            garbage.display()
        )
    );
}

#[test]
fn a_wrong_password_fails_in_one_sentence_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_store(dir.path());
    let target = fresh_db();

    let secret = "Wr0ng-Secret-4711";
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&db)
        .args(["--to", &target.url, "--password-env", PW_VAR])
        .env(PW_VAR, secret));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "roundtrip: error: cannot connect to PostgreSQL at {}: password authentication failed",
            target.url
        )),
        "{stderr}"
    );

    // Inside the URL (and from PGPASSWORD) it is never shown either.
    let mut in_url = url::Url::parse(&target.url).unwrap();
    in_url.set_password(Some(secret)).unwrap();
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&db)
        .args(["--to", in_url.as_str()]));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(stderr.contains(":***@"), "{stderr}");
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&db)
        .args(["--to", &target.url])
        .env("PGPASSWORD", secret));
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");

    // An unset --password-env variable is a usage error that names it.
    let (code, _, stderr) = run(bin().args(["store", "migrate", "--from"]).arg(&db).args([
        "--to",
        &target.url,
        "--password-env",
        "RT_NO_SUCH_VAR",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("RT_NO_SUCH_VAR"), "{stderr}");

    // Nothing reached the database.
    let mut client = target.client();
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn an_unreachable_server_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_store(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://rt@127.0.0.1:{port}/rt");
    let (code, _, stderr) = run(bin()
        .args(["store", "migrate", "--from"])
        .arg(&db)
        .args(["--to", &url])
        .env("PGPASSWORD", "pw"));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "roundtrip: error: cannot connect to PostgreSQL at {url}: "
        )),
        "{stderr}"
    );
}

#[test]
fn store_migrate_has_help() {
    let (code, stdout, _) = run(bin().args(["store", "migrate", "--help"]));
    assert_eq!(code, 0);
    for flag in ["--from", "--to", "--password-env"] {
        assert!(stdout.contains(flag), "{stdout}");
    }
}

#[test]
fn a_value_postgres_cannot_hold_stops_the_copy_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = filled_store(dir.path());
    // SQLite keeps text in an INTEGER column when it does not look like a number.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE events SET at = 'yesterday' WHERE id = 1", [])
        .unwrap();
    let target = fresh_db();
    let (code, stdout, stderr) = migrate(&db, &target);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stderr.trim_end(),
        "roundtrip: error: events.at holds text where PostgreSQL expects an integer"
    );
    let n: i64 = target
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        n, 0,
        "the schema and the tables copied before were rolled back"
    );
}
