//! Creating a tool in the registry from its JSON.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::ToolId;

/// Creates a tool from its JSON (the shape the registry's `summary` answers), owned by the
/// viewer, then goes to it.
#[server(endpoint = "create_tool")]
pub async fn create_tool(json: String) -> Result<ToolId, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let body = super::tool_json(&json)?;
    let tool = tenantpilot_core::tools::create(
        &signed_in.state.store,
        signed_in.state.provider.egress(),
        Some(&signed_in.caller),
        &body,
    )
    .await?;
    leptos_axum::redirect(&format!("/admin/registry/{}", tool.id));
    Ok(tool.id)
}
