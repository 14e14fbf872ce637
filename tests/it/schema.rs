//! Schema parity: after every migration, SQLite and PostgreSQL hold the same tables, columns,
//! nullability and indexes (by name), so the two migration folders cannot drift apart.

use std::collections::BTreeSet;
use tenantpilot_core::store::{Backend, Db};
use tenantpilot_core::testing::TestDatabase;

/// One line per fact: `table`, `table.column null|not null`, `index name on table`.
async fn shape(backend: Backend) -> BTreeSet<String> {
    let db = TestDatabase::new(backend).await;
    let mut facts = BTreeSet::new();
    // Tables the libraries keep for themselves are not ours to compare.
    let ours =
        |table: &str| !table.starts_with("_sqlx") && table != "sessions" && !table.starts_with("sqlite_");
    match db.store.db() {
        Db::Sqlite(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for table in tables.into_iter().filter(|table| ours(table)) {
                let columns: Vec<(String, bool, bool)> =
                    sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid")
                        .bind(&table)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                for (column, not_null, primary_key) in columns {
                    // SQLite lets a primary key column hold NULL unless told; PostgreSQL never does.
                    let nullable = !(not_null || primary_key);
                    facts.insert(format!("{table}.{column} {}", if nullable { "null" } else { "not null" }));
                }
                let indexes: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
                )
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
                for index in indexes {
                    facts.insert(format!("index {index} on {table}"));
                }
                facts.insert(table);
            }
        }
        Db::Postgres(pool) => {
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
                 WHERE table_schema = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for (table, column, nullable) in columns.into_iter().filter(|(table, _, _)| ours(table)) {
                facts.insert(format!(
                    "{table}.{column} {}",
                    if nullable == "YES" { "null" } else { "not null" }
                ));
                facts.insert(table);
            }
            let indexes: Vec<(String, String)> = sqlx::query_as(
                "SELECT tablename::text, indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for (table, index) in indexes.into_iter().filter(|(table, _)| ours(table)) {
                // Primary keys and UNIQUE constraints get their names from each database.
                if !index.ends_with("_pkey") && !index.ends_with("_key") {
                    facts.insert(format!("index {index} on {table}"));
                }
            }
        }
    }
    db.drop_database().await;
    facts
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let (sqlite, postgres) = (shape(Backend::Sqlite).await, shape(Backend::Postgres).await);
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:#?}\nonly on PostgreSQL: {only_postgres:#?}"
    );
    assert!(sqlite.len() > 50, "the comparison saw the schema: {sqlite:#?}");
}
