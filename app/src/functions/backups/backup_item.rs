//! One policy of a backup as stored, with its backup set, for the item's page.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::backups::{BackupItem, BackupSet};
use tenantpilot_core::model::TenantMembership;

/// One policy of a backup as stored: its page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupItemView {
    pub viewer: TenantMembership,
    pub item: BackupItem,
    pub set: BackupSet,
}

#[server(endpoint = "backup_item")]
pub async fn backup_item_detail(tenant: String, id: i64) -> Result<BackupItemView, AppError> {
    use tenantpilot_core::{Capability, CoreError};
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let store = &member.signed_in.state.store;
    let tenant_id = member.membership.tenant.id;
    let item = store.backup_item(tenant_id, id).await?.ok_or(CoreError::NotFound)?;
    let set = store.backup_set(tenant_id, item.backup_set_id).await?.ok_or(CoreError::NotFound)?;
    Ok(BackupItemView { viewer: member.membership, item, set })
}
