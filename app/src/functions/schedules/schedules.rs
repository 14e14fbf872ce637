//! Schedules as the pages list them: every one the viewer may see (the Schedules page), a
//! tenant's captures (its backups page) or a pipeline's runs (its page).

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::{PipelineId, RunId};
use tenantpilot_core::schedules::{Schedule, TargetChoice};

/// One schedule as a page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub schedule: Schedule,
    /// What it starts, in words.
    pub target_label: String,
    pub last: Option<LastFiring>,
    /// The next five fire times (none while paused).
    pub fire_times: Vec<FireTime>,
    /// Whether the viewer may pause, resume, run and delete it.
    pub can_manage: bool,
}

/// The schedule's latest run and its outcome so far, or its latest slot if that came after and
/// was skipped (with why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastFiring {
    /// When, on the viewer's clock.
    pub at: String,
    pub run: Option<RunId>,
    /// `queued`, `running`, or the finished run's outcome (`succeeded`, `failed`, …).
    pub state: Option<String>,
    pub skipped: Option<String>,
}

/// A fire time on the schedule's wall clock and on the viewer's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireTime {
    pub at: DateTime<Utc>,
    pub in_schedule_zone: String,
    pub for_viewer: String,
}

/// The schedules a page shows, what the viewer may schedule there, and the viewer's time zone
/// (a new schedule's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulesView {
    pub rows: Vec<ScheduleRow>,
    pub choices: Vec<TargetChoice>,
    pub viewer_zone: String,
}

/// With `tenant`, that tenant's capture schedules; with `pipeline`, that pipeline's; with
/// neither, every schedule the viewer may see.
#[server(endpoint = "schedules")]
pub async fn schedules(
    tenant: Option<String>,
    pipeline: Option<PipelineId>,
) -> Result<SchedulesView, AppError> {
    use tenantpilot_core::item_access::Level;
    use tenantpilot_core::schedules::{self, ScheduleTarget};
    use tenantpilot_core::{pipelines, Capability};
    let signed_in = crate::guard::signed_in().await?;
    let (store, user) = (&signed_in.state.store, &signed_in.caller.user);
    let now = Utc::now();
    let (views, choices) = match (tenant, pipeline) {
        (Some(slug), _) => {
            let member = tenantpilot_core::access::tenant(store, user, &slug, Capability::CoreView).await?;
            let tenant = &member.tenant;
            let views =
                schedules::of_target(store, ScheduleTarget::TenantCapture { tenant: tenant.id }, now).await?;
            let choices = member
                .can(Capability::BackupsManage)
                .then(|| TargetChoice::tenant(&tenant.slug, &tenant.name));
            (views, choices.into_iter().collect())
        }
        (None, Some(id)) => {
            let (record, level) = pipelines::visible_with_level(store, user, id, Level::Read).await?;
            let views = schedules::of_target(store, ScheduleTarget::Pipeline { pipeline: id }, now).await?;
            let choices = (level >= Level::Write).then(|| TargetChoice::pipeline(id, &record.pipeline.name));
            (views, choices.into_iter().collect())
        }
        (None, None) => (schedules::list(store, user, now).await?, schedules::choices(store, user).await?),
    };
    finish(store, user, views, choices).await
}

#[cfg(feature = "ssr")]
async fn finish(
    store: &tenantpilot_core::store::Store,
    user: &tenantpilot_core::model::User,
    views: Vec<tenantpilot_core::schedules::ScheduleView>,
    choices: Vec<TargetChoice>,
) -> Result<SchedulesView, AppError> {
    use tenantpilot_core::operations::RunStatus;
    use tenantpilot_core::store::{RunQuery, RunScope};
    use tenantpilot_core::{clock, schedules};
    let viewer = crate::guard::viewer_zone(user);
    let mut rows = Vec::new();
    for view in views {
        let zone = clock::zone(&view.schedule.time_zone).unwrap_or(clock::Tz::UTC);
        let mut query = RunQuery::new(RunScope::All, 1);
        query.schedule = Some(view.schedule.id.0);
        let last_run = store.list_runs(&query).await?.into_iter().next();
        let last = match (view.last_slot, last_run) {
            (Some(slot), run)
                if slot.reason.is_some() && run.as_ref().is_none_or(|run| run.created_at < slot.slot_at) =>
            {
                Some(LastFiring {
                    at: clock::local_time(slot.slot_at, viewer),
                    run: None,
                    state: None,
                    skipped: slot.reason,
                })
            }
            (_, Some(run)) => Some(LastFiring {
                at: clock::local_time(run.created_at, viewer),
                run: Some(run.id),
                state: Some(match run.status {
                    RunStatus::Completed => run.outcome.to_string(),
                    status => status.to_string(),
                }),
                skipped: None,
            }),
            _ => None,
        };
        let fire_times = view
            .next_fire_times
            .iter()
            .map(|at| FireTime {
                at: *at,
                in_schedule_zone: clock::local_time(*at, zone),
                for_viewer: clock::local_time(*at, viewer),
            })
            .collect();
        rows.push(ScheduleRow {
            can_manage: schedules::may_manage(store, user, &view.schedule).await?,
            schedule: view.schedule,
            target_label: view.target_label,
            last,
            fire_times,
        });
    }
    Ok(SchedulesView { rows, choices, viewer_zone: viewer.name().to_string() })
}
