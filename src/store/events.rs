//! Run changes, published to whoever listens. Every store method that changes a run publishes
//! one [`RunChange`]: in process through a broadcast channel, and on PostgreSQL also through
//! `NOTIFY`, so subscribers of every replica sharing the database hear it.

use crate::ids::{PipelineId, RunId, TenantId, WorkspaceId};
use crate::operations::{RunOutcome, RunStatus};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// What changed: enough for a subscriber to decide whether it cares (tenant, pipeline, status)
/// and to re-read the run if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChange {
    pub run_id: RunId,
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    /// Set for a pipeline's run: who may see it depends on the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    pub status: RunStatus,
    pub outcome: RunOutcome,
}

/// A notification as it crosses PostgreSQL: the publishing process marks its own, so it does not
/// deliver them twice.
#[derive(Serialize, Deserialize)]
struct Notification {
    origin: u64,
    #[serde(flatten)]
    change: RunChange,
}

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
            inner: Arc::new(Inner { local, origin: rand::random(), postgres, listener: Mutex::new(None) }),
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

    /// Delivers to local subscribers at once; the caller also sends `notification_payload`
    /// through PostgreSQL when it has a channel.
    pub(super) fn deliver_locally(&self, change: RunChange) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.inner.local.send(change);
    }

    pub(super) fn notification_payload(&self, change: RunChange) -> String {
        serde_json::to_string(&Notification { origin: self.inner.origin, change })
            .unwrap_or_else(|_| String::from("{}"))
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
                        let _ = local.send(notification.change);
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
