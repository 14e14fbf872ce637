//! The store: one API over two backends, chosen by the database URL. Queries are written once
//! with `$n` placeholders (both SQLite and PostgreSQL accept them) and run on whichever pool
//! is in use; a backend-specific statement is the exception and says why.

mod audit;
mod backups;
mod events;
mod group_commit;
mod idle_lanes;
mod memberships;
mod operations;
mod pipelines;
mod providers;
mod schedules;
mod secrets;
mod task_queue;
mod tenant_jobs;
mod tenants;
mod throttle;
mod tokens;
mod tools;
mod users;

pub use audit::LogQuery;
use audit::{AuditInsert, TokenActivityInsert};
pub use backups::{CapturedPolicy, NewRestoreRun};
pub use events::{RunChange, RunEvents};
use group_commit::GroupCommit;
pub use idle_lanes::Handed;
pub use memberships::MembershipChange;
pub use operations::{Completion, NewRun, PastRun, Reconciled, RunQuery, RunScope, Started, CLAIM_LOCK};
pub use pipelines::{NotBegun, PipelineFields, PipelineRecord};
pub use schedules::{NewSchedule, SlotRecord};
pub use secrets::Reseal;
pub use tenant_jobs::{DataChange, PurgeCounts, ReferenceEntry};
pub use tenants::{Ensured, TenantSetup};
pub use throttle::ThrottleRow;
pub use tokens::{NewToken, TOKEN_CACHE_TTL};
pub use tools::ToolRecord;

use crate::keyring::{Keyring, Purpose};
use crate::CoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The database, the run-change events published through it, the keys that seal the secrets
/// it stores, and the tokens it read a moment ago.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    events: RunEvents,
    keyring: Option<Arc<Keyring>>,
    group_commit: Arc<GroupCommit>,
    token_cache: Arc<tokens::TokenCache>,
    idle_lanes: Arc<idle_lanes::IdleLanes>,
}

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the same body against whichever pool the store holds. The body is compiled once per
/// backend, so it is type-checked against both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.db() {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` in a transaction on whichever pool the store holds; `$tx` is the transaction.
/// An early return (`?`) rolls it back. With `claims_turn`, a PostgreSQL transaction first
/// takes the claims' turn (see [`BEGIN_CLAIMS_TURN`]).
macro_rules! in_transaction {
    ($store:expr, $tx:ident => $body:expr) => {
        $crate::store::in_transaction!($store, claims_turn = false, $tx => $body)
    };
    ($store:expr, claims_turn = $turn:expr, $tx:ident => $body:expr) => {
        match $store.db() {
            $crate::store::Db::Sqlite(pool) => {
                let mut $tx = pool.begin().await?;
                let value = $body;
                $tx.commit().await?;
                value
            }
            $crate::store::Db::Postgres(pool) => {
                let mut $tx = match $turn {
                    true => pool.begin_with($crate::store::BEGIN_CLAIMS_TURN.as_str()).await?,
                    false => pool.begin().await?,
                };
                let value = $body;
                $tx.commit().await?;
                value
            }
        }
    };
}
pub(crate) use in_transaction;

/// Begins a PostgreSQL transaction that takes the turn claims take (a transaction lock, released
/// at commit), in the same round trip as its `BEGIN`. Each later statement's snapshot, taken
/// after the lock, sees every earlier claim.
pub(crate) static BEGIN_CLAIMS_TURN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("BEGIN; SELECT pg_advisory_xact_lock({})", operations::CLAIM_LOCK));

