//! Bring a PostgreSQL database to the schema this binary writes, inside the
//! caller's transaction, so a failed migration (or a failed copy after it)
//! leaves the database as it was.

use postgres::GenericClient;

use super::migrations::{LATEST, MIGRATIONS, VERSION_TABLE, VERSION_TABLE_DDL};
use super::{PgError, Result, doing};

/// Key of the transaction-scoped advisory lock that serialises migrators
/// (two replicas starting at once must not both create the tables).
const MIGRATION_LOCK: i64 = 0x726f_756e_6474_7270;

/// The schema version of the database (0 when roundtrip never migrated it).
pub fn schema_version(client: &mut impl GenericClient) -> Result<i64> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = current_schema() AND table_name = $1)",
            &[&VERSION_TABLE],
        )
        .map_err(doing("reading the schema version"))?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one(
            &format!("SELECT COALESCE(max(version), 0) FROM {VERSION_TABLE}"),
            &[],
        )
        .map_err(doing("reading the schema version"))?;
    Ok(row.get(0))
}

/// Apply every migration the database lacks and return the version found
/// before. A database at a newer version is refused, naming `url`. Run it
/// inside a transaction: the advisory lock is held until that commits.
pub fn migrate_schema(client: &mut impl GenericClient, url: &str) -> Result<i64> {
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(doing("waiting for the migration lock"))?;
    let found = schema_version(client)?;
    if found > LATEST {
        return Err(PgError::TooNew {
            url: url.to_string(),
            found,
            known: LATEST,
        });
    }
    client
        .batch_execute(VERSION_TABLE_DDL)
        .map_err(doing("creating the schema version table"))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = i as i64 + 1;
        client
            .batch_execute(sql)
            .map_err(doing(format!("migrating the schema to version {version}")))?;
        client
            .execute(
                &format!("INSERT INTO {VERSION_TABLE} (version) VALUES ($1)"),
                &[&version],
            )
            .map_err(doing("recording the schema version"))?;
    }
    Ok(found)
}
