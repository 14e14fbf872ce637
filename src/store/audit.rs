//! The activity logs: user actions (the audit log) and token activity, recorded and listed.

use super::group_commit::Row;
use super::{on_pool, Store, WORKSPACES_OF_USER};
use crate::audit::{AuditEntry, NewAuditEntry, TokenActivity};
use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::CoreError;
use chrono::{DateTime, Utc};
use std::future::Future;

const ENTRY_COLUMNS: &str =
    "a.id, a.workspace_id, w.slug AS account, a.tenant_id, a.user_id, a.user_email, a.actor, \
    a.type, a.action, a.target_id, a.details, a.created_at";

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    workspace_id: Option<WorkspaceId>,
    account: Option<String>,
    tenant_id: Option<TenantId>,
    user_id: Option<UserId>,
    user_email: Option<String>,
    actor: String,
    #[sqlx(rename = "type")]
    kind: String,
    action: String,
    target_id: Option<String>,
    details: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = CoreError;
    fn try_from(row: AuditRow) -> Result<Self, CoreError> {
        let bad = |error: serde_json::Error| {
            CoreError::broken(format!("stored audit entry {} is malformed: {error}", row.id))
        };
        Ok(AuditEntry {
            id: row.id,
            workspace_id: row.workspace_id,
            account: row.account,
            tenant_id: row.tenant_id,
            user_id: row.user_id,
            user_email: row.user_email,
            actor: serde_json::from_str(&row.actor).map_err(bad)?,
            kind: row.kind,
            action: row.action,
            target_id: row.target_id,
            details: serde_json::from_str(&row.details).map_err(bad)?,
            created_at: row.created_at,
        })
    }
}

/// Which log entries a query reads: a time window, newest first, optionally one type/scope, and
/// what the reader may see.
#[derive(Debug, Clone)]
pub struct LogQuery {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// `type` of user actions, `scope` of token activity.
    pub filter: Option<String>,
    pub limit: i64,
    /// `None`: everything (platform admins); otherwise what this user may read (see
    /// `user_actions` and `token_activity`).
    pub reader: Option<UserId>,
    /// Entries older than this id (paging).
    pub before_id: Option<i64>,
}

/// An audit entry as it is inserted.
#[derive(Debug, Clone)]
pub(super) struct AuditInsert {
    pub workspace_id: Option<WorkspaceId>,
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub actor: String,
    pub kind: &'static str,
    pub action: &'static str,
    pub target_id: String,
    pub details: String,
    pub at: DateTime<Utc>,
}

impl AuditInsert {
    /// The head of the entries' `INSERT` (see `group_commit`), before their `VALUES`: the
    /// fields in order, with the user's email as it is now after the user.
    pub const INTO: &str = "INSERT INTO audit_entries (workspace_id, tenant_id, user_id, user_email, actor, \
        type, action, target_id, details, created_at) ";

    pub fn of(entry: &NewAuditEntry) -> Result<AuditInsert, CoreError> {
        Ok(AuditInsert {
            workspace_id: entry.workspace_id,
            tenant_id: entry.tenant_id,
            user_id: entry.actor.user_id(),
            actor: serde_json::to_string(&entry.actor).map_err(CoreError::internal)?,
            kind: entry.kind.as_str(),
            action: entry.action.as_str(),
            target_id: entry.target_id.clone(),
            details: serde_json::Value::Object(entry.details.clone()).to_string(),
            at: Utc::now(),
        })
    }
}

/// A token-activity row as it is inserted.
#[derive(Debug)]
pub(super) struct TokenActivityInsert {
    pub token_id: i64,
    pub user_id: UserId,
    pub scope: String,
    pub target: String,
    pub at: DateTime<Utc>,
}

impl TokenActivityInsert {
    /// The head of the rows' `INSERT` (see `group_commit`), before their `VALUES`.
    pub const INTO: &str = "INSERT INTO token_activity (token_id, user_id, scope, target, created_at) ";
}

impl Store {
    /// Records `entry`, returning once it is committed (in a group commit with the entries and
    /// token activity of other requests; see `group_commit`).
    #[tracing::instrument(skip_all)]
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<(), CoreError> {
        self.group_commit.write(Row::Audit(AuditInsert::of(entry)?)).await.map(drop)
    }

