//! Sessions live in the application's own database: one store type over either backend.

use async_trait::async_trait;
use tenantpilot_core::store::{Db, Store};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{ExpiredDeletion, Result};
use tower_sessions::SessionStore;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

#[derive(Clone, Debug)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    /// Creates the sessions table beside the application's tables (on PostgreSQL, in the
    /// schema the store's connections use).
    pub async fn open(store: &Store) -> std::result::Result<SessionBackend, sqlx::Error> {
        let backend = match store.db() {
            Db::Sqlite(pool) => SessionBackend::Sqlite(
                SqliteStore::new(pool.clone())
                    .with_table_name("sessions")
                    .map_err(|message| sqlx::Error::Configuration(message.into()))?,
            ),
            Db::Postgres(pool) => {
                let schema: String =
                    sqlx::query_scalar("SELECT current_schema()::text").fetch_one(pool).await?;
                SessionBackend::Postgres(
                    PostgresStore::new(pool.clone())
                        .with_schema_name(schema)
                        .and_then(|store| store.with_table_name("sessions"))
                        .map_err(|message| sqlx::Error::Configuration(message.into()))?,
                )
            }
        };
        match &backend {
            SessionBackend::Sqlite(store) => store.migrate().await?,
            SessionBackend::Postgres(store) => store.migrate().await?,
        }
        Ok(backend)
    }
}

/// What keeps the server's own tables small while it runs: expired sessions go every quarter
/// hour, sign-in throttle rows of windows over a day old every hour (the table then holds the
/// last day's keys, however many addresses and names were tried).
pub fn spawn_housekeeping(sessions: &SessionBackend, store: &Store) {
    let sessions = sessions.clone();
    tokio::spawn(async move {
        let period = tokio::time::Duration::from_secs(15 * 60);
        let result = match sessions {
            SessionBackend::Sqlite(store) => store.continuously_delete_expired(period).await,
            SessionBackend::Postgres(store) => store.continuously_delete_expired(period).await,
        };
        if let Err(error) = result {
            tracing::error!(%error, "expired-session cleanup stopped");
        }
    });
    let store = store.clone();
    tokio::spawn(async move {
        let mut hourly = tokio::time::interval(tokio::time::Duration::from_secs(60 * 60));
        loop {
            hourly.tick().await;
            match tenantpilot_core::throttle::prune(&store, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "old sign-in throttle rows deleted"),
                Err(error) => tracing::warn!(error = %error.detail(), "pruning sign-in throttle rows failed"),
            }
        }
    });
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.create(record).await,
            SessionBackend::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.save(record).await,
            SessionBackend::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        match self {
            SessionBackend::Sqlite(store) => store.load(id).await,
            SessionBackend::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.delete(id).await,
            SessionBackend::Postgres(store) => store.delete(id).await,
        }
    }
}
