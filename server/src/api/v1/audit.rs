//! `/api/v1/logs/user/actions` and `/api/v1/logs/user/tokens`.

use super::PipelineCaller;
use axum::extract::RawQuery;
use axum::routing::get;
use axum::Json;
use axum::{Extension, Router};
use tenantpilot_app::error::contracts::PipelineApiError;
use tenantpilot_app::guard::TokenActivityCommit;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::audit;
use tenantpilot_core::audit::{LogPage, TokenActivity, UserAction};

pub async fn actions(
    PipelineCaller(signed_in): PipelineCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage<UserAction>>, PipelineApiError> {
    Ok(Json(audit::user_actions(&signed_in.state.store, &signed_in.caller.user, query.as_deref()).await?))
}

pub async fn tokens(
    PipelineCaller(signed_in): PipelineCaller,
    activity: Option<Extension<TokenActivityCommit>>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage<TokenActivity>>, PipelineApiError> {
    // The log a token reads shows this very request too.
    if let Some(Extension(activity)) = activity {
        activity.committed().await?;
    }
    Ok(Json(audit::token_activity(&signed_in.state.store, &signed_in.caller.user, query.as_deref()).await?))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("audit.openapi.json");

/// The activity logs: a token needs the Security Logs scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/v1/logs/user/actions", get(actions))
        .route("/api/v1/logs/user/tokens", get(tokens))
        .route_layer(Extension(TokenRequirement::SECURITY_LOGS))
}
