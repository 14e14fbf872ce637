//! Deleting a tool from the registry, then back to the list.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::ToolId;

#[server(endpoint = "delete_tool")]
pub async fn delete_tool(id: ToolId) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::tools::delete(&signed_in.state.store, &signed_in.caller, id).await?;
    leptos_axum::redirect("/admin/registry");
    Ok(())
}
