//! Tenant lifecycle jobs as the tenant API v2 contract shows them: what a job asks for
//! (`tenantAttributes`), the job itself, and the checks a request passes before anything
//! changes. Malformed requests are the caller's 400; requests that break the schema or this
//! application's module rules are 422 with one error per bad field.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;
#[cfg(feature = "server")]
mod watch;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The module this application is, as orchestrators name it: `mod-tenantpilot-<version>`.
pub const MODULE_NAME: &str = "mod-tenantpilot";

/// The version of the running build.
pub fn running_version() -> semver::Version {
    semver::Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or_else(|_| semver::Version::new(0, 0, 0))
}

/// This build's module id, e.g. `mod-tenantpilot-0.5.0`.
pub fn module_id() -> String {
    ModuleId { name: MODULE_NAME.into(), version: running_version() }.to_string()
}

/// `<name>-<semver>`, e.g. `mod-sample-1.3.1` or `mod-tenantpilot-2.0.0-rc.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleId {
    pub name: String,
    pub version: semver::Version,
}

impl ModuleId {
    /// The version starts after the first hyphen that is followed by a digit.
    pub fn parse(id: &str) -> Option<ModuleId> {
        let split = id
            .char_indices()
            .find(|(at, c)| *c == '-' && id[at + 1..].starts_with(|next: char| next.is_ascii_digit()))?;
        let (name, version) = (&id[..split.0], &id[split.0 + 1..]);
        let valid_name = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        let version = semver::Version::parse(version).ok()?;
        valid_name.then(|| ModuleId { name: name.into(), version })
    }

    /// This application's module at `version`.
    pub fn tenantpilot(version: semver::Version) -> ModuleId {
        ModuleId { name: MODULE_NAME.into(), version }
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: String,
}

/// What a job was asked to do, as it was asked (the contract echoes it back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<Parameter>>,
}

/// A job as `POST` and `GET /_/tenant/…` answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantJob {
    pub id: String,
    pub tenant: String,
    pub tenant_attributes: TenantAttributes,
    pub complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub messages: Vec<String>,
}

/// A job with the run it is, as the lifecycle page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub run: crate::operations::OperationRun,
    pub job: TenantJob,
}

/// A tenant's lifecycle as the platform's page shows it. After a purge the tenant is gone
/// but its jobs remain, so `tenant` may be `None` while `jobs` is not empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantLifecycle {
    pub slug: String,
    pub tenant: Option<crate::model::Tenant>,
    /// The slug of the tenant's workspace, while the tenant exists.
    pub workspace: Option<String>,
    /// This build's module id: what an install or upgrade brings the tenant to.
    pub module: String,
    pub jobs: Vec<JobRecord>,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl TenantLifecycle {
    /// The actions that make sense for the tenant as it is now.
    pub fn actions(&self) -> Vec<LifecycleAction> {
        let running = running_version();
        let installed = self.tenant.as_ref().and_then(crate::model::Tenant::installed_version);
        match &self.tenant {
            None => vec![LifecycleAction::Install],
            Some(tenant) if !tenant.enabled => vec![LifecycleAction::Install, LifecycleAction::Purge],
            Some(_) if installed.is_some_and(|installed| installed < running) => {
                vec![LifecycleAction::Upgrade, LifecycleAction::Disable, LifecycleAction::Purge]
            }
            Some(_) => vec![LifecycleAction::Disable, LifecycleAction::Purge],
        }
    }

    /// Whether one of the tenant's jobs is still working (a new request would get it back).
    pub fn busy(&self) -> bool {
        self.jobs.iter().any(|record| !record.job.complete)
    }
}

/// What a platform admin can ask of a tenant's lifecycle from its page; each becomes the
/// request an orchestrator would send to `/_/tenant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleAction {
    /// Enable at this build's version, creating the tenant if needed.
    Install,
    /// Run the data steps from the tenant's version to this build's.
    Upgrade,
    /// Make the tenant unusable, keeping its data.
    Disable,
    /// Disable and delete all of the tenant's data.
    Purge,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 4] = [
        LifecycleAction::Install,
        LifecycleAction::Upgrade,
        LifecycleAction::Disable,
        LifecycleAction::Purge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleAction::Install => "install",
            LifecycleAction::Upgrade => "upgrade",
            LifecycleAction::Disable => "disable",
            LifecycleAction::Purge => "purge",
        }
    }

    pub fn parse(value: &str) -> Option<LifecycleAction> {
        LifecycleAction::ALL.into_iter().find(|action| action.as_str() == value)
    }
}

