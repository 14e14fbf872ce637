//! Resetting a pipeline: clearing its current run and a paused state.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;

#[server(endpoint = "reset_pipeline")]
pub async fn reset_pipeline(id: PipelineId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::reset(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
