//! Backups of a tenant's policies and restores of their assignments, as the UI and JSON
//! routes see them.

use crate::CoreError;
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

/// What a restore run is created from: a backup set, the items to restore (all of the set when
/// absent), and source → target group ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    pub backup_set_id: i64,
    pub item_ids: Option<Vec<i64>>,
    pub group_mapping: BTreeMap<String, String>,
}

/// Group ids are the provider's; anything longer than this is not one.
pub const GROUP_ID_MAX: usize = 200;
/// A restore touches at most this many policies at once.
pub const RESTORE_ITEMS_MAX: usize = 1000;

impl RestoreRequest {
    /// Reads a JSON body field by field, so a mistake names the field it is in.
    pub fn from_json(body: &serde_json::Value) -> Result<RestoreRequest, CoreError> {
        let Some(fields) = body.as_object() else {
            return Err(CoreError::invalid(
                "body",
                "Send a JSON object with backupSetId, itemIds and groupMapping",
            ));
        };
        if let Some(unknown) =
            fields.keys().find(|key| !["backupSetId", "itemIds", "groupMapping"].contains(&key.as_str()))
        {
            return Err(CoreError::invalid(unknown, format!("`{unknown}` is not a field of a restore run")));
        }
        let backup_set_id =
            fields.get("backupSetId").and_then(serde_json::Value::as_i64).filter(|id| *id > 0).ok_or_else(
                || CoreError::invalid("backupSetId", "Give the id of a backup set of this tenant"),
            )?;
        let item_ids = match fields.get("itemIds") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(ids)) => {
                let ids: Option<Vec<i64>> = ids.iter().map(|id| id.as_i64().filter(|id| *id > 0)).collect();
                Some(ids.ok_or_else(|| CoreError::invalid("itemIds", "Item ids are positive whole numbers"))?)
            }
            Some(_) => return Err(CoreError::invalid("itemIds", "Give the item ids as an array of numbers")),
        };
        let group_mapping = match fields.get("groupMapping") {
            None | Some(serde_json::Value::Null) => BTreeMap::new(),
            Some(serde_json::Value::Object(mapping)) => mapping
                .iter()
                .map(|(source, target)| match target.as_str() {
                    Some(target) => Ok((source.clone(), target.to_string())),
                    None => Err(CoreError::invalid(
                        "groupMapping",
                        format!("The target of group {source} must be a group id"),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(CoreError::invalid(
                    "groupMapping",
                    "Give the mapping as an object of source → target group ids",
                ))
            }
        };
        let request = RestoreRequest { backup_set_id, item_ids, group_mapping };
        request.check()?;
        Ok(request)
    }

    /// The rules any restore request must follow, however it arrived.
    pub fn check(&self) -> Result<(), CoreError> {
        if let Some(ids) = &self.item_ids {
            if ids.is_empty() {
                return Err(CoreError::invalid("itemIds", "Select at least one policy to restore"));
            }
            if ids.len() > RESTORE_ITEMS_MAX {
                return Err(CoreError::invalid(
                    "itemIds",
                    format!("Restore at most {RESTORE_ITEMS_MAX} policies at once"),
                ));
            }
        }
        let bad_id =
            |id: &String| id.trim().is_empty() || id.len() > GROUP_ID_MAX || id.chars().any(char::is_control);
        if let Some((source, target)) =
            self.group_mapping.iter().find(|(source, target)| bad_id(source) || bad_id(target))
        {
            return Err(CoreError::invalid(
                "groupMapping",
                format!("`{source}` → `{target}` is not a pair of group ids"),
            ));
        }
        Ok(())
    }
}

/// A group mapping typed one pair a line, `source = target` (`->` and `→` work too); blank
/// lines are skipped. Errors name `field` and the line.
pub fn parse_group_mapping(field: &str, text: &str) -> Result<BTreeMap<String, String>, CoreError> {
    let mut mapping = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let pair = ["→", "->", "="].iter().find_map(|separator| line.split_once(separator));
        let Some((source, target)) = pair.map(|(s, t)| (s.trim(), t.trim())) else {
            return Err(CoreError::invalid(
                field,
                format!("Line {}: write `source group id = target group id`", number + 1),
            ));
        };
        if source.is_empty() || target.is_empty() {
            return Err(CoreError::invalid(field, format!("Line {}: both group ids are needed", number + 1)));
        }
        mapping.insert(source.to_string(), target.to_string());
    }
    let request = RestoreRequest { group_mapping: mapping, ..RestoreRequest::default() };
    request.check().map_err(|error| match error {
        CoreError::Invalid { message, .. } => CoreError::invalid(field, message),
        other => other,
    })?;
    Ok(request.group_mapping)
}

