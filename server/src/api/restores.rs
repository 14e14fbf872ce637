//! Restore runs of a tenant: plan one (with its preview), read it, execute it.

use super::{path_id, OperationStarted};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Json;
use axum::{Extension, Router};
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::backups::{Mappings, RestoreRequest, RestoreRun};
use tenantpilot_core::engine::operations;
use tenantpilot_core::{Capability, CoreError};

/// `POST /admin/t/{tenant}/restore-runs` with `backupSetId`, `itemIds`, `sourceTenant` (a
/// backup of another tenant), `groupMapping`, `filterMapping`, `scopeTagMapping`: 201 and the
/// run with its preview. Nothing changes in the tenant until it is executed.
pub async fn create(
    signed_in: SignedIn,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<RestoreRun>), AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::RestoreExecute).await?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| CoreError::invalid("body", format!("The body is not valid JSON: {error}")))?;
    let request = RestoreRequest::from_json(&body)?;
    let state = &member.signed_in.state;
    let run = operations::create_restore_run(
        &state.store,
        &state.provider,
        &member.membership,
        &member.signed_in.caller,
        &request,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// `PATCH /admin/t/{tenant}/restore-runs/{restoreRun}` with `groupMapping`, `filterMapping` and
/// `scopeTagMapping` (each replaces the one stored; absent ones are emptied): plans it again and
/// answers the run with its new preview. 409 while it executes.
pub async fn remap(
    signed_in: SignedIn,
    Path((tenant, restore)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<RestoreRun>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::RestoreExecute).await?;
    let restore: i64 = path_id(&restore)?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| CoreError::invalid("body", format!("The body is not valid JSON: {error}")))?;
    let fields =
        body.as_object().ok_or_else(|| CoreError::invalid("body", "Send a JSON object with the mappings"))?;
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["groupMapping", "filterMapping", "scopeTagMapping"].contains(&key.as_str()))
    {
        return Err(
            CoreError::invalid(unknown, format!("`{unknown}` cannot be changed on a restore run")).into()
        );
    }
    let mappings = Mappings::from_json_fields(fields)?;
    let state = &member.signed_in.state;
    let run = operations::remap_restore_run(
        &state.store,
        &state.provider,
        &member.membership,
        &member.signed_in.caller.initiator,
        restore,
        &mappings,
    )
    .await?;
    Ok(Json(run))
}

/// `GET /admin/t/{tenant}/restore-runs`
pub async fn list(
    signed_in: SignedIn,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<RestoreRun>>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    Ok(Json(member.signed_in.state.store.restore_runs(member.membership.tenant.id).await?))
}

/// `GET /admin/t/{tenant}/restore-runs/{restoreRun}`
pub async fn detail(
    signed_in: SignedIn,
    Path((tenant, restore)): Path<(String, String)>,
) -> Result<Json<RestoreRun>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    let restore: i64 = path_id(&restore)?;
    let run = member.signed_in.state.store.restore_run(member.membership.tenant.id, restore).await?;
    Ok(Json(run.ok_or(CoreError::NotFound)?))
}

/// `POST /admin/t/{tenant}/restore-runs/{restoreRun}/assignments/restore`
pub async fn execute(
    signed_in: SignedIn,
    Path((tenant, restore)): Path<(String, String)>,
) -> Result<OperationStarted, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::RestoreExecute).await?;
    let restore: i64 = path_id(&restore)?;
    let initiator = member.signed_in.caller.initiator.clone();
    let started =
        operations::start_restore(&member.signed_in.state.store, &member.membership, restore, initiator)
            .await?;
    Ok(OperationStarted(started.id()))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("restores.openapi.json");

/// Restore runs and their execution: a token needs the Operations scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/t/{tenant}/restore-runs", get(list).post(create))
        .route("/admin/t/{tenant}/restore-runs/{restore_run}", get(detail).patch(remap))
        .route("/admin/t/{tenant}/restore-runs/{restore_run}/assignments/restore", post(execute))
        .route_layer(Extension(TokenRequirement::OPERATIONS))
}
