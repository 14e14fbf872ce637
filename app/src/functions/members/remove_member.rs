//! Removing a member from a tenant.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::UserId;

#[server(endpoint = "remove_member")]
pub async fn remove_member(tenant: String, user_id: UserId) -> Result<(), AppError> {
    use tenantpilot_core::{tenancy, Capability};
    let member = crate::guard::tenant(&tenant, Capability::MembersManage).await?;
    tenancy::remove_member(
        &member.signed_in.state.store,
        &member.signed_in.caller.initiator,
        &member.membership,
        user_id,
    )
    .await?;
    tracing::info!(tenant = %tenant, actor = %member.signed_in.caller.user.id, %user_id, "member removed");
    Ok(())
}