/// One entry of a 422 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    pub parameters: Vec<Parameter>,
}

/// A 422 answer: `{"errors": […], "total_records": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationErrors {
    pub errors: Vec<ValidationError>,
    pub total_records: usize,
}

/// What an install sets up besides enabling the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// The workspace a tenant that does not exist yet is created in (else the default one).
    pub workspace: Option<String>,
    /// Load the reference data: role and capability catalog, operation type labels, reason-code texts.
    pub load_reference: bool,
    /// Connect the tenant to the sample provider (the provider simulator) and capture its
    /// sample policies into a backup set.
    pub load_sample: bool,
}

/// A checked request: exactly one of the three things a job can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobPlan {
    /// `module_to` only: enable the tenant at `to`, creating it when it does not exist.
    Install { to: semver::Version, options: InstallOptions },
    /// Both: run the tenant data steps after `from` up to `to`.
    Upgrade { from: semver::Version, to: semver::Version, options: InstallOptions },
    /// `module_from` only: the tenant stops being usable; with `purge`, its data is deleted.
    Disable { from: semver::Version, purge: bool },
}

/// Why a request was refused before anything changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400 `text/plain`: the request cannot even be read.
    Malformed(String),
    /// 422: it can be read but breaks the schema or the module rules.
    Invalid(ValidationErrors),
}

/// The parameters an install understands; anything else is refused rather than ignored, so a
/// misspelt key does not silently do nothing.
const PARAMETERS: [&str; 3] = ["workspace", "loadReference", "loadSample"];

/// Reads and checks a `POST /_/tenant` body against the schema and this build's module.
pub fn parse_request(body: &[u8]) -> Result<(TenantAttributes, JobPlan), Refusal> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        Refusal::Malformed(format!("The request body is not valid JSON ({error}). Send a JSON object."))
    })?;
    let mut errors = Errors::default();
    let Value::Object(fields) = value else {
        errors.add("body", &value, "must be a JSON object", "body.type");
        return Err(errors.refusal());
    };
    for (key, value) in &fields {
        if !matches!(key.as_str(), "module_from" | "module_to" | "purge" | "parameters") {
            errors.add(
                key,
                value,
                "is not a field of a tenant job: use module_from, module_to, purge and parameters",
                "field.unknown",
            );
        }
    }
    let module_from = module_field(&fields, "module_from", &mut errors);
    let module_to = module_field(&fields, "module_to", &mut errors);
    let purge = match fields.get("purge") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(purge)) => Some(*purge),
        Some(other) => {
            errors.add("purge", other, "must be true or false", "purge.type");
            None
        }
    };
    let parameters = parameters_field(&fields, &mut errors);
    let options = install_options(parameters.as_deref().unwrap_or_default(), &mut errors);

    let from = module_from.as_ref().and_then(|(_, id)| id.clone());
    let to = module_to.as_ref().and_then(|(_, id)| id.clone());
    if module_from.is_none() && module_to.is_none() {
        errors.add_missing("module_to", "module_from or module_to is required: module_to to install or upgrade, module_from alone to disable");
    }
    if let (Some(from), Some(to)) = (&from, &to) {
        if to.version < from.version {
            let value = Value::String(to.to_string());
            errors.add(
                "module_to",
                &value,
                &format!("is older than module_from {from}: downgrades are not supported"),
                "module.downgrade",
            );
        }
    }
    if purge == Some(true) && module_to.is_some() {
        errors.add(
            "purge",
            &Value::Bool(true),
            "applies only when disabling (module_from without module_to)",
            "purge.not_disable",
        );
    }
    if module_to.is_none() && parameters.as_ref().is_some_and(|parameters| !parameters.is_empty()) {
        errors.add(
            "parameters",
            &Value::Null,
            "apply only to an install or upgrade (with module_to)",
            "parameters.not_install",
        );
    }
    if !errors.is_empty() {
        return Err(errors.refusal());
    }
    let attributes = TenantAttributes {
        module_from: module_from.map(|(raw, _)| raw),
        module_to: module_to.map(|(raw, _)| raw),
        purge,
        parameters,
    };
    let plan = match (from, to) {
        (None, Some(to)) => JobPlan::Install { to: to.version, options },
        (Some(from), Some(to)) => JobPlan::Upgrade { from: from.version, to: to.version, options },
        (Some(from), None) => JobPlan::Disable { from: from.version, purge: purge.unwrap_or(false) },
        (None, None) => return Err(errors.refusal()),
    };
    Ok((attributes, plan))
}

