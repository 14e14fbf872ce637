//! A tenant's settings page data: its provider connection (never the secret) and last check.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::model::TenantMembership;
use tenantpilot_core::provider::{ConnectionCheck, ConnectionInfo};

/// A tenant's settings page: its provider connection (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub viewer: TenantMembership,
    pub connection: Option<ConnectionInfo>,
    /// The last "Check connection" since the connection was set.
    pub last_check: Option<ConnectionCheck>,
}

#[server(endpoint = "tenant_settings")]
pub async fn tenant_settings(tenant: String) -> Result<SettingsView, AppError> {
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let store = &member.signed_in.state.store;
    let tenant_id = member.membership.tenant.id;
    let connection = store.provider_connection_info(tenant_id).await?;
    let last_check = store.connection_check(tenant_id).await?;
    Ok(SettingsView { viewer: member.membership, connection, last_check })
}
