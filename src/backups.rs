//! Backups of a tenant's policies and restores from them, as the UI and JSON routes see them;
//! and the planning of a restore, which never widens a policy's reach: exclusions stay
//! exclusions, filters and all-devices/all-users targets stay as they were, and a target whose
//! group, filter or scope tag has no counterpart in the destination is left out (an inclusion)
//! or stops the policy (an exclusion, a filter, a scope tag) until it is mapped.

use crate::ids::{RunId, TenantId, UserId};
use crate::provider::PolicyFamily;
use crate::CoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSet {
    pub id: i64,
    pub tenant_id: TenantId,
    pub name: String,
    /// The capture run that filled it.
    pub operation_run_id: Option<RunId>,
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
}

/// Graph's assignment target types (`@odata.type`) TenantPilot tells apart; any other is kept
/// and sent back as it is.
pub mod target_type {
    pub const INCLUDE_GROUP: &str = "#microsoft.graph.groupAssignmentTarget";
    pub const EXCLUDE_GROUP: &str = "#microsoft.graph.exclusionGroupAssignmentTarget";
    pub const ALL_DEVICES: &str = "#microsoft.graph.allDevicesAssignmentTarget";
    pub const ALL_USERS: &str = "#microsoft.graph.allLicensedUsersAssignmentTarget";
}

/// The properties of a target that name its assignment filter.
pub const FILTER_ID: &str = "deviceAndAppManagementAssignmentFilterId";
pub const FILTER_TYPE: &str = "deviceAndAppManagementAssignmentFilterType";

/// What a target reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TargetKind {
    IncludeGroup,
    ExcludeGroup,
    AllDevices,
    AllUsers,
    Other,
}

impl TargetKind {
    /// The kind of a Graph target object (its `@odata.type`, with or without the leading `#`).
    pub fn of(target: &Value) -> TargetKind {
        let kind = target["@odata.type"].as_str().unwrap_or_default().trim_start_matches('#');
        let is = |known: &str| kind == known.trim_start_matches('#');
        if is(target_type::INCLUDE_GROUP) {
            TargetKind::IncludeGroup
        } else if is(target_type::EXCLUDE_GROUP) {
            TargetKind::ExcludeGroup
        } else if is(target_type::ALL_DEVICES) {
            TargetKind::AllDevices
        } else if is(target_type::ALL_USERS) {
            TargetKind::AllUsers
        } else {
            TargetKind::Other
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TargetKind::IncludeGroup => "Include group",
            TargetKind::ExcludeGroup => "Exclude group",
            TargetKind::AllDevices => "All devices",
            TargetKind::AllUsers => "All users",
            TargetKind::Other => "Other target",
        }
    }
}

/// The group a target names, if it names one.
pub fn target_group(target: &Value) -> Option<&str> {
    target["groupId"].as_str().filter(|id| !id.is_empty())
}

/// The assignment filter a target applies (`include` or `exclude`), if any: an id with the
/// type `none` is no filter.
pub fn target_filter(target: &Value) -> Option<(&str, &str)> {
    let id = target[FILTER_ID].as_str().filter(|id| !id.is_empty())?;
    let mode = target[FILTER_TYPE].as_str().filter(|mode| matches!(*mode, "include" | "exclude"))?;
    Some((id, mode))
}

/// What makes two targets the same target (their order and unknown fields aside).
fn target_key(target: &Value) -> String {
    let kind = target["@odata.type"].as_str().unwrap_or_default().trim_start_matches('#');
    let filter = target_filter(target).map(|(id, mode)| format!("{mode}:{id}")).unwrap_or_default();
    format!(
        "{kind}|{}|{filter}|{}",
        target_group(target).unwrap_or_default(),
        target["collectionId"].as_str().unwrap_or_default()
    )
}

/// One assignment of a policy as captured: Graph's `target` object verbatim (every field,
/// known or not), with the names of the group and filter it names at capture time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub target: Value,
    pub group_name: Option<String>,
    pub filter_name: Option<String>,
}

