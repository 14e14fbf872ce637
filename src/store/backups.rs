//! Backup sets, their items, and restore runs. Every read takes the tenant, so an id of another
//! tenant's row finds nothing, exactly like an id that does not exist.

use super::{on_pool, Store};
use crate::backups::{Assignment, BackupItem, BackupSet, Mappings, RestorePreview, RestoreRun, ScopeTag};
use crate::ids::{RunId, TenantId, UserId};
use crate::CoreError;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

const SET_COLUMNS: &str = "id, tenant_id, name, operation_run_id, item_count, created_at";
const ITEM_COLUMNS: &str =
    "id, backup_set_id, tenant_id, policy_id, policy_name, policy_type, body, settings, \
     scope_tags, assignments, assignments_count, assignments_fetched_at";
const RESTORE_COLUMNS: &str =
    "id, tenant_id, source_tenant_id, backup_set_id, item_ids, group_mapping, filter_mapping, \
     scope_tag_mapping, preview, recreated, created_by, created_at, operation_run_id";

#[derive(sqlx::FromRow)]
struct SetRow {
    id: i64,
    tenant_id: TenantId,
    name: String,
    operation_run_id: Option<RunId>,
    item_count: i64,
    created_at: DateTime<Utc>,
}

impl From<SetRow> for BackupSet {
    fn from(row: SetRow) -> Self {
        BackupSet {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            operation_run_id: row.operation_run_id,
            item_count: row.item_count,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    backup_set_id: i64,
    tenant_id: TenantId,
    policy_id: String,
    policy_name: String,
    policy_type: String,
    body: String,
    settings: String,
    scope_tags: String,
    assignments: String,
    assignments_count: i64,
    assignments_fetched_at: Option<DateTime<Utc>>,
}

fn json_column<T: serde::de::DeserializeOwned>(table: &str, id: i64, text: &str) -> Result<T, CoreError> {
    serde_json::from_str(text)
        .map_err(|error| CoreError::broken(format!("a JSON column of {table} {id} is malformed: {error}")))
}

fn to_json(value: &impl serde::Serialize) -> Result<String, CoreError> {
    serde_json::to_string(value).map_err(CoreError::internal)
}

impl TryFrom<ItemRow> for BackupItem {
    type Error = CoreError;
    fn try_from(row: ItemRow) -> Result<Self, CoreError> {
        Ok(BackupItem {
            body: json_column("backup_items", row.id, &row.body)?,
            settings: json_column("backup_items", row.id, &row.settings)?,
            scope_tags: json_column("backup_items", row.id, &row.scope_tags)?,
            assignments: json_column("backup_items", row.id, &row.assignments)?,
            id: row.id,
            backup_set_id: row.backup_set_id,
            tenant_id: row.tenant_id,
            policy_id: row.policy_id,
            policy_name: row.policy_name,
            policy_type: row.policy_type,
            assignments_count: row.assignments_count,
            assignments_fetched_at: row.assignments_fetched_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RestoreRow {
    id: i64,
    tenant_id: TenantId,
    source_tenant_id: Option<TenantId>,
    backup_set_id: i64,
    item_ids: String,
    group_mapping: String,
    filter_mapping: String,
    scope_tag_mapping: String,
    preview: String,
    recreated: String,
    created_by: Option<UserId>,
    created_at: DateTime<Utc>,
    operation_run_id: Option<RunId>,
}

impl TryFrom<RestoreRow> for RestoreRun {
    type Error = CoreError;
    fn try_from(row: RestoreRow) -> Result<Self, CoreError> {
        Ok(RestoreRun {
            item_ids: json_column("restore_runs", row.id, &row.item_ids)?,
            group_mapping: json_column("restore_runs", row.id, &row.group_mapping)?,
            filter_mapping: json_column("restore_runs", row.id, &row.filter_mapping)?,
            scope_tag_mapping: json_column("restore_runs", row.id, &row.scope_tag_mapping)?,
            preview: json_column("restore_runs", row.id, &row.preview)?,
            recreated: json_column("restore_runs", row.id, &row.recreated)?,
            id: row.id,
            tenant_id: row.tenant_id,
            source_tenant_id: row.source_tenant_id.unwrap_or(row.tenant_id),
            backup_set_id: row.backup_set_id,
            created_by: row.created_by,
            created_at: row.created_at,
            operation_run_id: row.operation_run_id,
        })
    }
}

/// A policy as captured, to store as a backup item.
pub struct CapturedPolicy<'a> {
    pub policy_id: &'a str,
    pub policy_name: &'a str,
    pub policy_type: &'a str,
    pub body: &'a serde_json::Value,
    pub settings: &'a serde_json::Value,
    pub scope_tags: &'a [ScopeTag],
    pub assignments: &'a [Assignment],
}

/// A restore run to create, with its computed preview.
pub struct NewRestoreRun<'a> {
    pub tenant_id: TenantId,
    pub source_tenant_id: TenantId,
    pub backup_set_id: i64,
    pub item_ids: &'a [i64],
    pub mappings: &'a Mappings,
    pub preview: &'a RestorePreview,
    pub created_by: Option<UserId>,
}

impl Store {
    /// The set that capture run `run_id` fills, created on its first call.
    #[tracing::instrument(skip_all)]
    pub async fn backup_set_for_run(
        &self,
        tenant_id: TenantId,
        run_id: RunId,
        name: &str,
    ) -> Result<BackupSet, CoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO backup_sets (tenant_id, name, operation_run_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (operation_run_id) DO NOTHING")
            .bind(tenant_id).bind(name).bind(run_id).bind(Utc::now()).execute(pool).await.map(drop))?;
        let sql =
            format!("SELECT {SET_COLUMNS} FROM backup_sets WHERE operation_run_id = $1 AND tenant_id = $2");
        let row: SetRow =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(run_id).bind(tenant_id).fetch_one(pool).await)?;
        Ok(row.into())
    }

    /// Stores (or replaces) one policy of a set and keeps the set's item count.
    #[tracing::instrument(skip_all)]
    pub async fn put_backup_item(
        &self,
        set: &BackupSet,
        policy: &CapturedPolicy<'_>,
    ) -> Result<(), CoreError> {
        let body = to_json(policy.body)?;
        let settings = to_json(policy.settings)?;
        let scope_tags = to_json(&policy.scope_tags)?;
        let assignments = to_json(&policy.assignments)?;
        let count = policy.assignments.len() as i64;
        on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO backup_items (backup_set_id, tenant_id, policy_id, policy_name, policy_type, body, settings, \
                 scope_tags, assignments, assignments_count, assignments_fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (backup_set_id, policy_id) DO UPDATE SET policy_name = excluded.policy_name, \
                 policy_type = excluded.policy_type, body = excluded.body, settings = excluded.settings, \
                 scope_tags = excluded.scope_tags, assignments = excluded.assignments, \
                 assignments_count = excluded.assignments_count, assignments_fetched_at = excluded.assignments_fetched_at")
                .bind(set.id).bind(set.tenant_id).bind(policy.policy_id).bind(policy.policy_name)
                .bind(policy.policy_type).bind(&body).bind(&settings).bind(&scope_tags).bind(&assignments).bind(count)
                .bind(Utc::now())
                .execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE backup_sets SET item_count = (SELECT COUNT(*) FROM backup_items WHERE backup_set_id = $1) \
                 WHERE id = $1")
                .bind(set.id).execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn backup_sets(&self, tenant_id: TenantId) -> Result<Vec<BackupSet>, CoreError> {
        let sql = format!("SELECT {SET_COLUMNS} FROM backup_sets WHERE tenant_id = $1 ORDER BY id DESC");
        let rows: Vec<SetRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn backup_set(&self, tenant_id: TenantId, id: i64) -> Result<Option<BackupSet>, CoreError> {
        let sql = format!("SELECT {SET_COLUMNS} FROM backup_sets WHERE id = $1 AND tenant_id = $2");
        let row: Option<SetRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await)?;
        Ok(row.map(Into::into))
    }

    /// A tenant's items, of one set or of all, in set then policy-name order.
    #[tracing::instrument(skip_all)]
    pub async fn backup_items(
        &self,
        tenant_id: TenantId,
        set_id: Option<i64>,
    ) -> Result<Vec<BackupItem>, CoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM backup_items WHERE tenant_id = $1 AND ($2 IS NULL OR backup_set_id = $2) \
             ORDER BY backup_set_id DESC, LOWER(policy_name), id"
        );
        let rows: Vec<ItemRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant_id).bind(set_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    #[tracing::instrument(skip_all)]
    pub async fn backup_item(&self, tenant_id: TenantId, id: i64) -> Result<Option<BackupItem>, CoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM backup_items WHERE id = $1 AND tenant_id = $2");
        let row: Option<ItemRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Replaces an item's assignments with freshly fetched ones.
    #[tracing::instrument(skip_all)]
    pub async fn set_item_assignments(
        &self,
        item_id: i64,
        assignments: &[Assignment],
    ) -> Result<(), CoreError> {
        let json = to_json(&assignments)?;
        on_pool!(self, pool => sqlx::query(
            "UPDATE backup_items SET assignments = $2, assignments_count = $3, assignments_fetched_at = $4 \
             WHERE id = $1")
            .bind(item_id).bind(json).bind(assignments.len() as i64).bind(Utc::now())
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn create_restore_run(&self, new: &NewRestoreRun<'_>) -> Result<RestoreRun, CoreError> {
        let sql = format!(
            "INSERT INTO restore_runs (tenant_id, source_tenant_id, backup_set_id, item_ids, group_mapping, \
             filter_mapping, scope_tag_mapping, preview, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {RESTORE_COLUMNS}"
        );
        let source = (new.source_tenant_id != new.tenant_id).then_some(new.source_tenant_id);
        let row: RestoreRow = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(new.tenant_id).bind(source).bind(new.backup_set_id).bind(to_json(&new.item_ids)?)
            .bind(to_json(&new.mappings.group_mapping)?).bind(to_json(&new.mappings.filter_mapping)?)
            .bind(to_json(&new.mappings.scope_tag_mapping)?).bind(to_json(new.preview)?).bind(new.created_by)
            .bind(Utc::now())
            .fetch_one(pool).await)?;
        row.try_into()
    }

    /// Replaces a restore run's mappings and preview (planned again with new mappings).
    #[tracing::instrument(skip_all)]
    pub async fn set_restore_plan(
        &self,
        tenant_id: TenantId,
        restore_id: i64,
        mappings: &Mappings,
        preview: &RestorePreview,
    ) -> Result<Option<RestoreRun>, CoreError> {
        let sql = format!(
            "UPDATE restore_runs SET group_mapping = $3, filter_mapping = $4, scope_tag_mapping = $5, preview = $6 \
             WHERE id = $1 AND tenant_id = $2 RETURNING {RESTORE_COLUMNS}"
        );
        let row: Option<RestoreRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(restore_id).bind(tenant_id).bind(to_json(&mappings.group_mapping)?)
            .bind(to_json(&mappings.filter_mapping)?).bind(to_json(&mappings.scope_tag_mapping)?)
            .bind(to_json(preview)?)
            .fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Records the id of a policy restore run `restore_id` created again for item `item_id`, at
    /// once, so a later execution assigns it instead of creating another.
    #[tracing::instrument(skip_all)]
    pub async fn record_recreated(
        &self,
        restore_id: i64,
        item_id: i64,
        policy_id: &str,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let (recreated,): (String,) = sqlx::query_as("SELECT recreated FROM restore_runs WHERE id = $1")
                .bind(restore_id).fetch_one(&mut *tx).await?;
            let mut recreated: BTreeMap<String, String> = serde_json::from_str(&recreated).unwrap_or_default();
            recreated.insert(item_id.to_string(), policy_id.to_string());
            let recreated = serde_json::to_string(&recreated).unwrap_or_else(|_| "{}".into());
            sqlx::query("UPDATE restore_runs SET recreated = $2 WHERE id = $1")
                .bind(restore_id).bind(recreated).execute(&mut *tx).await?;
            tx.commit().await
        }.await)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn restore_run(&self, tenant_id: TenantId, id: i64) -> Result<Option<RestoreRun>, CoreError> {
        let sql = format!("SELECT {RESTORE_COLUMNS} FROM restore_runs WHERE id = $1 AND tenant_id = $2");
        let row: Option<RestoreRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    #[tracing::instrument(skip_all)]
    pub async fn restore_runs(&self, tenant_id: TenantId) -> Result<Vec<RestoreRun>, CoreError> {
        let sql = format!("SELECT {RESTORE_COLUMNS} FROM restore_runs WHERE tenant_id = $1 ORDER BY id DESC");
        let rows: Vec<RestoreRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Links a restore run to the operation run executing it.
    #[tracing::instrument(skip_all)]
    pub async fn set_restore_execution(&self, restore_id: i64, run_id: RunId) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE restore_runs SET operation_run_id = $2 WHERE id = $1")
            .bind(restore_id).bind(run_id).execute(pool).await.map(drop))?;
        Ok(())
    }
}
