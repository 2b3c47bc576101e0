//! The triggers of both backends, so a SQLite trigger without its
//! PostgreSQL twin fails the drift test as a missing column does. Twins
//! share the trigger's name and table; what each does is proven by the
//! parity test that drives the same writes through both
//! (`tests/store_pg_triggers.rs`).

use std::collections::BTreeSet;

use postgres::GenericClient;

use super::shape::TableShape;
use super::{Result, doing};
use crate::store::{Store, StoreError};

/// SQLite triggers with no PostgreSQL twin, and why: these keep the FTS5
/// table `links_fts`, whose PostgreSQL equivalent is the expression index
/// `links_title_words`, kept by PostgreSQL itself.
pub const SQLITE_ONLY_TRIGGERS: &[&str] = &["links_fts_ins", "links_fts_del", "links_fts_upd"];

/// PostgreSQL triggers with no SQLite twin besides the `<table>_changed`
/// change triggers: `link_keys_linear_key` sets `links.linear_key` on the
/// row being written, where SQLite's `link_keys_*` triggers update it
/// afterwards (PostgreSQL triggers fire recursively, SQLite's do not).
pub const PG_ONLY_TRIGGERS: &[&str] = &["link_keys_linear_key"];

/// Tables whose rows only triggers write: they change only together with a
/// watched table, so they carry no change trigger of their own.
pub const DERIVED_TABLES: &[&str] = &["counters", "link_keys"];

/// The suffix of the change trigger every other table has.
pub const CHANGE_TRIGGER_SUFFIX: &str = "_changed";

/// One trigger by table and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Trigger {
    /// The table it fires on.
    pub table: String,
    /// Its name.
    pub name: String,
}

/// The SQLite store's triggers.
pub fn sqlite_triggers(store: &Store) -> Result<BTreeSet<Trigger>, StoreError> {
    let triggers = store
        .sqlite_conn()?
        .prepare("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")?
        .query_map([], |r| {
            Ok(Trigger {
                table: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(triggers)
}

/// The PostgreSQL database's own triggers in the current schema (not the
/// ones PostgreSQL makes for foreign keys).
pub fn pg_triggers(client: &mut impl GenericClient) -> Result<BTreeSet<Trigger>> {
    let rows = client
        .query(
            "SELECT c.relname::text, t.tgname::text
             FROM pg_trigger t
             JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND NOT t.tgisinternal",
            &[],
        )
        .map_err(doing("reading the PostgreSQL triggers"))?;
    Ok(rows
        .iter()
        .map(|r| Trigger {
            table: r.get(0),
            name: r.get(1),
        })
        .collect())
}

/// Every way the triggers disagree, one sentence each: a SQLite trigger
/// without its twin, a PostgreSQL trigger SQLite does not have, or a table
/// of `pg_tables` (not derived) without its change trigger. Empty when
/// they agree.
pub fn trigger_differences(
    sqlite: &BTreeSet<Trigger>,
    pg: &BTreeSet<Trigger>,
    pg_tables: &[TableShape],
) -> Vec<String> {
    let mut out = Vec::new();
    for s in sqlite {
        if !SQLITE_ONLY_TRIGGERS.contains(&s.name.as_str()) && !pg.contains(s) {
            out.push(format!(
                "SQLite trigger {} on {} has no PostgreSQL twin",
                s.name, s.table
            ));
        }
    }
    for p in pg {
        let change_trigger = p.name == format!("{}{CHANGE_TRIGGER_SUFFIX}", p.table);
        if !sqlite.contains(p) && !change_trigger && !PG_ONLY_TRIGGERS.contains(&p.name.as_str()) {
            out.push(format!(
                "PostgreSQL trigger {} on {} exists only in PostgreSQL",
                p.name, p.table
            ));
        }
    }
    for t in pg_tables {
        let name = format!("{}{CHANGE_TRIGGER_SUFFIX}", t.name);
        let watched = pg.iter().any(|p| p.table == t.name && p.name == name);
        if !watched && !DERIVED_TABLES.contains(&t.name.as_str()) {
            out.push(format!(
                "table {} has no change trigger ({name}) in PostgreSQL",
                t.name
            ));
        }
    }
    out
}
