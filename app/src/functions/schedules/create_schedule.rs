//! Creating a schedule from the page's form.

use crate::error::AppError;
use leptos::prelude::*;

/// A capture of `tenant` at the fire times of `cron` read in `time_zone`, owned by the viewer.
#[server(endpoint = "create_schedule")]
pub async fn create_schedule(
    tenant: String,
    name: String,
    cron: String,
    time_zone: String,
) -> Result<(), AppError> {
    use tenantpilot_core::schedules::ScheduleInput;
    let signed_in = crate::guard::signed_in().await?;
    let input = ScheduleInput { name, cron, time_zone, tenant: Some(tenant), ..ScheduleInput::default() };
    tenantpilot_core::schedules::create(&signed_in.state.store, &signed_in.caller, &input).await?;
    Ok(())
}
