//! Indexes, unique keys and foreign keys of both backends, described the
//! same way, so the drift test also catches an index or a constraint that a
//! SQLite migration added without its PostgreSQL twin.

use std::collections::BTreeSet;

use postgres::GenericClient;

use super::migrations::{PG_ONLY_INDEXES, not_compared};
use super::shape::TableShape;
use super::{Result, doing};
use crate::store::{Store, StoreError};

/// A named index (`CREATE INDEX`), compared by name, table, uniqueness and
/// whether it is partial (its columns may be expressions on one side).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamedIndex {
    /// Its name.
    pub name: String,
    /// Its table.
    pub table: String,
    /// UNIQUE.
    pub unique: bool,
    /// Has a WHERE clause.
    pub partial: bool,
}

/// A `UNIQUE (…)` constraint of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UniqueKey {
    /// Its table.
    pub table: String,
    /// Its columns in order.
    pub columns: Vec<String>,
}

/// A `REFERENCES` constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForeignKey {
    /// The referring table.
    pub table: String,
    /// Its columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub parent: String,
    /// The referenced columns.
    pub parent_columns: Vec<String>,
    /// `NO ACTION`, `CASCADE`, `SET NULL`, …
    pub on_delete: String,
}

/// Everything about a schema's keys the drift test compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Named indexes.
    pub indexes: BTreeSet<NamedIndex>,
    /// Unique constraints.
    pub uniques: BTreeSet<UniqueKey>,
    /// Foreign keys.
    pub foreign: BTreeSet<ForeignKey>,
}

/// The keys of the SQLite store's ordinary `tables` (from
/// [`super::sqlite_tables`]).
pub fn sqlite_keys(store: &Store, tables: &[TableShape]) -> Result<Keys, StoreError> {
    let conn = store.sqlite_conn()?;
    let mut keys = Keys::default();
    for t in tables {
        let indexes: Vec<(String, bool, String, bool)> = conn
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")?
            .query_map([&t.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (name, unique, origin, partial) in indexes {
            match origin.as_str() {
                "c" => {
                    keys.indexes.insert(NamedIndex {
                        name,
                        table: t.name.clone(),
                        unique,
                        partial,
                    });
                }
                "u" => {
                    let columns = conn
                        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
                        .query_map([&name], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    keys.uniques.insert(UniqueKey {
                        table: t.name.clone(),
                        columns,
                    });
                }
                _ => {}
            }
        }
        let fks: Vec<(i64, String, String, String, String)> = conn
            .prepare(
                "SELECT id, \"table\", \"from\", \"to\", on_delete
                 FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )?
            .query_map([&t.name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut current: Option<(i64, ForeignKey)> = None;
        for (id, parent, from, to, on_delete) in fks {
            match &mut current {
                Some((cid, fk)) if *cid == id => {
                    fk.columns.push(from);
                    fk.parent_columns.push(to);
                }
                _ => {
                    if let Some((_, fk)) = current.take() {
                        keys.foreign.insert(fk);
                    }
                    current = Some((
                        id,
                        ForeignKey {
                            table: t.name.clone(),
                            columns: vec![from],
                            parent,
                            parent_columns: vec![to],
                            on_delete,
                        },
                    ));
                }
            }
        }
        if let Some((_, fk)) = current {
            keys.foreign.insert(fk);
        }
    }
    Ok(keys)
}

/// The keys of the PostgreSQL database's current schema, without those of
/// the version table and the PostgreSQL-only tables, and without the
/// indexes only PostgreSQL has.
pub fn pg_keys(client: &mut impl GenericClient) -> Result<Keys> {
    let mut keys = Keys::default();
    let rows = client
        .query(
            "SELECT i.relname::text, t.relname::text, x.indisunique, x.indpred IS NOT NULL,
                    c.contype::text,
                    ARRAY(SELECT a.attname::text
                          FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, ord)
                          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                          ORDER BY k.ord)
             FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
                                      AND c.contype IN ('p', 'u')
             WHERE n.nspname = current_schema() AND NOT (t.relname = ANY($1))",
            &[&not_compared()],
        )
        .map_err(doing("reading the PostgreSQL indexes"))?;
    for r in rows {
        let name: String = r.get(0);
        match r.get::<_, Option<String>>(4).as_deref() {
            Some("p") => {}
            Some(_) => {
                keys.uniques.insert(UniqueKey {
                    table: r.get(1),
                    columns: r.get(5),
                });
            }
            None if PG_ONLY_INDEXES.contains(&name.as_str()) => {}
            None => {
                keys.indexes.insert(NamedIndex {
                    name,
                    table: r.get(1),
                    unique: r.get(2),
                    partial: r.get(3),
                });
            }
        }
    }
    let rows = client
        .query(
            "SELECT t.relname::text, r.relname::text, c.confdeltype::text,
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                          ORDER BY k.ord),
                    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                          ORDER BY k.ord)
             FROM pg_constraint c
             JOIN pg_class t ON t.oid = c.conrelid
             JOIN pg_class r ON r.oid = c.confrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE c.contype = 'f' AND n.nspname = current_schema()
               AND NOT (t.relname = ANY($1))",
            &[&not_compared()],
        )
        .map_err(doing("reading the PostgreSQL foreign keys"))?;
    for r in rows {
        let on_delete = match r.get::<_, String>(2).as_str() {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        };
        keys.foreign.insert(ForeignKey {
            table: r.get(0),
            parent: r.get(1),
            on_delete: on_delete.to_string(),
            columns: r.get(3),
            parent_columns: r.get(4),
        });
    }
    Ok(keys)
}

/// Every key one side has and the other lacks, one sentence each.
pub fn key_differences(sqlite: &Keys, pg: &Keys) -> Vec<String> {
    fn one_way<T: Ord + std::fmt::Debug>(
        a: &BTreeSet<T>,
        b: &BTreeSet<T>,
        what: &str,
        only: &str,
    ) -> Vec<String> {
        a.difference(b)
            .map(|k| format!("{what} {k:?} exists only in {only}"))
            .collect()
    }
    let mut out = Vec::new();
    out.extend(one_way(&sqlite.indexes, &pg.indexes, "index", "SQLite"));
    out.extend(one_way(&pg.indexes, &sqlite.indexes, "index", "PostgreSQL"));
    out.extend(one_way(
        &sqlite.uniques,
        &pg.uniques,
        "unique key",
        "SQLite",
    ));
    out.extend(one_way(
        &pg.uniques,
        &sqlite.uniques,
        "unique key",
        "PostgreSQL",
    ));
    out.extend(one_way(
        &sqlite.foreign,
        &pg.foreign,
        "foreign key",
        "SQLite",
    ));
    out.extend(one_way(
        &pg.foreign,
        &sqlite.foreign,
        "foreign key",
        "PostgreSQL",
    ));
    out
}
