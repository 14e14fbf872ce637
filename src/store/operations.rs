//! Operation runs: starting (an active run of the same identity is reused), claiming, heartbeats,
//! cancelling, completing and pruning them, and the queries Monitoring lists them with.

use super::group_commit::Row;
use super::idle_lanes::Lane;
use super::{in_transaction, on_pool, AuditInsert, Backend, Db, RunChange, Store};
use crate::audit::NewAuditEntry;
use crate::ids::{PipelineId, RunId, TenantId, UserId, WorkspaceId};
use crate::operations::{
    Counters, Failure, Initiator, OperationKind, OperationRun, RunOutcome, RunStatus, RunTarget,
};
use crate::CoreError;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A run to start: the identity is derived from tenant, type and target.
pub struct NewRun {
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    pub kind: OperationKind,
    pub target: Option<RunTarget>,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub initiator: Initiator,
    /// The run this one retries, if it is a retry.
    pub retry_of: Option<RunId>,
}

/// A new run as the group commit inserts it (see `INSERT_RUN` for what each field does).
#[derive(Debug)]
pub(super) struct RunInsert {
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    pub kind: OperationKind,
    pub claimer: Option<String>,
    pub identity: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub context: String,
    pub initiator: String,
    pub at: DateTime<Utc>,
    pub retry_of: Option<RunId>,
    pub schedule_id: Option<i64>,
    pub tenant_limit: Option<i64>,
    /// Recorded with the run, its target the run made.
    pub entry: Option<AuditInsert>,
}

/// Binds the [`RunInsert`] `$run` to `$query` as [`INSERT_RUN`] numbers its parameters, then
/// its audit entry's (`$14`..`$21`) when `$entry` (an `Option<&AuditInsert>`) holds one.
#[rustfmt::skip]
macro_rules! bind_run_insert {
    ($query:expr, $run:expr, $entry:expr) => {{
        let run: &$crate::store::operations::RunInsert = $run;
        let query = $query
            .bind(run.workspace_id).bind(run.tenant_id).bind(run.kind).bind(&run.claimer)
            .bind(&run.identity).bind(&run.target_kind).bind(&run.target_id)
            .bind(&run.context).bind(&run.initiator).bind(run.at).bind(run.retry_of)
            .bind(run.schedule_id).bind(run.tenant_limit);
        match $entry {
            Some(entry) => query
                .bind(entry.workspace_id).bind(entry.tenant_id).bind(entry.user_id)
                .bind(&entry.actor).bind(entry.kind).bind(entry.action).bind(&entry.details)
                .bind(entry.at),
            None => query,
        }
    }};
}
pub(super) use bind_run_insert;

/// A new run's fields as stored, serialised once for all of a start's tries.
struct RunFields {
    context: String,
    initiator: String,
    entry: Option<AuditInsert>,
}

impl RunInsert {
    /// `new` as inserted: claimed for the caller that claims it, or for `lane` within its
    /// tenant's limit.
    fn of(
        new: &NewRun,
        identity: &str,
        fields: &RunFields,
        claimed_by: Option<&str>,
        lane: Option<&Lane>,
    ) -> RunInsert {
        let (target_kind, target_id) = new.target.as_ref().map(|t| (t.kind.clone(), t.id.clone())).unzip();
        RunInsert {
            workspace_id: new.workspace_id,
            tenant_id: new.tenant_id,
            kind: new.kind,
            claimer: claimed_by.or(lane.map(|lane| lane.claimer.as_str())).map(str::to_string),
            identity: identity.to_string(),
            target_kind,
            target_id,
            context: fields.context.clone(),
            initiator: fields.initiator.clone(),
            at: Utc::now(),
            retry_of: new.retry_of,
            schedule_id: new.initiator.schedule_id(),
            tenant_limit: lane.map(|lane| lane.per_tenant_limit),
            entry: fields.entry.clone(),
        }
    }
}

/// How a run that happened before ended (see [`Store::record_past_run`]).
#[derive(Debug, Clone)]
pub struct PastRun {
    pub outcome: RunOutcome,
    pub counters: Counters,
    pub failures: Vec<Failure>,
    pub created_at: DateTime<Utc>,
    /// From creation to completion; it started a tenth of that after creation.
    pub took: chrono::Duration,
}

/// How a run a worker executed ended: saved together with that worker's next claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Completion {
    pub id: RunId,
    pub outcome: RunOutcome,
    #[serde(flatten)]
    pub counters: Counters,
}

/// What a start did: made a new run, or found the active one with the same identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Created(RunId),
    Reused(RunId),
}

impl Started {
    pub fn id(self) -> RunId {
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
        // A tenant's lifecycle jobs exclude each other, whatever each one does.
        let kind = if self.kind.is_tenant_job() { "tenant.lifecycle" } else { self.kind.as_str() };
        // Unit separators keep "a"+"bc" and "ab"+"c" apart.
        let canonical = format!("{tenant}\u{1f}{kind}\u{1f}{target_kind}\u{1f}{target_id}");
        Sha256::digest(canonical.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct RunRow {
    pub id: RunId,
    workspace_id: WorkspaceId,
    tenant_id: Option<TenantId>,
    kind: OperationKind,
    status: RunStatus,
    outcome: RunOutcome,
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
    retry_of: Option<RunId>,
}

/// What a changing statement returns, to publish the change without reading the run again.
#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    id: RunId,
    workspace_id: WorkspaceId,
    tenant_id: Option<TenantId>,
    target_kind: Option<String>,
    target_id: Option<String>,
    status: RunStatus,
    outcome: RunOutcome,
    kind: OperationKind,
    total: i64,
    processed: i64,
    failed: i64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

pub(super) const CHANGE_COLUMNS: &str =
    "id, workspace_id, tenant_id, target_kind, target_id, status, outcome, kind, \
     total, processed, failed, created_at, started_at, completed_at";

/// A new run, unless one of its identity is active; the run made. Claimed for `$4` when given
/// (and then running from `$10`), unless its tenant already runs `$13` runs (no limit when null).
pub(super) static INSERT_RUN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    insert_run_sql(
        "(SELECT COUNT(*) FROM operation_runs WHERE tenant_id = $2 AND status = 'running')",
        "true",
    )
});

/// [`INSERT_RUN`] and, when it makes the run, the run's audit entry (`$14`..`$21`, its fields in
/// [`AuditInsert::INTO`](super::AuditInsert::INTO)'s order, less the target: the run made), in
/// one PostgreSQL statement: one round trip fewer for every start. (SQLite has no `INSERT` in
/// `WITH`.)
pub(super) static INSERT_RUN_RECORDED_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| {
        with_entry_postgres(&format!("run AS ({})", *INSERT_RUN), &format!("SELECT {RUN_COLUMNS} FROM run"))
    });

