//! The tool registry: tools that `tool.http` steps call. A tool's secrets are write-only: they
//! are stored and used, and come back only as names with a mask in place of the value.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

use crate::ids::ToolId;
use crate::item_access::{validate_rules, AccessRule};
use crate::{validate, CoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Shown in place of every secret. Sent back unchanged in an update, it keeps the secret.
pub const SECRET_MASK: &str = "********";
/// Who may create tools: a tool calls out with its secrets, so not every user.
pub const TOOL_CREATORS: &str = "Requires the Power User or Site Admin account role";
/// The secret sent as `Authorization: Bearer …` by `tool.http` steps.
pub const BEARER_SECRET: &str = "apiToken";
const IDENTIFIER_MAX: usize = 63;
const SECRETS_MAX: usize = 20;
const SECRET_MAX: usize = 4096;

/// A tool as the contract's `tools`, `summary` and `update` answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "_id", with = "crate::pipelines::id_string")]
    pub id: ToolId,
    pub name: String,
    pub description: String,
    pub tool_identifier: String,
    pub active: bool,
    pub configuration: Map<String, Value>,
    /// Secret names, each with the mask as its value.
    pub secrets: BTreeMap<String, String>,
    /// The owner's e-mail.
    pub owner: String,
    /// The workspace's slug.
    pub account: String,
    pub access: Vec<AccessRule>,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
}

/// The editable part of a tool, secrets in the clear: what the store writes. Its `Debug` shows
/// secret names only, so a stray `?draft` in a log line leaks nothing.
#[derive(Clone, Default, PartialEq)]
pub struct ToolDraft {
    pub name: String,
    pub description: String,
    pub tool_identifier: String,
    pub active: bool,
    pub configuration: Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
    pub access: Vec<AccessRule>,
}

impl std::fmt::Debug for ToolDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDraft")
            .field("name", &self.name)
            .field("tool_identifier", &self.tool_identifier)
            .field("active", &self.active)
            .field("configuration", &self.configuration)
            .field("secrets", &masked(&self.secrets))
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// Root properties that are the server's to set: ignored in an update body.
const IGNORED: [&str; 3] = ["_id", "createdAt", "updatedAt"];

/// What an update changed beyond its fields.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Needs the owner or a Site Admin.
    pub access_changed: bool,
    /// Secrets dropped because the tool's address moved to another origin without them.
    pub dropped_secrets: Vec<String>,
}

impl ToolDraft {
    /// A new tool from a JSON object (the shape `summary` returns; `owner` and `account` are the
    /// caller's to read, not this function's).
    pub fn new(body: &Map<String, Value>) -> Result<ToolDraft, CoreError> {
        let mut draft = ToolDraft { active: true, ..ToolDraft::default() };
        let mut fields = body.clone();
        fields.remove("owner");
        fields.remove("account");
        draft.merge(&fields, None)?;
        Ok(draft)
    }

