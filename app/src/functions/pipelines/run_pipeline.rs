//! Starting a run of a pipeline.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "run_pipeline")]
pub async fn run_pipeline(id: i64) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::pipelines::run(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
