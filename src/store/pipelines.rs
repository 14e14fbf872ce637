//! Pipelines, their runs (each an operation run) and their activity logs.

use super::{json, on_pool, Store, WORKSPACES_OF_USER};
use crate::ids::{PipelineId, RunId, UserId, WorkspaceId};
use crate::item_access::AccessRule;
use crate::operations::{RunOutcome, RunStatus};
use crate::pipelines::{Pipeline, PipelineLog, PipelineRun, PipelineState, Step};
use crate::CoreError;
use chrono::{DateTime, Utc};

/// A pipeline with what the access check needs.
#[derive(Debug, Clone)]
pub struct PipelineRecord {
    pub pipeline: Pipeline,
    pub workspace_id: WorkspaceId,
    pub owner_id: UserId,
}

/// A pipeline to store; steps and access already checked.
pub struct PipelineFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub steps: &'a [Step],
    pub access: &'a [AccessRule],
}

const PIPELINE_SELECT: &str =
    "SELECT p.id, p.workspace_id, w.slug AS account, p.owner_id, u.email AS owner, p.name, \
    p.description, p.steps, p.access, p.state, p.run_count, p.created_at, p.updated_at, \
    r.run_count AS current_run, o.id AS run_id, o.status AS run_status, o.outcome AS run_outcome, \
    o.total AS run_total, o.processed AS run_processed, o.failed AS run_failed \
    FROM pipelines p JOIN workspaces w ON w.id = p.workspace_id JOIN users u ON u.id = p.owner_id \
    LEFT JOIN pipeline_runs r ON r.pipeline_id = p.id AND r.run_count = p.current_run \
    LEFT JOIN operation_runs o ON o.id = r.operation_run_id";

#[derive(sqlx::FromRow)]
struct PipelineRow {
    id: PipelineId,
    workspace_id: WorkspaceId,
    account: String,
    owner_id: UserId,
    owner: String,
    name: String,
    description: String,
    steps: String,
    access: String,
    state: PipelineState,
    run_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    current_run: Option<i64>,
    run_id: Option<RunId>,
    run_status: Option<RunStatus>,
    run_outcome: Option<RunOutcome>,
    run_total: Option<i64>,
    run_processed: Option<i64>,
    run_failed: Option<i64>,
}

fn corrupt(id: PipelineId, error: impl std::fmt::Display) -> CoreError {
    CoreError::broken(format!("stored pipeline {id} is malformed: {error}"))
}

impl TryFrom<PipelineRow> for PipelineRecord {
    type Error = CoreError;
    fn try_from(row: PipelineRow) -> Result<Self, CoreError> {
        let id = row.id;
        let current_run = match (row.current_run, row.run_id, row.run_status, row.run_outcome) {
            (Some(run_count), Some(operation_run_id), Some(status), Some(outcome)) => Some(PipelineRun {
                run_count,
                operation_run_id,
                status,
                outcome,
                total: row.run_total.unwrap_or_default(),
                processed: row.run_processed.unwrap_or_default(),
                failed: row.run_failed.unwrap_or_default(),
            }),
            _ => None,
        };
        let mut state = row.state;
        // A run whose worker died completes through the reconciler, which knows nothing of
        // pipelines: a completed current run means the pipeline no longer runs.
        if state == PipelineState::Running
            && current_run.as_ref().is_some_and(|run| run.status == crate::operations::RunStatus::Completed)
        {
            state = PipelineState::Idle;
        }
        Ok(PipelineRecord {
            workspace_id: row.workspace_id,
            owner_id: row.owner_id,
            pipeline: Pipeline {
                id,
                name: row.name,
                description: row.description,
                owner: row.owner,
                account: row.account,
                access: serde_json::from_str(&row.access).map_err(|e| corrupt(id, e))?,
                steps: serde_json::from_str(&row.steps).map_err(|e| corrupt(id, e))?,
                state,
                run_count: row.run_count,
                current_run,
                created_at: row.created_at,
                updated_at: row.updated_at,
            },
        })
    }
}

/// Why a run could not begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotBegun {
    Running,
    Paused,
}

/// The condition under which a pipeline has no run in flight (queued or running).
const NO_ACTIVE_RUN: &str = "NOT EXISTS (SELECT 1 FROM pipeline_runs ar JOIN operation_runs ao \
    ON ao.id = ar.operation_run_id WHERE ar.pipeline_id = pipelines.id AND ao.status IN ('queued', 'running'))";

impl Store {
    /// The workspaces `user_id` belongs to: those of the tenants they are a member of.
    #[tracing::instrument(skip_all)]
    pub async fn workspaces_of(&self, user_id: UserId) -> Result<Vec<WorkspaceId>, CoreError> {
        let sql = format!("SELECT w.id FROM workspaces w WHERE w.id IN ({WORKSPACES_OF_USER}) ORDER BY w.id");
        Ok(on_pool!(self, pool => sqlx::query_scalar(&sql).bind(user_id).fetch_all(pool).await)?)
    }

