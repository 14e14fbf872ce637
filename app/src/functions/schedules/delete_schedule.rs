//! Deleting a schedule (the runs it started stay).

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::schedules::ScheduleId;

#[server(endpoint = "delete_schedule")]
pub async fn delete_schedule(id: ScheduleId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::schedules::delete(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
