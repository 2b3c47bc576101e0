//! `store migrate`: every row of every SQLite table into an empty
//! PostgreSQL database, in one PostgreSQL transaction (schema included), by
//! binary COPY. The SQLite side is read in one read transaction, so a daemon
//! writing meanwhile cannot make the copy a mix of two moments.

use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use rusqlite::types::ValueRef;

use super::migrations::{LATEST, SEEDED};
use super::shape::{ColumnKind, TableShape, differences, pg_tables, sqlite_tables};
use super::{PgError, PgTarget, Result, doing, migrate_schema};
use crate::store::{Store, StoreError};

/// Rows copied into one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Rows copied (equal in both databases: verified before commit).
    pub rows: u64,
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The PostgreSQL schema version the rows landed in.
    pub schema_version: i64,
    /// Per table, by name.
    pub tables: Vec<TableCount>,
}

impl CopyReport {
    /// Rows copied in all.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Copy `source` into the database at `target`: migrate its schema, refuse
/// it if it already holds roundtrip data, copy every table, move each
/// identity past the copied ids, check every table's count, and commit all
/// of it at once. Any failure rolls everything back.
pub fn copy_store(source: &Store, target: &PgTarget) -> Result<CopyReport> {
    let mut client = target.connect()?;
    let mut tx = client
        .transaction()
        .map_err(doing("starting the transaction"))?;
    migrate_schema(&mut tx, target.url())?;
    // The triggers that derive `counters` and `link_keys` stand aside: those
    // rows are copied as SQLite holds them.
    tx.batch_execute("SET LOCAL roundtrip.copying = 'on'")
        .map_err(doing("pausing the derived-row triggers"))?;

    let read = source
        .sqlite_conn()?
        .unchecked_transaction()
        .map_err(StoreError::from)?;
    let sqlite = sqlite_tables(source)?;
    let pg = pg_tables(&mut tx)?;
    let drift = differences(&sqlite, &pg);
    if !drift.is_empty() {
        return Err(PgError::Drift(drift.join("; ")));
    }
    refuse_non_empty(&mut tx, &pg, target.url())?;
    for table in SEEDED {
        tx.batch_execute(&format!("DELETE FROM {}", ident(table)))
            .map_err(doing(format!("clearing {table}")))?;
    }

    let mut tables = Vec::new();
    for table in copy_order(source, &sqlite)? {
        let rows = copy_table(source, &mut tx, table)?;
        verify_count(source, &mut tx, &table.name, rows)?;
        tables.push(TableCount {
            table: table.name.clone(),
            rows,
        });
    }
    advance_identities(&mut tx)?;
    tx.commit().map_err(doing("committing the copy"))?;
    drop(read);
    // Rows that arrive by COPY leave the planner without statistics until
    // autovacuum gets round to them; the console's first queries on a
    // big store would be planned blind meanwhile.
    let names: Vec<String> = tables.iter().map(|t| ident(&t.table)).collect();
    if !names.is_empty() {
        client
            .batch_execute(&format!("ANALYZE {}", names.join(", ")))
            .map_err(doing("gathering the planner's statistics"))?;
    }
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(CopyReport {
        schema_version: LATEST,
        tables,
    })
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn refuse_non_empty(tx: &mut Transaction<'_>, pg: &[TableShape], url: &str) -> Result<()> {
    for t in pg.iter().filter(|t| !SEEDED.contains(&t.name.as_str())) {
        let has_rows: bool = tx
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", ident(&t.name)),
                &[],
            )
            .map_err(doing(format!("checking {} is empty", t.name)))?
            .get(0);
        if has_rows {
            return Err(PgError::NotEmpty {
                url: url.to_string(),
                table: t.name.clone(),
            });
        }
    }
    Ok(())
}

/// Parents before children, so every foreign key finds its row.
fn copy_order<'t>(source: &Store, tables: &'t [TableShape]) -> Result<Vec<&'t TableShape>> {
    let mut parents = Vec::new();
    for t in tables {
        let refs: Vec<String> = source
            .sqlite_conn()?
            .prepare("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")
            .and_then(|mut s| {
                s.query_map([&t.name], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(StoreError::from)?;
        parents.push((t, refs));
    }
    let mut done: Vec<&TableShape> = Vec::new();
    while done.len() < tables.len() {
        let ready: Vec<&TableShape> = parents
            .iter()
            .filter(|(t, _)| !done.iter().any(|d| d.name == t.name))
            .filter(|(t, refs)| {
                refs.iter()
                    .all(|r| *r == t.name || done.iter().any(|d| d.name == *r))
            })
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            return Err(PgError::Drift(
                "the foreign keys between the tables form a cycle".into(),
            ));
        }
        done.extend(ready);
    }
    Ok(done)
}

fn copy_table(source: &Store, tx: &mut Transaction<'_>, table: &TableShape) -> Result<u64> {
    let cols = table
        .columns
        .iter()
        .map(|c| ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let types = table
        .columns
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Integer => Ok(Type::INT8),
            ColumnKind::Text => Ok(Type::TEXT),
            ColumnKind::Other(ref other) => Err(PgError::Drift(format!(
                "column {}.{} has type {other}, which the copy does not know",
                table.name, c.name
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let copying = format!("copying {}", table.name);
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({cols}) FROM STDIN (FORMAT binary)",
            ident(&table.name)
        ))
        .map_err(doing(copying.clone()))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = source
        .sqlite_conn()?
        .prepare(&format!("SELECT {cols} FROM {}", ident(&table.name)))
        .map_err(StoreError::from)?;
    let mut rows = stmt.query([]).map_err(StoreError::from)?;
    let mut n = 0u64;
    while let Some(row) = rows.next().map_err(StoreError::from)? {
        let mut cells: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(table.columns.len());
        for (i, col) in table.columns.iter().enumerate() {
            let value = row.get_ref(i).map_err(StoreError::from)?;
            cells.push(cell(table, &col.name, &col.kind, value)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|c| c.as_ref()).collect();
        writer.write(&refs).map_err(doing(copying.clone()))?;
        n += 1;
    }
    writer.finish().map_err(doing(copying))?;
    Ok(n)
}

/// One SQLite value as the PostgreSQL column's type. SQLite keeps whatever
/// was stored; a value that does not fit is reported, never altered.
fn cell(
    table: &TableShape,
    column: &str,
    kind: &ColumnKind,
    value: ValueRef<'_>,
) -> Result<Box<dyn ToSql + Sync>> {
    let wrong = |found: &'static str| PgError::Value {
        table: table.name.clone(),
        column: column.to_string(),
        found,
        expected: if *kind == ColumnKind::Integer {
            "an integer"
        } else {
            "text"
        },
    };
    Ok(match (kind, value) {
        (ColumnKind::Integer, ValueRef::Null) => Box::new(None::<i64>),
        (ColumnKind::Integer, ValueRef::Integer(i)) => Box::new(Some(i)),
        (ColumnKind::Integer, ValueRef::Real(_)) => return Err(wrong("a real number")),
        (ColumnKind::Integer, ValueRef::Text(_)) => return Err(wrong("text")),
        (ColumnKind::Integer, ValueRef::Blob(_)) => return Err(wrong("a blob")),
        (_, ValueRef::Null) => Box::new(None::<String>),
        (_, ValueRef::Text(t)) => Box::new(Some(
            String::from_utf8(t.to_vec()).map_err(|_| wrong("text that is not UTF-8"))?,
        )),
        (_, ValueRef::Integer(i)) => Box::new(Some(i.to_string())),
        (_, ValueRef::Real(r)) => Box::new(Some(r.to_string())),
        (_, ValueRef::Blob(_)) => return Err(wrong("a blob")),
    })
}

fn verify_count(source: &Store, tx: &mut Transaction<'_>, table: &str, copied: u64) -> Result<()> {
    let in_source: i64 = source
        .sqlite_conn()?
        .query_row(&format!("SELECT count(*) FROM {}", ident(table)), [], |r| {
            r.get(0)
        })
        .map_err(StoreError::from)?;
    let stored: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {}", ident(table)), &[])
        .map_err(doing(format!("counting {table}")))?
        .get(0);
    for (what, n) in [("in SQLite", in_source), ("in PostgreSQL", stored)] {
        if u64::try_from(n).ok() != Some(copied) {
            return Err(PgError::CountMismatch {
                table: format!("{table} ({what})"),
                copied,
                stored: u64::try_from(n).unwrap_or(0),
            });
        }
    }
    Ok(())
}

/// Each identity column's next value is past the largest copied id, so the
/// first row PostgreSQL numbers itself does not collide.
fn advance_identities(tx: &mut Transaction<'_>) -> Result<()> {
    let identities = tx
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            &[],
        )
        .map_err(doing("listing identity columns"))?;
    for row in identities {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2),
                               COALESCE((SELECT max({c}) FROM {t}), 0) + 1, false)",
                c = ident(&column),
                t = ident(&table)
            ),
            &[&ident(&table), &column],
        )
        .map_err(doing(format!("advancing the ids of {table}")))?;
    }
    Ok(())
}
