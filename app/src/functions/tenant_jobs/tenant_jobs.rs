//! A tenant's lifecycle page data: its module version, state and jobs.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::tenant_jobs::TenantLifecycle;

#[server(endpoint = "tenant_jobs")]
pub async fn tenant_jobs(slug: String) -> Result<TenantLifecycle, AppError> {
    let admin = crate::guard::platform().await?;
    Ok(tenantpilot_core::tenant_jobs::lifecycle_of(&admin.state.store, &slug).await?)
}