impl Assignment {
    pub fn kind(&self) -> TargetKind {
        TargetKind::of(&self.target)
    }

    pub fn group_id(&self) -> Option<&str> {
        target_group(&self.target)
    }

    pub fn filter(&self) -> Option<(&str, &str)> {
        target_filter(&self.target)
    }
}

/// Items captured before targets were kept whole stored `{groupId, groupName}`: they read as
/// the inclusions they were.
impl<'de> Deserialize<'de> for Assignment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Stored {
            target: Option<Value>,
            group_id: Option<String>,
            group_name: Option<String>,
            filter_name: Option<String>,
        }
        let stored = Stored::deserialize(deserializer)?;
        let target = match (stored.target, stored.group_id) {
            (Some(target), _) => target,
            (None, Some(group)) => {
                serde_json::json!({ "@odata.type": target_type::INCLUDE_GROUP, "groupId": group })
            }
            (None, None) => return Err(serde::de::Error::missing_field("target")),
        };
        Ok(Assignment { target, group_name: stored.group_name, filter_name: stored.filter_name })
    }
}

/// A scope tag (`roleScopeTagIds`) of a policy, with its name at capture time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeTag {
    pub id: String,
    pub name: Option<String>,
}

/// One policy in a backup set: its body and settings as Graph returned them, its scope tags,
/// and its assignments as captured or last fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupItem {
    pub id: i64,
    pub backup_set_id: i64,
    pub tenant_id: TenantId,
    pub policy_id: String,
    pub policy_name: String,
    /// The policy family (`configurationPolicy`, `deviceConfiguration`, `deviceCompliancePolicy`,
    /// `groupPolicyConfiguration`).
    pub policy_type: String,
    /// The policy as Graph returned it (`{}` for items captured before bodies were kept).
    pub body: Value,
    /// What lives outside the body: settings-catalog settings, administrative-template
    /// definition values; `null` where the body holds the settings.
    pub settings: Value,
    pub scope_tags: Vec<ScopeTag>,
    pub assignments: Vec<Assignment>,
    pub assignments_count: i64,
    pub assignments_fetched_at: Option<DateTime<Utc>>,
}

impl BackupItem {
    pub fn family(&self) -> Option<PolicyFamily> {
        PolicyFamily::from_policy_type(&self.policy_type)
    }

    /// Whether the policy can be created again from what was stored.
    pub fn has_body(&self) -> bool {
        self.body.as_object().is_some_and(|fields| !fields.is_empty())
    }
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

/// A group by id, with its name when known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedGroup {
    pub group_id: String,
    pub group_name: Option<String>,
}

/// A target as a preview shows it: what it reaches, which group and filter, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    pub kind: TargetKind,
    pub group_id: Option<String>,
    pub group_name: Option<String>,
    pub filter_id: Option<String>,
    pub filter_name: Option<String>,
    /// `include` or `exclude`.
    pub filter_type: Option<String>,
    /// The `@odata.type` of a target of another kind.
    pub other_type: Option<String>,
}

impl TargetView {
    pub fn of(target: &Value, group_name: Option<String>, filter_name: Option<String>) -> TargetView {
        let kind = TargetKind::of(target);
        let filter = target_filter(target);
        TargetView {
            kind,
            group_id: target_group(target).map(str::to_string),
            group_name,
            filter_id: filter.map(|(id, _)| id.to_string()),
            filter_name: filter.and(filter_name),
            filter_type: filter.map(|(_, mode)| mode.to_string()),
            other_type: (kind == TargetKind::Other)
                .then(|| target["@odata.type"].as_str().unwrap_or("unknown").to_string()),
        }
    }

    /// What makes two targets the same as far as a preview can tell.
    fn key(&self) -> String {
        format!("{:?}|{:?}|{:?}|{:?}", self.kind, self.group_id, self.filter_id, self.filter_type)
    }