    /// Merges `patch`'s root properties into the tool, as the contract's `update` does, and
    /// validates the result. `current` is the stored tool: `owner` and `account` may be sent back
    /// as they are, not changed. Secrets merge by name: a value sets, `null` removes, the mask keeps.
    pub fn merge(&mut self, patch: &Map<String, Value>, current: Option<&Tool>) -> Result<Merged, CoreError> {
        let mut merged = Merged::default();
        let origin_before = self.base_origin();
        for (key, value) in patch {
            let field = format!("tool.{key}");
            let text = |value: &Value| {
                value.as_str().map(str::to_string).ok_or_else(|| CoreError::invalid(&field, "Expected text"))
            };
            match key.as_str() {
                "name" => self.name = validate::name(&field, &text(value)?)?,
                "description" => self.description = text(value)?,
                "tool_identifier" => self.tool_identifier = text(value)?,
                "active" => {
                    self.active =
                        value.as_bool().ok_or_else(|| CoreError::invalid(&field, "Expected true or false"))?
                }
                "configuration" => {
                    self.configuration = value
                        .as_object()
                        .cloned()
                        .ok_or_else(|| CoreError::invalid(&field, "Expected an object"))?
                }
                "secrets" => self.merge_secrets(&field, value)?,
                "access" => {
                    let rules: Vec<AccessRule> = serde_json::from_value(value.clone()).map_err(|error| {
                        CoreError::invalid(&field, format!("Expected a list of access entries: {error}"))
                    })?;
                    let rules = validate_rules(&field, rules)?;
                    merged.access_changed = rules != self.access;
                    self.access = rules;
                }
                "owner" | "account" => {
                    let now = current.map(|tool| if key == "owner" { &tool.owner } else { &tool.account });
                    if now.map(|now| Value::String(now.clone())) != Some(value.clone()) {
                        return Err(CoreError::invalid(&field, format!("A tool's {key} cannot be changed")));
                    }
                }
                key if IGNORED.contains(&key) => {}
                _ => return Err(CoreError::invalid(&field, "Not a property of a tool")),
            }
        }
        // Secrets go where the tool's address goes: to a new origin only if sent again with it.
        if origin_before.is_some() && self.base_origin() != origin_before {
            let sent = patch.get("secrets").and_then(Value::as_object);
            let resent = |name: &String| {
                sent.and_then(|sent| sent.get(name))
                    .and_then(Value::as_str)
                    .is_some_and(|value| value != SECRET_MASK)
            };
            let dropped: Vec<String> = self.secrets.keys().filter(|name| !resent(name)).cloned().collect();
            for name in &dropped {
                self.secrets.remove(name);
            }
            merged.dropped_secrets = dropped;
        }
        self.validate()?;
        Ok(merged)
    }

    fn base_origin(&self) -> Option<String> {
        self.configuration.get("baseUrl").and_then(Value::as_str).and_then(validate::origin)
    }

