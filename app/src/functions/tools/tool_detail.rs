//! One tool's page data: the tool, and whether the viewer may change it.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::ToolId;
use tenantpilot_core::tools::Tool;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolView {
    pub tool: Tool,
    pub can_write: bool,
}

#[server(endpoint = "tool_detail")]
pub async fn tool_detail(id: ToolId) -> Result<ToolView, AppError> {
    use tenantpilot_core::item_access::Level;
    use tenantpilot_core::tools;
    let signed_in = crate::guard::signed_in().await?;
    let store = &signed_in.state.store;
    let (record, level) = tools::visible_with_level(store, &signed_in.caller.user, id, Level::Read).await?;
    let can_write = level == Level::Write;
    Ok(ToolView { tool: record.tool, can_write })
}
