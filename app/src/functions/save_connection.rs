use crate::error::AppError;
use leptos::prelude::*;

/// Sets the tenant's provider connection; an empty secret keeps the stored one.
#[server(endpoint = "save_connection")]
pub async fn save_connection(
    tenant: String,
    base_url: String,
    token_url: String,
    client_id: String,
    client_secret: Option<String>,
) -> Result<(), AppError> {
    use tenantpilot_core::provider::{self, NewConnection};
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::SettingsManage).await?;
    let new = NewConnection {
        base_url: &base_url,
        token_url: &token_url,
        client_id: &client_id,
        client_secret: client_secret.as_deref().unwrap_or_default(),
    };
    let actor = member.signed_in.initiator();
    provider::connect(&member.signed_in.state.store, &actor, &member.membership.tenant, new).await?;
    Ok(())
}
