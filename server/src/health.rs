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
        "module": tenantpilot_core::lifecycle::module_id(),
    }))
}

/// The process can serve: its database answers.
pub async fn readyz(Extension(state): Extension<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": "database" })))
        }
    }
}
