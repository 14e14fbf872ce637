//! Stopping a pipeline's run: its current step finishes, the rest are skipped.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;

#[server(endpoint = "stop_pipeline")]
pub async fn stop_pipeline(id: PipelineId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::stop(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
