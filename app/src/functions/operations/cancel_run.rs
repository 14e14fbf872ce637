//! Cancelling an operation run.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;

#[server(endpoint = "cancel_run")]
pub async fn cancel_run(id: RunId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::operations::cancel(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
