//! The activity logs' group commit. Audit entries and token-activity rows are written by one
//! writer per store, which takes every row waiting at that moment into one transaction; each
//! caller returns once the transaction holding its row has committed. Concurrent requests share
//! a commit instead of queueing for one each (on SQLite, one writer at a time).

use super::task_queue::TaskQueue;
use super::{insert_audit, AuditInsert, Db, TokenActivityInsert};
use crate::CoreError;
use tokio::sync::{mpsc, oneshot};

/// The most rows one transaction takes; more wait for the next.
const MOST_AT_ONCE: usize = 512;

/// A row of one of the logs, ready to insert.
#[derive(Debug)]
pub(super) enum LogRow {
    Audit(AuditInsert),
    TokenActivity(TokenActivityInsert),
}

struct Waiting {
    row: LogRow,
    committed: oneshot::Sender<Result<(), String>>,
}

#[derive(Debug)]
pub(super) struct LogWriter {
    db: Db,
    queue: TaskQueue<Waiting>,
}

impl LogWriter {
    pub(super) fn new(db: Db) -> LogWriter {
        LogWriter { db, queue: TaskQueue::new() }
    }

    /// Writes `row`, returning once it is committed.
    pub(super) async fn write(&self, row: LogRow) -> Result<(), CoreError> {
        let (committed, done) = oneshot::channel();
        self.enqueue(Waiting { row, committed })?;
        match done.await {
            Ok(result) => result.map_err(CoreError::broken),
            Err(_) => Err(CoreError::broken("the activity log writer stopped before committing")),
        }
    }

    fn enqueue(&self, waiting: Waiting) -> Result<(), CoreError> {
        let db = self.db.clone();
        self.queue
            .send(waiting, |rows| commit_in_groups(db, rows))
            .map_err(|_| CoreError::broken("the activity logs must be written from within a tokio runtime"))
    }
}

/// Until the store is dropped: every row waiting, in one transaction. When that transaction
/// fails, each of its rows is tried alone, so one bad row fails only its own caller.
async fn commit_in_groups(db: Db, mut queue: mpsc::UnboundedReceiver<Waiting>) {
    let mut group = Vec::with_capacity(MOST_AT_ONCE);
    while queue.recv_many(&mut group, MOST_AT_ONCE).await > 0 {
        let rows: Vec<&LogRow> = group.iter().map(|waiting| &waiting.row).collect();
        match insert_all(&db, &rows).await {
            Ok(()) => group.drain(..).for_each(|waiting| drop(waiting.committed.send(Ok(())))),
            Err(error) if group.len() == 1 => {
                group.drain(..).for_each(|waiting| drop(waiting.committed.send(Err(error.to_string()))));
            }
            Err(_) => {
                for waiting in group.drain(..) {
                    let alone = insert_all(&db, &[&waiting.row]).await.map_err(|error| error.to_string());
                    let _ = waiting.committed.send(alone);
                }
            }
        }
    }
}

#[rustfmt::skip]
async fn insert_all(db: &Db, rows: &[&LogRow]) -> Result<(), sqlx::Error> {
    macro_rules! insert_in_one_transaction {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await?;
            for row in rows {
                match row {
                    LogRow::Audit(entry) => insert_audit!(entry, &mut *tx),
                    LogRow::TokenActivity(activity) => sqlx::query(TokenActivityInsert::SQL)
                        .bind(activity.token_id).bind(activity.user_id).bind(&activity.scope)
                        .bind(&activity.target).bind(activity.at).execute(&mut *tx).await.map(drop)?,
                };
            }
            tx.commit().await
        }};
    }
    match db {
        Db::Sqlite(pool) => insert_in_one_transaction!(pool),
        Db::Postgres(pool) => insert_in_one_transaction!(pool),
    }
}