    fn merge_secrets(&mut self, field: &str, value: &Value) -> Result<(), CoreError> {
        let secrets =
            value.as_object().ok_or_else(|| CoreError::invalid(field, "Expected an object of secrets"))?;
        for (name, secret) in secrets {
            let field = format!("{field}.{name}");
            match secret {
                Value::Null => {
                    self.secrets.remove(name);
                }
                Value::String(mask) if mask == SECRET_MASK => {}
                Value::String(secret) if !secret.is_empty() && secret.len() <= SECRET_MAX => {
                    self.secrets.insert(name.clone(), secret.clone());
                }
                _ => return Err(CoreError::invalid(&field, "A secret is text (or null to remove it)")),
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), CoreError> {
        validate::name("tool.name", &self.name)?;
        if self.description.chars().count() > crate::pipelines::DESCRIPTION_MAX {
            return Err(CoreError::invalid("tool.description", "At most 2000 characters"));
        }
        let identifier = &self.tool_identifier;
        if identifier.is_empty()
            || identifier.len() > IDENTIFIER_MAX
            || !identifier
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(CoreError::invalid(
                "tool.tool_identifier",
                "Name the kind of tool in lower-case letters, digits, - and _ (like http)",
            ));
        }
        match self.configuration.get("baseUrl") {
            None if identifier == "http" => {
                return Err(CoreError::invalid("tool.configuration.baseUrl", "An http tool needs a baseUrl"))
            }
            None => {}
            Some(url) => {
                let url = url.as_str().unwrap_or_default();
                let (scheme, rest) = url.split_once("://").unwrap_or_default();
                if !matches!(scheme, "http" | "https")
                    || rest.is_empty()
                    || url.chars().any(char::is_whitespace)
                {
                    return Err(CoreError::invalid(
                        "tool.configuration.baseUrl",
                        "An http:// or https:// address, like https://ci.example.com",
                    ));
                }
            }
        }
        if let Some(headers) = self.configuration.get("headers") {
            let valid = headers.as_object().is_some_and(|headers| headers.values().all(Value::is_string));
            if !valid {
                return Err(CoreError::invalid(
                    "tool.configuration.headers",
                    "An object of header names and text values",
                ));
            }
        }
        if self.secrets.len() > SECRETS_MAX {
            return Err(CoreError::invalid("tool.secrets", format!("At most {SECRETS_MAX} secrets")));
        }
        Ok(())
    }
}

/// Secret names with the mask, for answers.
pub fn masked(secrets: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    secrets.keys().map(|name| (name.clone(), SECRET_MASK.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn stored(draft: &ToolDraft) -> Tool {
        Tool {
            id: ToolId(1),
            name: draft.name.clone(),
            description: draft.description.clone(),
            tool_identifier: draft.tool_identifier.clone(),
            active: draft.active,
            configuration: draft.configuration.clone(),
            secrets: masked(&draft.secrets),
            owner: "o@x.io".into(),
            account: "demo".into(),
            access: draft.access.clone(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn secrets_stay_behind_when_the_address_moves() {
        let mut draft = ToolDraft::new(&object(json!({
            "name": "CI", "tool_identifier": "http",
            "configuration": { "baseUrl": "https://ci.example.com/api" },
            "secrets": { "apiToken": "t0k3n", "signing": "s1gn" },
        })))
        .unwrap();
        let current = stored(&draft);
        // Same origin, other path: secrets kept.
        let same = object(json!({ "configuration": { "baseUrl": "https://ci.example.com:443/v2" } }));
        assert!(draft.merge(&same, Some(&current)).unwrap().dropped_secrets.is_empty());
        // Another origin: dropped, unless the same request sends them again.
        let moved = object(json!({
            "configuration": { "baseUrl": "https://evil.example.net" },
            "secrets": { "apiToken": "n3w", "signing": SECRET_MASK },
        }));
        let merged = draft.merge(&moved, Some(&current)).unwrap();
        assert_eq!(merged.dropped_secrets, ["signing"]);
        assert_eq!(draft.secrets, BTreeMap::from([("apiToken".to_string(), "n3w".to_string())]));
    }

    #[test]
    fn update_merges_root_properties_and_keeps_masked_secrets() {
        let mut draft = ToolDraft::new(&object(json!({
            "name": "CI", "tool_identifier": "http",
            "configuration": {"baseUrl": "https://ci.example.com"},
            "secrets": {"apiToken": "s3cret", "old": "x"}
        })))
        .unwrap();
        let tool = stored(&draft);
        assert_eq!(tool.secrets.get("apiToken").map(String::as_str), Some(SECRET_MASK));
        let merged = draft
            .merge(
                &object(json!({
                    "_id": "77", "createdAt": "whenever", "owner": "o@x.io",
                    "description": "Deploys", "secrets": {"apiToken": SECRET_MASK, "old": null}
                })),
                Some(&tool),
            )
            .unwrap();
        assert_eq!(merged, Merged::default());
        assert_eq!((draft.name.as_str(), draft.description.as_str()), ("CI", "Deploys"));
        assert_eq!(draft.secrets, BTreeMap::from([("apiToken".to_string(), "s3cret".to_string())]));
    }

    #[test]
    fn merged_tool_is_validated_and_errors_name_the_property() {
        let mut draft = ToolDraft::new(&object(json!({
            "name": "CI", "tool_identifier": "http", "configuration": {"baseUrl": "http://ci:8080"}
        })))
        .unwrap();
        let tool = stored(&draft);
        let field_of = |draft: &mut ToolDraft, patch: Value| match draft.merge(&object(patch), Some(&tool)) {
            Err(CoreError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(field_of(&mut draft.clone(), json!({"configuration": {}})), "tool.configuration.baseUrl");
        assert_eq!(field_of(&mut draft.clone(), json!({"name": ""})), "tool.name");
        assert_eq!(field_of(&mut draft.clone(), json!({"colour": "red"})), "tool.colour");
        assert_eq!(field_of(&mut draft.clone(), json!({"owner": "me@x.io"})), "tool.owner");
        assert_eq!(
            field_of(&mut draft.clone(), json!({"secrets": {"apiToken": 5}})),
            "tool.secrets.apiToken"
        );
        assert_eq!(field_of(&mut draft, json!({"access": [{"level": "read"}]})), "tool.access[0]");
    }
}
