//! Resetting a pipeline: clearing its current run and a paused state.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "reset_pipeline")]
pub async fn reset_pipeline(id: i64) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::reset(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