/// A start on PostgreSQL for an idle lane of this process (`$4`), all in one autocommitted
/// statement: reads the active run of its identity (`$5`), or makes the run, claimed within its
/// tenant's limit (`$13`) counted in the claims' turn (see `running_runs_in_claims_turn` in the
/// migrations). Returns the run made (`made`) or the active one; none when a concurrent start
/// of the same identity won between the read and the insert. One round trip from start to
/// execution, where a transaction takes four.
static START_ON_LANE_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| start_on_lane_sql(false));

/// [`START_ON_LANE_POSTGRES`] that also records the run made's audit entry (`$14`..`$21`).
static START_ON_LANE_RECORDED_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| start_on_lane_sql(true));

/// [`INSERT_RUN`]'s statement, with the tenant's running runs counted by `running`, making the
/// run only if `made_if` holds.
fn insert_run_sql(running: &str, made_if: &str) -> String {
    format!(
        "INSERT INTO operation_runs (workspace_id, tenant_id, kind, status, outcome, identity, \
         target_kind, target_id, context, initiator, created_at, started_at, heartbeat_at, claimed_by, \
         retry_of, schedule_id) \
         SELECT $1, $2, $3, CASE WHEN slot.free THEN 'running' ELSE 'queued' END, 'pending', $5, $6, $7, \
         $8, $9, $10, CASE WHEN slot.free THEN $10 END, CASE WHEN slot.free THEN $10 END, \
         CASE WHEN slot.free THEN $4 END, $11, $12 \
         FROM (SELECT ($4 IS NOT NULL AND ($13 IS NULL OR $2 IS NULL OR {running} < $13)) AS free) AS slot \
         WHERE {made_if} \
         ON CONFLICT (identity) WHERE status IN ('queued', 'running') DO NOTHING RETURNING {RUN_COLUMNS}"
    )
}

/// `WITH {ctes}` (one of them `run`, the run made), the run's audit entry, then `select`.
fn with_entry_postgres(ctes: &str, select: &str) -> String {
    format!(
        "WITH {ctes}, \
         entry AS ({into} \
           SELECT $14, $15, $16, (SELECT email FROM users WHERE id = $16), $17, $18, $19, run.id::text, $20, $21 \
           FROM run) \
         {select}",
        into = AuditInsert::INTO
    )
}

/// What [`START_ON_LANE_POSTGRES`] returns: the run made, or the active one.
#[derive(sqlx::FromRow)]
struct OnLaneRow {
    made: bool,
    #[sqlx(flatten)]
    run: RunRow,
}

/// Runs [`START_ON_LANE_POSTGRES`] for `run` (its recorded form when `run` has an entry).
async fn start_on_lane(pool: &sqlx::PgPool, run: &RunInsert) -> Result<Option<OnLaneRow>, sqlx::Error> {
    let sql = match run.entry {
        Some(_) => START_ON_LANE_RECORDED_POSTGRES.as_str(),
        None => START_ON_LANE_POSTGRES.as_str(),
    };
    bind_run_insert!(sqlx::query_as(sql), run, run.entry.as_ref()).fetch_optional(pool).await
}

/// [`START_ON_LANE_POSTGRES`]'s statement; `recorded` adds the run's audit entry.
fn start_on_lane_sql(recorded: bool) -> String {
    let insert = insert_run_sql(
        &format!("running_runs_in_claims_turn($2, {CLAIM_LOCK})"),
        "NOT EXISTS (SELECT 1 FROM active)",
    );
    let ctes = format!(
        "active AS (SELECT {RUN_COLUMNS} FROM operation_runs \
           WHERE identity = $5 AND status IN ('queued', 'running')), \
         run AS ({insert})"
    );
    let select = format!(
        "SELECT true AS made, {RUN_COLUMNS} FROM run UNION ALL SELECT false, {RUN_COLUMNS} FROM active"
    );
    match recorded {
        true => with_entry_postgres(&ctes, &select),
        false => format!("WITH {ctes} {select}"),
    }
}

/// Claims up to `$6` of the oldest queued runs in one statement (`$1` now, `$2` the claimer,
/// `$3` the per-tenant limit, `$4` the pipeline kind, `$5` how many queued runs it looks at):
/// ranked within their tenant, a run may go when its tenant's running runs and those ranked
/// before it stay within the limit (each tenant's running runs counted once, not per run). It
/// takes nothing when a pipeline run is among those looked at (their own limits are
/// `CLAIM_ONE`'s to keep).
static CLAIM_BATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH waiting AS (SELECT id, tenant_id, kind, created_at FROM operation_runs \
           WHERE status = 'queued' ORDER BY created_at, id LIMIT $5), \
         running AS (SELECT tenant_id, COUNT(*) AS n FROM operation_runs \
           WHERE status = 'running' AND tenant_id IN (SELECT tenant_id FROM waiting) GROUP BY tenant_id), \
         ranked AS (SELECT waiting.id, waiting.tenant_id, waiting.created_at, \
           ROW_NUMBER() OVER (PARTITION BY waiting.tenant_id ORDER BY waiting.created_at, waiting.id) \
             + COALESCE(running.n, 0) AS slot \
           FROM waiting LEFT JOIN running ON running.tenant_id = waiting.tenant_id) \
         UPDATE operation_runs SET status = 'running', started_at = COALESCE(started_at, $1), \
         heartbeat_at = $1, claimed_by = $2 \
         WHERE id IN (SELECT ranked.id FROM ranked \
           WHERE NOT EXISTS (SELECT 1 FROM waiting WHERE waiting.kind = $4) \
           AND (ranked.tenant_id IS NULL OR ranked.slot <= $3) \
           ORDER BY ranked.created_at, ranked.id LIMIT $6) \
         AND status = 'queued' RETURNING {RUN_COLUMNS}"
    )
});

