//! The platform page's data: every workspace with its tenants, for platform admins.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::model::WorkspaceTenants;

#[server(endpoint = "platform_overview")]
pub async fn platform_overview() -> Result<Vec<WorkspaceTenants>, AppError> {
    let admin = crate::guard::platform().await?;
    Ok(admin.state.store.workspaces_with_tenants().await?)
}
