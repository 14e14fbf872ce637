//! Backups of a tenant: capture a backup set, list items, fetch an item's assignments.

use super::{path_id, OperationStarted};
use axum::extract::Path;
use axum::routing::{get, post};
use axum::Json;
use axum::{Extension, Router};
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::backups::{BackupItem, BackupItemSummary, BackupSet};
use tenantpilot_core::engine::operations;
use tenantpilot_core::{Capability, CoreError};

/// `POST /admin/t/{tenant}/backup-sets/capture`
pub async fn capture(signed_in: SignedIn, Path(tenant): Path<String>) -> Result<OperationStarted, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::BackupsManage).await?;
    let initiator = member.signed_in.caller.initiator.clone();
    let started =
        operations::start_capture(&member.signed_in.state.store, &member.membership, initiator).await?;
    Ok(OperationStarted(started.id()))
}

/// `GET /admin/t/{tenant}/backup-sets`
pub async fn sets(signed_in: SignedIn, Path(tenant): Path<String>) -> Result<Json<Vec<BackupSet>>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    Ok(Json(member.signed_in.state.store.backup_sets(member.membership.tenant.id).await?))
}

/// `GET /admin/t/{tenant}/backup-items`
pub async fn items(
    signed_in: SignedIn,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<BackupItemSummary>>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    let items = member.signed_in.state.store.backup_items(member.membership.tenant.id, None).await?;
    Ok(Json(items.iter().map(BackupItemSummary::from).collect()))
}

/// `GET /admin/t/{tenant}/backup-items/{backupItem}`: the policy as stored (body, settings,
/// scope tags) and its assignment targets with group and filter names.
pub async fn item(
    signed_in: SignedIn,
    Path((tenant, item)): Path<(String, String)>,
) -> Result<Json<BackupItem>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    let item: i64 = path_id(&item)?;
    let found = member.signed_in.state.store.backup_item(member.membership.tenant.id, item).await?;
    Ok(Json(found.ok_or(CoreError::NotFound)?))
}

/// `POST /admin/t/{tenant}/backup-items/{backupItem}/assignments/fetch`
pub async fn fetch(
    signed_in: SignedIn,
    Path((tenant, item)): Path<(String, String)>,
) -> Result<OperationStarted, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::BackupsManage).await?;
    let item: i64 = path_id(&item)?;
    let initiator = member.signed_in.caller.initiator.clone();
    let started =
        operations::start_fetch(&member.signed_in.state.store, &member.membership, item, initiator).await?;
    Ok(OperationStarted(started.id()))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("backups.openapi.json");

/// Backup sets and items, capture and fetch: a token needs the Operations scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/t/{tenant}/backup-sets", get(sets))
        .route("/admin/t/{tenant}/backup-sets/capture", post(capture))
        .route("/admin/t/{tenant}/backup-items", get(items))
        .route("/admin/t/{tenant}/backup-items/{backup_item}", get(item))
        .route("/admin/t/{tenant}/backup-items/{backup_item}/assignments/fetch", post(fetch))
        .route_layer(Extension(TokenRequirement::OPERATIONS))
}
