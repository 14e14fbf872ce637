//! Schedules and their slots. A slot row is taken by inserting it: the first process wins.

use super::{on_pool, Store};
use crate::ids::{PipelineId, RunId, TenantId, UserId, WorkspaceId};
use crate::schedules::{Missed, Schedule, ScheduleId, ScheduleTarget, SlotOutcome};
use crate::CoreError;
use chrono::{DateTime, Utc};

/// A schedule as it is created.
#[derive(Debug, Clone)]
pub struct NewSchedule<'a> {
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub cron: &'a str,
    pub time_zone: &'a str,
    pub target: ScheduleTarget,
    pub jitter_minutes: i64,
    pub missed: Missed,
    pub owner_id: UserId,
}

/// One slot (or a fan-out's part of it) as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct SlotRecord {
    pub slot_at: DateTime<Utc>,
    pub part: i64,
    /// `claimed` while the process that took it starts it, then `started` or `skipped`.
    pub outcome: String,
    pub run_id: Option<RunId>,
    pub reason: Option<String>,
}

const SCHEDULE_COLUMNS: &str =
    "id, workspace_id, name, cron, time_zone, target_kind, target_id, jitter_minutes, \
     missed, paused, owner_id, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: ScheduleId,
    workspace_id: WorkspaceId,
    name: String,
    cron: String,
    time_zone: String,
    target_kind: String,
    target_id: i64,
    jitter_minutes: i64,
    missed: Missed,
    paused: bool,
    owner_id: UserId,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = CoreError;
    fn try_from(row: ScheduleRow) -> Result<Schedule, CoreError> {
        let target = match row.target_kind.as_str() {
            "tenant_capture" => ScheduleTarget::TenantCapture { tenant: TenantId(row.target_id) },
            "workspace_capture" => ScheduleTarget::WorkspaceCapture { workspace: WorkspaceId(row.target_id) },
            "pipeline" => ScheduleTarget::Pipeline { pipeline: PipelineId(row.target_id) },
            other => return Err(CoreError::broken(format!("schedule {} has target kind `{other}`", row.id))),
        };
        Ok(Schedule {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            cron: row.cron,
            time_zone: row.time_zone,
            target,
            jitter_minutes: row.jitter_minutes,
            missed: row.missed,
            paused: row.paused,
            owner_id: row.owner_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The stored kind and id of a target.
fn target_columns(target: ScheduleTarget) -> (&'static str, i64) {
    match target {
        ScheduleTarget::TenantCapture { tenant } => ("tenant_capture", tenant.0),
        ScheduleTarget::WorkspaceCapture { workspace } => ("workspace_capture", workspace.0),
        ScheduleTarget::Pipeline { pipeline } => ("pipeline", pipeline.0),
    }
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_schedule(&self, new: &NewSchedule<'_>) -> Result<ScheduleId, CoreError> {
        let (kind, target_id) = target_columns(new.target);
        let now = Utc::now();
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO schedules (workspace_id, name, cron, time_zone, target_kind, target_id, jitter_minutes, \
             missed, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id")
            .bind(new.workspace_id).bind(new.name).bind(new.cron).bind(new.time_zone).bind(kind).bind(target_id)
            .bind(new.jitter_minutes).bind(new.missed).bind(new.owner_id).bind(now).fetch_one(pool).await)?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn schedule(&self, id: ScheduleId) -> Result<Option<Schedule>, CoreError> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Every schedule, by id.
    #[tracing::instrument(skip_all)]
    pub async fn all_schedules(&self) -> Result<Vec<Schedule>, CoreError> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id");
        let rows = on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The schedules that start `target`, by id.
    #[tracing::instrument(skip_all)]
    pub async fn schedules_of(&self, target: ScheduleTarget) -> Result<Vec<Schedule>, CoreError> {
        let (kind, target_id) = target_columns(target);
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE target_kind = $1 AND target_id = $2 ORDER BY id"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql)
            .bind(kind).bind(target_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Saves a schedule's name, cadence, jitter, missed-slot rule and pause.
    #[tracing::instrument(skip_all)]
    pub async fn update_schedule(&self, schedule: &Schedule) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE schedules SET name = $2, cron = $3, time_zone = $4, jitter_minutes = $5, missed = $6, \
             paused = $7, updated_at = $8 WHERE id = $1")
            .bind(schedule.id).bind(&schedule.name).bind(&schedule.cron).bind(&schedule.time_zone)
            .bind(schedule.jitter_minutes).bind(schedule.missed).bind(schedule.paused).bind(Utc::now())
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_schedule(&self, id: ScheduleId) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Every schedule that is not paused: what the scheduler looks at each tick.
    #[tracing::instrument(skip_all)]
    pub async fn active_schedules(&self) -> Result<Vec<Schedule>, CoreError> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE NOT paused ORDER BY id");
        let rows = on_pool!(self, pool => sqlx::query_as::<_, ScheduleRow>(&sql).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The parts of slot `slot_at` some process has taken already.
    #[tracing::instrument(skip_all)]
    pub async fn slot_parts(
        &self,
        schedule: ScheduleId,
        slot_at: DateTime<Utc>,
    ) -> Result<Vec<i64>, CoreError> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT part FROM schedule_slots WHERE schedule_id = $1 AND slot_at = $2")
            .bind(schedule).bind(slot_at).fetch_all(pool).await)?)
    }

    /// Takes part `part` of slot `slot_at` for this process; false when another has it.
    #[tracing::instrument(skip_all)]
    pub async fn claim_slot(
        &self,
        schedule: ScheduleId,
        slot_at: DateTime<Utc>,
        part: i64,
    ) -> Result<bool, CoreError> {
        let claimed: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO schedule_slots (schedule_id, slot_at, part, outcome, created_at) \
             VALUES ($1, $2, $3, 'claimed', $4) ON CONFLICT DO NOTHING RETURNING part")
            .bind(schedule).bind(slot_at).bind(part).bind(Utc::now()).fetch_optional(pool).await)?;
        Ok(claimed.is_some())
    }

    /// Records what became of a taken part.
    #[tracing::instrument(skip_all)]
    pub async fn finish_slot(
        &self,
        schedule: ScheduleId,
        slot_at: DateTime<Utc>,
        part: i64,
        outcome: SlotOutcome,
        run: Option<RunId>,
        reason: Option<&str>,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE schedule_slots SET outcome = $4, run_id = $5, reason = $6 \
             WHERE schedule_id = $1 AND slot_at = $2 AND part = $3")
            .bind(schedule).bind(slot_at).bind(part).bind(outcome).bind(run).bind(reason)
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The latest slots of a schedule, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn schedule_slots(
        &self,
        schedule: ScheduleId,
        limit: i64,
    ) -> Result<Vec<SlotRecord>, CoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SlotRecord>(
            "SELECT slot_at, part, outcome, run_id, reason FROM schedule_slots WHERE schedule_id = $1 \
             ORDER BY slot_at DESC, part LIMIT $2")
            .bind(schedule).bind(limit).fetch_all(pool).await)?)
    }
}
