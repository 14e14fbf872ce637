//! Starting a capture of a tenant's policies into a new backup set.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;

/// Queues a capture of the tenant's policies; returns the run's id (an active one is reused).
#[server(endpoint = "start_capture")]
pub async fn start_capture(tenant: String) -> Result<RunId, AppError> {
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::BackupsManage).await?;
    let initiator = member.signed_in.caller.initiator.clone();
    let started =
        operations::start_capture(&member.signed_in.state.store, &member.membership, initiator).await?;
    Ok(started.id())
}
