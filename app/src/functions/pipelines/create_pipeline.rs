//! Creating an empty pipeline owned by the viewer.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;

/// Creates an empty pipeline owned by the viewer, then goes to it to add steps.
#[server(endpoint = "create_pipeline")]
pub async fn create_pipeline(
    name: String,
    description: Option<String>,
    account: Option<String>,
) -> Result<PipelineId, AppError> {
    use tenantpilot_core::pipelines::PipelineInput;
    let signed_in = crate::guard::signed_in().await?;
    let input = PipelineInput {
        name,
        description: description.unwrap_or_default(),
        account,
        ..PipelineInput::default()
    };
    let pipeline =
        tenantpilot_core::pipelines::create(&signed_in.state.store, Some(&signed_in.caller), &input).await?;
    leptos_axum::redirect(&format!("/admin/pipelines/{}", pipeline.id));
    Ok(pipeline.id)
}
