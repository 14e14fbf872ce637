use crate::error::AppError;
use leptos::prelude::*;

/// Tries the tenant's provider connection: signs in and lists groups. Says what it found.
#[server(endpoint = "check_connection")]
pub async fn check_connection(tenant: String) -> Result<String, AppError> {
    use tenantpilot_core::provider;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::SettingsManage).await?;
    let state = &member.signed_in.state;
    let groups = provider::current_groups(&state.store, &state.provider, member.membership.tenant.id).await?;
    Ok(format!("The connection works: the provider lists {} groups.", groups.len()))
}
