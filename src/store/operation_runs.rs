use super::{on_pool, Backend, Store};
use crate::operation::{Counters, Failure, Initiator, OperationRun, RunOutcome, RunStatus, RunTarget};
use crate::CoreError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// A run to start: the identity is derived from tenant, type and target.
pub struct NewRun {
    pub workspace_id: i64,
    pub tenant_id: Option<i64>,
    pub kind: String,
    pub target: Option<RunTarget>,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub initiator: Initiator,
}

/// What a start did: made a new run, or found the active one with the same identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Created(i64),
    Reused(i64),
}

impl Started {
    pub fn id(self) -> i64 {
        match self {
            Started::Created(id) | Started::Reused(id) => id,
        }
    }
}

impl NewRun {
    pub fn identity(&self) -> String {
        let (target_kind, target_id) =
            self.target.as_ref().map_or(("", ""), |target| (target.kind.as_str(), target.id.as_str()));
        let tenant =
            self.tenant_id.map_or_else(|| format!("workspace:{}", self.workspace_id), |id| id.to_string());
        // Unit separators keep "a"+"bc" and "ab"+"c" apart.
        let canonical = format!("{tenant}\u{1f}{}\u{1f}{target_kind}\u{1f}{target_id}", self.kind);
        Sha256::digest(canonical.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    workspace_id: i64,
    tenant_id: Option<i64>,
    kind: String,
    status: String,
    outcome: String,
    identity: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    context: String,
    total: i64,
    processed: i64,
    failed: i64,
    failures: String,
    initiator: String,
    attempt: i64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    heartbeat_at: Option<DateTime<Utc>>,
    cancel_requested: bool,
}

const RUN_COLUMNS: &str = "id, workspace_id, tenant_id, kind, status, outcome, identity, target_kind, target_id, \
     context, total, processed, failed, failures, initiator, attempt, created_at, started_at, completed_at, heartbeat_at, \
     cancel_requested";

fn corrupt(what: &str, error: impl std::fmt::Display) -> CoreError {
    tracing::error!(%error, "stored operation run has a bad {what}");
    CoreError::Internal
}

impl TryFrom<RunRow> for OperationRun {
    type Error = CoreError;
    fn try_from(row: RunRow) -> Result<Self, CoreError> {
        Ok(OperationRun {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            kind: row.kind,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            outcome: row.outcome.parse().map_err(|e| corrupt("outcome", e))?,
            identity: row.identity,
            target: row.target_kind.zip(row.target_id).map(|(kind, id)| RunTarget { kind, id }),
            context: serde_json::from_str(&row.context).map_err(|e| corrupt("context", e))?,
            counters: Counters { total: row.total, processed: row.processed, failed: row.failed },
            failures: serde_json::from_str::<Vec<Failure>>(&row.failures)
                .map_err(|e| corrupt("failures", e))?,
            initiator: serde_json::from_str(&row.initiator).map_err(|e| corrupt("initiator", e))?,
            attempt: row.attempt,
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
            heartbeat_at: row.heartbeat_at,
            cancel_requested: row.cancel_requested,
        })
    }
}

impl Store {
    /// Creates a queued run, or returns the active run with the same identity. Atomic on both
    /// backends: the partial unique index admits one active run per identity, and a start that
    /// loses the race reads the winner's id.
    pub async fn start_run(&self, new: &NewRun) -> Result<Started, CoreError> {
        let identity = new.identity();
        let context = serde_json::Value::Object(new.context.clone()).to_string();
        let initiator = serde_json::to_string(&new.initiator).map_err(|_| CoreError::Internal)?;
        let (target_kind, target_id) = new.target.as_ref().map(|t| (t.kind.clone(), t.id.clone())).unzip();
        // The active run can complete between our failed insert and the read: then try again.
        for _ in 0..5 {
            let created: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
                "INSERT INTO operation_runs (workspace_id, tenant_id, kind, status, outcome, identity, \
                 target_kind, target_id, context, initiator, created_at) \
                 VALUES ($1, $2, $3, 'queued', 'pending', $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (identity) WHERE status IN ('queued', 'running') DO NOTHING RETURNING id")
                .bind(new.workspace_id).bind(new.tenant_id).bind(&new.kind).bind(&identity)
                .bind(&target_kind).bind(&target_id).bind(&context).bind(&initiator).bind(Utc::now())
                .fetch_optional(pool).await)?;
            if let Some(id) = created {
                return Ok(Started::Created(id));
            }
            let active: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
                "SELECT id FROM operation_runs WHERE identity = $1 AND status IN ('queued', 'running')")
                .bind(&identity).fetch_optional(pool).await)?;
            if let Some(id) = active {
                return Ok(Started::Reused(id));
            }
        }
        tracing::error!(%identity, "could not start or find an active run");
        Err(CoreError::Internal)
    }

    pub async fn operation_run(&self, id: i64) -> Result<Option<OperationRun>, CoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM operation_runs WHERE id = $1");
        let row =
            on_pool!(self, pool => sqlx::query_as::<_, RunRow>(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Claims the oldest queued run whose tenant has fewer than `per_tenant_limit` running,
    /// marking it running for `worker`. On PostgreSQL rows other workers are claiming are
    /// skipped, not waited for; SQLite has one writer, so the statement is atomic as it is.
    /// Under concurrent claims the tenant limit is a bound each claim checks, not a lock.
    pub async fn claim_run(
        &self,
        worker: &str,
        per_tenant_limit: i64,
    ) -> Result<Option<OperationRun>, CoreError> {
        let skip_locked = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE operation_runs SET status = 'running', started_at = COALESCE(started_at, $1), \
             heartbeat_at = $1, claimed_by = $2 \
             WHERE id = (SELECT q.id FROM operation_runs q WHERE q.status = 'queued' \
               AND (q.tenant_id IS NULL OR (SELECT COUNT(*) FROM operation_runs r \
                    WHERE r.tenant_id = q.tenant_id AND r.status = 'running') < $3) \
               ORDER BY q.created_at, q.id LIMIT 1 {skip_locked}) \
             AND status = 'queued' RETURNING {RUN_COLUMNS}"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, RunRow>(&sql)
            .bind(Utc::now()).bind(worker).bind(per_tenant_limit).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Records progress and that the worker is alive. Returns whether a cancel was requested.
    pub async fn heartbeat_run(&self, id: i64, counters: Counters) -> Result<bool, CoreError> {
        let cancel: Option<bool> = on_pool!(self, pool => sqlx::query_scalar(
            "UPDATE operation_runs SET heartbeat_at = $2, total = $3, processed = $4, failed = $5 \
             WHERE id = $1 AND status = 'running' RETURNING cancel_requested")
            .bind(id).bind(Utc::now()).bind(counters.total).bind(counters.processed).bind(counters.failed)
            .fetch_optional(pool).await)?;
        Ok(cancel.unwrap_or(true))
    }

    /// Appends a failure to an active run.
    pub async fn add_run_failure(&self, id: i64, failure: &Failure) -> Result<(), CoreError> {
        let Some(mut run) = self.operation_run(id).await? else {
            return Err(CoreError::NotFound);
        };
        run.failures.push(failure.clone());
        let failures = serde_json::to_string(&run.failures).map_err(|_| CoreError::Internal)?;
        on_pool!(self, pool => sqlx::query(
            "UPDATE operation_runs SET failures = $2 WHERE id = $1 AND status IN ('queued', 'running')")
            .bind(id).bind(failures).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Cancels a run: a queued one at once; a running one is asked to stop, and its handler
    /// completes it as cancelled. False when the run had completed already.
    pub async fn cancel_run(&self, id: i64) -> Result<bool, CoreError> {
        let queued = on_pool!(self, pool => sqlx::query(
            "UPDATE operation_runs SET status = 'completed', outcome = 'cancelled', completed_at = $2 \
             WHERE id = $1 AND status = 'queued'")
            .bind(id).bind(Utc::now()).execute(pool).await.map(|done| done.rows_affected()))?;
        if queued == 1 {
            return Ok(true);
        }
        let running = on_pool!(self, pool => sqlx::query(
            "UPDATE operation_runs SET cancel_requested = TRUE WHERE id = $1 AND status = 'running'")
            .bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(running == 1)
    }

    /// Completes as failed (`ops.stale`) every running run whose heartbeat is older than
    /// `stale_before`: its worker died. A run whose worker beats again first is left alone.
    /// Returns the ids it completed.
    pub async fn fail_stale_runs(&self, stale_before: DateTime<Utc>) -> Result<Vec<i64>, CoreError> {
        let candidates: Vec<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM operation_runs WHERE status = 'running' AND heartbeat_at < $1")
            .bind(stale_before).fetch_all(pool).await)?;
        let mut failed = Vec::new();
        for id in candidates {
            let Some(mut run) = self.operation_run(id).await? else { continue };
            let now = Utc::now();
            run.failures.push(Failure {
                code: "ops.stale".into(),
                reason_code: "ops.stale".into(),
                message: "The worker running this operation stopped responding.".into(),
                at: now,
            });
            let failures = serde_json::to_string(&run.failures).map_err(|_| CoreError::Internal)?;
            let done = on_pool!(self, pool => sqlx::query(
                "UPDATE operation_runs SET status = 'completed', outcome = 'failed', completed_at = $3, failures = $4 \
                 WHERE id = $1 AND status = 'running' AND heartbeat_at < $2")
                .bind(id).bind(stale_before).bind(now).bind(failures)
                .execute(pool).await.map(|done| done.rows_affected()))?;
            if done == 1 {
                failed.push(id);
            }
        }
        Ok(failed)
    }

    /// Ends an active run with `outcome`; false when it was not active.
    pub async fn complete_run(&self, id: i64, outcome: RunOutcome) -> Result<bool, CoreError> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE operation_runs SET status = $2, outcome = $3, completed_at = $4 \
             WHERE id = $1 AND status IN ('queued', 'running')")
            .bind(id).bind(RunStatus::Completed.as_str()).bind(outcome.as_str()).bind(Utc::now())
            .execute(pool).await.map(|result| result.rows_affected()))?;
        Ok(done == 1)
    }
}
