//! The store's group commit. New runs (each with its audit entry), audit entries and
//! token-activity rows are written by one writer per store, which takes every row waiting at
//! that moment into one transaction; each caller returns once the transaction holding its row
//! has committed. Concurrent requests share a commit instead of queueing for one each (on
//! SQLite, one writer at a time; on PostgreSQL, a few transactions commit at once).

use super::operations::{bind_run_insert, RunInsert, RunRow, INSERT_RUN, INSERT_RUN_RECORDED_POSTGRES};
use super::task_queue::TaskQueue;
use super::{AuditInsert, Db, TokenActivityInsert, BEGIN_CLAIMS_TURN};
use crate::CoreError;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most rows one transaction takes; more wait for the next.
const MOST_AT_ONCE: usize = 512;

/// A row to insert.
#[derive(Debug)]
pub(super) enum Row {
    Audit(AuditInsert),
    TokenActivity(TokenActivityInsert),
    /// A run, unless one of its identity is active; its audit entry, if any, names the run made.
    Run(Box<RunInsert>),
}

/// What inserting a row gave: the run made, if it was a run that was made.
type Inserted = Result<Option<RunRow>, CoreError>;

struct Waiting {
    row: Row,
    committed: oneshot::Sender<Inserted>,
}

#[derive(Debug)]
pub(super) struct GroupCommit {
    db: Db,
    queue: TaskQueue<Waiting>,
}

impl GroupCommit {
    pub(super) fn new(db: Db) -> GroupCommit {
        GroupCommit { db, queue: TaskQueue::new() }
    }

    /// Writes `row`, returning once it is committed: the run made, for a [`Row::Run`] that made one.
    pub(super) async fn write(&self, row: Row) -> Inserted {
        self.queue(row)?.await
    }

    /// Queues `row` at once; the future returned ends once it is committed.
    pub(super) fn queue(
        &self,
        row: Row,
    ) -> Result<impl Future<Output = Inserted> + Send + 'static, CoreError> {
        let (committed, done) = oneshot::channel();
        let db = self.db.clone();
        self.queue
            .send(Waiting { row, committed }, |rows| commit_in_groups(db, rows))
            .map_err(|_| CoreError::broken("the store must be written from within a tokio runtime"))?;
        Ok(async move {
            done.await
                .unwrap_or_else(|_| Err(CoreError::broken("the store's writer stopped before committing")))
        })
    }
}

/// How many transactions may be committing at once: SQLite has one writer anyway, while
/// PostgreSQL commits in parallel, and a single writer's statements, one round trip each,
/// would bound every start.
fn writers(db: &Db) -> usize {
    match db {
        Db::Sqlite(_) => 1,
        Db::Postgres(_) => 8,
    }
}

/// Until the store is dropped: every row waiting, in one transaction, while a writer is free
/// (rows gather meanwhile). On SQLite a checkpointer runs beside it for as long.
async fn commit_in_groups(db: Db, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let mut beside = tokio::task::JoinSet::new();
    if let Db::Sqlite(pool) = &db {
        beside.spawn(checkpoint_wal(pool.clone()));
    }
    let free = Arc::new(Semaphore::new(writers(&db)));
    loop {
        let Ok(writer) = free.clone().acquire_owned().await else { return };
        let mut group = Vec::with_capacity(MOST_AT_ONCE);
        if queue.recv_many(&mut group, MOST_AT_ONCE).await == 0 {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            commit(&db, group).await;
            drop(writer);
        });
    }
}

/// How often SQLite's write-ahead log is copied back into the database (see [`checkpoint_wal`]).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies what SQLite's write-ahead log holds back into the database file every
/// [`CHECKPOINT_EVERY`], on a connection of its own, without waiting for readers or writers
/// (`PASSIVE`). SQLite otherwise checkpoints in the commit that grows the log past 1,000 pages
/// (https://www.sqlite.org/wal.html#automatic_checkpoint): that commit's writer copies and
/// syncs the whole log while every request waiting on the one writer waits too. The store's
/// connections leave that to this task up to [`super::WAL_AUTOCHECKPOINT_PAGES`] (a safety
/// net). It runs with the group commit, from the first row a store writes through it.
async fn checkpoint_wal(pool: sqlx::SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(%error, "cannot checkpoint the write-ahead log");
        }
    }
}

/// `group` in one transaction. When that fails, each of its rows is tried alone, so one bad
/// row fails only its own caller.
async fn commit(db: &Db, mut group: Vec<Waiting>) {
    let rows: Vec<&Row> = group.iter().map(|waiting| &waiting.row).collect();
    match insert_all(db, &rows).await {
        Ok(made) => {
            for (waiting, made) in group.into_iter().zip(made) {
                let _ = waiting.committed.send(Ok(made));
            }
        }
        Err(error) if group.len() == 1 => {
            if let Some(waiting) = group.pop() {
                let _ = waiting.committed.send(Err(error.into()));
            }
        }
        Err(_) => {
            for waiting in group {
                let alone = insert_all(db, &[&waiting.row]).await;
                let _ =
                    waiting.committed.send(alone.map(|mut made| made.pop().flatten()).map_err(Into::into));
            }
        }
    }
}

