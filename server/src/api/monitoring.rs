//! `GET /admin/monitoring/operations` and `GET /admin/monitoring/operations/{operationRun}`.

use super::path_id;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::monitoring::{self, ListParams};
use tenantpilot_core::operation::{RunDetail, RunSummary};
use tenantpilot_core::CoreError;

const PATH: &str = "/admin/monitoring/operations";

/// The contract's array of summaries; the next page, if any, in a `Link` header.
pub async fn list(signed_in: SignedIn, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params: ListParams =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).map_err(|error| {
            CoreError::invalid("query", format!("The query string could not be read: {error}"))
        })?;
    let page = monitoring::list(&signed_in.state.store, &signed_in.user, &params).await?;
    let body: Vec<RunSummary> = page.runs.iter().map(RunSummary::from).collect();
    let mut response = Json(body).into_response();
    if let Some(cursor) = page.next_cursor {
        let next = ListParams { cursor: Some(cursor.to_string()), ..params };
        let query = serde_urlencoded::to_string(&next).map_err(|_| CoreError::Internal)?;
        if let Ok(link) = format!("<{PATH}?{query}>; rel=\"next\"").parse() {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// A run the caller may see; 404 otherwise, and for an id that is not a number.
pub async fn detail(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<RunDetail>, AppError> {
    let id = path_id(&id)?;
    let run = monitoring::run(&signed_in.state.store, &signed_in.user, id).await?;
    Ok(Json(RunDetail::from(&run)))
}

/// `POST /admin/monitoring/operations/{operationRun}/cancel`: the run after the cancel (a
/// running one completes as cancelled at its next checkpoint); 409 once it has completed.
pub async fn cancel(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<RunDetail>, AppError> {
    let id = path_id(&id)?;
    let run = monitoring::cancel(&signed_in.state.store, &signed_in.user, id).await?;
    Ok(Json(RunDetail::from(&run)))
}
