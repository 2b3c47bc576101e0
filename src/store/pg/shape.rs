//! The tables and columns of both backends, described the same way: the
//! copy reads columns by these names, and the drift test compares the two
//! so a SQLite migration without its PostgreSQL twin fails the suite.

use postgres::GenericClient;

use super::migrations::not_compared;
use super::{Result, doing};
use crate::store::{Store, StoreError};

/// What a column holds, as far as the copy is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// SQLite `INTEGER`, PostgreSQL `bigint`.
    Integer,
    /// SQLite `TEXT`, PostgreSQL `text`.
    Text,
    /// Anything else, by its declared name (the schema has none today).
    Other(String),
}

impl ColumnKind {
    fn from_sqlite(decl: &str) -> ColumnKind {
        match decl.to_ascii_uppercase().as_str() {
            "INTEGER" => ColumnKind::Integer,
            "TEXT" => ColumnKind::Text,
            other => ColumnKind::Other(other.to_string()),
        }
    }

    fn from_pg(data_type: &str) -> ColumnKind {
        match data_type {
            "bigint" => ColumnKind::Integer,
            "text" => ColumnKind::Text,
            other => ColumnKind::Other(other.to_string()),
        }
    }

    /// Name for messages.
    pub fn name(&self) -> &str {
        match self {
            ColumnKind::Integer => "an integer",
            ColumnKind::Text => "text",
            ColumnKind::Other(n) => n,
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ColumnKind,
    /// Whether NULL is refused (a primary key column counts as NOT NULL).
    pub not_null: bool,
}

/// One table with its columns in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    /// Its name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<Column>,
}

/// The SQLite store's ordinary tables by name: SQLite's own tables and
/// full-text tables (virtual tables and their shadow tables: derived data)
/// are left out.
pub fn sqlite_tables(store: &Store) -> Result<Vec<TableShape>, StoreError> {
    let conn = store.sqlite_conn()?;
    let virtual_tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut tables = Vec::new();
    for name in names {
        let derived = virtual_tables
            .iter()
            .any(|v| name == *v || name.starts_with(&format!("{v}_")));
        if derived {
            continue;
        }
        let columns = conn
            .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([&name], |r| {
                let decl: String = r.get(1)?;
                Ok(Column {
                    name: r.get(0)?,
                    kind: ColumnKind::from_sqlite(&decl),
                    not_null: r.get::<_, bool>(2)? || r.get::<_, i64>(3)? > 0,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        tables.push(TableShape { name, columns });
    }
    Ok(tables)
}

/// The PostgreSQL database's tables in the current schema by name, without
/// the version table (PostgreSQL's stand-in for `PRAGMA user_version`), the
/// change counter (its stand-in for `PRAGMA data_version`) and the tables
/// only PostgreSQL has.
pub fn pg_tables(client: &mut impl GenericClient) -> Result<Vec<TableShape>> {
    let rows = client
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable = 'NO'
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
               AND NOT (c.table_name = ANY($1))
             ORDER BY c.table_name, c.ordinal_position",
            &[&not_compared()],
        )
        .map_err(doing("reading the PostgreSQL schema"))?;
    let mut tables: Vec<TableShape> = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let column = Column {
            name: row.get(1),
            kind: ColumnKind::from_pg(row.get(2)),
            not_null: row.get(3),
        };
        match tables.last_mut() {
            Some(t) if t.name == table => t.columns.push(column),
            _ => tables.push(TableShape {
                name: table,
                columns: vec![column],
            }),
        }
    }
    Ok(tables)
}

/// Every way the PostgreSQL tables differ from the SQLite ones, one
/// sentence each: a table or column missing on either side, or a column
/// whose kind or nullability differs. Empty when the schemas agree.
pub fn differences(sqlite: &[TableShape], pg: &[TableShape]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sqlite {
        let Some(p) = pg.iter().find(|p| p.name == s.name) else {
            out.push(format!("table {} is missing in PostgreSQL", s.name));
            continue;
        };
        for sc in &s.columns {
            match p.columns.iter().find(|pc| pc.name == sc.name) {
                None => out.push(format!(
                    "column {}.{} is missing in PostgreSQL",
                    s.name, sc.name
                )),
                Some(pc) if pc.kind != sc.kind => out.push(format!(
                    "column {}.{} is {} in SQLite but {} in PostgreSQL",
                    s.name,
                    sc.name,
                    sc.kind.name(),
                    pc.kind.name()
                )),
                Some(pc) if pc.not_null != sc.not_null => out.push(format!(
                    "column {}.{} is {} in SQLite but {} in PostgreSQL",
                    s.name,
                    sc.name,
                    nullability(sc.not_null),
                    nullability(pc.not_null)
                )),
                Some(_) => {}
            }
        }
        for pc in &p.columns {
            if !s.columns.iter().any(|sc| sc.name == pc.name) {
                out.push(format!(
                    "column {}.{} exists only in PostgreSQL",
                    s.name, pc.name
                ));
            }
        }
    }
    for p in pg {
        if !sqlite.iter().any(|s| s.name == p.name) {
            out.push(format!("table {} exists only in PostgreSQL", p.name));
        }
    }
    out
}

fn nullability(not_null: bool) -> &'static str {
    if not_null { "NOT NULL" } else { "nullable" }
}