    /// A tenant's entries, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn tenant_audit(&self, tenant_id: TenantId, limit: i64) -> Result<Vec<AuditEntry>, CoreError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries a LEFT JOIN workspaces w ON w.id = a.workspace_id \
             WHERE a.tenant_id = $1 ORDER BY a.created_at DESC, a.id DESC LIMIT $2"
        );
        let rows: Vec<AuditRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant_id).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// User actions matching `query`, newest first. A reader sees the entries of workspaces they
    /// belong to, a tenant's entries only when they are its member, and of the entries that
    /// belong to no workspace (signing in, tokens) only their own: what someone did elsewhere
    /// stays there.
    #[tracing::instrument(skip_all)]
    pub async fn user_actions(&self, query: &LogQuery) -> Result<Vec<AuditEntry>, CoreError> {
        let visible = if query.reader.is_some() {
            format!(
                "AND ((a.workspace_id IS NULL AND a.user_id = $1) \
                 OR (a.workspace_id IN ({WORKSPACES_OF_USER}) AND (a.tenant_id IS NULL \
                     OR a.tenant_id IN (SELECT tm.tenant_id FROM memberships tm WHERE tm.user_id = $1))))"
            )
        } else {
            "AND $1 IS NULL".to_string()
        };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries a LEFT JOIN workspaces w ON w.id = a.workspace_id \
             WHERE a.created_at >= $2 AND a.created_at < $3 AND ($4 IS NULL OR a.type = $4) \
             AND ($5 IS NULL OR a.id < $5) {visible} ORDER BY a.created_at DESC, a.id DESC LIMIT $6"
        );
        let rows: Vec<AuditRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(query.reader).bind(query.from).bind(query.until).bind(&query.filter).bind(query.before_id)
            .bind(query.limit).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Records one request of token `token_id` (grouped like [`Store::record_audit`]): queued
    /// at once, committed when the future returned ends, so the caller can go on with its
    /// request meanwhile and have the row share a commit with that request's own writes.
    pub fn record_token_activity(
        &self,
        token_id: i64,
        user_id: UserId,
        scope: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), CoreError>> + Send + 'static {
        let activity = TokenActivityInsert {
            token_id,
            user_id,
            scope: scope.into(),
            target: target.into(),
            at: Utc::now(),
        };
        let queued = self.group_commit.queue(Row::TokenActivity(activity));
        async move { queued?.await.map(drop) }
    }

    /// Token activity matching `query` (its filter is the scope), newest first. `account` is the
    /// token owner's first workspace. A token belongs to a person, not a workspace: a reader
    /// sees their own tokens' activity.
    #[tracing::instrument(skip_all)]
    pub async fn token_activity(&self, query: &LogQuery) -> Result<Vec<TokenActivity>, CoreError> {
        let visible = if query.reader.is_some() {
            "AND a.user_id = $1".to_string()
        } else {
            "AND $1 IS NULL".to_string()
        };
        let sql = format!(
            "SELECT a.id, a.token_id, a.scope, a.target, a.user_id, a.created_at, \
             (SELECT w.slug FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
              JOIN workspaces w ON w.id = t.workspace_id WHERE m.user_id = a.user_id ORDER BY w.id LIMIT 1) AS account \
             FROM token_activity a WHERE a.created_at >= $2 AND a.created_at < $3 AND ($4 IS NULL OR a.scope = $4) \
             AND ($5 IS NULL OR a.id < $5) {visible} ORDER BY a.created_at DESC, a.id DESC LIMIT $6"
        );
        type Row = (i64, i64, String, String, UserId, DateTime<Utc>, Option<String>);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(query.reader).bind(query.from).bind(query.until).bind(&query.filter).bind(query.before_id)
            .bind(query.limit).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, token_id, scope, target, user_id, created_at, account)| TokenActivity {
                id,
                token_id,
                scope,
                target,
                user_id,
                account,
                created_at,
                updated_at: created_at,
                version: 0,
            })
            .collect())
    }
}