/// A module id field: `None` when absent; `Some((raw, None))` when present but refused.
fn module_field(
    fields: &Map<String, Value>,
    name: &str,
    errors: &mut Errors,
) -> Option<(String, Option<ModuleId>)> {
    let value = fields.get(name)?;
    let Value::String(raw) = value else {
        if !value.is_null() {
            errors.add(name, value, "must be a module id string like mod-tenantpilot-1.0.0", "module.type");
            return Some((String::new(), None));
        }
        return None;
    };
    let Some(id) = ModuleId::parse(raw) else {
        errors.add(
            name,
            value,
            "is not a module id of the form <name>-<semver>, like mod-tenantpilot-1.0.0",
            "module.format",
        );
        return Some((raw.clone(), None));
    };
    if id.name != MODULE_NAME {
        let message = format!("names module {}, but this application is {MODULE_NAME}", id.name);
        errors.add(name, value, &message, "module.other");
        return Some((raw.clone(), None));
    }
    let running = running_version();
    if id.version > running {
        let message = format!("is newer than the running version {}", ModuleId::tenantpilot(running));
        errors.add(name, value, &message, "module.newer");
        return Some((raw.clone(), None));
    }
    Some((raw.clone(), Some(id)))
}

fn parameters_field(fields: &Map<String, Value>, errors: &mut Errors) -> Option<Vec<Parameter>> {
    let items = match fields.get("parameters")? {
        Value::Array(items) => items,
        Value::Null => return None,
        other => {
            errors.add(
                "parameters",
                other,
                "must be an array of {\"key\", \"value\"} objects",
                "parameters.type",
            );
            return None;
        }
    };
    let mut parameters = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("parameters[{index}]");
        let Value::Object(entry) = item else {
            errors.add(&field, item, "must be an object with key and value", "parameters.item.type");
            continue;
        };
        let mut good = true;
        for (name, value) in entry {
            if name != "key" && name != "value" {
                errors.add(
                    &format!("{field}.{name}"),
                    value,
                    "is not allowed: a parameter has only key and value",
                    "parameters.item.unknown",
                );
                good = false;
            }
        }
        let text = |name: &str, errors: &mut Errors| match entry.get(name) {
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                errors.add(&format!("{field}.{name}"), other, "must be a string", "parameters.item.string");
                None
            }
            None => {
                errors.add_missing(&format!("{field}.{name}"), "is required");
                None
            }
        };
        let (key, value) = (text("key", errors), text("value", errors));
        if let (Some(key), Some(value), true) = (key, value, good) {
            parameters.push(Parameter { key, value });
        }
    }
    Some(parameters)
}

fn install_options(parameters: &[Parameter], errors: &mut Errors) -> InstallOptions {
    let mut options = InstallOptions::default();
    for (index, Parameter { key, value }) in parameters.iter().enumerate() {
        let field = format!("parameters[{index}].value");
        let raw = Value::String(value.clone());
        if parameters[..index].iter().any(|earlier| earlier.key == *key) {
            errors.add(
                &format!("parameters[{index}].key"),
                &Value::String(key.clone()),
                "is given twice",
                "parameters.duplicate",
            );
            continue;
        }
        let flag = |errors: &mut Errors| match value.as_str() {
            "true" => true,
            "false" => false,
            _ => {
                errors.add(
                    &field,
                    &raw,
                    &format!("of {key} must be \"true\" or \"false\""),
                    "parameters.boolean",
                );
                false
            }
        };
        match key.as_str() {
            "loadReference" => options.load_reference = flag(errors),
            "loadSample" => options.load_sample = flag(errors),
            "workspace" => match crate::validate::slug("workspace", value) {
                Ok(slug) => options.workspace = Some(slug),
                Err(error) => {
                    errors.add(&field, &raw, &format!("of workspace: {error}"), "parameters.workspace")
                }
            },
            _ => errors.add(
                &format!("parameters[{index}].key"),
                &Value::String(key.clone()),
                &format!("is not a parameter of {MODULE_NAME}: use {}", PARAMETERS.join(", ")),
                "parameters.unknown",
            ),
        }
    }
    options
}

