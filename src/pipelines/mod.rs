//! Pipelines: ordered steps that run real work through the operation engine, as the pages, the
//! pipeline contract's routes and `tenantpilot pipeline import` see them. No database types.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

use crate::ids::{PipelineId, RunId, ToolId};
use crate::item_access::AccessRule;
use crate::CoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const STEPS_MAX: usize = 50;
pub const STEP_NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 2000;
pub const WAIT_MAX_SECS: u64 = 3600;
pub const HTTP_TIMEOUT_MAX_SECS: u64 = 300;
/// The contract's `type` that restricts logs to a run's console lines.
pub const CONSOLE_OUTPUT: &str = "console output";
/// Log entries about the run itself (started, stopped, finished).
pub const PIPELINE_OPERATIONS: &str = "pipeline operations";

/// What a step does. The first three start the operations of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Capture,
    Fetch,
    Restore,
    ToolHttp,
    Wait,
}

text_enum!(StepKind, "step kind" {
    Capture = "backup_set.capture",
    Fetch = "assignments.fetch",
    Restore = "assignments.restore",
    ToolHttp = "tool.http",
    Wait = "wait",
});

/// What happens to the run when a step fails: it ends (`stop`), or it ends and the pipeline
/// waits in `paused` until someone resets it (`pause`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Stop,
    Pause,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// A step's params, checked and typed.
