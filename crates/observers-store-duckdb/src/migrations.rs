//! Numbered schema migrations, embedded in the binary and applied in order, once each.

use std::path::Path;

use duckdb::{params, Connection};

use crate::error::{Error, Result};

/// One migration: its number, name and SQL.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// All migrations, oldest first. Append only: never edit one that has shipped.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_openai_records",
        sql: include_str!("../migrations/0001_create_openai_records.sql"),
    },
    Migration {
        version: 2,
        name: "hub_sync_shards",
        sql: include_str!("../migrations/0002_hub_sync_shards.sql"),
    },
    Migration {
        version: 3,
        name: "usage_details_identity_trace",
        sql: include_str!("../migrations/0003_usage_details_identity_trace.sql"),
    },
    Migration { version: 4, name: "otlp_exports", sql: include_str!("../migrations/0004_otlp_exports.sql") },
    Migration {
        version: 5,
        name: "records_without_primary_key",
        sql: include_str!("../migrations/0005_records_without_primary_key.sql"),
    },
];

/// The schema version this library writes.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        params![name],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// Brings the database to the latest schema; returns how many migrations ran.
pub(crate) fn apply(conn: &mut Connection, path: &Path) -> Result<usize> {
    let has_versions = table_exists(conn, "schema_version")?;
    if !has_versions && table_exists(conn, "openai_records")? {
        return Err(Error::ForeignTable { path: path.to_path_buf() });
    }
    if !has_versions {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                migration_name VARCHAR NOT NULL,
                applied_at TIMESTAMP NOT NULL
            )",
        )?;
    }
    let current: i64 =
        conn.query_row("SELECT coalesce(max(version), 0) FROM schema_version", [], |row| row.get(0))?;
    if current > latest() {
        return Err(Error::SchemaTooNew { path: path.to_path_buf(), found: current, supported: latest() });
    }
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        // Said before, not only after: migration 5 copies every row, about 10 s per million.
        tracing::info!(version = migration.version, name = migration.name, "applying store migration");
        let failed = |source| Error::Migration { version: migration.version, name: migration.name, source };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_version VALUES (?, ?, ?)",
            params![migration.version, migration.name, chrono::Utc::now().naive_utc()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version = migration.version, name = migration.name, "applied store migration");
        applied += 1;
    }
    Ok(applied)
}
