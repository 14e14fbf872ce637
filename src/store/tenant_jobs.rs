//! What tenant lifecycle jobs change: a tenant's module version and enabled flag, its
//! reference data, its data steps, and purging everything it owns. Each change is one
//! transaction that starts by writing the tenant's row, so SQLite takes its write lock first.

use super::operations::ChangeRow;
use super::{in_transaction, Store};
use crate::backups::Assignment;
use crate::ids::TenantId;
use crate::CoreError;

/// The lifecycle kinds, for statements that leave a tenant's lifecycle jobs alone.
const LIFECYCLE_KINDS: &str = "('tenant.install', 'tenant.upgrade', 'tenant.disable')";

/// One entry of a tenant's reference data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceEntry {
    pub kind: &'static str,
    pub key: String,
    pub label: String,
}

/// A tenant data step's change, made in the same transaction that records the new version.
#[derive(Debug, Clone)]
pub enum DataChange {
    /// Replaces the tenant's reference data of these kinds, if it has loaded any.
    SyncReference(Vec<ReferenceEntry>),
    /// Checks every stored item's settings and assignments parse, rewrites them compactly and
    /// recounts assignments. An item that does not parse fails the step, naming it.
    CheckBackupItems,
}

/// How many rows of each table a purge deleted, by table.
pub type PurgeCounts = Vec<(&'static str, u64)>;

/// The tables a purge empties of the tenant's rows, children first.
const PURGED_TABLES: [&str; 6] = [
    "restore_runs",
    "backup_items",
    "backup_sets",
    "provider_connections",
    "memberships",
    "tenant_reference_data",
];

impl Store {
    /// Records that the tenant's data is at `version` after `change`; returns how many rows
    /// the change touched. A `Conflict` names data the change cannot take.
    #[tracing::instrument(skip_all)]
    pub async fn apply_data_change(
        &self,
        tenant_id: TenantId,
        version: &str,
        change: &DataChange,
    ) -> Result<u64, CoreError> {
        let touched = in_transaction!(self, tx => {
            sqlx::query("UPDATE tenants SET module_version = $2 WHERE id = $1")
                .bind(tenant_id).bind(version).execute(&mut *tx).await?;
            match change {
                DataChange::SyncReference(entries) => {
                    let loaded: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM tenant_reference_data WHERE tenant_id = $1")
                        .bind(tenant_id).fetch_one(&mut *tx).await?;
                    if loaded == 0 {
                        0
                    } else {
                        sqlx::query("DELETE FROM tenant_reference_data WHERE tenant_id = $1")
                            .bind(tenant_id).execute(&mut *tx).await?;
                        for entry in entries {
                            sqlx::query("INSERT INTO tenant_reference_data (tenant_id, kind, key, label) \
                                         VALUES ($1, $2, $3, $4)")
                                .bind(tenant_id).bind(entry.kind).bind(&entry.key).bind(&entry.label)
                                .execute(&mut *tx).await?;
                        }
                        entries.len() as u64
                    }
                }
                DataChange::CheckBackupItems => {
                    let items: Vec<(i64, String, String, String)> = sqlx::query_as(
                        "SELECT id, policy_name, settings, assignments FROM backup_items \
                         WHERE tenant_id = $1 ORDER BY id")
                        .bind(tenant_id).fetch_all(&mut *tx).await?;
                    for (id, policy_name, settings, assignments) in &items {
                        let (settings, assignments) = checked_item(*id, policy_name, settings, assignments)?;
                        sqlx::query("UPDATE backup_items SET settings = $2, assignments = $3, \
                                     assignments_count = $4 WHERE id = $1")
                            .bind(id).bind(settings.to_string()).bind(super::json(&assignments)?)
                            .bind(assignments.len() as i64).execute(&mut *tx).await?;
                    }
                    items.len() as u64
                }
            }
        });
        Ok(touched)
    }

    /// Enables the tenant at `version`.
    #[tracing::instrument(skip_all)]
    pub async fn enable_tenant(&self, tenant_id: TenantId, version: &str) -> Result<(), CoreError> {
        super::on_pool!(self, pool => sqlx::query(
            "UPDATE tenants SET enabled = TRUE, module_version = $2 WHERE id = $1")
            .bind(tenant_id).bind(version).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Replaces the tenant's reference data with `entries`; returns how many there are now.
    #[tracing::instrument(skip_all)]
    pub async fn load_reference_data(
        &self,
        tenant_id: TenantId,
        entries: &[ReferenceEntry],
    ) -> Result<u64, CoreError> {
        in_transaction!(self, tx => {
            sqlx::query("UPDATE tenants SET module_version = module_version WHERE id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM tenant_reference_data WHERE tenant_id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            for entry in entries {
                sqlx::query("INSERT INTO tenant_reference_data (tenant_id, kind, key, label) VALUES ($1, $2, $3, $4)")
                    .bind(tenant_id).bind(entry.kind).bind(&entry.key).bind(&entry.label)
                    .execute(&mut *tx).await?;
            }
        });
        Ok(entries.len() as u64)
    }

    /// The tenant's reference data entries, by kind.
    #[tracing::instrument(skip_all)]
    pub async fn reference_data_counts(&self, tenant_id: TenantId) -> Result<Vec<(String, i64)>, CoreError> {
        let counts = super::on_pool!(self, pool => sqlx::query_as(
            "SELECT kind, COUNT(*) FROM tenant_reference_data WHERE tenant_id = $1 GROUP BY kind ORDER BY kind")
            .bind(tenant_id).fetch_all(pool).await)?;
        Ok(counts)
    }

    /// Disables the tenant and cancels its active runs other than lifecycle jobs: queued ones
    /// at once, running ones at their next checkpoint. Returns how many it cancelled.
    #[tracing::instrument(skip_all)]
    pub async fn disable_tenant(&self, tenant_id: TenantId) -> Result<usize, CoreError> {
        let changed: Vec<ChangeRow> = in_transaction!(self, tx => {
            sqlx::query("UPDATE tenants SET enabled = FALSE WHERE id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            let mut changed: Vec<ChangeRow> = sqlx::query_as(&format!(
                "UPDATE operation_runs SET status = 'completed', outcome = 'cancelled', completed_at = $2 \
                 WHERE tenant_id = $1 AND status = 'queued' AND kind NOT IN {LIFECYCLE_KINDS} \
                 RETURNING {}", super::operations::CHANGE_COLUMNS))
                .bind(tenant_id).bind(chrono::Utc::now()).fetch_all(&mut *tx).await?;
            let running: Vec<ChangeRow> = sqlx::query_as(&format!(
                "UPDATE operation_runs SET cancel_requested = TRUE \
                 WHERE tenant_id = $1 AND status = 'running' AND kind NOT IN {LIFECYCLE_KINDS} \
                 RETURNING {}", super::operations::CHANGE_COLUMNS))
                .bind(tenant_id).fetch_all(&mut *tx).await?;
            changed.extend(running);
            changed
        });
        let cancelled = changed.len();
        for row in changed {
            self.publish_change(Some(row))?;
        }
        Ok(cancelled)
    }

    /// Deletes everything the tenant owns and the tenant itself, in one transaction. Its
    /// lifecycle jobs stay, detached from it, as the record of what was done (as audit
    /// entries do).
    #[tracing::instrument(skip_all)]
    pub async fn purge_tenant(&self, tenant_id: TenantId) -> Result<PurgeCounts, CoreError> {
        let counts = in_transaction!(self, tx => {
            sqlx::query("UPDATE tenants SET enabled = FALSE WHERE id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            let mut counts = PurgeCounts::new();
            for table in PURGED_TABLES {
                let done = sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1"))
                    .bind(tenant_id).execute(&mut *tx).await?;
                counts.push((table, done.rows_affected()));
            }
            let runs = sqlx::query(&format!(
                "DELETE FROM operation_runs WHERE tenant_id = $1 AND kind NOT IN {LIFECYCLE_KINDS}"))
                .bind(tenant_id).execute(&mut *tx).await?;
            counts.push(("operation_runs", runs.rows_affected()));
            sqlx::query("UPDATE operation_runs SET tenant_id = NULL WHERE tenant_id = $1")
                .bind(tenant_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM tenants WHERE id = $1").bind(tenant_id).execute(&mut *tx).await?;
            counts
        });
        Ok(counts)
    }
}

/// An item's settings and assignments as they parse, or the conflict naming it.
fn checked_item(
    id: i64,
    policy_name: &str,
    settings: &str,
    assignments: &str,
) -> Result<(serde_json::Value, Vec<Assignment>), CoreError> {
    let settings = serde_json::from_str(settings).map_err(|error| {
        CoreError::conflict(format!(
            "Backup item {id} ({policy_name}) has settings that are not JSON: {error}"
        ))
    })?;
    let assignments = serde_json::from_str(assignments).map_err(|error| {
        CoreError::conflict(format!("Backup item {id} ({policy_name}) has unreadable assignments: {error}"))
    })?;
    Ok((settings, assignments))
}
