//! Executing a previewed restore run.

use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::ids::RunId;

/// Executes a previewed restore run; returns the run's id.
#[server(endpoint = "start_restore")]
pub async fn start_restore(tenant: String, restore_id: i64) -> Result<RunId, AppError> {
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::RestoreExecute).await?;
    let initiator = member.signed_in.caller.initiator.clone();
    let store = &member.signed_in.state.store;
    let started = operations::start_restore(store, &member.membership, restore_id, initiator).await?;
    Ok(started.id())
}