/// Claims the oldest queued run that may go (`$1` now, `$2` the claimer, `$3` the per-tenant
/// limit, `$4` the pipeline limit, `$5` the pipeline kind, `$6` pipelines per workspace).
static CLAIM_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE operation_runs SET status = 'running', started_at = COALESCE(started_at, $1), \
         heartbeat_at = $1, claimed_by = $2 \
         WHERE id = (SELECT q.id FROM operation_runs q WHERE q.status = 'queued' \
           AND (q.tenant_id IS NULL OR (SELECT COUNT(*) FROM operation_runs r \
                WHERE r.tenant_id = q.tenant_id AND r.status = 'running') < $3) \
           AND (q.kind <> $5 OR ((SELECT COUNT(*) FROM operation_runs p \
                WHERE p.kind = $5 AND p.status = 'running') < $4 \
                AND (SELECT COUNT(*) FROM operation_runs w WHERE w.kind = $5 AND w.status = 'running' \
                AND w.workspace_id = q.workspace_id) < $6)) \
           ORDER BY q.created_at, q.id LIMIT 1) \
         AND status = 'queued' RETURNING {RUN_COLUMNS}"
    )
});

/// Completes the active runs of `$1` (a JSON array of [`Completion`]s) at `$2`: one statement
/// for a batch, each backend reading the array its own way (`source`, `field`) and naming the
/// run's columns its own way (`run`: SQLite's RETURNING sees only the updated table).
fn complete_batch_sql(source: &str, field: fn(&str) -> String, run: &str) -> String {
    let returning =
        CHANGE_COLUMNS.split(',').map(|column| format!("{run}{}", column.trim())).collect::<Vec<_>>();
    format!(
        "UPDATE operation_runs AS r SET status = 'completed', outcome = {outcome}, completed_at = $2, \
         total = {total}, processed = {processed}, failed = {failed} \
         FROM {source} WHERE r.id = {id} AND r.status IN ('queued', 'running') RETURNING {returning}",
        outcome = field("outcome"),
        total = field("total"),
        processed = field("processed"),
        failed = field("failed"),
        id = field("id"),
        returning = returning.join(", "),
    )
}

static COMPLETE_BATCH_SQLITE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    complete_batch_sql("json_each($1) AS c", |name| format!("json_extract(c.value, '$.{name}')"), "")
});

static COMPLETE_BATCH_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    complete_batch_sql(
        "jsonb_to_recordset($1::jsonb) AS c(id BIGINT, outcome TEXT, total BIGINT, processed BIGINT, failed BIGINT)",
        |name| format!("c.{name}"),
        "r.",
    )
});

impl From<ChangeRow> for RunChange {
    fn from(row: ChangeRow) -> Self {
        RunChange {
            run_id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            pipeline_id: crate::operations::pipeline_id(row.target_kind.as_deref(), row.target_id.as_deref()),
            kind: row.kind,
            status: row.status,
            outcome: row.outcome,
            counters: Counters { total: row.total, processed: row.processed, failed: row.failed },
            created_at: row.created_at,
            started_at: row.started_at,
            completed_at: row.completed_at,
        }
    }
}

impl From<&OperationRun> for RunChange {
    fn from(run: &OperationRun) -> Self {
        RunChange {
            run_id: run.id,
            workspace_id: run.workspace_id,
            tenant_id: run.tenant_id,
            pipeline_id: run.target.as_ref().and_then(RunTarget::pipeline_id),
            kind: run.kind,
            status: run.status,
            outcome: run.outcome,
            counters: run.counters,
            created_at: run.created_at,
            started_at: run.started_at,
            completed_at: run.completed_at,
        }
    }
}

const RUN_COLUMNS: &str = "id, workspace_id, tenant_id, kind, status, outcome, identity, target_kind, target_id, \
     context, total, processed, failed, failures, initiator, attempt, created_at, started_at, completed_at, heartbeat_at, \
     cancel_requested, retry_of";

fn corrupt(what: &str, error: impl std::fmt::Display) -> CoreError {
    CoreError::broken(format!("stored operation run has a bad {what}: {error}"))
}

/// Runs a statement that changes at most one run and `RETURNING {CHANGE_COLUMNS}`, binding the
/// arguments in order, and publishes the change. Evaluates to `Result<bool, CoreError>`.
macro_rules! change_run {
    ($store:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        let row: Option<ChangeRow> =
            on_pool!($store, pool => sqlx::query_as($sql)$(.bind($arg))*.fetch_optional(pool).await)?;
        $store.publish_change(row)
    }};
}

impl TryFrom<RunRow> for OperationRun {
    type Error = CoreError;
    fn try_from(row: RunRow) -> Result<Self, CoreError> {
        Ok(OperationRun {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            kind: row.kind,
            status: row.status,
            outcome: row.outcome,
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
            retry_of: row.retry_of,
        })
    }
}

impl Store {
    /// Creates a queued run, or returns the active run with the same identity. Atomic on both
    /// backends: the partial unique index admits one active run per identity, and a start that
    /// loses the race reads the winner's id.
    #[tracing::instrument(skip_all)]
    pub async fn start_run(&self, new: &NewRun) -> Result<Started, CoreError> {
        self.insert_run(new, None, None).await
    }

    /// [`Store::start_run`] that also records `entry` of what happened: a created run and its
    /// entry commit in one transaction, a reuse writes only its entry; both in a group commit
    /// shared with concurrent writers (see `group_commit`). With `claimed_by`, a created run starts out running, claimed by that
    /// worker: for work done while a request waits, which no worker must pick up meanwhile.
    #[tracing::instrument(skip_all)]
    pub async fn start_run_recorded(
        &self,
        new: &NewRun,
        claimed_by: Option<&str>,
        entry: &(dyn Fn(Started) -> NewAuditEntry + Sync),
    ) -> Result<Started, CoreError> {
        self.insert_run(new, claimed_by, Some(entry)).await
    }

