//! What an operation sees of its run while it executes: the run itself, progress counters,
//! failures, and checkpoints where it stops for a cancel or a shutdown.

use crate::ids::RunId;
use crate::operations::{Counters, Failure, OperationRun};
use crate::provider::{Interrupted, PauseReason, Pauses};
use crate::store::Store;
use crate::CoreError;
use chrono::Utc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why an operation stopped before finishing its work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A member cancelled the run: it completes as `cancelled`.
    Cancelled,
    /// The process is shutting down: the run goes back to the queue for another worker.
    Released,
    /// The run cannot go on: it completes as `failed` with this failure.
    Failed(Failure),
}

impl Stop {
    pub fn failed(code: &str, reason_code: &str, message: impl Into<String>) -> Stop {
        Stop::Failed(Failure {
            code: code.into(),
            reason_code: reason_code.into(),
            message: message.into(),
            at: Utc::now(),
        })
    }
}

/// A store error inside an operation fails the run without details that belong in logs.
impl From<CoreError> for Stop {
    fn from(error: CoreError) -> Stop {
        match error {
            CoreError::NotFound => Stop::failed(
                "ops.target_missing",
                "invalid_state",
                "What this operation works on no longer exists.",
            ),
            other => {
                tracing::error!(error = %other.detail(), "operation stopped by an internal error");
                Stop::failed("ops.internal", "unknown_error", "An internal error stopped this operation.")
            }
        }
    }
}

/// Shared between the operation, its worker's heartbeat and the shutdown path.
#[derive(Default)]
pub(super) struct RunSignals {
    pub counters: Mutex<Counters>,
    pub cancel_requested: AtomicBool,
    pub release: AtomicBool,
}

impl RunSignals {
    pub fn counters(&self) -> Counters {
        self.counters.lock().map(|counters| *counters).unwrap_or_default()
    }
}

pub struct RunContext {
    pub run: OperationRun,
    pub store: Store,
    signals: Arc<RunSignals>,
    last_flush: Instant,
    flush_every: Duration,
}

impl RunContext {
    pub(super) fn new(
        run: OperationRun,
        store: Store,
        signals: Arc<RunSignals>,
        flush_every: Duration,
    ) -> Self {
        if let Ok(mut counters) = signals.counters.lock() {
            *counters = run.counters;
        }
        RunContext { run, store, signals, last_flush: Instant::now(), flush_every }
    }

    pub fn counters(&self) -> Counters {
        self.signals.counters()
    }

    pub fn set_total(&self, total: i64) {
        self.update(|counters| counters.total = total);
    }

    pub fn item_succeeded(&self) {
        self.update(|counters| counters.processed += 1);
    }

    /// Counts a failed item and records why.
    pub async fn item_failed(&self, failure: Failure) -> Result<(), Stop> {
        self.update(|counters| {
            counters.processed += 1;
            counters.failed += 1;
        });
        self.store.add_run_failure(self.run.id, &failure).await?;
        Ok(())
    }

    /// Adds a line to the run's log, which watchers hear at once.
    pub async fn log(&self, message: impl Into<String>) -> Result<(), Stop> {
        self.store.add_run_message(self.run.id, &message.into()).await?;
        Ok(())
    }

    /// Waits out the provider's throttling for this run: see [`RunPauses`].
    pub fn pauses(&self) -> Arc<dyn Pauses> {
        Arc::new(RunPauses { run_id: self.run.id, store: self.store.clone(), signals: self.signals.clone() })
    }

    /// Why the run stops when the operation was interrupted: a cancel, or its worker releasing it.
    pub fn interruption(&self) -> Stop {
        if self.signals.release.load(Ordering::Relaxed) {
            Stop::Released
        } else {
            Stop::Cancelled
        }
    }

    fn update(&self, change: impl FnOnce(&mut Counters)) {
        if let Ok(mut counters) = self.signals.counters.lock() {
            change(&mut counters);
        }
    }

    /// Call between items: saves progress now and then (which also tells watchers), and stops
    /// the operation when the run was cancelled or the worker is releasing it.
    pub async fn checkpoint(&mut self) -> Result<(), Stop> {
        if self.last_flush.elapsed() >= self.flush_every {
            self.last_flush = Instant::now();
            let stop = self.store.heartbeat_run(self.run.id, self.counters()).await?;
            if stop {
                self.signals.cancel_requested.store(true, Ordering::Relaxed);
            }
        }
        if self.signals.release.load(Ordering::Relaxed) {
            return Err(Stop::Released);
        }
        if self.signals.cancel_requested.load(Ordering::Relaxed) {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }
}

/// The context entry that says what a run is waiting for, while it waits.
pub const PROGRESS_NOTE: &str = "progressNote";

/// A run waiting for the provider: its progress says why and for how long (in the context's
/// `progressNote` and the run's log), and a cancel or release ends the wait at once.
struct RunPauses {
    run_id: RunId,
    store: Store,
    signals: Arc<RunSignals>,
}

impl RunPauses {
    fn stopping(&self) -> bool {
        self.signals.cancel_requested.load(Ordering::Relaxed) || self.signals.release.load(Ordering::Relaxed)
    }

    async fn note(&self, note: Option<String>) {
        if let Some(note) = &note {
            if let Err(error) = self.store.add_run_message(self.run_id, note).await {
                tracing::warn!(error = %error.detail(), run = %self.run_id, "cannot log a wait");
            }
        }
        let value = note.map(serde_json::Value::from);
        if let Err(error) = self.store.set_run_context_entry(self.run_id, PROGRESS_NOTE, value).await {
            tracing::warn!(error = %error.detail(), run = %self.run_id, "cannot show a wait");
        }
    }
}

#[async_trait::async_trait]
impl Pauses for RunPauses {
    async fn pause(&self, wait: Duration, why: PauseReason) -> Result<(), Interrupted> {
        let seconds = wait.as_secs_f64().ceil() as u64;
        let note = match why {
            PauseReason::Throttled { status: 429 } => {
                Some(format!("throttled by the provider, retrying in {seconds} s"))
            }
            PauseReason::Throttled { status } => {
                Some(format!("the provider is unavailable (HTTP {status}), retrying in {seconds} s"))
            }
            PauseReason::Budget if wait >= Duration::from_secs(1) => Some(format!(
                "pacing requests to stay under Graph's limits for this tenant, next in {seconds} s"
            )),
            PauseReason::Budget => None,
        };
        let noted = note.is_some();
        if noted {
            self.note(note).await;
        }
        let deadline = Instant::now() + wait;
        let result = loop {
            if self.stopping() {
                break Err(Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Ok(());
            }
            tokio::time::sleep(left.min(Duration::from_millis(200))).await;
        };
        if noted {
            self.note(None).await;
        }
        result
    }
}
