//! Stopping a pipeline's run: its current step finishes, the rest are skipped.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "stop_pipeline")]
pub async fn stop_pipeline(id: i64) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::stop(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
