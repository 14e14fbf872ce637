use super::{on_pool, Store};
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
}

const RUN_COLUMNS: &str = "id, workspace_id, tenant_id, kind, status, outcome, identity, target_kind, target_id, \
     context, total, processed, failed, failures, initiator, attempt, created_at, started_at, completed_at, heartbeat_at";

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
