//! File-level behaviour: migrations, locks, damaged files, and the `duckdb` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use observers_core::serde_json::value::RawValue;
use observers_core::{ChatCompletionRecord, Message, Store};
use observers_store_duckdb::{DuckDbStore, Error};
use observers_testkit::tools;

fn duckdb_sql(path: &Path, sql: &str) -> Vec<String> {
    // A plain DuckDB connection, as a user's own tool would open the file.
    let conn = duckdb::Connection::open(path).unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    let rows = statement.query_map([], |row| row.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[tokio::test]
async fn migrations_run_once_and_reopening_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    for _ in 0..3 {
        let store = DuckDbStore::open(&path).unwrap();
        store.close().await.unwrap();
    }
    let versions =
        duckdb_sql(&path, "SELECT version || ':' || migration_name FROM schema_version ORDER BY version");
    assert_eq!(
        versions,
        [
            "1:create_openai_records",
            "2:hub_sync_shards",
            "3:usage_details_identity_trace",
            "4:otlp_exports",
            "5:records_without_primary_key"
        ]
    );
}

/// A store written by the previous version (schema 2) opens: the new columns are added, its
/// rows read them as NULL, and new rows fill them.
#[tokio::test]
async fn a_store_of_the_previous_schema_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/0001_create_openai_records.sql")).unwrap();
        conn.execute_batch(include_str!("../migrations/0002_hub_sync_shards.sql")).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, migration_name VARCHAR NOT NULL,
                                          applied_at TIMESTAMP NOT NULL);
             INSERT INTO schema_version VALUES (1, 'create_openai_records', now()::TIMESTAMP),
                                               (2, 'hub_sync_shards', now()::TIMESTAMP);
             INSERT INTO openai_records (id, model, timestamp, total_tokens)
             VALUES ('0190a0c0-0000-7000-8000-000000000001', 'old-model', now()::TIMESTAMP, 7);",
        )
        .unwrap();
    }
    let store = DuckDbStore::open(&path).unwrap();
    let mut record = observers_core::ChatCompletionRecord::new("new-model");
    record.cached_tokens = Some(3);
    record.cost_usd = Some(0.25);
    record.user_id = Some("u-1".into());
    record.trace_id = Some("0af7651916cd43dd8448eb211c80319c".into());
    store.add(record.clone()).await.unwrap();
    let rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    let old = rows.iter().find(|r| r.model.as_deref() == Some("old-model")).unwrap();
    assert_eq!(old.total_tokens, Some(7));
    assert_eq!((old.cached_tokens, old.cost_usd, old.user_id.as_deref()), (None, None, None));
    let new = rows.iter().find(|r| r.id == record.id).unwrap();
    assert_eq!(serde_json::to_value(new).unwrap(), serde_json::to_value(&record).unwrap());
    store.close().await.unwrap();
    // The upgraded table has no primary key (an index DuckDB rewrites at every checkpoint),
    // and still refuses a row without an id or a timestamp.
    let constraints = duckdb_sql(
        &path,
        "SELECT constraint_type || ':' || list_string_agg(constraint_column_names) FROM duckdb_constraints()
         WHERE table_name = 'openai_records' GROUP BY ALL ORDER BY 1",
    );
    assert_eq!(constraints, ["NOT NULL:id", "NOT NULL:timestamp"]);
}

#[tokio::test]
async fn the_table_matches_the_core_schema_column_by_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    DuckDbStore::open(&path).unwrap().close().await.unwrap();
    let described = duckdb_sql(
        &path,
        "SELECT column_name || ' ' || data_type FROM information_schema.columns \
         WHERE table_name = 'openai_records' ORDER BY ordinal_position",
    );
    // DuckDB quotes struct fields that are keywords (`"role"`); compare without quotes.
    let described: Vec<String> = described.iter().map(|d| d.replace('"', "")).collect();
    let expected: Vec<String> = observers_core::schema()
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), duckdb_type(f)))
        .collect();
    assert_eq!(described, expected);
}