    async fn insert_run(
        &self,
        new: &NewRun,
        claimed_by: Option<&str>,
        entry: Option<&(dyn Fn(Started) -> NewAuditEntry + Sync)>,
    ) -> Result<Started, CoreError> {
        let identity = new.identity();
        let fields = RunFields {
            context: serde_json::Value::Object(new.context.clone()).to_string(),
            initiator: serde_json::to_string(&new.initiator).map_err(CoreError::internal)?,
            // The entry's target is the run made, known once it is inserted.
            entry: entry
                .map(|entry| AuditInsert::of(&entry(Started::Created(RunId::default()))))
                .transpose()?,
        };
        let reused = |id| async move {
            if let Some(entry) = entry {
                self.record_audit(&entry(Started::Reused(id))).await?;
            }
            Ok(Started::Reused(id))
        };
        // The active run can complete between our failed insert and the read: then try again.
        for _ in 0..5 {
            let (run, lane) = match self.postgres_lane(new, claimed_by) {
                Some((pool, lane)) => {
                    let run = RunInsert::of(new, &identity, &fields, None, Some(&lane));
                    match start_on_lane(pool, &run).await? {
                        None => continue,
                        Some(row) if !row.made => return reused(row.run.id).await,
                        Some(row) => (OperationRun::try_from(row.run)?, Some(lane)),
                    }
                }
                None => {
                    // A reuse is a read: no write lock taken for a start that changes nothing.
                    if let Some(id) = self.active_run_of(&identity).await? {
                        return reused(id).await;
                    }
                    let Some(made) = self.create_run(new, &identity, &fields, claimed_by).await? else {
                        continue;
                    };
                    made
                }
            };
            crate::metrics::run_started(new.kind);
            if run.status == RunStatus::Running {
                crate::metrics::run_claimed(new.kind, std::time::Duration::ZERO);
            }
            let id = run.id;
            self.publish(RunChange::from(&run));
            if let Some(lane) = lane.filter(|_| run.status == RunStatus::Running) {
                if let Err(run) = lane.hand(run) {
                    // The engine stopped meanwhile: the run waits in the queue for another.
                    self.release_run(run).await?;
                }
            }
            return Ok(Started::Created(id));
        }
        Err(CoreError::broken(format!("could not start or find an active run of identity {identity}")))
    }