/// Whether `row` is written by one statement, which commits alone as atomically as in a
/// transaction. On PostgreSQL a run claimed within its tenant's limit takes the claims' turn
/// first (a statement's snapshot predates any lock it takes); on SQLite a run with its entry
/// takes two statements.
fn one_statement(row: &Row, postgres: bool) -> bool {
    match row {
        Row::Run(run) if postgres => run.tenant_limit.is_none(),
        Row::Run(run) => run.entry.is_none(),
        Row::Audit(_) | Row::TokenActivity(_) => true,
    }
}

/// Inserts `rows` in one transaction; what each made, in order. A lone row of one statement
/// goes without `BEGIN` and `COMMIT`: two round trips fewer for a writer that waits alone.
#[rustfmt::skip]
async fn insert_all(db: &Db, rows: &[&Row]) -> Result<Vec<Option<RunRow>>, sqlx::Error> {
    // A run claimed within its tenant's limit takes the claims' turn first (see `claim_runs`).
    let claims = rows.iter().any(|row| matches!(row, Row::Run(run) if run.tenant_limit.is_some()));
    // Runs go in in the order of their identities: on PostgreSQL a run waits for a concurrent
    // transaction's run of the same identity, so two groups never wait for each other.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&at| match rows[at] {
        Row::Run(run) => Some(&run.identity),
        _ => None,
    });
    // Runs one by one (each may be made or not); audit entries (theirs on SQLite, which has no
    // `INSERT` in `WITH`) and token-activity rows in one statement per table: on SQLite each
    // statement is a hop to the one writer's thread, which bounds every write.
    macro_rules! insert_rows {
        ($conn:ident, $db:ty, $postgres:expr) => {{
            let mut made: Vec<Option<RunRow>> = rows.iter().map(|_| None).collect();
            let mut entries: Vec<Cow<'_, AuditInsert>> = Vec::new();
            let mut activity: Vec<&TokenActivityInsert> = Vec::new();
            for &at in &order {
                match rows[at] {
                    Row::Audit(entry) => entries.push(Cow::Borrowed(entry)),
                    Row::TokenActivity(row) => activity.push(row),
                    Row::Run(run) => {
                        let (sql, entry_with_run) = match &run.entry {
                            Some(entry) if $postgres => (INSERT_RUN_RECORDED_POSTGRES.as_str(), Some(entry)),
                            _ => (INSERT_RUN.as_str(), None),
                        };
                        let query = bind_run_insert!(sqlx::query_as(sql), run, entry_with_run);
                        let created: Option<RunRow> = query.fetch_optional(&mut *$conn).await?;
                        if let (Some(created), Some(entry), None) = (&created, &run.entry, entry_with_run) {
                            let target_id = created.id.to_string();
                            entries.push(Cow::Owned(AuditInsert { target_id, ..entry.clone() }));
                        }
                        made[at] = created;
                    }
                }
            }
            // A group holds at most `MOST_AT_ONCE` rows: well within either database's limit
            // of bound parameters.
            if !entries.is_empty() {
                let mut insert = sqlx::QueryBuilder::<$db>::new(AuditInsert::INTO);
                insert.push_values(&entries, |mut values, entry| {
                    values.push_bind(entry.workspace_id).push_bind(entry.tenant_id).push_bind(entry.user_id)
                        .push("(SELECT email FROM users WHERE id = ").push_bind_unseparated(entry.user_id)
                        .push_unseparated(")")
                        .push_bind(entry.actor.as_str()).push_bind(entry.kind).push_bind(entry.action)
                        .push_bind(entry.target_id.as_str()).push_bind(entry.details.as_str()).push_bind(entry.at);
                });
                insert.build().execute(&mut *$conn).await?;
            }
            if !activity.is_empty() {
                let mut insert = sqlx::QueryBuilder::<$db>::new(TokenActivityInsert::INTO);
                insert.push_values(&activity, |mut values, row| {
                    values.push_bind(row.token_id).push_bind(row.user_id).push_bind(row.scope.as_str())
                        .push_bind(row.target.as_str()).push_bind(row.at);
                });
                insert.build().execute(&mut *$conn).await?;
            }
            made
        }};
    }
    macro_rules! insert_in_one_transaction {
        ($pool:expr, $db:ty, $postgres:expr) => {{
            if let [row] = rows {
                if one_statement(row, $postgres) {
                    let mut conn = $pool.acquire().await?;
                    return Ok(insert_rows!(conn, $db, $postgres));
                }
            }
            let mut tx = match claims && $postgres {
                true => $pool.begin_with(BEGIN_CLAIMS_TURN.as_str()).await?,
                false => $pool.begin().await?,
            };
            let made = insert_rows!(tx, $db, $postgres);
            tx.commit().await?;
            Ok(made)
        }};
    }
    match db {
        Db::Sqlite(pool) => insert_in_one_transaction!(pool, sqlx::Sqlite, false),
        Db::Postgres(pool) => insert_in_one_transaction!(pool, sqlx::Postgres, true),
    }
}
