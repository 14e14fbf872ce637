//! Setting a tenant's provider connection from its settings page.

use crate::error::AppError;
use leptos::prelude::*;

/// Sets the tenant's provider connection. An empty base URL is Graph's beta, an empty scope
/// the rule's; a new secret or certificate replaces the stored credential, neither keeps it.
#[server(endpoint = "save_connection")]
pub async fn save_connection(
    tenant: String,
    base_url: Option<String>,
    token_url: String,
    client_id: String,
    scope: Option<String>,
    client_secret: Option<String>,
    client_certificate: Option<String>,
) -> Result<(), AppError> {
    use tenantpilot_core::provider::{self, NewConnection, NewCredential};
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::SettingsManage).await?;
    let credential = NewCredential::from_fields(
        client_secret.as_deref().unwrap_or_default(),
        client_certificate.as_deref().unwrap_or_default(),
    )?;
    let new = NewConnection {
        base_url: base_url.as_deref().unwrap_or_default(),
        token_url: &token_url,
        client_id: &client_id,
        scope: scope.as_deref().unwrap_or_default(),
        credential,
    };
    let actor = member.signed_in.caller.initiator.clone();
    let state = &member.signed_in.state;
    provider::connect(&state.store, state.provider.egress(), &actor, &member.membership.tenant, new).await?;
    Ok(())
}
