//! The JSON routes: the assignment-operations contract, the pipeline contract (`v1`), the tenant
//! API (`/_/tenant`) and the JSON twins of page actions.
//! Each handler takes the one guard (`SignedIn`), calls the same core function the pages'
//! server functions call, and answers errors through `AppError`.

mod backups;
pub mod metrics;
pub mod openapi;
pub mod operations;
mod provider_connection;
mod restores;
mod schedules;
pub mod tenant_jobs;
mod v1;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tenantpilot_core::ids::RunId;
use tenantpilot_core::CoreError;

/// A started (or reused) operation run: 202 `{"operationRunId": n}`, the same n for a reuse.
pub struct OperationStarted(pub RunId);

impl IntoResponse for OperationStarted {
    fn into_response(self) -> Response {
        (StatusCode::ACCEPTED, Json(serde_json::json!({ "operationRunId": self.0 }))).into_response()
    }
}

/// An id in a path. Anything but a positive number names nothing: 404, like an unknown id.
fn path_id<Id: From<i64>>(raw: &str) -> Result<Id, CoreError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).map(Id::from).ok_or(CoreError::NotFound)
}

/// Each module's OpenAPI fragment, kept beside its handlers: `/api/openapi.json` is made of these.
const OPENAPI_FRAGMENTS: [(&str, &str); 10] = [
    ("operations", operations::OPENAPI),
    ("backups", backups::OPENAPI),
    ("restores", restores::OPENAPI),
    ("schedules", schedules::OPENAPI),
    ("provider_connection", provider_connection::OPENAPI),
    ("tenant_jobs", tenant_jobs::OPENAPI),
    ("v1/pipelines", v1::pipelines::OPENAPI),
    ("v1/tools", v1::tools::OPENAPI),
    ("v1/audit", v1::audit::OPENAPI),
    ("metrics", metrics::OPENAPI),
];

/// Every JSON route. Each module declares its routes with the token scope they need; the one
/// guard reads it, and a route that declares none takes no token.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/openapi.json", get(openapi::serve))
        .merge(operations::router())
        .merge(backups::router())
        .merge(restores::router())
        .merge(schedules::router())
        .merge(provider_connection::router())
        .merge(tenant_jobs::router())
        .merge(v1::router())
        .merge(metrics::router())
}