#[derive(Debug, Clone, PartialEq)]
pub enum StepAction {
    Capture {
        tenant: String,
    },
    /// Fetches the assignments of every item of the backup set.
    Fetch {
        tenant: String,
        backup_set_id: i64,
    },
    Restore {
        tenant: String,
        restore_run_id: i64,
    },
    ToolHttp(HttpCall),
    Wait {
        seconds: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCall {
    #[serde(deserialize_with = "id_number")]
    pub tool_id: ToolId,
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    #[serde(default = "default_expected_status")]
    pub expected_status: u16,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

fn default_method() -> String {
    "GET".into()
}
fn default_expected_status() -> u16 {
    200
}
fn default_timeout() -> u64 {
    30
}

/// Ids travel as strings (`"12"`, as the contract's `_id`s do) or as numbers.
pub fn id_number<'de, D: serde::Deserializer<'de>, Id: From<i64>>(deserializer: D) -> Result<Id, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
    }
    let id = match Raw::deserialize(deserializer)? {
        Raw::Number(number) => Some(number),
        Raw::Text(text) => text.trim().parse().ok(),
    };
    id.filter(|id| *id > 0)
        .map(Id::from)
        .ok_or_else(|| serde::de::Error::custom("expected an id, like \"12\""))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TenantParams {
    tenant: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FetchParams {
    tenant: String,
    #[serde(deserialize_with = "id_number")]
    backup_set_id: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RestoreParams {
    tenant: String,
    #[serde(deserialize_with = "id_number")]
    restore_run_id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    seconds: u64,
}

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

impl Step {
    /// The typed action, or an error naming `field` (e.g. `steps[2].params`).
    pub fn action(&self, field: &str) -> Result<StepAction, CoreError> {
        let params = serde_json::Value::Object(self.params.clone());
        let bad =
            |error: serde_json::Error| CoreError::invalid(&format!("{field}.params"), error.to_string());
        let kind = self.kind.parse::<StepKind>().map_err(|_| {
            let known: Vec<&str> = StepKind::ALL.iter().map(|kind| kind.as_str()).collect();
            CoreError::invalid(
                &format!("{field}.kind"),
                format!("Unknown step kind `{}`: use one of {}", self.kind, known.join(", ")),
            )
        })?;
        let action = match kind {
            StepKind::Capture => StepAction::Capture {
                tenant: serde_json::from_value::<TenantParams>(params).map_err(bad)?.tenant,
            },
            StepKind::Fetch => {
                let p: FetchParams = serde_json::from_value(params).map_err(bad)?;
                StepAction::Fetch { tenant: p.tenant, backup_set_id: p.backup_set_id }
            }
            StepKind::Restore => {
                let p: RestoreParams = serde_json::from_value(params).map_err(bad)?;
                StepAction::Restore { tenant: p.tenant, restore_run_id: p.restore_run_id }
            }
            StepKind::ToolHttp => {
                let mut call: HttpCall = serde_json::from_value(params).map_err(bad)?;
                call.method = call.method.trim().to_ascii_uppercase();
                if !METHODS.contains(&call.method.as_str()) {
                    return Err(CoreError::invalid(
                        &format!("{field}.params.method"),
                        format!("Use one of {}", METHODS.join(", ")),
                    ));
                }
                if !call.path.starts_with('/') || call.path.starts_with("//") || call.path.len() > 2000 {
                    return Err(CoreError::invalid(
                        &format!("{field}.params.path"),
                        "A path on the tool, starting with a single /",
                    ));
                }
                if !(100..=599).contains(&call.expected_status) {
                    return Err(CoreError::invalid(
                        &format!("{field}.params.expectedStatus"),
                        "An HTTP status, 100–599",
                    ));
                }
                if !(1..=HTTP_TIMEOUT_MAX_SECS).contains(&call.timeout_secs) {
                    return Err(CoreError::invalid(
                        &format!("{field}.params.timeoutSecs"),
                        format!("1–{HTTP_TIMEOUT_MAX_SECS} seconds"),
                    ));
                }
                StepAction::ToolHttp(call)
            }
            StepKind::Wait => {
                let seconds = serde_json::from_value::<WaitParams>(params).map_err(bad)?.seconds;
                if seconds > WAIT_MAX_SECS {
                    return Err(CoreError::invalid(
                        &format!("{field}.params.seconds"),
                        format!("At most {WAIT_MAX_SECS} seconds"),
                    ));
                }
                StepAction::Wait { seconds }
            }
        };
        Ok(action)
    }
}

impl StepAction {
    /// The tenant a step works in, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            StepAction::Capture { tenant }
            | StepAction::Fetch { tenant, .. }
            | StepAction::Restore { tenant, .. } => Some(tenant),
            StepAction::ToolHttp(_) | StepAction::Wait { .. } => None,
        }
    }

    /// What the person a tenant step acts for needs in its tenant.
    pub fn capability(&self) -> Option<crate::Capability> {
        match self {
            StepAction::Restore { .. } => Some(crate::Capability::RestoreExecute),
            StepAction::Capture { .. } | StepAction::Fetch { .. } => Some(crate::Capability::BackupsManage),
            StepAction::ToolHttp(_) | StepAction::Wait { .. } => None,
        }
    }
}

/// Checks every step; the first error names its place, e.g. `steps[1].params.path`.
pub fn validate_steps(steps: &[Step]) -> Result<Vec<StepAction>, CoreError> {
    if steps.len() > STEPS_MAX {
        return Err(CoreError::invalid("steps", format!("A pipeline has at most {STEPS_MAX} steps")));
    }
    steps
        .iter()
        .enumerate()
        .map(|(n, step)| {
            let field = format!("steps[{n}]");
            let name = step.name.trim();
            if name.is_empty() || name.chars().count() > STEP_NAME_MAX || name.chars().any(char::is_control) {
                return Err(CoreError::invalid(
                    &format!("{field}.name"),
                    format!("Name each step, in 1–{STEP_NAME_MAX} characters"),
                ));
            }
            step.action(&field)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineState {
    #[default]
    Idle,
    Running,
    Paused,
    Stopped,
}

text_enum!(PipelineState, "pipeline state" {
    Idle = "idle",
    Running = "running",
    Paused = "paused",
    Stopped = "stopped",
});

/// A run of a pipeline: run `run_count` is operation run `operation_run_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRun {
    pub run_count: i64,
    pub operation_run_id: RunId,
    pub status: crate::operations::RunStatus,
    pub outcome: crate::operations::RunOutcome,
    pub total: i64,
    pub processed: i64,
    pub failed: i64,
}

/// A pipeline as the contract's `summary` and `pipelines` answer it (and `import` reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    #[serde(rename = "_id", with = "id_string")]
    pub id: PipelineId,
    pub name: String,
    pub description: String,
    /// The owner's e-mail.
    pub owner: String,
    /// The workspace's slug.
    pub account: String,
    pub access: Vec<AccessRule>,
    pub steps: Vec<Step>,
    pub state: PipelineState,
    pub run_count: i64,
    /// The run the pipeline shows until a reset clears it.
    pub current_run: Option<PipelineRun>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What creating or editing a pipeline takes. Read-only fields of a summary (`_id`, `state`,
/// `runCount`, …) may be present and are ignored, so a summary imports as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The workspace slug; may be left out when the creator belongs to one workspace.
    #[serde(default)]
    pub account: Option<String>,
    /// The owner's e-mail; the creator when left out.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub access: Vec<AccessRule>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// `_id`s are strings on the wire, numbers in the database.
pub mod id_string {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &impl std::fmt::Display, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>, Id: From<i64>>(deserializer: D) -> Result<Id, D::Error> {
        super::id_number(deserializer)
    }
}

/// One line of a pipeline's activity log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineLog {
    #[serde(rename = "_id", with = "id_string")]
    pub id: i64,
    #[serde(with = "id_string")]
    pub pipeline_id: PipelineId,
    pub run_count: i64,
    pub step_index: Option<i64>,
    pub step_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub message: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_steps_are_named_as_their_operations() {
        use crate::operations::OperationKind;
        for (step, operation) in [
            (super::StepKind::Capture, OperationKind::Capture),
            (super::StepKind::Fetch, OperationKind::Fetch),
            (super::StepKind::Restore, OperationKind::Restore),
        ] {
            assert_eq!(step.as_str(), operation.as_str());
        }
    }

    use super::*;
    use serde_json::json;

    fn step(kind: &str, params: serde_json::Value) -> Step {
        Step {
            name: "A step".into(),
            kind: kind.into(),
            params: params.as_object().cloned().unwrap_or_default(),
            on_failure: OnFailure::Stop,
        }
    }

    #[test]
    fn every_kind_reads_its_params() {
        let steps = vec![
            step("backup_set.capture", json!({"tenant": "contoso"})),
            step("assignments.fetch", json!({"tenant": "contoso", "backupSetId": "3"})),
            step("assignments.restore", json!({"tenant": "contoso", "restoreRunId": 4})),
            step("tool.http", json!({"toolId": "9", "method": "post", "path": "/hooks/deploy"})),
            step("wait", json!({"seconds": 2})),
        ];
        let actions = validate_steps(&steps).unwrap();
        assert_eq!(actions[1], StepAction::Fetch { tenant: "contoso".into(), backup_set_id: 3 });
        let StepAction::ToolHttp(call) = &actions[3] else { panic!("not a call: {:?}", actions[3]) };
        assert_eq!(
            (call.tool_id, call.method.as_str(), call.expected_status, call.timeout_secs),
            (ToolId(9), "POST", 200, 30)
        );
        assert_eq!(actions[4], StepAction::Wait { seconds: 2 });
    }

    #[test]
    fn errors_name_the_step_and_field() {
        let field_of = |steps: Vec<Step>| match validate_steps(&steps) {
            Err(CoreError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(
            field_of(vec![step("wait", json!({"seconds": 1})), step("deploy", json!({}))]),
            "steps[1].kind"
        );
        assert_eq!(field_of(vec![step("wait", json!({"secs": 1}))]), "steps[0].params");
        assert_eq!(field_of(vec![step("wait", json!({"seconds": 99999}))]), "steps[0].params.seconds");
        assert_eq!(
            field_of(vec![step("tool.http", json!({"toolId": 1, "path": "//evil.example/x"}))]),
            "steps[0].params.path"
        );
        assert_eq!(
            field_of(vec![step("assignments.fetch", json!({"tenant": "c", "backupSetId": "x"}))]),
            "steps[0].params"
        );
        let mut unnamed = step("wait", json!({"seconds": 1}));
        unnamed.name = "  ".into();
        assert_eq!(field_of(vec![unnamed]), "steps[0].name");
    }
}
