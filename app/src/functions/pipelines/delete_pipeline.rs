//! Deleting a pipeline, then back to the list.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;

#[server(endpoint = "delete_pipeline")]
pub async fn delete_pipeline(id: PipelineId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::delete(&signed_in.state.store, &signed_in.caller, id).await?;
    leptos_axum::redirect("/admin/pipelines");
    Ok(())
}
