//! The Graph (beta) endpoints TenantPilot reads and writes, and how a stored policy is sent
//! back. Every path the client builds comes from [`paths`]; a unit test holds each one to the
//! documented paths, with a link to its page.

use super::client::{ProviderError, ProviderSession};
use super::{Named, PolicyFamily, ReasonCode};
use crate::encoding::percent_encode;
use reqwest::Method;
use serde_json::{json, Map, Value};

/// The paths (relative to the API base) of every call the client makes.
pub mod paths {
    use super::{percent_encode, PolicyFamily};

    pub fn collection(family: PolicyFamily) -> String {
        family.collection().to_string()
    }

    /// One entry of the list, to see whether the app may read the family at all.
    pub fn probe(family: PolicyFamily) -> String {
        format!("{}?$top=1", family.collection())
    }

    pub fn item(family: PolicyFamily, id: &str) -> String {
        format!("{}/{}", family.collection(), percent_encode(id))
    }

    /// A policy as it is captured: compliance policies with their scheduled actions, which a
    /// plain GET leaves out and a create requires.
    pub fn captured_item(family: PolicyFamily, id: &str) -> String {
        match family {
            PolicyFamily::Compliance => format!(
                "{}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)",
                item(family, id)
            ),
            _ => item(family, id),
        }
    }

    /// Where a policy's settings live when they are not in its body.
    pub fn settings(family: PolicyFamily, id: &str) -> Option<String> {
        match family {
            PolicyFamily::SettingsCatalog => Some(format!("{}/settings", item(family, id))),
            PolicyFamily::AdministrativeTemplate => {
                Some(format!("{}/definitionValues?$expand=definition", item(family, id)))
            }
            _ => None,
        }
    }

    pub fn presentation_values(policy_id: &str, definition_value_id: &str) -> String {
        format!(
            "{}/definitionValues/{}/presentationValues?$expand=presentation",
            item(PolicyFamily::AdministrativeTemplate, policy_id),
            percent_encode(definition_value_id)
        )
    }

    pub fn update_definition_values(policy_id: &str) -> String {
        format!("{}/updateDefinitionValues", item(PolicyFamily::AdministrativeTemplate, policy_id))
    }

    pub fn assignments(family: PolicyFamily, id: &str) -> String {
        format!("{}/assignments", item(family, id))
    }

    pub fn assign(family: PolicyFamily, id: &str) -> String {
        format!("{}/assign", item(family, id))
    }

    pub fn group(id: &str) -> String {
        format!("/groups/{}?$select=id,displayName", percent_encode(id))
    }

    pub fn groups_named(name: &str) -> String {
        let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
        format!("/groups?$filter={}&$select=id,displayName&$top=999", percent_encode(&filter))
    }

    pub fn groups_probe() -> String {
        "/groups?$select=id,displayName&$top=1".into()
    }

    pub fn assignment_filters() -> String {
        "/deviceManagement/assignmentFilters".into()
    }

    pub fn assignment_filter(id: &str) -> String {
        format!("/deviceManagement/assignmentFilters/{}", percent_encode(id))
    }

    pub fn scope_tags() -> String {
        "/deviceManagement/roleScopeTags".into()
    }

    /// An admin-template definition (or one of its presentations), as `@odata.bind` names it.
    pub fn definition(id: &str) -> String {
        format!("/deviceManagement/groupPolicyDefinitions('{id}')")
    }
}

/// A policy as a family's list gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub family: PolicyFamily,
    pub id: String,
    pub name: String,
    /// The policy as Graph returned it.
    pub body: Value,
}

/// Properties Graph sets itself; dropped when a stored policy is sent again, nowhere else.
const READ_ONLY: [&str; 5] = ["id", "createdDateTime", "lastModifiedDateTime", "version", "@odata.context"];
/// Read-only by the settings catalog's reference page.
const SETTINGS_CATALOG_READ_ONLY: [&str; 3] = ["settingCount", "isAssigned", "creationSource"];