    /// The active run of `identity`, if any.
    async fn active_run_of(&self, identity: &str) -> Result<Option<RunId>, CoreError> {
        let active = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM operation_runs WHERE identity = $1 AND status IN ('queued', 'running')")
            .bind(identity).fetch_optional(pool).await)?;
        Ok(active)
    }

    /// An idle lane of this process's engine for a run no caller claims, when one waits (pipeline
    /// runs keep to their own limits, which only a claim applies).
    fn idle_lane(&self, new: &NewRun, claimed_by: Option<&str>) -> Option<Lane> {
        match claimed_by {
            None if new.kind != OperationKind::Pipeline => self.idle_lanes.take(),
            _ => None,
        }
    }

    /// On PostgreSQL, an idle lane a start may make its run for in one statement (see
    /// [`START_ON_LANE_POSTGRES`]): when the engine idles, nothing shares its commit anyway.
    fn postgres_lane(&self, new: &NewRun, claimed_by: Option<&str>) -> Option<(&sqlx::PgPool, Lane)> {
        match &self.db {
            Db::Postgres(pool) => Some((pool, self.idle_lane(new, claimed_by)?)),
            Db::Sqlite(_) => None,
        }
    }

    /// Makes `new` with its audit entry, in a commit shared with other writers, unless a run of
    /// its identity is active; the run as stored (times at the database's precision). A run no
    /// caller claims is claimed for an idle lane of this process's engine, if one waits, and
    /// comes back with the lane to hand it to.
    async fn create_run(
        &self,
        new: &NewRun,
        identity: &str,
        fields: &RunFields,
        claimed_by: Option<&str>,
    ) -> Result<Option<(OperationRun, Option<Lane>)>, CoreError> {
        let lane = self.idle_lane(new, claimed_by);
        let run = RunInsert::of(new, identity, fields, claimed_by, lane.as_ref());
        let Some(row) = self.group_commit.write(Row::Run(Box::new(run))).await? else { return Ok(None) };
        Ok(Some((OperationRun::try_from(row)?, lane)))
    }

    #[tracing::instrument(skip_all)]
    pub async fn operation_run(&self, id: RunId) -> Result<Option<OperationRun>, CoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM operation_runs WHERE id = $1");
        let row =
            on_pool!(self, pool => sqlx::query_as::<_, RunRow>(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// The runs that retry run `id`, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn retries_of(&self, id: RunId) -> Result<Vec<RunId>, CoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM operation_runs WHERE retry_of = $1 ORDER BY id")
            .bind(id).fetch_all(pool).await)?)
    }

    /// The runs working on target `kind` `id`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn runs_with_target(
        &self,
        kind: &str,
        id: &str,
        limit: i64,
    ) -> Result<Vec<OperationRun>, CoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM operation_runs WHERE target_kind = $1 AND target_id = $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<RunRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(kind).bind(id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Publishes the change a `change_run!` statement made; false when it matched no run.
    pub(super) fn publish_change(&self, row: Option<ChangeRow>) -> Result<bool, CoreError> {
        match row {
            Some(row) => {
                // Every way a run completes passes here once.
                if let (RunStatus::Completed, Some(completed)) = (row.status, row.completed_at) {
                    let ran = row.started_at.map(|started| crate::metrics::between(started, completed));
                    crate::metrics::run_completed(row.kind, row.outcome, ran);
                }
                self.publish(row.into());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// [`claim_runs`](Self::claim_runs) of one run.
    pub async fn claim_run(
        &self,
        claimer: &str,
        per_tenant_limit: i64,
        pipeline_limit: i64,
        pipelines_per_workspace: i64,
    ) -> Result<Option<OperationRun>, CoreError> {
        let mut runs =
            self.claim_runs(claimer, 1, per_tenant_limit, pipeline_limit, pipelines_per_workspace).await?;
        Ok(runs.pop())
    }

    /// Claims up to `count` of the oldest queued runs whose tenants stay within
    /// `per_tenant_limit` running, marking them running for `claimer`; oldest first. One
    /// transaction, one commit for them all; on PostgreSQL claims take turns through a
    /// transaction lock, so the tenant limit holds exactly however many processes claim at
    /// once. Pipeline runs wait for runs they start, so fewer than `pipeline_limit` of them run
    /// at once: the claiming process keeps a worker for those.
    ///
    /// The oldest runs are claimed in one statement; pipeline runs, and runs further back when
    /// those in front are held by their tenants' limits, one statement each.
    pub async fn claim_runs(
        &self,
        claimer: &str,
        count: usize,
        per_tenant_limit: i64,
        pipeline_limit: i64,
        pipelines_per_workspace: i64,
    ) -> Result<Vec<OperationRun>, CoreError> {
        self.complete_and_claim(
            &[],
            claimer,
            count,
            0,
            per_tenant_limit,
            pipeline_limit,
            pipelines_per_workspace,
        )
        .await
    }

    /// [`claim_runs`](Self::claim_runs), first completing the runs of `finished` in the same
    /// transaction: a worker's end of one run and its claim of the next share a commit, and the
    /// slots those runs held in their tenants' limits are free for the claim. Besides `count`
    /// runs it takes up to `ahead` more for the claimer to hold, from the oldest runs only (the
    /// one statement), so holding ahead never looks further back than a claim would.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all)]
    pub async fn complete_and_claim(
        &self,
        finished: &[Completion],
        claimer: &str,
        count: usize,
        ahead: usize,
        per_tenant_limit: i64,
        pipeline_limit: i64,
        pipelines_per_workspace: i64,
    ) -> Result<Vec<OperationRun>, CoreError> {
        let (batch, one) = (&*CLAIM_BATCH, &*CLAIM_ONE);
        let (now, wanted) = (Utc::now(), i64::try_from(count + ahead).unwrap_or(i64::MAX));
        let complete = self.complete_batch();
        let finished_json = serde_json::to_string(finished).map_err(CoreError::internal)?;
        let (completed, rows): (Vec<ChangeRow>, Vec<RunRow>) = in_transaction!(self, claims_turn = true, tx => {
            let completed: Vec<ChangeRow> = if finished.is_empty() {
                Vec::new()
            } else {
                sqlx::query_as(complete).bind(&finished_json).bind(now).fetch_all(&mut *tx).await?
            };
            let mut rows: Vec<RunRow> = if count + ahead == 0 {
                Vec::new()
            } else {
                sqlx::query_as(batch)
                    .bind(now)
                    .bind(claimer)
                    .bind(per_tenant_limit)
                    .bind(OperationKind::Pipeline)
                    .bind(wanted.saturating_mul(4).max(64))
                    .bind(wanted)
                    .fetch_all(&mut *tx)
                    .await?
            };
            // RETURNING keeps no order.
            rows.sort_by_key(|row| (row.created_at, row.id));
            while rows.len() < count {
                let row = sqlx::query_as::<_, RunRow>(one)
                    .bind(now)
                    .bind(claimer)
                    .bind(per_tenant_limit)
                    .bind(pipeline_limit)
                    .bind(OperationKind::Pipeline)
                    .bind(pipelines_per_workspace)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else { break };
                rows.push(row);
            }
            (completed, rows)
        });
        for row in completed {
            self.publish_change(Some(row))?;
        }
        let runs = rows.into_iter().map(OperationRun::try_from).collect::<Result<Vec<_>, _>>()?;
        for run in &runs {
            crate::metrics::run_claimed(run.kind, crate::metrics::between(run.created_at, now));
            self.publish(RunChange::from(run));
        }
        Ok(runs)
    }

    /// Records progress and that the worker is alive. Returns whether the run should stop: a
    /// cancel was requested, or the run is no longer running (e.g. reconciled as stale).
    #[tracing::instrument(skip_all)]
    pub async fn heartbeat_run(&self, id: RunId, counters: Counters) -> Result<bool, CoreError> {
        #[derive(sqlx::FromRow)]
        struct Beat {
            #[sqlx(flatten)]
            change: ChangeRow,
            cancel_requested: bool,
        }
        let sql = format!(
            "UPDATE operation_runs SET heartbeat_at = $2, total = $3, processed = $4, failed = $5 \
             WHERE id = $1 AND status = 'running' RETURNING {CHANGE_COLUMNS}, cancel_requested"
        );
        let beat: Option<Beat> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(Utc::now()).bind(counters.total).bind(counters.processed).bind(counters.failed)
            .fetch_optional(pool).await)?;
        let Some(beat) = beat else { return Ok(true) };
        self.publish(beat.change.into());
        Ok(beat.cancel_requested)
    }

    /// Appends a failure to an active run.
    #[tracing::instrument(skip_all)]
    pub async fn add_run_failure(&self, id: RunId, failure: &Failure) -> Result<(), CoreError> {
        let Some(mut run) = self.operation_run(id).await? else {
            return Err(CoreError::NotFound);
        };
        run.failures.push(failure.clone());
        let failures = serde_json::to_string(&run.failures).map_err(CoreError::internal)?;
        let sql = format!(
            "UPDATE operation_runs SET failures = $2 WHERE id = $1 AND status IN ('queued', 'running') \
             RETURNING {CHANGE_COLUMNS}"
        );
        change_run!(self, &sql, id, failures)?;
        Ok(())
    }

    /// Sets (or with `None` removes) one entry of an active run's context, e.g. what it is
    /// waiting for, and tells watchers.
    #[tracing::instrument(skip_all)]
    pub async fn set_run_context_entry(
        &self,
        id: RunId,
        key: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), CoreError> {
        let Some(mut run) = self.operation_run(id).await? else {
            return Err(CoreError::NotFound);
        };
        match value {
            Some(value) => run.context.insert(key.to_string(), value),
            None => run.context.remove(key),
        };
        let context = serde_json::to_string(&run.context).map_err(CoreError::internal)?;
        let sql = format!(
            "UPDATE operation_runs SET context = $2 WHERE id = $1 AND status IN ('queued', 'running') \
             RETURNING {CHANGE_COLUMNS}"
        );
        change_run!(self, &sql, id, context)?;
        Ok(())
    }

    /// Appends a line to a run's log and tells watchers.
    #[tracing::instrument(skip_all)]
    pub async fn add_run_message(&self, id: RunId, message: &str) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO operation_run_messages (run_id, message, created_at) VALUES ($1, $2, $3)")
            .bind(id).bind(message).bind(Utc::now()).execute(pool).await.map(drop))?;
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM operation_runs WHERE id = $1");
        let row: Option<ChangeRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        self.publish_change(row)?;
        Ok(())
    }

    /// A run's log, oldest line first.
    #[tracing::instrument(skip_all)]
    pub async fn run_messages(&self, id: RunId) -> Result<Vec<String>, CoreError> {
        Ok(self.runs_messages(&[id]).await?.remove(&id).unwrap_or_default())
    }

    /// The logs of runs `ids` in one query, each oldest line first (runs without one are absent).
    #[tracing::instrument(skip_all)]
    pub async fn runs_messages(&self, ids: &[RunId]) -> Result<HashMap<RunId, Vec<String>>, CoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        // Numbers only, so they can stand in the statement itself on both backends.
        let list = ids.iter().map(RunId::to_string).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT run_id, message FROM operation_run_messages WHERE run_id IN ({list}) ORDER BY id"
        );
        let rows: Vec<(RunId, String)> = on_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        let mut logs: HashMap<RunId, Vec<String>> = HashMap::new();
        for (id, message) in rows {
            logs.entry(id).or_default().push(message);
        }
        Ok(logs)
    }

    /// Deletes a completed run (and its log); false when there is none or it is still active.
    #[tracing::instrument(skip_all)]
    pub async fn delete_completed_run(&self, id: RunId) -> Result<bool, CoreError> {
        let deleted = on_pool!(self, pool => sqlx::query(
            "DELETE FROM operation_runs WHERE id = $1 AND status = 'completed'")
            .bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(deleted > 0)
    }

    /// Cancels a run: a queued one at once; a running one is asked to stop, and its handler
    /// completes it as cancelled. False when the run had completed already.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_run(&self, id: RunId) -> Result<bool, CoreError> {
        let queued = format!(
            "UPDATE operation_runs SET status = 'completed', outcome = 'cancelled', completed_at = $2 \
             WHERE id = $1 AND status = 'queued' RETURNING {CHANGE_COLUMNS}"
        );
        if change_run!(self, &queued, id, Utc::now())? {
            return Ok(true);
        }
        let running = format!(
            "UPDATE operation_runs SET cancel_requested = TRUE WHERE id = $1 AND status = 'running' \
             RETURNING {CHANGE_COLUMNS}"
        );
        change_run!(self, &running, id)
    }

    /// Asks every running run of `kind` started before `started_before` to stop, recording why
    /// (`failure`): it completes as cancelled at its next checkpoint. Returns their ids.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_overdue_runs(
        &self,
        kind: OperationKind,
        started_before: DateTime<Utc>,
        failure: &Failure,
    ) -> Result<Vec<RunId>, CoreError> {
        let overdue: Vec<RunId> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM operation_runs WHERE kind = $1 AND status = 'running' AND started_at < $2 \
             AND NOT cancel_requested")
            .bind(kind).bind(started_before).fetch_all(pool).await)?;
        let mut cancelled = Vec::with_capacity(overdue.len());
        for id in overdue {
            if self.cancel_run(id).await? {
                self.add_run_failure(id, failure).await?;
                cancelled.push(id);
            }
        }
        Ok(cancelled)
    }

    /// Deals with every running run whose heartbeat is older than `stale_before` (its worker
    /// died): one `retry` allows goes back to the queue for another attempt; the others
    /// complete as failed with reason `ops.stale`. A run whose worker beats again first is
    /// left alone. Returns what it did, by run id.
    #[tracing::instrument(skip_all)]
    pub async fn reconcile_stale_runs(
        &self,
        stale_before: DateTime<Utc>,
        retry: impl Fn(&OperationRun) -> bool,
    ) -> Result<Vec<(RunId, Reconciled)>, CoreError> {
        let candidates: Vec<RunId> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM operation_runs WHERE status = 'running' AND heartbeat_at < $1")
            .bind(stale_before).fetch_all(pool).await)?;
        let mut reconciled = Vec::new();
        for id in candidates {
            let Some(mut run) = self.operation_run(id).await? else { continue };
            if retry(&run) {
                let sql = format!(
                    "UPDATE operation_runs SET status = 'queued', attempt = attempt + 1, claimed_by = NULL, \
                     heartbeat_at = NULL WHERE id = $1 AND status = 'running' AND heartbeat_at < $2 \
                     RETURNING {CHANGE_COLUMNS}"
                );
                if change_run!(self, &sql, id, stale_before)? {
                    reconciled.push((id, Reconciled::Requeued));
                }
                continue;
            }
            let now = Utc::now();
            run.failures.push(Failure {
                code: "ops.stale".into(),
                reason_code: "ops.stale".into(),
                message: "The worker running this operation stopped responding.".into(),
                at: now,
            });
            let failures = serde_json::to_string(&run.failures).map_err(CoreError::internal)?;
            let sql = format!(
                "UPDATE operation_runs SET status = 'completed', outcome = 'failed', completed_at = $3, \
                 failures = $4 WHERE id = $1 AND status = 'running' AND heartbeat_at < $2 \
                 RETURNING {CHANGE_COLUMNS}"
            );
            if change_run!(self, &sql, id, stale_before, now, failures)? {
                reconciled.push((id, Reconciled::Failed));
            }
        }
        Ok(reconciled)
    }

    /// Puts a running run back in the queue, for a worker that is shutting down before the run
    /// could finish; another worker picks it up. Not counted as a new attempt.
    #[tracing::instrument(skip_all)]
    pub async fn release_run(&self, id: RunId) -> Result<bool, CoreError> {
        let sql = format!(
            "UPDATE operation_runs SET status = 'queued', claimed_by = NULL, heartbeat_at = NULL \
             WHERE id = $1 AND status = 'running' RETURNING {CHANGE_COLUMNS}"
        );
        change_run!(self, &sql, id)
    }

    /// Ends an active run with `outcome` and its final counters; false when it was not active.
    #[tracing::instrument(skip_all)]
    pub async fn complete_run(
        &self,
        id: RunId,
        outcome: RunOutcome,
        counters: Counters,
    ) -> Result<bool, CoreError> {
        let one =
            serde_json::to_string(&[Completion { id, outcome, counters }]).map_err(CoreError::internal)?;
        change_run!(self, self.complete_batch(), one, Utc::now())
    }

    /// The statement that completes a batch of runs, in this backend's words.
    fn complete_batch(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => &COMPLETE_BATCH_SQLITE,
            Backend::Postgres => &COMPLETE_BATCH_POSTGRES,
        }
    }

    /// Records a run that happened before (the demo workspace's history): made as `new` would be,
    /// then completed as `past` says, at its times.
    #[tracing::instrument(skip_all)]
    pub async fn record_past_run(&self, new: &NewRun, past: &PastRun) -> Result<RunId, CoreError> {
        let id = self.start_run(new).await?.id();
        let failures = serde_json::to_string(&past.failures).map_err(CoreError::internal)?;
        on_pool!(self, pool => sqlx::query(
            "UPDATE operation_runs SET status = 'completed', outcome = $2, created_at = $3, started_at = $4, \
             completed_at = $5, total = $6, processed = $7, failed = $8, failures = $9 WHERE id = $1")
            .bind(id)
            .bind(past.outcome.as_str())
            .bind(past.created_at)
            .bind(past.created_at + past.took / 10)
            .bind(past.created_at + past.took)
            .bind(past.counters.total)
            .bind(past.counters.processed)
            .bind(past.counters.failed)
            .bind(failures)
            .execute(pool).await.map(drop))?;
        Ok(id)
    }

    /// Deletes up to `batch` completed runs that completed before `before`; returns how many.
    /// Callers loop until it returns less than `batch`, keeping each transaction short.
    #[tracing::instrument(skip_all)]
    pub async fn prune_completed_runs(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, CoreError> {
        let deleted = on_pool!(self, pool => sqlx::query(
            "DELETE FROM operation_runs WHERE id IN (SELECT id FROM operation_runs \
             WHERE status = 'completed' AND completed_at < $1 LIMIT $2)")
            .bind(before).bind(batch).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(deleted)
    }
}

/// The transaction lock PostgreSQL claims take turns on (an arbitrary constant: "TPCLAIM").
pub const CLAIM_LOCK: i64 = 0x0054_5043_4C41_494D;

/// What the reconciler did with a stale run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reconciled {
    Requeued,
    Failed,
}

