//! A tenant's backups page data: sets, items, restore runs, the connection and recent runs.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::backups::{BackupItem, BackupSet, RestoreRun};
use tenantpilot_core::model::{Tenant, TenantMembership};
use tenantpilot_core::operations::OperationRun;
use tenantpilot_core::provider::ConnectionInfo;

/// A tenant's backups page: its sets and items, restore runs, provider connection, and the
/// latest runs of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupsView {
    pub viewer: TenantMembership,
    pub connection: Option<ConnectionInfo>,
    pub sets: Vec<BackupSet>,
    pub items: Vec<BackupItem>,
    pub restores: Vec<RestoreRun>,
    /// Other tenants the viewer may restore this tenant's backups into.
    pub restore_targets: Vec<Tenant>,
    pub recent_runs: Vec<OperationRun>,
    pub now: DateTime<Utc>,
}

/// Runs shown on a tenant page.
pub const RECENT_RUNS: i64 = 8;

#[server(endpoint = "backups")]
pub async fn backups(tenant: String) -> Result<BackupsView, AppError> {
    use tenantpilot_core::store::RunQuery;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let store = &member.signed_in.state.store;
    let tenant_id = member.membership.tenant.id;
    let recent = RunQuery {
        tenant_id: Some(tenant_id),
        ..RunQuery::new(
            tenantpilot_core::operations::scope(store, &member.signed_in.caller.user).await?,
            RECENT_RUNS,
        )
    };
    let restore_targets = store
        .memberships_of(member.signed_in.caller.user.id)
        .await?
        .into_iter()
        .filter(|other| other.tenant.id != tenant_id && other.can(Capability::RestoreExecute))
        .map(|other| other.tenant)
        .collect();
    Ok(BackupsView {
        restore_targets,
        connection: store.provider_connection_info(tenant_id).await?,
        sets: store.backup_sets(tenant_id).await?,
        items: store.backup_items(tenant_id, None).await?,
        restores: store.restore_runs(tenant_id).await?,
        recent_runs: store.list_runs(&recent).await?,
        now: Utc::now(),
        viewer: member.membership,
    })
}
