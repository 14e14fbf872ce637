//! "Run now": starting what a schedule starts, at once, and going to the run.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::schedules::ScheduleId;

#[server(endpoint = "trigger_schedule")]
pub async fn trigger_schedule(id: ScheduleId) -> Result<RunId, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let run = tenantpilot_core::schedules::trigger(&signed_in.state.store, &signed_in.caller, id).await?;
    leptos_axum::redirect(&crate::components::run_href(run));
    Ok(run)
}
