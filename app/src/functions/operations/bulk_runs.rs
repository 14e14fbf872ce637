//! Cancelling or retrying every run of Monitoring's current filter.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::operations::{BulkAction, BulkResult, ListParams};

/// `filter` is optional because a form encoding drops a struct whose fields are all empty.
#[server(endpoint = "bulk_runs")]
pub async fn bulk_runs(action: BulkAction, filter: Option<ListParams>) -> Result<BulkResult, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let filter = filter.unwrap_or_default().in_zone(crate::guard::viewer_zone(&signed_in.caller.user));
    Ok(tenantpilot_core::operations::bulk(&signed_in.state.store, &signed_in.caller, action, &filter).await?)
}
