//! Run changes, published to whoever listens. Every store method that changes a run publishes
//! one [`RunChange`]: in process through a broadcast channel, and on PostgreSQL also through
//! `NOTIFY`, so subscribers of every replica sharing the database hear it.
//!
//! PostgreSQL takes one database-wide lock for every notifying commit, held through its flush,
//! so notifying commits go one at a time (about a thousand a second on a disk that flushes in a
//! millisecond) and one a change would cap the engine. One task per process sends them: each
//! `NOTIFY` carries every change that waited meanwhile.

use super::task_queue::TaskQueue;
pub use crate::operations::RunChange;
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// A notification as it crosses PostgreSQL: the changes one process published meanwhile, marked
/// with that process, which does not deliver its own twice.
#[derive(Deserialize)]
struct Notification {
    origin: u64,
    changes: Vec<RunChange>,
}

/// PostgreSQL refuses a payload of 8,000 bytes or more; a change takes about 300.
const PAYLOAD_MAX: usize = 7_000;
/// Changes one `NOTIFY` statement carries at most (in as many payloads as they need).
const BATCH_MAX: usize = 512;

/// Slow subscribers lose the oldest changes (and are told so) rather than hold memory.
const LOCAL_CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct RunEvents {
    inner: Arc<Inner>,
}

struct Inner {
    local: broadcast::Sender<RunChange>,
    origin: u64,
    /// Set on PostgreSQL: where to LISTEN, and the channel (one per schema, so databases that
    /// share a server, as tests do, do not hear each other).
    postgres: Option<(PgConnectOptions, String)>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// This process's notifier (PostgreSQL), started by the first change it publishes.
    notifier: TaskQueue<RunChange>,
}

impl std::fmt::Debug for RunEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEvents").field("channel", &self.channel()).finish_non_exhaustive()
    }
}

impl RunEvents {
    pub(super) fn local_only() -> RunEvents {
        RunEvents::new(None)
    }

    pub(super) fn postgres(options: PgConnectOptions, schema: &str) -> RunEvents {
        let channel: String = format!("tenantpilot_runs_{schema}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
            .collect();
        RunEvents::new(Some((options, channel)))
    }

    fn new(postgres: Option<(PgConnectOptions, String)>) -> RunEvents {
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        RunEvents {
            inner: Arc::new(Inner {
                local,
                origin: rand::random(),
                postgres,
                listener: Mutex::new(None),
                notifier: TaskQueue::new(),
            }),
        }
    }

    /// The PostgreSQL channel, when there is one.
    pub fn channel(&self) -> Option<&str> {
        self.inner.postgres.as_ref().map(|(_, channel)| channel.as_str())
    }

    /// Tells this store's events apart from another store's in the same process, for registries
    /// kept per process (tests run many stores at once).
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Hears every change from now on, from this process and (on PostgreSQL) from every other.
    pub fn subscribe(&self) -> broadcast::Receiver<RunChange> {
        self.ensure_listening();
        self.inner.local.subscribe()
    }

    /// Delivers to local subscribers at once, and (on PostgreSQL) hands the change to this
    /// process's notifier for the other processes.
    pub(super) fn publish(&self, change: RunChange, db: &super::Db) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.inner.local.send(change);
        let (super::Db::Postgres(pool), Some(channel)) = (db, self.channel()) else { return };
        let (pool, channel, origin) = (pool.clone(), channel.to_string(), self.inner.origin);
        if self.inner.notifier.send(change, |changes| notify(pool, channel, origin, changes)).is_err() {
            tracing::warn!(run = %change.run_id, "no runtime to notify other processes of a run change on");
        }
    }

    /// The first subscriber on PostgreSQL starts one listening connection for the process.
    fn ensure_listening(&self) {
        let Some((options, channel)) = self.inner.postgres.clone() else { return };
        let Ok(mut slot) = self.inner.listener.lock() else { return };
        if slot.is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let local = self.inner.local.clone();
        let origin = self.inner.origin;
        *slot = Some(runtime.spawn(listen(options, channel, origin, local)));
    }

    /// Stops listening (when the store closes).
    pub(super) fn stop(&self) {
        if let Ok(mut slot) = self.inner.listener.lock() {
            if let Some(task) = slot.take() {
                task.abort();
            }
        }
    }
}

/// Sends the changes this process publishes to the others: whatever waited while the last
/// `NOTIFY` was under way goes in the next, in order. A lost notification is logged, not
/// retried: the changes are committed, and subscribers re-read periodically.
async fn notify(pool: PgPool, channel: String, origin: u64, mut changes: mpsc::UnboundedReceiver<RunChange>) {
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while changes.recv_many(&mut batch, BATCH_MAX).await > 0 {
        // Each change serialised once, then joined into payloads under PostgreSQL's limit.
        let (mut payloads, mut chunk, mut size) = (Vec::new(), Vec::<String>::new(), 0);
        for change in batch.drain(..) {
            let Ok(one) = serde_json::to_string(&change) else { continue };
            if !chunk.is_empty() && size + one.len() > PAYLOAD_MAX {
                payloads.push(payload(origin, &std::mem::take(&mut chunk)));
                size = 0;
            }
            size += one.len() + 1;
            chunk.push(one);
        }
        payloads.push(payload(origin, &chunk));
        let sent = sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::text[]) AS payload")
            .bind(&channel)
            .bind(&payloads)
            .execute(&pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "cannot notify other processes of run changes");
        }
    }
}

/// A [`Notification`] of `changes` (each already JSON).
fn payload(origin: u64, changes: &[String]) -> String {
    format!(r#"{{"origin":{origin},"changes":[{}]}}"#, changes.join(","))
}

/// Forwards other processes' notifications to local subscribers. The listener reconnects by
/// itself after a lost connection; changes missed meanwhile are covered by subscribers' own
/// periodic re-reads.
async fn listen(
    options: PgConnectOptions,
    channel: String,
    origin: u64,
    local: broadcast::Sender<RunChange>,
) {
    loop {
        let connected = async {
            let pool = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(&channel).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for run changes; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        loop {
            match listener.recv().await {
                Ok(message) => match serde_json::from_str::<Notification>(message.payload()) {
                    Ok(notification) if notification.origin != origin => {
                        for change in notification.changes {
                            let _ = local.send(change);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "ignoring a malformed run notification"),
                },
                Err(error) => {
                    tracing::warn!(%error, "lost the run change listener; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RunId, TenantId, WorkspaceId};
    use crate::operations::{Counters, OperationKind, RunOutcome, RunStatus};

    #[test]
    fn a_payload_reads_back_as_the_changes_it_carries() {
        let change = |n: i64| RunChange {
            run_id: RunId(n),
            workspace_id: WorkspaceId(1),
            tenant_id: Some(TenantId(2)),
            pipeline_id: None,
            kind: OperationKind::Capture,
            status: RunStatus::Running,
            outcome: RunOutcome::Pending,
            counters: Counters { total: 30, processed: n, failed: 0 },
            created_at: chrono::Utc::now(),
            started_at: None,
            completed_at: None,
        };
        let changes = [change(1), change(2)];
        let each: Vec<String> = changes.iter().map(|change| serde_json::to_string(change).unwrap()).collect();
        let read: Notification = serde_json::from_str(&payload(7, &each)).unwrap();
        assert_eq!((read.origin, read.changes), (7, changes.to_vec()));
    }
}
