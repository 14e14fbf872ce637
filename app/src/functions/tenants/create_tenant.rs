//! Creating a tenant in a workspace, from the platform page.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "create_tenant")]
pub async fn create_tenant(
    workspace: String,
    slug: String,
    name: String,
    external_tenant_id: Option<String>,
) -> Result<(), AppError> {
    use tenantpilot_core::store::Ensured;
    use tenantpilot_core::tenancy::{self, NewTenant};
    use tenantpilot_core::CoreError;
    let admin = crate::guard::platform().await?;
    let new = NewTenant {
        workspace_slug: &workspace,
        slug: &slug,
        name: &name,
        external_tenant_id: external_tenant_id.as_deref(),
    };
    let (tenant, ensured) = tenancy::create_tenant(&admin.state.store, &admin.caller.initiator, new).await?;
    if ensured == Ensured::Existing {
        return Err(CoreError::conflict(format!("The tenant {} exists already", tenant.slug)).into());
    }
    tracing::info!(tenant = %tenant.slug, actor = %admin.caller.user.id, "tenant created");
    Ok(())
}
