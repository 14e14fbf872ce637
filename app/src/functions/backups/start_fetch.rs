//! Starting a fetch of a backup item's assignments.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;

/// Queues a fetch of a backup item's assignments; returns the run's id.
#[server(endpoint = "start_fetch")]
pub async fn start_fetch(tenant: String, item_id: i64) -> Result<RunId, AppError> {
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::BackupsManage).await?;
    let initiator = member.signed_in.caller.initiator.clone();
    let store = &member.signed_in.state.store;
    let started = operations::start_fetch(store, &member.membership, item_id, initiator).await?;
    Ok(started.id())
}