/// What restoring `item` assigns: each source group, mapped through `mapping` (a group not
/// listed keeps its id), goes to the target group when `target_groups` (id → name) has it, and
/// is reported as unmapped otherwise.
pub fn plan_item(
    item: &BackupItem,
    mapping: &BTreeMap<String, String>,
    target_groups: &BTreeMap<String, String>,
) -> RestorePreviewItem {
    let mut assign = Vec::new();
    let mut unmapped = Vec::new();
    for source in &item.assignments {
        let target = mapping.get(&source.group_id).unwrap_or(&source.group_id);
        match target_groups.get(target) {
            Some(name) => {
                assign.push(AssignedGroup { group_id: target.clone(), group_name: Some(name.clone()) })
            }
            None => unmapped.push(source.clone()),
        }
    }
    assign.sort();
    assign.dedup();
    RestorePreviewItem {
        item_id: item.id,
        policy_id: item.policy_id.clone(),
        policy_name: item.policy_name.clone(),
        assign,
        unmapped,
    }
}

/// The preview of restoring `items`.
pub fn plan(
    items: &[BackupItem],
    mapping: &BTreeMap<String, String>,
    target_groups: &BTreeMap<String, String>,
) -> RestorePreview {
    let items: Vec<RestorePreviewItem> =
        items.iter().map(|item| plan_item(item, mapping, target_groups)).collect();
    let mut unmapped_groups: Vec<AssignedGroup> =
        items.iter().flat_map(|item| item.unmapped.clone()).collect();
    unmapped_groups.sort();
    unmapped_groups.dedup();
    RestorePreview { items, unmapped_groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, name: &str) -> AssignedGroup {
        AssignedGroup { group_id: id.into(), group_name: Some(name.into()) }
    }

    #[test]
    fn typed_mappings_are_read_line_by_line() {
        let mapping = parse_group_mapping("m", "a = b\n\n  c -> d \ne → f").unwrap();
        assert_eq!(mapping.len(), 3);
        assert_eq!((mapping["a"].as_str(), mapping["c"].as_str(), mapping["e"].as_str()), ("b", "d", "f"));
        for bad in ["just-one", "= b", "a =", "a = b\nnonsense"] {
            let error = parse_group_mapping("m", bad).unwrap_err();
            assert!(matches!(&error, CoreError::Invalid { field, .. } if field == "m"), "{bad}: {error:?}");
        }
    }

    #[test]
    fn groups_map_keep_their_id_or_are_reported_unmapped() {
        let item = BackupItem {
            id: 7,
            backup_set_id: 1,
            tenant_id: 1,
            policy_id: "pol".into(),
            policy_name: "Policy".into(),
            policy_type: "deviceConfiguration".into(),
            settings: serde_json::json!({}),
            assignments: vec![
                group("old-finance", "Finance"),
                group("staff", "Staff"),
                group("gone", "Gone"),
            ],
            assignments_count: 3,
            assignments_fetched_at: None,
        };
        let mapping = BTreeMap::from([("old-finance".to_string(), "finance".to_string())]);
        let target = BTreeMap::from([
            ("finance".to_string(), "Finance (new)".to_string()),
            ("staff".to_string(), "Staff".to_string()),
        ]);
        let preview = plan(std::slice::from_ref(&item), &mapping, &target);
        assert_eq!(preview.items[0].assign, vec![group("finance", "Finance (new)"), group("staff", "Staff")]);
        assert_eq!(preview.items[0].unmapped, vec![group("gone", "Gone")]);
        assert_eq!(preview.unmapped_groups, vec![group("gone", "Gone")]);
    }
}
