//! The registry page data: the tools the viewer may see, and whether they may create one.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::tools::Tool;

/// The registry page: the tools the viewer may see, and whether they may create one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryView {
    pub tools: Vec<Tool>,
    pub can_create: bool,
}

#[server(endpoint = "tools")]
pub async fn tools() -> Result<RegistryView, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    Ok(RegistryView {
        tools: tenantpilot_core::tools::list(&signed_in.state.store, &signed_in.caller.user).await?,
        can_create: signed_in.caller.user.account_role.is_power_user(),
    })
}
