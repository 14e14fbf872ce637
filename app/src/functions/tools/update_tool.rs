//! Changing a tool: the edited JSON merged into it, as the registry's `update` does.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::ToolId;

/// Merges the edited JSON's root properties into the tool, as the registry's `update` does.
/// Answers the secrets dropped because the address moved to another origin.
#[server(endpoint = "update_tool")]
pub async fn update_tool(id: ToolId, json: String) -> Result<Vec<String>, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let patch = super::tool_json(&json)?;
    let updated = tenantpilot_core::tools::update(
        &signed_in.state.store,
        signed_in.state.provider.egress(),
        &signed_in.caller,
        id,
        &patch,
    )
    .await?;
    Ok(updated.dropped_secrets)
}
