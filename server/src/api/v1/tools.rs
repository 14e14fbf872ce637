//! `/api/v1/registry/…`: the tools a caller may see, one tool, and the merge update.

use super::{Body, PipelineCaller};
use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Json;
use axum::{Extension, Router};
use tenantpilot_app::error::contracts::PipelineApiError;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::audit::require_power_user;
use tenantpilot_core::item_access::Level;
use tenantpilot_core::tools;
use tenantpilot_core::tools::Tool;

pub async fn tools(PipelineCaller(signed_in): PipelineCaller) -> Result<Json<Vec<Tool>>, PipelineApiError> {
    require_power_user(&signed_in.caller.user)?;
    Ok(Json(tools::list(&signed_in.state.store, &signed_in.caller.user).await?))
}

pub async fn summary(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Tool>, PipelineApiError> {
    let id = Body::parse(&body)?.id("toolId")?;
    Ok(Json(tools::visible(&signed_in.state.store, &signed_in.caller.user, id, Level::Read).await?.tool))
}

/// The merged tool; with `droppedSecrets` when its address moved to another origin and took
/// none of them along.
pub async fn update(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<serde_json::Value>, PipelineApiError> {
    let body = Body::parse(&body)?;
    let id = body.id("toolId")?;
    let patch = body.object("tool")?;
    let egress = signed_in.state.provider.egress();
    let updated = tools::update(&signed_in.state.store, egress, &signed_in.caller, id, patch).await?;
    let mut answer = serde_json::to_value(&updated.tool).map_err(tenantpilot_core::CoreError::internal)?;
    if !updated.dropped_secrets.is_empty() {
        answer["droppedSecrets"] = updated.dropped_secrets.into();
    }
    Ok(Json(answer))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("tools.openapi.json");

/// The tool registry: a token needs the Tool Registry scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/v1/registry/tools", get(tools))
        .route("/api/v1/registry/summary", post(summary))
        .route("/api/v1/registry/update", post(update))
        .route_layer(Extension(TokenRequirement::TOOL_REGISTRY))
}
