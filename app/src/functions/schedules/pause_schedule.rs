//! Pausing or resuming a schedule.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::schedules::ScheduleId;

#[server(endpoint = "pause_schedule")]
pub async fn pause_schedule(id: ScheduleId, paused: bool) -> Result<(), AppError> {
    use tenantpilot_core::schedules::SchedulePatch;
    let signed_in = crate::guard::signed_in().await?;
    let patch = SchedulePatch { paused: Some(paused), ..SchedulePatch::default() };
    tenantpilot_core::schedules::update(&signed_in.state.store, &signed_in.caller, id, &patch).await?;
    Ok(())
}
