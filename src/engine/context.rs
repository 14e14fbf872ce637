//! What an operation sees of its run while it executes: the run itself, progress counters,
//! failures, and checkpoints where it stops for a cancel or a shutdown.

use crate::operation::{Counters, Failure, OperationRun};
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
                tracing::error!(error = %other, "operation stopped by an internal error");
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
