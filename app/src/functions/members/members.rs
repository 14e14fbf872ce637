//! The members page data: a tenant's members and the viewer's own membership.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::UserId;
use tenantpilot_core::model::{Member, TenantMembership};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersView {
    /// The viewer's own membership: what they may do here.
    pub viewer: TenantMembership,
    pub viewer_id: UserId,
    pub members: Vec<Member>,
}

#[server(endpoint = "members")]
pub async fn members(tenant: String) -> Result<MembersView, AppError> {
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::MembersView).await?;
    let members = member.signed_in.state.store.members(member.membership.tenant.id).await?;
    Ok(MembersView { viewer_id: member.signed_in.caller.user.id, viewer: member.membership, members })
}
