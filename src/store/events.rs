//! Run changes, published to whoever listens. Every store method that changes a run publishes
//! one [`RunChange`]: in process through a broadcast channel, and on PostgreSQL also through
//! `NOTIFY`, so subscribers of every replica sharing the database hear it.
//!
//! PostgreSQL takes one database-wide lock for every notifying commit, held through its flush,
//! so notifying commits go one at a time (about a thousand a second on a disk that flushes in a
//! millisecond) and one a change would cap the engine. One task per process sends them: each
//! `NOTIFY` carries every change that waited meanwhile.

pub use crate::operations::RunChange;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// A notification as it crosses PostgreSQL: the changes one process published meanwhile, marked
/// with that process, which does not deliver its own twice.
#[derive(Serialize, Deserialize)]
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
    notifier: OnceLock<mpsc::UnboundedSender<RunChange>>,
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
                notifier: OnceLock::new(),
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
        let notifier = self.inner.notifier.get_or_init(|| {
            let (sender, changes) = mpsc::unbounded_channel();
            tokio::spawn(notify(pool.clone(), channel.to_string(), self.inner.origin, changes));
            sender
        });
        let _ = notifier.send(change);
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
        let mut payloads = Vec::new();
        let mut chunk = Vec::new();
        let mut size = 0;
        for change in batch.drain(..) {
            let one = serde_json::to_string(&change).map_or(0, |text| text.len() + 1);
            if size + one > PAYLOAD_MAX && !chunk.is_empty() {
                payloads.push(payload(origin, std::mem::take(&mut chunk)));
                size = 0;
            }
            chunk.push(change);
            size += one;
        }
        payloads.push(payload(origin, chunk));
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

fn payload(origin: u64, changes: Vec<RunChange>) -> String {
    serde_json::to_string(&Notification { origin, changes }).unwrap_or_else(|_| String::from("{}"))
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
