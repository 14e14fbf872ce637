//! Checking a tenant's provider connection: signing in, then what the app registration may read.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::provider::ConnectionCheck;

/// Tries the tenant's provider connection: signs in, and reads one entry of each policy family,
/// the assignment filters, scope tags and groups. Says what the app registration may read.
#[server(endpoint = "check_connection")]
pub async fn check_connection(tenant: String) -> Result<ConnectionCheck, AppError> {
    use tenantpilot_core::provider;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::SettingsManage).await?;
    let state = &member.signed_in.state;
    Ok(provider::check_connection(&state.store, &state.provider, member.membership.tenant.id).await?)
}