/// Whose runs a Monitoring query may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScope {
    /// Platform admins: every run.
    All,
    /// A user: runs of the enabled tenants they are a member of; runs of the pipelines they may
    /// read (`pipelines`, as the item access check found them); other workspace-level runs of
    /// workspaces where they are a member of some enabled tenant.
    MemberOf { user_id: UserId, pipelines: Vec<PipelineId> },
}

/// The tenants `?` is a member of, enabled ones only: a disabled tenant's runs are hidden from
/// its members as its pages are.
const ENABLED_TENANTS_OF: &str =
    "SELECT m.tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
     WHERE m.user_id = ? AND t.enabled";

/// A Monitoring query: newest first, optional filters, and a cursor (`before_id`, the last id
/// of the previous page).
#[derive(Debug, Clone)]
pub struct RunQuery {
    pub scope: RunScope,
    pub tenant_id: Option<TenantId>,
    /// `Some` of no kinds matches nothing (a filter naming a type this version does not know).
    pub kinds: Option<Vec<OperationKind>>,
    pub status: Option<RunStatus>,
    pub outcome: Option<RunOutcome>,
    /// Only runs in one of these states, besides `status` (what a bulk action applies to).
    pub statuses: Option<Vec<RunStatus>>,
    /// Only runs with one of these outcomes, besides `outcome`.
    pub outcomes: Option<Vec<RunOutcome>>,
    /// Only runs this schedule started.
    pub schedule: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before_id: Option<RunId>,
    pub limit: i64,
}

