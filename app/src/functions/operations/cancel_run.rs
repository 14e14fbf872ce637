//! Cancelling an operation run.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "cancel_run")]
pub async fn cancel_run(id: i64) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::operations::cancel(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(())
}