/// The DuckDB type each Arrow field of the core schema must have in `openai_records`.
fn duckdb_type(field: &observers_core::arrow::datatypes::Field) -> String {
    use observers_core::arrow::datatypes::DataType;
    if observers_core::schema::is_json(field) {
        return "JSON".into();
    }
    match field.data_type() {
        DataType::Utf8 => "VARCHAR".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::List(item) => match item.data_type() {
            DataType::Struct(fields) => {
                let inner: Vec<String> =
                    fields.iter().map(|f| format!("{} {}", f.name(), duckdb_type(f))).collect();
                format!("STRUCT({})[]", inner.join(", "))
            }
            _ => format!("{}[]", duckdb_type(item)),
        },
        other => panic!("no DuckDB type for {other}"),
    }
}

#[test]
fn a_newer_schema_is_refused_not_downgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { DuckDbStore::open(&path).unwrap().close().await.unwrap() });
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch("INSERT INTO schema_version VALUES (99, 'from_the_future', now()::TIMESTAMP)")
            .unwrap();
    }
    let err = DuckDbStore::open(&path).unwrap_err();
    assert!(matches!(err, Error::SchemaTooNew { found: 99, supported: 5, .. }), "{err}");
    assert!(err.to_string().contains("upgrade observers"), "{err}");
    let versions = duckdb_sql(&path, "SELECT CAST(version AS VARCHAR) FROM schema_version ORDER BY version");
    assert_eq!(versions, ["1", "2", "3", "4", "5", "99"]);
}

#[test]
fn a_foreign_openai_records_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE openai_records (id VARCHAR PRIMARY KEY, model VARCHAR)").unwrap();
    }
    let err = DuckDbStore::open(&path).unwrap_err();
    assert!(matches!(err, Error::ForeignTable { .. }), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let content = b"these are my notes, not a database\n".repeat(500);
    std::fs::write(&path, &content).unwrap();
    let err = DuckDbStore::open(&path).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("never overwrites"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), content);
}

const LOCK_CHILD: &str = "OBSERVERS_TEST_LOCK_CHILD";

#[test]
fn a_second_process_gets_a_clear_lock_error() {
    if let Ok(path) = std::env::var(LOCK_CHILD) {
        // Child: try to open the file the parent holds, and report.
        match DuckDbStore::open(&path) {
            Ok(_) => println!("CHILD-RESULT: opened"),
            Err(e @ Error::Locked { .. }) => println!("CHILD-RESULT: locked: {e}"),
            Err(e) => println!("CHILD-RESULT: other: {e}"),
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let _held = DuckDbStore::open(&path).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["a_second_process_gets_a_clear_lock_error", "--exact", "--nocapture", "--test-threads=1"])
        .env(LOCK_CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line =
        stdout.lines().find(|l| l.contains("CHILD-RESULT")).unwrap_or_else(|| panic!("child said: {stdout}"));
    assert!(line.contains("locked:"), "{line}");
    assert!(line.contains("another process"), "{line}");
    assert!(line.contains(path.to_str().unwrap()), "{line}");
}

#[tokio::test]
async fn the_duckdb_cli_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = DuckDbStore::open(&path).unwrap();
    for i in 0..12 {
        let mut r = ChatCompletionRecord::new("gpt-4o-mini");
        r.messages = vec![Message::new("user", format!("hello {i}"))];
        r.tags = vec![if i % 2 == 0 { "even" } else { "odd" }.into()];
        r.raw_response = Some(RawValue::from_string(format!(r#"{{"model":"served-{i}"}}"#)).unwrap());
        store.add(r).await.unwrap();
    }
    store.close().await.unwrap();
    drop(store);

    let run = |sql: &str| tools::duckdb_csv(&path, sql, true);
    let limited = run("from openai_records limit 10;");
    assert_eq!(limited.lines().count(), 10, "{limited}");
    assert_eq!(run("select messages[1].content from openai_records order by id limit 1;").trim(), "hello 0");
    assert_eq!(
        run("select raw_response->>'$.model' from openai_records order by id limit 1;").trim(),
        "served-0"
    );
    assert_eq!(run("select count(*) from openai_records where list_contains(tags, 'odd');").trim(), "6");
}
