//! A tenant's overview page data: the viewer's membership of it.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::model::TenantMembership;

#[server(endpoint = "tenant_overview")]
pub async fn tenant_overview(tenant: String) -> Result<TenantMembership, AppError> {
    use tenantpilot_core::Capability;
    Ok(crate::guard::tenant(&tenant, Capability::CoreView).await?.membership)
}
