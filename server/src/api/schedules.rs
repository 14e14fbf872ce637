//! `/admin/schedules`: the schedules the caller may see; creating, changing (pausing,
//! resuming), deleting one; and "Run now". Errors are the JSON twins' `Error`.

use super::{path_id, OperationStarted};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::de::DeserializeOwned;
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::schedules::{self, ScheduleId, ScheduleInput, SchedulePatch, ScheduleView};
use tenantpilot_core::CoreError;

/// A JSON body; a mistake names what was wrong.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, CoreError> {
    serde_json::from_slice(bytes)
        .map_err(|error| CoreError::invalid("body", format!("The body does not fit: {error}")))
}

/// `GET /admin/schedules`: every schedule the caller may see, by name.
pub async fn list(signed_in: SignedIn) -> Result<Json<Vec<ScheduleView>>, AppError> {
    Ok(Json(schedules::list(&signed_in.state.store, &signed_in.caller.user, Utc::now()).await?))
}

/// `POST /admin/schedules`: 201 with the schedule, owned by the caller.
pub async fn create(signed_in: SignedIn, bytes: Bytes) -> Result<(StatusCode, Json<ScheduleView>), AppError> {
    let input: ScheduleInput = body(&bytes)?;
    let store = &signed_in.state.store;
    let schedule = schedules::create(store, &signed_in.caller, &input).await?;
    Ok((StatusCode::CREATED, Json(schedules::view(store, schedule, Utc::now()).await?)))
}

/// `GET /admin/schedules/{id}`: with its last slot and next five fire times.
pub async fn detail(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<ScheduleView>, AppError> {
    let store = &signed_in.state.store;
    let schedule = schedules::visible(store, &signed_in.caller.user, ScheduleId(path_id(&id)?)).await?;
    Ok(Json(schedules::view(store, schedule, Utc::now()).await?))
}

/// `PATCH /admin/schedules/{id}`: name, cron, timeZone, jitterMinutes, missed, paused.
pub async fn update(
    signed_in: SignedIn,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<ScheduleView>, AppError> {
    let id = ScheduleId(path_id(&id)?);
    let patch: SchedulePatch = body(&bytes)?;
    let store = &signed_in.state.store;
    let schedule = schedules::update(store, &signed_in.caller, id, &patch).await?;
    Ok(Json(schedules::view(store, schedule, Utc::now()).await?))
}

/// `DELETE /admin/schedules/{id}`: 204; its slots go with it, the runs it started stay.
pub async fn delete(signed_in: SignedIn, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    schedules::delete(&signed_in.state.store, &signed_in.caller, ScheduleId(path_id(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/schedules/{id}/trigger`: "Run now", 202 `{"operationRunId": n}`.
pub async fn trigger(signed_in: SignedIn, Path(id): Path<String>) -> Result<OperationStarted, AppError> {
    let run =
        schedules::trigger(&signed_in.state.store, &signed_in.caller, ScheduleId(path_id(&id)?)).await?;
    Ok(OperationStarted(run))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("schedules.openapi.json");

/// Schedules start operations: a token needs the Operations scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/schedules", get(list).post(create))
        .route("/admin/schedules/{id}", get(detail).patch(update).delete(delete))
        .route("/admin/schedules/{id}/trigger", post(trigger))
        .route_layer(Extension(TokenRequirement::OPERATIONS))
}
