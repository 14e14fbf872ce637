//! The user-action log (the audit trail): one entry per create, update, delete, run, start,
//! cancel or sign-in by a person, a token or the system, from pages, server functions and APIs
//! alike. `GET /api/v1/logs/user/actions` answers it in the pipeline contract's shape.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::operations::Initiator;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An entry as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub workspace_id: Option<WorkspaceId>,
    /// The workspace's slug: the contract's `account`.
    pub account: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// The acting user (a token's owner); none for the system.
    pub user_id: Option<UserId>,
    pub user_email: Option<String>,
    pub actor: Initiator,
    /// What kind of thing was acted on, e.g. `pipeline`.
    pub kind: String,
    /// What was done, e.g. `update`.
    pub action: String,
    pub target_id: Option<String>,
    pub details: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// An entry to record; the store stamps id and time and snapshots the user's e-mail.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// None for personal actions (signing in, tokens).
    pub workspace_id: Option<WorkspaceId>,
    pub tenant_id: Option<TenantId>,
    pub actor: Initiator,
    pub kind: AuditKind,
    pub action: AuditAction,
    pub target_id: String,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The kinds of things entries are about (the contract's `type`), in the order the audit page
/// offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    Operation,
    Pipeline,
    Tool,
    Token,
    Session,
    Member,
    Tenant,
    RestoreRun,
    ProviderConnection,
    Schedule,
}

text_enum!(AuditKind, "audit type" {
    Operation = "operation",
    Pipeline = "pipeline",
    Tool = "tool",
    Token = "token",
    Session = "session",
    Member = "member",
    Tenant = "tenant",
    RestoreRun = "restore_run",
    ProviderConnection = "provider_connection",
    Schedule = "schedule",
});

/// What was done (the contract's `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    Start,
    Reuse,
    Cancel,
    Execute,
    Run,
    Stop,
    Reset,
    Revoke,
    SignIn,
    Disable,
    Purge,
    /// A bulk action on Monitoring's filter.
    Bulk,
}

text_enum!(AuditAction, "audit action" {
    Create = "create",
    Update = "update",
    Delete = "delete",
    Start = "start",
    Reuse = "reuse",
    Cancel = "cancel",
    Execute = "execute",
    Run = "run",
    Stop = "stop",
    Reset = "reset",
    Revoke = "revoke",
    SignIn = "sign_in",
    Disable = "disable",
    Purge = "purge",
    Bulk = "bulk",
});

/// `GET /api/v1/logs/user/actions` entries, field for field as the contract shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAction {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    pub target_id: Option<String>,
    pub account: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "__v")]
    pub version: u8,
}

impl From<&AuditEntry> for UserAction {
    fn from(entry: &AuditEntry) -> Self {
        UserAction {
            id: entry.id.to_string(),
            user_id: entry.user_id.map(|id| id.to_string()),
            user_email: entry.user_email.clone(),
            kind: entry.kind.clone(),
            action: entry.action.clone(),
            target_id: entry.target_id.clone(),
            account: entry.account.clone(),
            created_at: entry.created_at,
            updated_at: entry.created_at,
            version: 0,
        }
    }
}

/// One request made with a personal access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenActivity {
    #[serde(rename = "_id", with = "crate::pipelines::id_string")]
    pub id: i64,
    #[serde(with = "crate::pipelines::id_string")]
    pub token_id: i64,
    /// The scope the request was let in by.
    pub scope: String,
    /// The path requested.
    pub target: String,
    #[serde(with = "crate::pipelines::id_string")]
    pub user_id: UserId,
    pub account: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "__v")]
    pub version: u8,
}

/// Both log routes answer `{"count": n, "data": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPage<T> {
    pub count: usize,
    pub data: Vec<T>,
}
