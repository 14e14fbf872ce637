//! Health probes: `/healthz` (the process is up) and `/readyz` (its database answers).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::json;
use tenantpilot_app::guard::AppState;

/// The process is up, and which module it is (as tenant lifecycle jobs name it).
pub async fn healthz() -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "module": tenantpilot_core::tenant_jobs::module_id(),
    }))
}

/// The process can serve: its database answers.
pub async fn readyz(Extension(state): Extension<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(error) => {
            error.log_if_internal();
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": "database" })))
        }
    }
}
