//! Adding someone to a tenant by e-mail with a role (or setting the role they have).

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::Role;

#[server(endpoint = "add_member")]
pub async fn add_member(tenant: String, email: String, role: Role) -> Result<(), AppError> {
    use tenantpilot_core::{tenancy, Capability};
    let member = crate::guard::tenant(&tenant, Capability::MembersManage).await?;
    let store = &member.signed_in.state.store;
    let change = tenancy::set_member(
        store,
        &member.signed_in.caller.initiator,
        &member.membership.tenant.slug,
        &email,
        role,
    )
    .await?;
    tracing::info!(tenant = %tenant, actor = %member.signed_in.caller.user.id, ?change, %role, "membership set");
    Ok(())
}
