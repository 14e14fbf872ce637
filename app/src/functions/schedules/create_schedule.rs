//! Creating a schedule from a page's form.

use crate::error::AppError;
use leptos::prelude::*;

/// A schedule of `target` (`tenant:SLUG`, `workspace:SLUG` or `pipeline:ID`, as the form offers
/// them) at the fire times of `cron` read in `time_zone`, owned by the viewer. `jitter_minutes`
/// spreads a workspace's captures; `missed` says what a slot missed while down does.
#[server(endpoint = "create_schedule")]
pub async fn create_schedule(
    target: String,
    name: String,
    cron: String,
    time_zone: String,
    jitter_minutes: Option<String>,
    missed: Option<String>,
) -> Result<(), AppError> {
    use tenantpilot_core::schedules::ScheduleInput;
    use tenantpilot_core::CoreError;
    let signed_in = crate::guard::signed_in().await?;
    let jitter_minutes = match jitter_minutes.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => Some(
            text.parse()
                .map_err(|_| CoreError::invalid("jitterMinutes", "Give the spread in whole minutes"))?,
        ),
        None => None,
    };
    let missed = missed
        .as_deref()
        .filter(|text| !text.is_empty())
        .map(str::parse)
        .transpose()
        .map_err(|error: String| CoreError::invalid("missed", error))?;
    let input = ScheduleInput { name, cron, time_zone, jitter_minutes, missed, ..ScheduleInput::default() }
        .target(&target)?;
    tenantpilot_core::schedules::create(&signed_in.state.store, &signed_in.caller, &input).await?;
    Ok(())
}
