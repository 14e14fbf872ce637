//! `/api/v1/registry/…`: the tools a caller may see, one tool, and the merge update.

use super::{Body, Caller, Failed};
use axum::body::Bytes;
use axum::Json;
use tenantpilot_core::audit::require_power_user;
use tenantpilot_core::item_access::Level;
use tenantpilot_core::tool::Tool;
use tenantpilot_core::tools;

pub async fn tools(Caller(caller): Caller) -> Result<Json<Vec<Tool>>, Failed> {
    require_power_user(&caller.user)?;
    Ok(Json(tools::list(&caller.state.store, &caller.user).await?))
}

pub async fn summary(Caller(caller): Caller, body: Bytes) -> Result<Json<Tool>, Failed> {
    let id = Body::parse(&body)?.id("toolId")?;
    Ok(Json(tools::visible(&caller.state.store, &caller.user, id, Level::Read).await?.tool))
}

/// The merged tool; with `droppedSecrets` when its address moved to another origin and took
/// none of them along.
pub async fn update(Caller(caller): Caller, body: Bytes) -> Result<Json<serde_json::Value>, Failed> {
    let body = Body::parse(&body)?;
    let id = body.id("toolId")?;
    let patch = body.object("tool")?;
    let egress = caller.state.provider.egress();
    let updated =
        tools::update(&caller.state.store, egress, &caller.user, &caller.initiator(), id, patch).await?;
    let mut answer =
        serde_json::to_value(&updated.tool).map_err(|_| tenantpilot_core::CoreError::Internal)?;
    if !updated.dropped_secrets.is_empty() {
        answer["droppedSecrets"] = updated.dropped_secrets.into();
    }
    Ok(Json(answer))
}
