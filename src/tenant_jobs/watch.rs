//! One reader per watched job. Every `?wait` request on a job shares one task that hears the
//! store's run events and re-reads the job once per change of it, so a change answers 10,000
//! held requests with one read instead of 10,000 (and wakes one event subscriber, not 10,000).

use super::TenantJob;
use crate::ids::RunId;
use crate::store::Store;
use crate::CoreError;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// The latest read of a job; `None` until the first read, or when a read failed.
type Latest = Option<Arc<TenantJob>>;

/// A watched job: the store's events (tests run many stores in one process) and its run.
type Key = (usize, RunId);

static WATCHED: LazyLock<Mutex<HashMap<Key, Arc<watch::Sender<Latest>>>>> = LazyLock::new(Default::default);

/// A subscription to one job's reads; the job's reader stops with its last subscriber.
pub(super) fn subscribe(store: &Store, run_id: RunId) -> watch::Receiver<Latest> {
    let key = (store.events().identity(), run_id);
    let mut watched = WATCHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(sender) = watched.get(&key) {
        return sender.subscribe();
    }
    let (sender, receiver) = watch::channel(None);
    let sender = Arc::new(sender);
    watched.insert(key, sender.clone());
    tokio::spawn(read_on_change(store.clone(), key, sender));
    receiver
}

async fn read_on_change(store: Store, key: Key, sender: Arc<watch::Sender<Latest>>) {
    let run_id = key.1;
    // Subscribed before the first read, so no change slips between the two.
    let mut changes = store.events().subscribe();
    publish(&sender, super::service::job_of_run(&store, run_id).await);
    loop {
        tokio::select! {
            () = sender.closed() => {
                let mut watched = WATCHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                // A request may have subscribed since `closed` fired; it subscribes under this lock.
                if sender.receiver_count() == 0 {
                    watched.remove(&key);
                    return;
                }
            }
            heard = changes.recv() => match heard {
                Ok(change) if change.run_id != run_id => {}
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    publish(&sender, super::service::job_of_run(&store, run_id).await);
                }
                Err(RecvError::Closed) => {
                    WATCHED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
                    return;
                }
            },
        }
    }
}

/// Wakes the subscribers only when the job differs from what they last saw.
fn publish(sender: &watch::Sender<Latest>, read: Result<TenantJob, CoreError>) {
    match read {
        Ok(job) => {
            sender.send_if_modified(|latest| {
                let changed = latest.as_deref() != Some(&job);
                if changed {
                    *latest = Some(Arc::new(job));
                }
                changed
            });
        }
        Err(error) => tracing::warn!(%error, "re-reading a watched tenant job failed"),
    }
}
