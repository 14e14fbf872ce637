//! Backups of a tenant's policies and restores of their assignments, as the UI and JSON
//! routes see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSet {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    /// The capture run that filled it.
    pub operation_run_id: Option<i64>,
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
}

/// A group a policy is assigned to; the name is resolved when known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedGroup {
    pub group_id: String,
    pub group_name: Option<String>,
}

/// One policy in a backup set: its settings and assignments as captured or last fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupItem {
    pub id: i64,
    pub backup_set_id: i64,
    pub tenant_id: i64,
    pub policy_id: String,
    pub policy_name: String,
    pub policy_type: String,
    pub settings: serde_json::Value,
    pub assignments: Vec<AssignedGroup>,
    pub assignments_count: i64,
    pub assignments_fetched_at: Option<DateTime<Utc>>,
}

/// A backup item as `GET /admin/t/{tenant}/backup-items` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupItemSummary {
    pub id: i64,
    pub backup_set_id: i64,
    pub policy_name: String,
    pub policy_type: String,
    pub assignments_count: i64,
    pub assignments_fetched_at: Option<DateTime<Utc>>,
}

impl From<&BackupItem> for BackupItemSummary {
    fn from(item: &BackupItem) -> Self {
        BackupItemSummary {
            id: item.id,
            backup_set_id: item.backup_set_id,
            policy_name: item.policy_name.clone(),
            policy_type: item.policy_type.clone(),
            assignments_count: item.assignments_count,
            assignments_fetched_at: item.assignments_fetched_at,
        }
    }
}

/// What a restore would do to one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestorePreviewItem {
    pub item_id: i64,
    pub policy_id: String,
    pub policy_name: String,
    /// The target groups the policy will be assigned to.
    pub assign: Vec<AssignedGroup>,
    /// Source groups with no counterpart in the target tenant: skipped, and reported.
    pub unmapped: Vec<AssignedGroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestorePreview {
    pub items: Vec<RestorePreviewItem>,
    /// Every unmapped source group, once.
    pub unmapped_groups: Vec<AssignedGroup>,
}

/// A restore of assignments from a backup set: previewed when created, executed on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRun {
    pub id: i64,
    pub tenant_id: i64,
    pub backup_set_id: i64,
    pub item_ids: Vec<i64>,
    /// Source group id → target group id; a group not listed keeps its id.
    pub group_mapping: BTreeMap<String, String>,
    pub preview: RestorePreview,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// The latest execution.
    pub operation_run_id: Option<i64>,
}