    /// The workspaces `user_id` belongs to, by name.
    #[tracing::instrument(skip_all)]
    pub async fn workspaces_of_user(
        &self,
        user_id: UserId,
    ) -> Result<Vec<crate::model::Workspace>, CoreError> {
        let sql = format!(
            "SELECT w.id, w.slug, w.name, w.created_at FROM workspaces w WHERE w.id IN ({WORKSPACES_OF_USER}) \
             ORDER BY w.name"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn create_pipeline(
        &self,
        workspace_id: WorkspaceId,
        owner_id: UserId,
        fields: &PipelineFields<'_>,
    ) -> Result<PipelineId, CoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO pipelines (workspace_id, owner_id, name, description, steps, access, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
            .bind(workspace_id).bind(owner_id).bind(fields.name).bind(fields.description)
            .bind(json(&fields.steps)?).bind(json(&fields.access)?).bind(now).fetch_one(pool).await)?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_pipeline(
        &self,
        id: PipelineId,
        fields: &PipelineFields<'_>,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE pipelines SET name = $2, description = $3, steps = $4, access = $5, updated_at = $6 WHERE id = $1")
            .bind(id).bind(fields.name).bind(fields.description).bind(json(&fields.steps)?)
            .bind(json(&fields.access)?).bind(Utc::now()).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Deletes a pipeline with no run in flight; false otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn delete_pipeline(&self, id: PipelineId) -> Result<bool, CoreError> {
        let sql = format!("DELETE FROM pipelines WHERE id = $1 AND {NO_ACTIVE_RUN}");
        let done = on_pool!(self, pool => sqlx::query(&sql).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    #[tracing::instrument(skip_all)]
    pub async fn pipeline(&self, id: PipelineId) -> Result<Option<PipelineRecord>, CoreError> {
        let sql = format!("{PIPELINE_SELECT} WHERE p.id = $1");
        let row: Option<PipelineRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Every pipeline of the workspaces `user_id` belongs to, by name; the caller filters by access.
    #[tracing::instrument(skip_all)]
    pub async fn pipelines_for(&self, user_id: UserId) -> Result<Vec<PipelineRecord>, CoreError> {
        let sql =
            format!("{PIPELINE_SELECT} WHERE p.workspace_id IN ({WORKSPACES_OF_USER}) ORDER BY p.name, p.id");
        let rows: Vec<PipelineRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Counts a new run and marks the pipeline running, unless it is running or paused. A
    /// pipeline marked running whose run has completed (its worker died) may run again.
    #[tracing::instrument(skip_all)]
    pub async fn begin_pipeline_run(&self, id: PipelineId) -> Result<Result<i64, NotBegun>, CoreError> {
        let sql = format!(
            "UPDATE pipelines SET run_count = run_count + 1, current_run = run_count + 1, state = 'running', \
             stop_requested = FALSE, updated_at = $2 \
             WHERE id = $1 AND (state IN ('idle', 'stopped') OR (state = 'running' AND {NO_ACTIVE_RUN} \
               AND EXISTS (SELECT 1 FROM pipeline_runs cr WHERE cr.pipeline_id = pipelines.id \
                           AND cr.run_count = pipelines.current_run))) \
             RETURNING run_count"
        );
        let begun: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(&sql).bind(id).bind(Utc::now()).fetch_optional(pool).await)?;
        if let Some(run_count) = begun {
            return Ok(Ok(run_count));
        }
        let state: Option<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT state FROM pipelines WHERE id = $1").bind(id).fetch_optional(pool).await)?;
        match state.as_deref() {
            Some("paused") => Ok(Err(NotBegun::Paused)),
            Some(_) => Ok(Err(NotBegun::Running)),
            None => Err(CoreError::NotFound),
        }
    }

    /// Records run `run_count` with the steps it runs, before its operation run exists (whose
    /// worker reads them).
    #[tracing::instrument(skip_all)]
    pub async fn record_pipeline_run(
        &self,
        id: PipelineId,
        run_count: i64,
        steps: &[Step],
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO pipeline_runs (pipeline_id, run_count, steps, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id).bind(run_count).bind(json(&steps)?).bind(Utc::now()).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Records that run `run_count` is operation run `operation_run_id`.
    #[tracing::instrument(skip_all)]
    pub async fn link_pipeline_run(
        &self,
        id: PipelineId,
        run_count: i64,
        operation_run_id: RunId,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE pipeline_runs SET operation_run_id = $3 WHERE pipeline_id = $1 AND run_count = $2")
            .bind(id).bind(run_count).bind(operation_run_id).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The steps run `run_count` runs.
    #[tracing::instrument(skip_all)]
    pub async fn pipeline_run_steps(
        &self,
        id: PipelineId,
        run_count: i64,
    ) -> Result<Option<Vec<Step>>, CoreError> {
        let steps: Option<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT steps FROM pipeline_runs WHERE pipeline_id = $1 AND run_count = $2")
            .bind(id).bind(run_count).fetch_optional(pool).await)?;
        steps.map(|steps| serde_json::from_str(&steps).map_err(|e| corrupt(id, e))).transpose()
    }

    /// Run `run_count` of the pipeline, as its operation run stands now.
    #[tracing::instrument(skip_all)]
    pub async fn pipeline_run(
        &self,
        id: PipelineId,
        run_count: i64,
    ) -> Result<Option<PipelineRun>, CoreError> {
        Ok(self.pipeline_runs(id, Some(run_count), 1).await?.pop())
    }

    /// The pipeline's latest runs (or run `run_count`), newest first. Runs whose operation run
    /// was pruned past retention are gone.
    #[tracing::instrument(skip_all)]
    pub async fn pipeline_runs(
        &self,
        id: PipelineId,
        run_count: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PipelineRun>, CoreError> {
        type Row = (i64, RunId, RunStatus, RunOutcome, i64, i64, i64);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT r.run_count, o.id, o.status, o.outcome, o.total, o.processed, o.failed FROM pipeline_runs r \
             JOIN operation_runs o ON o.id = r.operation_run_id WHERE r.pipeline_id = $1 \
             AND ($2 IS NULL OR r.run_count = $2) ORDER BY r.run_count DESC LIMIT $3")
            .bind(id).bind(run_count).bind(limit).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(run_count, operation_run_id, status, outcome, total, processed, failed)| {
                Ok(PipelineRun { run_count, operation_run_id, status, outcome, total, processed, failed })
            })
            .collect()
    }

    /// How run `run_count` left the pipeline, if it is still the current run.
    #[tracing::instrument(skip_all)]
    pub async fn end_pipeline_run(
        &self,
        id: PipelineId,
        run_count: i64,
        state: PipelineState,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE pipelines SET state = $3, stop_requested = FALSE, updated_at = $4 \
             WHERE id = $1 AND current_run = $2")
            .bind(id).bind(run_count).bind(state).bind(Utc::now()).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Asks the running pipeline to stop after its current step; false when it is not running.
    #[tracing::instrument(skip_all)]
    pub async fn request_pipeline_stop(&self, id: PipelineId) -> Result<bool, CoreError> {
        let sql = format!(
            "UPDATE pipelines SET stop_requested = TRUE WHERE id = $1 AND state = 'running' AND NOT {NO_ACTIVE_RUN}"
        );
        let done = on_pool!(self, pool => sqlx::query(&sql).bind(id).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    #[tracing::instrument(skip_all)]
    pub async fn pipeline_stop_requested(&self, id: PipelineId) -> Result<bool, CoreError> {
        let requested: Option<bool> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT stop_requested FROM pipelines WHERE id = $1").bind(id).fetch_optional(pool).await)?;
        Ok(requested.unwrap_or(true))
    }

    /// Clears the current run and a paused state; false while a run is in flight.
    #[tracing::instrument(skip_all)]
    pub async fn reset_pipeline(&self, id: PipelineId) -> Result<bool, CoreError> {
        let sql = format!(
            "UPDATE pipelines SET state = 'idle', current_run = NULL, stop_requested = FALSE, updated_at = $2 \
             WHERE id = $1 AND {NO_ACTIVE_RUN}"
        );
        let done = on_pool!(self, pool => sqlx::query(&sql).bind(id).bind(Utc::now()).execute(pool).await
            .map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(skip_all)]
    pub async fn add_pipeline_log(
        &self,
        id: PipelineId,
        run_count: i64,
        step: Option<(i64, &str)>,
        kind: &str,
        status: &str,
        message: &str,
    ) -> Result<(), CoreError> {
        let (step_index, step_name) = step.unzip();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO pipeline_logs (pipeline_id, run_count, step_index, step_name, type, status, message, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id).bind(run_count).bind(step_index).bind(step_name).bind(kind).bind(status).bind(message)
            .bind(Utc::now()).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// A pipeline's log entries, newest first: optionally of one run, of one type, and newer
    /// than `after_id` (a console that follows new lines).
    #[tracing::instrument(skip_all)]
    pub async fn pipeline_logs(
        &self,
        id: PipelineId,
        run_count: Option<i64>,
        kind: Option<&str>,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PipelineLog>, CoreError> {
        type Row = (i64, i64, Option<i64>, Option<String>, String, String, String, DateTime<Utc>);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, run_count, step_index, step_name, type, status, message, created_at FROM pipeline_logs \
             WHERE pipeline_id = $1 AND ($2 IS NULL OR run_count = $2) AND ($3 IS NULL OR type = $3) \
             AND ($4 IS NULL OR id > $4) ORDER BY id DESC LIMIT $5")
            .bind(id).bind(run_count).bind(kind).bind(after_id).bind(limit).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(log_id, run_count, step_index, step_name, kind, status, message, created_at)| {
                PipelineLog {
                    id: log_id,
                    pipeline_id: id,
                    run_count,
                    step_index,
                    step_name,
                    kind,
                    status,
                    message,
                    created_at,
                    updated_at: created_at,
                }
            })
            .collect())
    }
}
