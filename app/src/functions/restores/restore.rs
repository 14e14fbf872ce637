//! A restore run's page data: the plan and its preview, its backup set, its latest execution.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::backups::{BackupSet, RestoreRun};
use tenantpilot_core::model::{Tenant, TenantMembership};
use tenantpilot_core::operations::OperationRun;

/// A restore run's page: the plan and its preview, and its latest execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreView {
    pub viewer: TenantMembership,
    pub restore: RestoreRun,
    pub set: BackupSet,
    /// The tenant the backup came from, when it is not this one.
    pub source: Option<Tenant>,
    pub execution: Option<OperationRun>,
    pub now: DateTime<Utc>,
}

#[server(endpoint = "restore")]
pub async fn restore(tenant: String, id: i64) -> Result<RestoreView, AppError> {
    use tenantpilot_core::{Capability, CoreError};
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let store = &member.signed_in.state.store;
    let tenant_id = member.membership.tenant.id;
    let restore = store.restore_run(tenant_id, id).await?.ok_or(CoreError::NotFound)?;
    let set = store
        .backup_set(restore.source_tenant_id, restore.backup_set_id)
        .await?
        .ok_or(CoreError::NotFound)?;
    let source = match restore.source_tenant_id {
        id if id == tenant_id => None,
        id => store.tenant_by_id(id).await?,
    };
    let execution = match restore.operation_run_id {
        Some(run) => store.operation_run(run).await?,
        None => None,
    };
    Ok(RestoreView { viewer: member.membership, restore, set, source, execution, now: Utc::now() })
}
