//! Changing a tenant member's role.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::UserId;
use tenantpilot_core::Role;

#[server(endpoint = "change_member_role")]
pub async fn change_member_role(tenant: String, user_id: UserId, role: Role) -> Result<(), AppError> {
    use tenantpilot_core::{tenancy, Capability};
    let member = crate::guard::tenant(&tenant, Capability::MembersManage).await?;
    let change = tenancy::change_role(
        &member.signed_in.state.store,
        &member.signed_in.caller.initiator,
        &member.membership,
        user_id,
        role,
    )
    .await?;
    tracing::info!(tenant = %tenant, actor = %member.signed_in.caller.user.id, %user_id, ?change, "member role changed");
    Ok(())
}
