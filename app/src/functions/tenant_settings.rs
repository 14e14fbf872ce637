use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::model::TenantMembership;
use tenantpilot_core::provider::ConnectionInfo;

/// A tenant's settings page: its provider connection (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub viewer: TenantMembership,
    pub connection: Option<ConnectionInfo>,
}

#[server(endpoint = "tenant_settings")]
pub async fn tenant_settings(tenant: String) -> Result<SettingsView, AppError> {
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let connection =
        member.signed_in.state.store.provider_connection_info(member.membership.tenant.id).await?;
    Ok(SettingsView { viewer: member.membership, connection })
}
