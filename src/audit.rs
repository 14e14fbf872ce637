//! The audit trail: one entry per thing a person, token or the system did that others may need
//! to account for later (starting, reusing and cancelling operations, executing restores, …).

use crate::operation::Initiator;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub workspace_id: i64,
    pub tenant_id: Option<i64>,
    pub actor: Initiator,
    /// What was done, e.g. `operation.started`.
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub details: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// An entry to record; the store stamps id and time.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub workspace_id: i64,
    pub tenant_id: Option<i64>,
    pub actor: Initiator,
    pub action: &'static str,
    pub target_kind: &'static str,
    pub target_id: String,
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// The actions this version records.
pub mod action {
    pub const OPERATION_STARTED: &str = "operation.started";
    pub const OPERATION_REUSED: &str = "operation.reused";
    pub const OPERATION_CANCELLED: &str = "operation.cancelled";
    pub const RESTORE_EXECUTED: &str = "restore.executed";
    pub const PROVIDER_CONNECTED: &str = "provider.connected";
}
