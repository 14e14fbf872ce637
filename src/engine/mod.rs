//! The operation engine: starting and cancelling runs (with their audit entries), the
//! operations that do the work, and the workers, reconciler and retention job that carry runs
//! from `queued` to `completed`. The run row is the job; nothing else is queued anywhere.

mod context;
pub mod operations;
mod workers;

pub use context::{RunContext, Stop};
pub use workers::{run_now, EngineHandle, EngineSettings, SchedulerClock};

use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::operations::{Initiator, OperationKind, OperationRun, RunOutcome};
use crate::store::{NewRun, Started, Store};
use crate::CoreError;
use std::collections::HashMap;
use std::sync::Arc;

/// What runs one kind of operation.
#[async_trait::async_trait]
pub trait Operation: Send + Sync {
    fn kind(&self) -> OperationKind;

    /// Whether a run whose worker died may simply run again from the start. True only when
    /// running twice leaves the same result as running once.
    fn retry_safe(&self) -> bool;

    /// Does the work, reporting progress through `run` and checking `run.checkpoint()` between
    /// items so that cancels and shutdowns are heard. Returns the outcome to complete with.
    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop>;
}

/// The operations a worker can run, by kind.
#[derive(Clone, Default)]
pub struct Operations {
    by_kind: HashMap<OperationKind, Arc<dyn Operation>>,
}

impl Operations {
    pub fn new(operations: Vec<Arc<dyn Operation>>) -> Operations {
        Operations { by_kind: operations.into_iter().map(|op| (op.kind(), op)).collect() }
    }

    pub fn get(&self, kind: OperationKind) -> Option<&Arc<dyn Operation>> {
        self.by_kind.get(&kind)
    }
}

/// Starts `new`, or reuses the active run with the same identity, and records who asked.
pub async fn start(store: &Store, new: &NewRun) -> Result<Started, CoreError> {
    store.start_run_recorded(new, None, &|started| start_entry(new, started)).await
}

/// Like [`start`], but a created run is claimed for the caller, who executes it at once with
/// [`run_now`] while its request waits.
pub async fn start_now(store: &Store, new: &NewRun) -> Result<Started, CoreError> {
    store.start_run_recorded(new, Some("request"), &|started| start_entry(new, started)).await
}

/// The audit entry of a start or a reuse.
fn start_entry(new: &NewRun, started: Started) -> NewAuditEntry {
    let verb = match started {
        Started::Created(_) => AuditAction::Start,
        Started::Reused(_) => AuditAction::Reuse,
    };
    let mut details = serde_json::Map::new();
    details.insert("type".into(), new.kind.as_str().into());
    if let Some(target) = &new.target {
        details.insert("target".into(), serde_json::json!({ "kind": target.kind, "id": target.id }));
    }
    NewAuditEntry {
        workspace_id: Some(new.workspace_id),
        tenant_id: new.tenant_id,
        actor: new.initiator.clone(),
        kind: AuditKind::Operation,
        action: verb,
        target_id: started.id().to_string(),
        details,
    }
}

/// Cancels `run` for `actor`: a queued run completes as cancelled at once, a running one is
/// asked to stop at its next checkpoint. A completed run is a conflict.
pub async fn cancel(store: &Store, actor: &Initiator, run: &OperationRun) -> Result<(), CoreError> {
    if !store.cancel_run(run.id).await? {
        return Err(CoreError::conflict("This operation has already completed"));
    }
    let mut details = serde_json::Map::new();
    details.insert("type".into(), run.kind.as_str().into());
    details.insert("statusWhenCancelled".into(), run.status.as_str().into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(run.workspace_id),
            tenant_id: run.tenant_id,
            actor: actor.clone(),
            kind: AuditKind::Operation,
            action: AuditAction::Cancel,
            target_id: run.id.to_string(),
            details,
        })
        .await
}

/// The outcome for a run whose items ended `failed` of `total` with nothing else wrong.
pub fn outcome_of_items(total: i64, failed: i64) -> RunOutcome {
    match failed {
        0 => RunOutcome::Succeeded,
        failed if failed < total => RunOutcome::PartiallySucceeded,
        _ => RunOutcome::Failed,
    }
}