    /// "Exclude group Finance, filter Corporate devices (include)".
    pub fn describe(&self) -> String {
        let mut text = match self.kind {
            TargetKind::Other => {
                format!("{} ({})", self.kind.label(), self.other_type.as_deref().unwrap_or("unknown"))
            }
            _ => self.kind.label().to_string(),
        };
        if let Some(group) = &self.group_id {
            text.push(' ');
            text.push_str(self.group_name.as_deref().unwrap_or(group));
        }
        if let (Some(filter), Some(mode)) = (&self.filter_id, &self.filter_type) {
            text.push_str(&format!(", filter {} ({mode})", self.filter_name.as_deref().unwrap_or(filter)));
        }
        text
    }
}

/// What a restore does with one policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RestoreAction {
    /// The policy exists: only its assignments are replaced.
    #[default]
    Assign,
    /// The policy is gone (or lives in another tenant): it is created from its stored body,
    /// then assigned.
    Recreate,
    /// Something it names has no counterpart in the destination: nothing is done until mapped.
    Blocked,
}

/// What a restore would do to one policy: its assignments now, after, and what goes.
/// Previews stored by earlier versions lack most fields: they read as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestorePreviewItem {
    pub item_id: i64,
    pub policy_id: String,
    pub policy_name: String,
    pub policy_type: String,
    pub action: RestoreAction,
    /// The policy's live assignments in the destination (none when it is recreated).
    pub current: Vec<TargetView>,
    /// What it will be assigned to (`assign` replaces every assignment).
    pub planned: Vec<TargetView>,
    /// Live targets the restore removes.
    pub removed: Vec<TargetView>,
    /// Stored inclusions whose group has no counterpart: left out.
    pub skipped: Vec<TargetView>,
    /// Why the policy is blocked.
    pub blocked_by: Vec<String>,
    /// The scope tags a recreated policy gets.
    pub scope_tags: Vec<ScopeTag>,
}

/// How a source id found its counterpart in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resolution {
    /// The admin mapped it.
    Mapped,
    /// The same id exists there (a restore into the same tenant).
    SameId,
    /// One object there has the same name.
    SameName,
    /// Nothing: inclusions are skipped, anything else blocks its policy.
    Unresolved,
}

/// A group, filter or scope tag of the backup and its counterpart in the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingRow {
    pub source_id: String,
    pub source_name: Option<String>,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    pub resolution: Resolution,
}

/// The counterparts of every group, filter and scope tag a restore names, by source id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    pub groups: BTreeMap<String, MappingRow>,
    pub filters: BTreeMap<String, MappingRow>,
    pub scope_tags: BTreeMap<String, MappingRow>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestorePreview {
    pub items: Vec<RestorePreviewItem>,
    /// Every source group without a counterpart, once.
    pub unmapped_groups: Vec<AssignedGroup>,
    pub groups: Vec<MappingRow>,
    pub filters: Vec<MappingRow>,
    pub scope_tags: Vec<MappingRow>,
}

impl RestorePreview {
    pub fn blocked(&self) -> usize {
        self.items.iter().filter(|item| item.action == RestoreAction::Blocked).count()
    }
}

/// A restore from a backup set: previewed when created, executed on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRun {
    pub id: i64,
    /// The destination.
    pub tenant_id: TenantId,
    /// The tenant whose backup set is restored (the destination itself, or another).
    pub source_tenant_id: TenantId,
    pub backup_set_id: i64,
    pub item_ids: Vec<i64>,
    /// Source id → destination id, as the admin mapped them; the rest resolve by id or name.
    pub group_mapping: BTreeMap<String, String>,
    pub filter_mapping: BTreeMap<String, String>,
    pub scope_tag_mapping: BTreeMap<String, String>,
    pub preview: RestorePreview,
    /// Item id → id of the policy this restore created again.
    pub recreated: BTreeMap<String, String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    /// The latest execution.
    pub operation_run_id: Option<RunId>,
}

