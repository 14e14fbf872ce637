//! Fresh databases for tests: a new SQLite file, or a new schema on the PostgreSQL server named
//! by `TEST_POSTGRES_URL`, so tests running at once never see each other's rows.

use crate::store::{Backend, Store};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::OnceCell;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

pub struct TestDatabase {
    pub store: Store,
    /// The URL a second process would use to reach the same data.
    pub url: String,
    /// Set for PostgreSQL: the schema holding this database's tables.
    pub schema: Option<String>,
    /// The key its secrets are sealed with (base64): what a second process needs as
    /// `TENANTPILOT_SECRET_KEY`.
    pub secret_key: String,
    sqlite_file: Option<PathBuf>,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);
static SWEPT: OnceCell<()> = OnceCell::const_new();

impl TestDatabase {
    /// A migrated, empty database on `backend`. Panics with a clear message when PostgreSQL
    /// cannot be reached: a skipped backend would let tests pass that never ran.
    pub async fn new(backend: Backend) -> TestDatabase {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let secret_key = crate::keyring::generate_key();
        let keyring = || crate::keyring::Keyring::parse(&secret_key).expect("a generated key");
        let mut database = match backend {
            Backend::Sqlite => {
                let file =
                    std::env::temp_dir().join(format!("tenantpilot-test-{}-{n}.db", std::process::id()));
                remove_sqlite_files(&file);
                let url = format!("sqlite://{}", file.display());
                let store = Store::connect(&url).await.expect("open SQLite test database");
                TestDatabase {
                    store,
                    url,
                    schema: None,
                    secret_key: secret_key.clone(),
                    sqlite_file: Some(file),
                }
            }
            Backend::Postgres => {
                let url = postgres_url();
                SWEPT.get_or_init(|| sweep_dead_schemas(url.clone())).await;
                let schema = format!("tp_test_{}_{n}", std::process::id());
                let store = Store::connect_postgres_schema(&url, &schema).await.unwrap_or_else(|error| {
                    panic!("PostgreSQL at {url} (TEST_POSTGRES_URL) is needed for these tests: {error}")
                });
                TestDatabase {
                    store,
                    url,
                    schema: Some(schema),
                    secret_key: secret_key.clone(),
                    sqlite_file: None,
                }
            }
        };
        database.store = database.store.clone().with_keyring(keyring());
        database.store.migrate().await.expect("migrate test database");
        database
    }

    /// The SQLite database's file (its WAL beside it), for tests that read what is on disk.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    /// Closes the store and removes its data.
    pub async fn drop_database(self) {
        self.store.close().await;
        if let Some(file) = &self.sqlite_file {
            remove_sqlite_files(file);
        }
        if let Some(schema) = &self.schema {
            drop_schema(&self.url, schema).await;
        }
    }
}

fn remove_sqlite_files(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(url).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&pool).await;
        pool.close().await;
    }
}

/// Drops schemas left behind by test processes that died before cleaning up.
async fn sweep_dead_schemas(url: String) {
    let Ok(pool) = sqlx::PgPool::connect(&url).await else {
        return;
    };
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'tp\\_test\\_%'")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    pool.close().await;
    for schema in schemas {
        let pid = schema.split('_').nth(2).and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            drop_schema(&url, &schema).await;
        }
    }
}

impl crate::engine::EngineSettings {
    /// The defaults, with the engine's timers short enough for tests: beats, progress and
    /// polls in tenths of a second, and a short shutdown grace.
    pub fn for_tests() -> crate::engine::EngineSettings {
        crate::engine::EngineSettings {
            heartbeat: std::time::Duration::from_millis(100),
            progress_every: std::time::Duration::from_millis(20),
            idle_poll: std::time::Duration::from_millis(100),
            shutdown_grace: std::time::Duration::from_millis(300),
            ..crate::engine::EngineSettings::default()
        }
    }
}

/// Longest any one backend test may take. A test that hangs fails with its name instead of
/// stalling the whole suite.
pub const TEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(240);

/// Runs one backend test within `TEST_DEADLINE`.
pub async fn within_deadline(name: &str, test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_DEADLINE, test).await.is_err() {
        panic!("{name} did not finish within {TEST_DEADLINE:?}");
    }
}

/// Declares each listed `async fn name(backend: Backend)` as a test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! test_on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   $crate::testing::within_deadline(stringify!($name), super::$name($crate::store::Backend::Sqlite)).await
               } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   $crate::testing::within_deadline(stringify!($name), super::$name($crate::store::Backend::Postgres)).await
               } )*
        }
    };
}
