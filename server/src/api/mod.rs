//! The JSON routes: the assignment-operations contract, the pipeline contract (`v1`), the tenant
//! API (`/_/tenant`) and the JSON twins of page actions.
//! Each handler takes the one guard (`SignedIn`), calls the same core function the pages'
//! server functions call, and answers errors through `AppError`.

mod backups;
pub mod monitoring;
mod provider_connection;
mod restores;
pub mod tenant;
mod v1;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tenantpilot_core::CoreError;

/// A started (or reused) operation run: 202 `{"operationRunId": n}`, the same n for a reuse.
pub struct OperationStarted(pub i64);

impl IntoResponse for OperationStarted {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(serde_json::json!({ "operationRunId": self.0 }))).into_response()
    }
}

/// An id in a path. Anything but a positive number names nothing: 404, like an unknown id.
fn path_id(raw: &str) -> Result<i64, CoreError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or(CoreError::NotFound)
}

/// `GET /api/openapi.json`: the OpenAPI document of every JSON route. Tests hold it to the
/// contract file and check the routes' answers against it.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json"))
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .merge(v1::routes())
        .route("/api/openapi.json", get(openapi))
        .route("/_/tenant", post(tenant::submit))
        .route("/_/tenant/{operation_id}", get(tenant::get).delete(tenant::delete))
        .route("/admin/monitoring/operations", get(monitoring::list))
        .route("/admin/monitoring/operations/{operation_run}", get(monitoring::detail))
        .route("/admin/monitoring/events", get(monitoring::events))
        .route("/admin/monitoring/operations/{operation_run}/cancel", post(monitoring::cancel))
        .route("/admin/t/{tenant}/backup-sets", get(backups::sets))
        .route("/admin/t/{tenant}/backup-sets/capture", post(backups::capture))
        .route("/admin/t/{tenant}/backup-items", get(backups::items))
        .route("/admin/t/{tenant}/backup-items/{backup_item}", get(backups::item))
        .route("/admin/t/{tenant}/backup-items/{backup_item}/assignments/fetch", post(backups::fetch))
        .route(
            "/admin/t/{tenant}/provider-connection",
            get(provider_connection::show).put(provider_connection::set),
        )
        .route("/admin/t/{tenant}/provider-connection/check", post(provider_connection::check))
        .route("/admin/t/{tenant}/restore-runs", get(restores::list).post(restores::create))
        .route("/admin/t/{tenant}/restore-runs/{restore_run}", get(restores::detail).patch(restores::remap))
        .route("/admin/t/{tenant}/restore-runs/{restore_run}/assignments/restore", post(restores::execute))
}