/// The explicit mappings of a restore.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mappings {
    pub group_mapping: BTreeMap<String, String>,
    pub filter_mapping: BTreeMap<String, String>,
    pub scope_tag_mapping: BTreeMap<String, String>,
}

/// What a restore run is created from: a backup set (of `source_tenant`, else of the
/// destination), the items to restore (all of the set when absent), and mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    pub backup_set_id: i64,
    pub item_ids: Option<Vec<i64>>,
    pub source_tenant: Option<String>,
    #[serde(flatten)]
    pub mappings: Mappings,
}

/// Ids are the provider's; anything longer than this is not one.
pub const GROUP_ID_MAX: usize = 200;
/// A restore touches at most this many policies at once.
pub const RESTORE_ITEMS_MAX: usize = 1000;

const MAPPING_FIELDS: [&str; 3] = ["groupMapping", "filterMapping", "scopeTagMapping"];

/// A `{source: target}` object of a JSON body, read field by field.
fn mapping_field(
    fields: &serde_json::Map<String, Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, CoreError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(mapping)) => mapping
            .iter()
            .map(|(source, target)| match target.as_str() {
                Some(target) => Ok((source.clone(), target.to_string())),
                None => {
                    Err(CoreError::invalid(field, format!("The target of {source} must be an id (a string)")))
                }
            })
            .collect(),
        Some(_) => {
            Err(CoreError::invalid(field, "Give the mapping as an object of source → destination ids"))
        }
    }
}

impl Mappings {
    /// Reads the mapping fields of a JSON body; absent ones are empty.
    pub fn from_json_fields(fields: &serde_json::Map<String, Value>) -> Result<Mappings, CoreError> {
        let mappings = Mappings {
            group_mapping: mapping_field(fields, "groupMapping")?,
            filter_mapping: mapping_field(fields, "filterMapping")?,
            scope_tag_mapping: mapping_field(fields, "scopeTagMapping")?,
        };
        mappings.check()?;
        Ok(mappings)
    }

    /// Each pair is two plausible ids.
    pub fn check(&self) -> Result<(), CoreError> {
        let bad_id =
            |id: &String| id.trim().is_empty() || id.len() > GROUP_ID_MAX || id.chars().any(char::is_control);
        for (field, mapping) in [
            ("groupMapping", &self.group_mapping),
            ("filterMapping", &self.filter_mapping),
            ("scopeTagMapping", &self.scope_tag_mapping),
        ] {
            if let Some((source, target)) =
                mapping.iter().find(|(source, target)| bad_id(source) || bad_id(target))
            {
                return Err(CoreError::invalid(
                    field,
                    format!("`{source}` → `{target}` is not a pair of ids"),
                ));
            }
        }
        Ok(())
    }
}

impl RestoreRequest {
    /// Reads a JSON body field by field, so a mistake names the field it is in.
    pub fn from_json(body: &Value) -> Result<RestoreRequest, CoreError> {
        let Some(fields) = body.as_object() else {
            return Err(CoreError::invalid(
                "body",
                "Send a JSON object with backupSetId, itemIds and the mappings",
            ));
        };
        let known = ["backupSetId", "itemIds", "sourceTenant"];
        if let Some(unknown) = fields
            .keys()
            .find(|key| !known.contains(&key.as_str()) && !MAPPING_FIELDS.contains(&key.as_str()))
        {
            return Err(CoreError::invalid(unknown, format!("`{unknown}` is not a field of a restore run")));
        }
        let backup_set_id = fields
            .get("backupSetId")
            .and_then(Value::as_i64)
            .filter(|id| *id > 0)
            .ok_or_else(|| CoreError::invalid("backupSetId", "Give the id of a backup set"))?;
        let item_ids = match fields.get("itemIds") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ids)) => {
                let ids: Option<Vec<i64>> = ids.iter().map(|id| id.as_i64().filter(|id| *id > 0)).collect();
                Some(ids.ok_or_else(|| CoreError::invalid("itemIds", "Item ids are positive whole numbers"))?)
            }
            Some(_) => return Err(CoreError::invalid("itemIds", "Give the item ids as an array of numbers")),
        };
        let source_tenant = match fields.get("sourceTenant") {
            None | Some(Value::Null) => None,
            Some(Value::String(slug)) if !slug.trim().is_empty() => Some(slug.trim().to_string()),
            Some(_) => return Err(CoreError::invalid("sourceTenant", "Name the source tenant by its slug")),
        };
        let request = RestoreRequest {
            backup_set_id,
            item_ids,
            source_tenant,
            mappings: Mappings::from_json_fields(fields)?,
        };
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
        self.mappings.check()
    }
}

