use super::{on_pool, Store};
use crate::audit::{AuditEntry, NewAuditEntry};
use crate::CoreError;
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    workspace_id: i64,
    tenant_id: Option<i64>,
    actor: String,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    details: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = CoreError;
    fn try_from(row: AuditRow) -> Result<Self, CoreError> {
        let bad = |error: serde_json::Error| {
            tracing::error!(%error, entry = row.id, "stored audit entry is malformed");
            CoreError::Internal
        };
        Ok(AuditEntry {
            id: row.id,
            workspace_id: row.workspace_id,
            tenant_id: row.tenant_id,
            actor: serde_json::from_str(&row.actor).map_err(bad)?,
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            details: serde_json::from_str(&row.details).map_err(bad)?,
            created_at: row.created_at,
        })
    }
}

impl Store {
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<(), CoreError> {
        let actor = serde_json::to_string(&entry.actor).map_err(|_| CoreError::Internal)?;
        let details = serde_json::Value::Object(entry.details.clone()).to_string();
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO audit_entries (workspace_id, tenant_id, actor, action, target_kind, target_id, details, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(entry.workspace_id).bind(entry.tenant_id).bind(actor).bind(entry.action)
            .bind(entry.target_kind).bind(&entry.target_id).bind(details).bind(Utc::now())
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    /// A tenant's entries, newest first.
    pub async fn tenant_audit(&self, tenant_id: i64, limit: i64) -> Result<Vec<AuditEntry>, CoreError> {
        let rows: Vec<AuditRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, workspace_id, tenant_id, actor, action, target_kind, target_id, details, created_at \
             FROM audit_entries WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(tenant_id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
