//! Starting a run of a pipeline.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;

#[server(endpoint = "run_pipeline")]
pub async fn run_pipeline(id: PipelineId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::run(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