fn strip(value: &Value, also: &[&str]) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| {
                    !READ_ONLY.contains(&key.as_str())
                        && !also.contains(&key.as_str())
                        && !key.ends_with("@odata.context")
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The body that creates `body` again: read-only properties and expanded relationships
/// dropped, relationships a create takes kept (without their ids), scope tags as given.
pub fn body_for_create(family: PolicyFamily, body: &Value, settings: &Value, scope_tags: &[String]) -> Value {
    let mut created = match family {
        PolicyFamily::SettingsCatalog => strip(body, &SETTINGS_CATALOG_READ_ONLY),
        _ => strip(body, &["supportsScopeTags", "assignments"]),
    };
    if let Value::Object(fields) = &mut created {
        if family == PolicyFamily::SettingsCatalog {
            let settings: Vec<Value> = settings
                .as_array()
                .map(|all| all.iter().map(|setting| strip(setting, &["settingDefinitions"])).collect())
                .unwrap_or_default();
            fields.insert("settings".into(), Value::Array(settings));
        }
        if family == PolicyFamily::Compliance {
            if let Some(Value::Array(rules)) = fields.get("scheduledActionsForRule").cloned() {
                let rules: Vec<Value> = rules
                    .iter()
                    .map(|rule| {
                        let mut rule = strip(rule, &[]);
                        if let Some(Value::Array(actions)) =
                            rule.get("scheduledActionConfigurations").cloned()
                        {
                            rule["scheduledActionConfigurations"] =
                                Value::Array(actions.iter().map(|action| strip(action, &[])).collect());
                        }
                        rule
                    })
                    .collect();
                fields.insert("scheduledActionsForRule".into(), Value::Array(rules));
            }
        }
        fields.insert("roleScopeTagIds".into(), json!(scope_tags));
    }
    created
}

/// The `updateDefinitionValues` body that gives a new administrative template the definition
/// values captured from another: each bound to its definition and presentations by reference.
pub fn definition_values_update(base_url: &str, definition_values: &Value) -> Value {
    let added: Vec<Value> = definition_values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|value| {
            let definition = value["definition"]["id"].as_str()?;
            let definition_url = format!("{base_url}{}", paths::definition(definition));
            let presentations: Vec<Value> = value["presentationValues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|presentation_value| {
                    let presentation = presentation_value["presentation"]["id"].as_str()?;
                    let mut sent = strip(presentation_value, &["presentation"]);
                    sent["presentation@odata.bind"] =
                        format!("{definition_url}/presentations('{presentation}')").into();
                    Some(sent)
                })
                .collect();
            let mut added = Map::new();
            added.insert("enabled".into(), value["enabled"].clone());
            added.insert("definition@odata.bind".into(), definition_url.into());
            added.insert("presentationValues".into(), Value::Array(presentations));
            Some(Value::Object(added))
        })
        .collect();
    json!({ "added": added, "updated": [], "deletedIds": [] })
}

fn malformed(what: &str) -> ProviderError {
    ProviderError::new(ReasonCode::UnknownError, format!("The provider listed a malformed {what}."), None)
}

fn named(item: &Value, what: &str) -> Result<Named, ProviderError> {
    let id = item["id"].as_str().ok_or_else(|| malformed(what))?;
    let name = item["displayName"].as_str().unwrap_or_default();
    Ok(Named { id: id.to_string(), display_name: name.to_string() })
}