/// sqlx pings a pooled connection before every use by default: one more round trip (on SQLite,
/// a hand-off to the connection's thread and back) for every query. Only a connection idle this
/// long is pinged first, as one that a restarted server may have dropped.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// A pool of `max` connections, each pinged before use only after `PING_WHEN_IDLE_FOR`. A
/// request waits for a connection at most 10 s; then it is answered busy (503), not left hanging.
fn pool_options<DB: sqlx::Database>(max: u32) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    sqlx::pool::PoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|connection: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL must start with sqlite: or postgres:, got `{0}`")]
    UnknownScheme(String),
    #[error("cannot create the database directory {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("cannot open the database: {0}")]
    Open(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A commit that grows SQLite's write-ahead log past this many pages (40 MiB at 4 KiB) copies
/// it back itself; below that, the group commit's checkpointer does it beside the writer.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

impl Store {
    /// Opens the database at `url` (`sqlite://path` or `postgres://…`). A SQLite file and its
    /// directory are created when missing and run in WAL mode.
    #[tracing::instrument(skip_all)]
    pub async fn connect(url: &str) -> Result<Store, ConnectError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
            let parent = options.get_filename().parent().map(ToOwned::to_owned);
            if let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(&dir)
                    .map_err(|source| ConnectError::Directory { path: dir.display().to_string(), source })?;
            }
            let pool = pool_options::<sqlx::Sqlite>(8).connect_with(options).await?;
            Ok(Store::new(Db::Sqlite(pool), RunEvents::local_only()))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::postgres(PgConnectOptions::from_str(url)?).await
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(ConnectError::UnknownScheme(scheme.to_string()))
        }
    }

    /// A PostgreSQL store whose tables live in `schema` (created when missing): lets tests
    /// share one server without seeing each other's rows.
    #[tracing::instrument(skip_all)]
    pub async fn connect_postgres_schema(url: &str, schema: &str) -> Result<Store, ConnectError> {
        let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&admin).await?;
        admin.close().await;
        Self::postgres(PgConnectOptions::from_str(url)?.options([("search_path", schema)])).await
    }

    #[tracing::instrument(skip_all)]
    async fn postgres(options: PgConnectOptions) -> Result<Store, ConnectError> {
        let pool = pool_options::<sqlx::Postgres>(16).connect_with(options.clone()).await?;
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&pool).await?;
        Ok(Store::new(Db::Postgres(pool), RunEvents::postgres(options, &schema)))
    }

    fn new(db: Db, events: RunEvents) -> Store {
        Store {
            group_commit: Arc::new(GroupCommit::new(db.clone())),
            db,
            events,
            keyring: None,
            token_cache: Default::default(),
            idle_lanes: Default::default(),
        }
    }

    /// The store sealing and opening secrets with `keyring`.
    pub fn with_keyring(mut self, keyring: Keyring) -> Store {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    fn keyring(&self) -> Result<&Keyring, CoreError> {
        self.keyring
            .as_deref()
            .ok_or_else(|| CoreError::broken("no secret key: the store cannot seal or open secrets"))
    }

    pub(crate) fn seal(&self, purpose: Purpose, plain: &str) -> Result<String, CoreError> {
        self.keyring()?.seal(purpose, plain)
    }

    pub(crate) fn open(&self, purpose: Purpose, stored: &str) -> Result<String, CoreError> {
        self.keyring()?.open(purpose, stored)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn events(&self) -> &RunEvents {
        &self.events
    }

    /// Offers `free` lanes of `claimer` (an engine of this process) to the starts made while it
    /// waits for work: a start that makes a run claims it for one of them, within
    /// `per_tenant_limit` running runs of its tenant, and hands it over through `deliver`.
    pub fn offer_idle_lanes(
        &self,
        claimer: &str,
        per_tenant_limit: i64,
        free: usize,
        deliver: tokio::sync::mpsc::UnboundedSender<Handed>,
    ) {
        self.idle_lanes.offer(claimer, per_tenant_limit, free, deliver);
    }

    /// Ends `claimer`'s offer; returns how many lanes starts took, each of which is [`Handed`]
    /// back through the offer's `deliver`.
    pub fn withdraw_idle_lanes(&self, claimer: &str) -> usize {
        self.idle_lanes.withdraw(claimer)
    }

    /// Tells every subscriber (here and, on PostgreSQL, in other processes) that a run changed.
    pub(crate) fn publish(&self, change: RunChange) {
        self.events.publish(change, &self.db);
    }

    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// For `/readyz`: does the database answer?
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// This process's database connections: (idle, in use, the most it opens).
    pub fn pool_connections(&self) -> (u32, u32, u32) {
        on_pool!(self, pool => {
            let idle = pool.num_idle() as u32;
            (idle, pool.size().saturating_sub(idle), pool.options().get_max_connections())
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn close(&self) {
        self.events.stop();
        on_pool!(self, pool => pool.close().await)
    }
}

/// A value for a JSON text column.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, CoreError> {
    serde_json::to_string(value).map_err(CoreError::internal)
}

/// The workspaces user `$1` belongs to (those of the tenants they are a member of), as a
/// subquery for `… IN (…)`.
pub(crate) const WORKSPACES_OF_USER: &str =
    "SELECT rt.workspace_id FROM memberships rm JOIN tenants rt ON rt.id = rm.tenant_id WHERE rm.user_id = $1";

/// Postgres reports unique violations as SQLSTATE 23505; SQLite as extended code 2067 (or 1555
/// for a primary key).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}
