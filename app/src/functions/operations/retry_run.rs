//! Retrying a completed run that did not fully succeed.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;

/// Starts the retry and goes to its run page; returns its id.
#[server(endpoint = "retry_run")]
pub async fn retry_run(id: RunId) -> Result<RunId, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let started = tenantpilot_core::operations::retry(&signed_in.state.store, &signed_in.caller, id).await?;
    leptos_axum::redirect(&crate::components::run_href(started.id()));
    Ok(started.id())
}