/// `Ok(None)` for a 404: the thing does not exist (any more).
fn found<T>(result: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

impl ProviderSession {
    /// Every policy of `family`.
    pub async fn policies(&self, family: PolicyFamily) -> Result<Vec<Policy>, ProviderError> {
        let items = self.list(&paths::collection(family)).await?;
        items
            .into_iter()
            .map(|body| {
                let id = body["id"].as_str().ok_or_else(|| malformed("policy"))?.to_string();
                let name = body[family.name_property()]
                    .as_str()
                    .or_else(|| body["displayName"].as_str())
                    .or_else(|| body["name"].as_str())
                    .unwrap_or_default()
                    .to_string();
                Ok(Policy { family, id, name, body })
            })
            .collect()
    }

    /// Whether the app may read `family`: one entry of its list.
    pub async fn probe(&self, path: &str) -> Result<(), ProviderError> {
        self.call(Method::GET, &self.url(path), None).await.map(drop)
    }

    /// The policy as captured (see [`paths::captured_item`]); `None` when it does not exist.
    pub async fn policy(&self, family: PolicyFamily, id: &str) -> Result<Option<Value>, ProviderError> {
        found(self.call(Method::GET, &self.url(&paths::captured_item(family, id)), None).await)
    }

    /// The policy's settings when they live outside its body: the settings catalog's settings,
    /// an administrative template's definition values with their presentation values.
    /// `Null` for the families that keep settings in the body.
    pub async fn policy_settings(&self, family: PolicyFamily, id: &str) -> Result<Value, ProviderError> {
        let Some(path) = paths::settings(family, id) else {
            return Ok(Value::Null);
        };
        let mut settings = self.list(&path).await?;
        if family == PolicyFamily::AdministrativeTemplate {
            for value in &mut settings {
                let Some(value_id) = value["id"].as_str().map(str::to_string) else { continue };
                let presentations = self.list(&paths::presentation_values(id, &value_id)).await?;
                value["presentationValues"] = Value::Array(presentations);
            }
        }
        Ok(Value::Array(settings))
    }

    /// The `target` of each of the policy's assignments, verbatim.
    pub async fn assignments(&self, family: PolicyFamily, id: &str) -> Result<Vec<Value>, ProviderError> {
        let items = self.list(&paths::assignments(family, id)).await?;
        items
            .into_iter()
            .map(|item| item.get("target").cloned().ok_or_else(|| malformed("assignment")))
            .collect()
    }

    /// Sets the policy's assignments to exactly `targets` (`assign` replaces them all).
    pub async fn assign(
        &self,
        family: PolicyFamily,
        id: &str,
        targets: &[Value],
    ) -> Result<(), ProviderError> {
        let assignments: Vec<Value> = targets.iter().map(|target| json!({ "target": target })).collect();
        let body = json!({ "assignments": assignments });
        self.call(Method::POST, &self.url(&paths::assign(family, id)), Some(&body)).await.map(drop)
    }

    /// Creates a policy from a captured one; returns the new id. An administrative template
    /// then needs [`ProviderSession::add_definition_values`] for its settings.
    pub async fn create_policy(
        &self,
        family: PolicyFamily,
        body: &Value,
        settings: &Value,
        scope_tags: &[String],
    ) -> Result<String, ProviderError> {
        let created_body = body_for_create(family, body, settings, scope_tags);
        let created =
            self.call(Method::POST, &self.url(&paths::collection(family)), Some(&created_body)).await?;
        created["id"].as_str().map(str::to_string).ok_or_else(|| malformed("created policy"))
    }

    /// Gives administrative template `id` the definition values captured from another.
    pub async fn add_definition_values(
        &self,
        id: &str,
        definition_values: &Value,
    ) -> Result<(), ProviderError> {
        if definition_values.as_array().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        let update = definition_values_update(self.base_url(), definition_values);
        self.call(Method::POST, &self.url(&paths::update_definition_values(id)), Some(&update))
            .await
            .map(drop)
    }

    /// A group by id; `None` when the tenant has no such group.
    pub async fn group(&self, id: &str) -> Result<Option<Named>, ProviderError> {
        let item = found(self.call(Method::GET, &self.url(&paths::group(id)), None).await)?;
        item.map(|item| named(&item, "group")).transpose()
    }

    /// The groups called exactly `name`.
    pub async fn groups_named(&self, name: &str) -> Result<Vec<Named>, ProviderError> {
        let items = self.list(&paths::groups_named(name)).await?;
        items.iter().map(|item| named(item, "group")).collect()
    }

    pub async fn assignment_filters(&self) -> Result<Vec<Named>, ProviderError> {
        let items = self.list(&paths::assignment_filters()).await?;
        items.iter().map(|item| named(item, "assignment filter")).collect()
    }

    pub async fn assignment_filter(&self, id: &str) -> Result<Option<Named>, ProviderError> {
        let item = found(self.call(Method::GET, &self.url(&paths::assignment_filter(id)), None).await)?;
        item.map(|item| named(&item, "assignment filter")).transpose()
    }

    pub async fn scope_tags(&self) -> Result<Vec<Named>, ProviderError> {
        let items = self.list(&paths::scope_tags()).await?;
        items.iter().map(|item| named(item, "scope tag")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Graph beta paths TenantPilot may call, as their reference pages give them.
    const DOCUMENTED: &[(&str, &str)] = &[
        ("/deviceManagement/configurationPolicies", "https://learn.microsoft.com/graph/api/intune-deviceconfigv2-devicemanagementconfigurationpolicy-list?view=graph-rest-beta"),
        ("/deviceManagement/configurationPolicies/{id}", "https://learn.microsoft.com/graph/api/intune-deviceconfigv2-devicemanagementconfigurationpolicy-get?view=graph-rest-beta"),
        ("/deviceManagement/configurationPolicies/{id}/settings", "https://learn.microsoft.com/graph/api/intune-deviceconfigv2-devicemanagementconfigurationsetting-list?view=graph-rest-beta"),
        ("/deviceManagement/configurationPolicies/{id}/assignments", "https://learn.microsoft.com/graph/api/intune-deviceconfigv2-devicemanagementconfigurationpolicyassignment-list?view=graph-rest-beta"),
        ("/deviceManagement/configurationPolicies/{id}/assign", "https://learn.microsoft.com/graph/api/intune-deviceconfigv2-devicemanagementconfigurationpolicy-assign?view=graph-rest-beta"),
        ("/deviceManagement/deviceConfigurations", "https://learn.microsoft.com/graph/api/intune-deviceconfig-deviceconfiguration-list?view=graph-rest-beta"),
        ("/deviceManagement/deviceConfigurations/{id}", "https://learn.microsoft.com/graph/api/intune-deviceconfig-deviceconfiguration-get?view=graph-rest-beta"),
        ("/deviceManagement/deviceConfigurations/{id}/assignments", "https://learn.microsoft.com/graph/api/intune-deviceconfig-deviceconfigurationassignment-list?view=graph-rest-beta"),
        ("/deviceManagement/deviceConfigurations/{id}/assign", "https://learn.microsoft.com/graph/api/intune-deviceconfig-deviceconfiguration-assign?view=graph-rest-beta"),
        ("/deviceManagement/deviceCompliancePolicies", "https://learn.microsoft.com/graph/api/intune-deviceconfig-devicecompliancepolicy-list?view=graph-rest-beta"),
        ("/deviceManagement/deviceCompliancePolicies/{id}", "https://learn.microsoft.com/graph/api/intune-deviceconfig-devicecompliancepolicy-get?view=graph-rest-beta"),
        ("/deviceManagement/deviceCompliancePolicies/{id}/assignments", "https://learn.microsoft.com/graph/api/intune-deviceconfig-devicecompliancepolicyassignment-list?view=graph-rest-beta"),
        ("/deviceManagement/deviceCompliancePolicies/{id}/assign", "https://learn.microsoft.com/graph/api/intune-deviceconfig-devicecompliancepolicy-assign?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicyconfiguration-list?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicyconfiguration-get?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}/definitionValues", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicydefinitionvalue-list?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}/definitionValues/{id}/presentationValues", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicypresentationvalue-list?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}/updateDefinitionValues", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicyconfiguration-updatedefinitionvalues?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}/assignments", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicyconfigurationassignment-list?view=graph-rest-beta"),
        ("/deviceManagement/groupPolicyConfigurations/{id}/assign", "https://learn.microsoft.com/graph/api/intune-grouppolicy-grouppolicyconfiguration-assign?view=graph-rest-beta"),
        ("/deviceManagement/assignmentFilters", "https://learn.microsoft.com/graph/api/intune-policyset-deviceandappmanagementassignmentfilter-list?view=graph-rest-beta"),
        ("/deviceManagement/assignmentFilters/{id}", "https://learn.microsoft.com/graph/api/intune-policyset-deviceandappmanagementassignmentfilter-get?view=graph-rest-beta"),
        ("/deviceManagement/roleScopeTags", "https://learn.microsoft.com/graph/api/intune-rbac-rolescopetag-list?view=graph-rest-beta"),
        ("/groups", "https://learn.microsoft.com/graph/api/group-list?view=graph-rest-beta"),
        ("/groups/{id}", "https://learn.microsoft.com/graph/api/group-get?view=graph-rest-beta"),
    ];

    /// `path` with its query dropped and the test ids put back as `{id}`.
    fn template(path: &str) -> String {
        let path = path.split('?').next().unwrap_or_default();
        path.split('/')
            .map(|segment| if segment.starts_with("ID-") { "{id}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_path_the_client_builds_is_a_documented_beta_path() {
        let mut built = vec![
            paths::group("ID-g"),
            paths::groups_named("O'Brien team"),
            paths::groups_probe(),
            paths::assignment_filters(),
            paths::assignment_filter("ID-f"),
            paths::scope_tags(),
            paths::presentation_values("ID-p", "ID-v"),
            paths::update_definition_values("ID-p"),
        ];
        for family in PolicyFamily::ALL {
            built.extend([
                paths::collection(family),
                paths::probe(family),
                paths::item(family, "ID-p"),
                paths::captured_item(family, "ID-p"),
                paths::assignments(family, "ID-p"),
                paths::assign(family, "ID-p"),
            ]);
            built.extend(paths::settings(family, "ID-p"));
        }
        for path in built {
            let template = template(&path);
            assert!(
                DOCUMENTED.iter().any(|(documented, _)| *documented == template),
                "{path} ({template}) is not a documented Graph beta path"
            );
        }
        assert_eq!(
            paths::groups_named("O'Brien team"),
            "/groups?$filter=displayName%20eq%20%27O%27%27Brien%20team%27&$select=id,displayName&$top=999",
            "quotes doubled as OData wants, the expression encoded"
        );
    }

    #[test]
    fn a_recreated_policy_leaves_out_what_graph_sets_itself() {
        let body = json!({
            "@odata.context": "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies/$entity",
            "id": "p1", "name": "Edge", "createdDateTime": "2026-01-01T00:00:00Z",
            "lastModifiedDateTime": "2026-01-02T00:00:00Z", "settingCount": 1, "isAssigned": true,
            "creationSource": null, "platforms": "windows10", "technologies": "mdm", "roleScopeTagIds": ["0", "3"],
        });
        let settings = json!([{ "id": "0", "settingInstance": { "settingDefinitionId": "x" } }]);
        let created =
            body_for_create(PolicyFamily::SettingsCatalog, &body, &settings, &["0".into(), "7".into()]);
        assert_eq!(
            created,
            json!({
                "name": "Edge", "platforms": "windows10", "technologies": "mdm", "roleScopeTagIds": ["0", "7"],
                "settings": [{ "settingInstance": { "settingDefinitionId": "x" } }],
            })
        );
        let compliance = json!({
            "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "id": "c1", "version": 3,
            "displayName": "Win", "passwordRequired": true,
            "scheduledActionsForRule@odata.context": "x",
            "scheduledActionsForRule": [{ "id": "r1", "ruleName": "PasswordRequired",
                "scheduledActionConfigurations": [{ "id": "a1", "actionType": "block", "gracePeriodHours": 0 }] }],
        });
        let created = body_for_create(PolicyFamily::Compliance, &compliance, &Value::Null, &["0".into()]);
        assert_eq!(
            created,
            json!({
                "@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Win",
                "passwordRequired": true, "roleScopeTagIds": ["0"],
                "scheduledActionsForRule": [{ "ruleName": "PasswordRequired",
                    "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }] }],
            })
        );
    }

    #[test]
    fn administrative_template_values_are_bound_by_reference() {
        let values = json!([{
            "id": "v1", "enabled": true, "definition": { "id": "d1", "displayName": "Turn off" },
            "presentationValues": [{ "@odata.type": "#microsoft.graph.groupPolicyPresentationValueText",
                "id": "pv1", "value": "x", "presentation": { "id": "pr1" } }],
        }]);
        let update = definition_values_update("https://graph.microsoft.com/beta", &values);
        let definition = "https://graph.microsoft.com/beta/deviceManagement/groupPolicyDefinitions('d1')";
        assert_eq!(
            update,
            json!({
                "added": [{ "enabled": true, "definition@odata.bind": definition, "presentationValues": [{
                    "@odata.type": "#microsoft.graph.groupPolicyPresentationValueText", "value": "x",
                    "presentation@odata.bind": format!("{definition}/presentations('pr1')"),
                }] }],
                "updated": [], "deletedIds": [],
            })
        );
    }
}