/// A mapping typed one pair a line, `source = target` (`->` and `→` work too); blank lines are
/// skipped. Errors name `field` and the line.
pub fn parse_mapping(field: &str, text: &str) -> Result<BTreeMap<String, String>, CoreError> {
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
                format!("Line {}: write `source id = destination id`", number + 1),
            ));
        };
        if source.is_empty() || target.is_empty() {
            return Err(CoreError::invalid(field, format!("Line {}: both ids are needed", number + 1)));
        }
        mapping.insert(source.to_string(), target.to_string());
    }
    let mappings = Mappings { group_mapping: mapping, ..Mappings::default() };
    mappings.check().map_err(|error| match error {
        CoreError::Invalid { message, .. } => CoreError::invalid(field, message),
        other => other,
    })?;
    Ok(mappings.group_mapping)
}

/// The mappings made by hand, as the preview's form shows them: one `source = destination`
/// line each (what was matched by id or name is left to match again).
pub fn mapping_lines(rows: &[MappingRow]) -> String {
    rows.iter()
        .filter(|row| row.resolution == Resolution::Mapped)
        .filter_map(|row| row.target_id.as_ref().map(|target| format!("{} = {target}\n", row.source_id)))
        .collect()
}

/// Every group, filter and scope tag the items name, with the names captured beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Referenced {
    pub groups: BTreeMap<String, Option<String>>,
    pub filters: BTreeMap<String, Option<String>>,
    pub scope_tags: BTreeMap<String, Option<String>>,
}

impl Referenced {
    pub fn of(items: &[BackupItem]) -> Referenced {
        let mut referenced = Referenced::default();
        for item in items {
            for assignment in &item.assignments {
                if let Some(group) = assignment.group_id() {
                    let name = referenced.groups.entry(group.to_string()).or_default();
                    name.clone_from(&name.clone().or_else(|| assignment.group_name.clone()));
                }
                if let Some((filter, _)) = assignment.filter() {
                    let name = referenced.filters.entry(filter.to_string()).or_default();
                    name.clone_from(&name.clone().or_else(|| assignment.filter_name.clone()));
                }
            }
            for tag in &item.scope_tags {
                let name = referenced.scope_tags.entry(tag.id.clone()).or_default();
                name.clone_from(&name.clone().or_else(|| tag.name.clone()));
            }
        }
        referenced
    }
}

/// What restoring `item` sends, and the preview of it. `live` is the policy's assignments in
/// the destination now, named (`None`: the policy is not there and is created again).
pub struct PlannedItem {
    pub preview: RestorePreviewItem,
    /// The targets `assign` gets: the stored ones with only mapped ids changed.
    pub targets: Vec<Value>,
    /// The scope tag ids a recreated policy is created with.
    pub scope_tag_ids: Vec<String>,
}