impl RunQuery {
    pub fn new(scope: RunScope, limit: i64) -> RunQuery {
        RunQuery {
            scope,
            tenant_id: None,
            kinds: None,
            status: None,
            outcome: None,
            statuses: None,
            outcomes: None,
            schedule: None,
            since: None,
            until: None,
            before_id: None,
            limit,
        }
    }
}

/// A bound value of a query whose conditions are assembled at run time.
enum Arg {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

impl RunQuery {
    /// The query's conditions as SQL (on the run table aliased `r`) and the values they bind,
    /// numbered from `$1`. Only the conditions in use are in the SQL, so each filter
    /// combination gets its own plan on PostgreSQL.
    fn conditions(&self) -> (String, Vec<Arg>) {
        let mut conditions: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |condition: &str, arg: Arg| {
            args.push(arg);
            conditions.push(condition.replace('?', &format!("${}", args.len())));
        };
        if let RunScope::MemberOf { user_id, pipelines } = &self.scope {
            // Ids from the pipelines table, written as literals: there may be many, and they are
            // numbers, never text from a client.
            let readable = if pipelines.is_empty() {
                "1 = 0".to_string()
            } else {
                let ids: Vec<String> = pipelines.iter().map(|id| format!("'{id}'")).collect();
                format!("r.target_id IN ({})", ids.join(", "))
            };
            let pipeline = RunTarget::PIPELINE;
            push(
                &format!(
                    "(r.tenant_id IN ({ENABLED_TENANTS_OF}) \
                     OR (r.tenant_id IS NULL AND r.target_kind = '{pipeline}' AND {readable}) \
                     OR (r.tenant_id IS NULL AND (r.target_kind IS NULL OR r.target_kind <> '{pipeline}') \
                         AND r.workspace_id IN (SELECT t.workspace_id FROM tenants t \
                         WHERE t.id IN ({ENABLED_TENANTS_OF}))))"
                ),
                Arg::Int(user_id.0),
            );
        }
        if let Some(tenant_id) = self.tenant_id {
            push("r.tenant_id = ?", Arg::Int(tenant_id.0));
        }
        if let Some(status) = self.status {
            push("r.status = ?", Arg::Text(status.as_str().into()));
        }
        if let Some(outcome) = self.outcome {
            push("r.outcome = ?", Arg::Text(outcome.as_str().into()));
        }
        if let Some(since) = self.since {
            push("r.created_at >= ?", Arg::Time(since));
        }
        if let Some(until) = self.until {
            push("r.created_at < ?", Arg::Time(until));
        }
        if let Some(schedule) = self.schedule {
            push("r.schedule_id = ?", Arg::Int(schedule));
        }
        if let Some(before_id) = self.before_id {
            push("r.id < ?", Arg::Int(before_id.0));
        }
        // The kinds', states' and outcomes' own wire names, written as literals like the
        // pipeline ids above.
        let one_of = |column: &str, names: Vec<&str>| match names.is_empty() {
            true => "1 = 0".to_string(),
            false => format!(
                "{column} IN ({})",
                names.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
            ),
        };
        if let Some(kinds) = &self.kinds {
            conditions.push(one_of("r.kind", kinds.iter().map(|kind| kind.as_str()).collect()));
        }
        if let Some(statuses) = &self.statuses {
            conditions.push(one_of("r.status", statuses.iter().map(|status| status.as_str()).collect()));
        }
        if let Some(outcomes) = &self.outcomes {
            conditions.push(one_of("r.outcome", outcomes.iter().map(|outcome| outcome.as_str()).collect()));
        }
        let filter =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        (filter, args)
    }
}

/// Binds `args` in order to a query built at run time.
macro_rules! bind_all {
    ($statement:expr, $args:expr) => {{
        let mut statement = $statement;
        for arg in $args {
            statement = match arg {
                Arg::Int(value) => statement.bind(*value),
                Arg::Text(value) => statement.bind(value.as_str()),
                Arg::Time(value) => statement.bind(*value),
            };
        }
        statement
    }};
}

impl Store {
    /// Runs matching `query`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_runs(&self, query: &RunQuery) -> Result<Vec<OperationRun>, CoreError> {
        let (filter, mut args) = query.conditions();
        args.push(Arg::Int(query.limit));
        let columns =
            RUN_COLUMNS.split(", ").map(|column| format!("r.{column}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {columns} FROM operation_runs r {filter} ORDER BY r.id DESC LIMIT ${}",
            args.len()
        );
        let rows: Vec<RunRow> =
            on_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &args).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// How many runs match `query` (its limit and cursor aside), counting no further than `cap`.
    #[tracing::instrument(skip_all)]
    pub async fn count_runs(&self, query: &RunQuery, cap: i64) -> Result<i64, CoreError> {
        let query = RunQuery { before_id: None, ..query.clone() };
        let (filter, mut args) = query.conditions();
        args.push(Arg::Int(cap));
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM operation_runs r {filter} LIMIT ${}) matched",
            args.len()
        );
        Ok(on_pool!(self, pool => bind_all!(sqlx::query_scalar(&sql), &args).fetch_one(pool).await)?)
    }

    /// How many runs matching `query` (its limit and cursor aside) ended each way.
    #[tracing::instrument(skip_all)]
    pub async fn count_runs_by_outcome(&self, query: &RunQuery) -> Result<Vec<(RunOutcome, i64)>, CoreError> {
        let query = RunQuery { before_id: None, ..query.clone() };
        let (filter, args) = query.conditions();
        let sql = format!("SELECT r.outcome, COUNT(*) FROM operation_runs r {filter} GROUP BY r.outcome");
        let rows: Vec<(RunOutcome, i64)> =
            on_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &args).fetch_all(pool).await)?;
        let mut counts: Vec<(RunOutcome, i64)> =
            RunOutcome::ALL.iter().map(|outcome| (*outcome, 0)).collect();
        for (outcome, count) in rows {
            if let Some(slot) = counts.iter_mut().find(|(known, _)| *known == outcome) {
                slot.1 = count;
            }
        }
        Ok(counts)
    }

    /// Queued and running runs across all processes, by type and status.
    #[tracing::instrument(skip_all)]
    pub async fn active_runs(&self) -> Result<Vec<(OperationKind, RunStatus, i64)>, CoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, status, COUNT(*) FROM operation_runs WHERE status IN ('queued', 'running') \
             GROUP BY kind, status")
            .fetch_all(pool).await)?)
    }

    /// How many runs matching `query` (its limit and cursor aside) were created in each hour (UTC),
    /// by outcome: `(hour, outcome, count)`, hours without runs left out.
    #[tracing::instrument(skip_all)]
    pub async fn count_runs_by_hour(
        &self,
        query: &RunQuery,
    ) -> Result<Vec<(DateTime<Utc>, RunOutcome, i64)>, CoreError> {
        let query = RunQuery { before_id: None, ..query.clone() };
        let (filter, args) = query.conditions();
        let hour = match self.backend() {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:00:00Z', r.created_at)",
            Backend::Postgres => "to_char(date_trunc('hour', r.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')",
        };
        let sql = format!(
            "SELECT {hour} AS hour, r.outcome, COUNT(*) FROM operation_runs r {filter} GROUP BY 1, 2"
        );
        let rows: Vec<(String, RunOutcome, i64)> =
            on_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &args).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(hour, outcome, count)| {
                let hour = DateTime::parse_from_rfc3339(&hour)
                    .map_err(|error| CoreError::broken(format!("an hour bucket `{hour}`: {error}")))?;
                Ok((hour.with_timezone(&Utc), outcome, count))
            })
            .collect()
    }

    /// Whether `user_id` may see `run`, a tenant's run or a workspace-level run that is not a
    /// pipeline's, under the same rule as [`RunScope::MemberOf`].
    #[tracing::instrument(skip_all)]
    pub async fn member_sees_run(&self, user_id: UserId, run: &OperationRun) -> Result<bool, CoreError> {
        let seen: Option<i64> = match run.tenant_id {
            Some(tenant_id) => on_pool!(self, pool => sqlx::query_scalar(
                "SELECT m.tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
                 WHERE m.user_id = $1 AND m.tenant_id = $2 AND t.enabled")
                .bind(user_id).bind(tenant_id).fetch_optional(pool).await)?,
            None => on_pool!(self, pool => sqlx::query_scalar(
                "SELECT m.tenant_id FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
                 WHERE m.user_id = $1 AND t.workspace_id = $2 AND t.enabled LIMIT 1")
                .bind(user_id).bind(run.workspace_id).fetch_optional(pool).await)?,
        };
        Ok(seen.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::{Initiator, RunTarget};
    use crate::tenancy::{self, NewTenant};
    use crate::testing::TestDatabase;

    async fn queue(db: &TestDatabase, tenant: &str, items: &[&str]) -> Vec<RunId> {
        let new = NewTenant { workspace_slug: "w", slug: tenant, name: "T", external_tenant_id: None };
        let (tenant, _) = tenancy::create_tenant(&db.store, &Initiator::System, new).await.unwrap();
        let mut ids = Vec::new();
        for item in items {
            let run = NewRun {
                workspace_id: tenant.workspace_id,
                tenant_id: Some(tenant.id),
                kind: OperationKind::Fetch,
                target: Some(RunTarget { kind: "backup_item".into(), id: (*item).into() }),
                context: serde_json::Map::new(),
                initiator: Initiator::System,
                retry_of: None,
            };
            ids.push(db.store.start_run(&run).await.unwrap().id());
        }
        ids
    }

    /// `claim_runs` tries the batch statement first and falls back to one run at a time; here
    /// the batch statement alone, so that its work is not the fallback's: one statement takes
    /// runs of two tenants within each one's limit, oldest first, and nothing past it.
    async fn the_batch_statement_alone_keeps_each_tenants_limit(backend: Backend) {
        let db = TestDatabase::new(backend).await;
        let first = queue(&db, "t1", &["a", "b", "c"]).await;
        let second = queue(&db, "t2", &["d", "e", "f"]).await;
        let claim = |limit: i64| {
            let store = db.store.clone();
            async move {
                let rows: Vec<RunRow> = on_pool!(store, pool => sqlx::query_as(&CLAIM_BATCH)
                    .bind(Utc::now()).bind("test").bind(limit).bind(OperationKind::Pipeline)
                    .bind(64_i64).bind(10_i64).fetch_all(pool).await)
                .unwrap();
                let mut ids: Vec<RunId> = rows.into_iter().map(|row| row.id).collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(claim(2).await, [first[0], first[1], second[0], second[1]]);
        assert!(claim(2).await.is_empty(), "both tenants at their limit");
        assert_eq!(claim(3).await, [first[2], second[2]]);
        db.drop_database().await;
    }

    crate::test_on_both_backends!(the_batch_statement_alone_keeps_each_tenants_limit);
}