/// Collects every problem of a request, so one answer names them all.
#[derive(Default)]
struct Errors(Vec<ValidationError>);

impl Errors {
    fn add(&mut self, field: &str, value: &Value, problem: &str, code: &str) {
        let shown = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        self.0.push(ValidationError {
            message: format!("{field} {problem}"),
            kind: "validation".into(),
            code: code.into(),
            parameters: vec![Parameter { key: field.into(), value: shown }],
        });
    }

    fn add_missing(&mut self, field: &str, problem: &str) {
        self.add(field, &Value::Null, problem, "required");
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn refusal(self) -> Refusal {
        let total_records = self.0.len();
        Refusal::Invalid(ValidationErrors { errors: self.0, total_records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_ids_split_at_the_version() {
        let id = ModuleId::parse("mod-sample-1.3.1").unwrap();
        assert_eq!((id.name.as_str(), id.version.to_string().as_str()), ("mod-sample", "1.3.1"));
        let pre = ModuleId::parse("mod-tenantpilot-2.0.0-rc.1").unwrap();
        assert_eq!(pre.version.pre.as_str(), "rc.1");
        for bad in
            ["mod-tenantpilot", "mod-tenantpilot-1.0", "-1.0.0", "mod tenantpilot-1.0.0", "mod-x-01.0.0"]
        {
            assert_eq!(ModuleId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_page_offers_what_fits_the_tenant() {
        let tenant = |enabled: bool, version: Option<&str>| crate::model::Tenant {
            id: crate::TenantId(1),
            workspace_id: crate::WorkspaceId(1),
            slug: "contoso".into(),
            name: "Contoso".into(),
            external_tenant_id: String::new(),
            enabled,
            module_version: version.map(String::from),
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let offered = |tenant: Option<crate::model::Tenant>| {
            let page = TenantLifecycle {
                slug: "contoso".into(),
                tenant,
                workspace: None,
                module: module_id(),
                jobs: Vec::new(),
                now: chrono::DateTime::UNIX_EPOCH,
            };
            page.actions().into_iter().map(LifecycleAction::as_str).collect::<Vec<_>>()
        };
        let running = running_version().to_string();
        use LifecycleAction as A;
        let names = |actions: &[A]| actions.iter().map(|action| action.as_str()).collect::<Vec<_>>();
        assert_eq!(offered(Some(tenant(true, Some(&running)))), names(&[A::Disable, A::Purge]));
        assert_eq!(offered(Some(tenant(true, Some("0.3.0")))), names(&[A::Upgrade, A::Disable, A::Purge]));
        assert_eq!(offered(Some(tenant(false, Some(&running)))), names(&[A::Install, A::Purge]));
        assert_eq!(offered(None), names(&[A::Install]));
        for action in LifecycleAction::ALL {
            assert_eq!(LifecycleAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(LifecycleAction::parse("explode"), None);
    }

    #[test]
    fn requests_become_plans() {
        let to = module_id();
        let body =
            format!(r#"{{"module_to":"{to}","parameters":[{{"key":"loadReference","value":"true"}}]}}"#);
        let (attributes, plan) = parse_request(body.as_bytes()).unwrap();
        assert_eq!(attributes.module_to.as_deref(), Some(to.as_str()));
        assert!(matches!(
            plan,
            JobPlan::Install { options: InstallOptions { load_reference: true, .. }, .. }
        ));
        let body = format!(r#"{{"module_from":"{to}","purge":true}}"#);
        assert!(matches!(parse_request(body.as_bytes()).unwrap().1, JobPlan::Disable { purge: true, .. }));
    }

    #[test]
    fn every_bad_field_is_named() {
        let body = br#"{"module_to":"mod-other-1.0.0","purge":"yes","parameters":[{"key":"x","value":"1","extra":2}]}"#;
        let Err(Refusal::Invalid(errors)) = parse_request(body) else { panic!("expected 422") };
        let fields: Vec<&str> = errors.errors.iter().map(|error| error.parameters[0].key.as_str()).collect();
        assert_eq!(fields, ["module_to", "purge", "parameters[0].extra"]);
        assert_eq!(errors.total_records, errors.errors.len());
        assert!(matches!(parse_request(b"{not json"), Err(Refusal::Malformed(_))));
    }
}