pub fn plan_item(item: &BackupItem, resolved: &Resolved, live: Option<Vec<TargetView>>) -> PlannedItem {
    let mut targets: Vec<Value> = Vec::new();
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    let mut blocked_by = Vec::new();
    let counterpart = |rows: &BTreeMap<String, MappingRow>, id: &str| {
        rows.get(id).filter(|row| row.target_id.is_some()).cloned()
    };
    for assignment in &item.assignments {
        let mut target = assignment.target.clone();
        let original =
            TargetView::of(&assignment.target, assignment.group_name.clone(), assignment.filter_name.clone());
        let mut group_name = None;
        if let Some(group) = assignment.group_id() {
            match counterpart(&resolved.groups, group) {
                Some(row) => {
                    target["groupId"] = row.target_id.clone().unwrap_or_default().into();
                    group_name = row.target_name;
                }
                None if assignment.kind() == TargetKind::IncludeGroup => {
                    skipped.push(original);
                    continue;
                }
                None => {
                    blocked_by.push(format!(
                        "{} has no counterpart in this tenant; dropping it would widen the policy's reach. Map it.",
                        original.describe()
                    ));
                    continue;
                }
            }
        }
        let mut filter_name = None;
        if let Some((filter, _)) = assignment.filter() {
            match counterpart(&resolved.filters, filter) {
                Some(row) => {
                    target[FILTER_ID] = row.target_id.clone().unwrap_or_default().into();
                    filter_name = row.target_name;
                }
                None => {
                    let name = resolved.filters.get(filter).and_then(|row| row.source_name.clone());
                    blocked_by.push(format!(
                        "Assignment filter {} has no counterpart in this tenant. Map it.",
                        name.or_else(|| assignment.filter_name.clone()).unwrap_or_else(|| filter.to_string())
                    ));
                    continue;
                }
            }
        }
        if targets.iter().any(|sent| target_key(sent) == target_key(&target)) {
            continue;
        }
        planned.push(TargetView::of(&target, group_name, filter_name));
        targets.push(target);
    }
    let recreate = live.is_none();
    let mut scope_tags = Vec::new();
    if recreate {
        for tag in &item.scope_tags {
            match counterpart(&resolved.scope_tags, &tag.id) {
                Some(row) => {
                    scope_tags.push(ScopeTag { id: row.target_id.unwrap_or_default(), name: row.target_name })
                }
                None => blocked_by.push(format!(
                    "Scope tag {} has no counterpart in this tenant. Map it.",
                    tag.name.as_deref().unwrap_or(&tag.id)
                )),
            }
        }
        if !item.has_body() {
            blocked_by.push(
                "The policy no longer exists here, and this backup was captured before TenantPilot kept policy bodies: \
                 capture a new backup to restore it."
                    .into(),
            );
        }
        if item.family().is_none() {
            blocked_by.push(format!("TenantPilot cannot create a policy of type {}.", item.policy_type));
        }
    }
    scope_tags.sort();
    scope_tags.dedup();
    let current = live.unwrap_or_default();
    let planned_keys: BTreeSet<String> = planned.iter().map(TargetView::key).collect();
    let removed = current
        .iter()
        .filter(|view| view.kind == TargetKind::Other || !planned_keys.contains(&view.key()))
        .cloned()
        .collect();
    let action = if !blocked_by.is_empty() {
        RestoreAction::Blocked
    } else if recreate {
        RestoreAction::Recreate
    } else {
        RestoreAction::Assign
    };
    PlannedItem {
        scope_tag_ids: scope_tags.iter().map(|tag| tag.id.clone()).collect(),
        preview: RestorePreviewItem {
            item_id: item.id,
            policy_id: item.policy_id.clone(),
            policy_name: item.policy_name.clone(),
            policy_type: item.policy_type.clone(),
            action,
            current,
            planned,
            removed,
            skipped,
            blocked_by,
            scope_tags,
        },
        targets,
    }
}

/// The preview of a whole restore from its items' previews and the resolved mappings.
pub fn preview(items: Vec<RestorePreviewItem>, resolved: &Resolved) -> RestorePreview {
    let unmapped_groups = resolved
        .groups
        .values()
        .filter(|row| row.resolution == Resolution::Unresolved)
        .map(|row| AssignedGroup { group_id: row.source_id.clone(), group_name: row.source_name.clone() })
        .collect();
    RestorePreview {
        items,
        unmapped_groups,
        groups: resolved.groups.values().cloned().collect(),
        filters: resolved.filters.values().cloned().collect(),
        scope_tags: resolved.scope_tags.values().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(source: &str, target: Option<&str>, name: &str) -> MappingRow {
        MappingRow {
            source_id: source.into(),
            source_name: Some(name.into()),
            target_id: target.map(str::to_string),
            target_name: target.map(|_| format!("{name} (there)")),
            resolution: if target.is_some() { Resolution::SameName } else { Resolution::Unresolved },
        }
    }

    fn assignment(target: Value) -> Assignment {
        Assignment { target, group_name: None, filter_name: None }
    }

    fn item(assignments: Vec<Assignment>) -> BackupItem {
        BackupItem {
            id: 7,
            backup_set_id: 1,
            tenant_id: crate::TenantId(1),
            policy_id: "pol".into(),
            policy_name: "Policy".into(),
            policy_type: "configurationPolicy".into(),
            body: json!({ "name": "Policy" }),
            settings: json!([]),
            scope_tags: vec![ScopeTag { id: "0".into(), name: Some("Default".into()) }],
            assignments,
            assignments_count: 0,
            assignments_fetched_at: None,
        }
    }

    #[test]
    fn typed_mappings_are_read_line_by_line() {
        let mapping = parse_mapping("m", "a = b\n\n  c -> d \ne → f").unwrap();
        assert_eq!(mapping.len(), 3);
        assert_eq!((mapping["a"].as_str(), mapping["c"].as_str(), mapping["e"].as_str()), ("b", "d", "f"));
        for bad in ["just-one", "= b", "a =", "a = b\nnonsense"] {
            let error = parse_mapping("m", bad).unwrap_err();
            assert!(matches!(&error, CoreError::Invalid { field, .. } if field == "m"), "{bad}: {error:?}");
        }
    }

    #[test]
    fn targets_keep_every_field_but_the_mapped_ids() {
        let include = json!({ "@odata.type": target_type::INCLUDE_GROUP, "groupId": "g-old",
            FILTER_ID: "f-old", FILTER_TYPE: "include", "futureField": { "kept": true } });
        let exclude = json!({ "@odata.type": target_type::EXCLUDE_GROUP, "groupId": "g-keep" });
        let devices =
            json!({ "@odata.type": target_type::ALL_DEVICES, FILTER_ID: "f-old", FILTER_TYPE: "exclude" });
        let users = json!({ "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget", FILTER_ID: null, FILTER_TYPE: "none" });
        let resolved = Resolved {
            groups: BTreeMap::from([
                ("g-old".into(), row("g-old", Some("g-new"), "Finance")),
                ("g-keep".into(), row("g-keep", Some("g-keep"), "Contractors")),
            ]),
            filters: BTreeMap::from([("f-old".into(), row("f-old", Some("f-new"), "Corporate"))]),
            scope_tags: BTreeMap::from([("0".into(), row("0", Some("0"), "Default"))]),
        };
        let item = item(vec![
            assignment(include.clone()),
            assignment(exclude.clone()),
            assignment(devices),
            assignment(users.clone()),
        ]);
        let planned = plan_item(&item, &resolved, None);
        let mut expected_include = include;
        expected_include["groupId"] = "g-new".into();
        expected_include[FILTER_ID] = "f-new".into();
        assert_eq!(
            planned.targets,
            vec![
                expected_include,
                exclude,
                json!({ "@odata.type": target_type::ALL_DEVICES, FILTER_ID: "f-new", FILTER_TYPE: "exclude" }),
                users,
            ]
        );
        assert_eq!(planned.preview.action, RestoreAction::Recreate);
        let kinds: Vec<TargetKind> = planned.preview.planned.iter().map(|view| view.kind).collect();
        assert_eq!(
            kinds,
            [
                TargetKind::IncludeGroup,
                TargetKind::ExcludeGroup,
                TargetKind::AllDevices,
                TargetKind::AllUsers
            ]
        );
        assert_eq!(
            planned.preview.planned[0].describe(),
            "Include group Finance (there), filter Corporate (there) (include)"
        );
        assert_eq!(planned.scope_tag_ids, ["0"]);
    }

    #[test]
    fn a_missing_group_never_widens_reach() {
        let include = json!({ "@odata.type": target_type::INCLUDE_GROUP, "groupId": "gone-include" });
        let exclude = json!({ "@odata.type": target_type::EXCLUDE_GROUP, "groupId": "gone-exclude" });
        let resolved = Resolved {
            groups: BTreeMap::from([
                ("gone-include".into(), row("gone-include", None, "Pilot")),
                ("gone-exclude".into(), row("gone-exclude", None, "VIPs")),
            ]),
            ..Resolved::default()
        };
        let live = vec![TargetView::of(&json!({ "@odata.type": target_type::ALL_USERS }), None, None)];
        let only_include = plan_item(&item(vec![assignment(include.clone())]), &resolved, Some(live.clone()));
        assert_eq!(only_include.preview.action, RestoreAction::Assign);
        assert_eq!(only_include.targets, Vec::<Value>::new());
        assert_eq!(only_include.preview.skipped.len(), 1, "the inclusion is skipped and shown");
        assert_eq!(only_include.preview.removed, live, "what it has now and loses is marked");

        let with_exclude =
            plan_item(&item(vec![assignment(include), assignment(exclude)]), &resolved, Some(live));
        assert_eq!(with_exclude.preview.action, RestoreAction::Blocked);
        assert!(
            with_exclude.preview.blocked_by[0].contains("Exclude group gone-exclude"),
            "{:?}",
            with_exclude.preview.blocked_by
        );
    }

    #[test]
    fn unresolved_filters_and_scope_tags_block_instead_of_being_dropped() {
        let filtered =
            json!({ "@odata.type": target_type::ALL_DEVICES, FILTER_ID: "f1", FILTER_TYPE: "include" });
        let resolved = Resolved {
            filters: BTreeMap::from([("f1".into(), row("f1", None, "Kiosks"))]),
            scope_tags: BTreeMap::from([("0".into(), row("0", None, "Default"))]),
            ..Resolved::default()
        };
        let planned = plan_item(&item(vec![assignment(filtered)]), &resolved, None);
        assert_eq!(planned.preview.action, RestoreAction::Blocked);
        assert_eq!(planned.preview.blocked_by.len(), 2, "{:?}", planned.preview.blocked_by);
        assert!(planned.preview.blocked_by[0].contains("Kiosks"));
        assert!(planned.preview.blocked_by[1].contains("Scope tag Default"));
    }

    #[test]
    fn previews_stored_by_earlier_versions_still_read() {
        let old = r#"{"items":[{"itemId":7,"policyId":"p","policyName":"P","assign":[{"groupId":"g","groupName":null}],"unmapped":[]}],"unmappedGroups":[]}"#;
        let preview: RestorePreview = serde_json::from_str(old).unwrap();
        assert_eq!((preview.items[0].item_id, preview.items[0].action), (7, RestoreAction::Assign));
        assert!(preview.items[0].planned.is_empty() && preview.groups.is_empty());
    }

    #[test]
    fn old_items_read_their_groups_as_inclusions() {
        let stored: Vec<Assignment> =
            serde_json::from_str(r#"[{"groupId":"g1","groupName":"Sales"}]"#).unwrap();
        assert_eq!(stored[0].kind(), TargetKind::IncludeGroup);
        assert_eq!((stored[0].group_id(), stored[0].group_name.as_deref()), (Some("g1"), Some("Sales")));
        let current = serde_json::to_string(&stored).unwrap();
        assert!(current.contains(r#""target":{"#), "{current}");
    }
}
