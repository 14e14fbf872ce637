//! Operation runs as everyone sees them: every operation, whatever starts it, is one run that
//! goes `queued → running → completed` and ends with an outcome.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

use crate::ids::{PipelineId, RunId, TenantId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Every kind of operation this version runs. Its wire name is the run's `type` everywhere (JSON,
/// filters, the database); its label is what people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum OperationKind {
    Capture,
    Fetch,
    Restore,
    /// Runs a pipeline's steps; its tenant steps start runs of the kinds above and wait for them.
    Pipeline,
    TenantInstall,
    TenantUpgrade,
    TenantDisable,
}

text_enum!(OperationKind, "operation type" {
    Capture = "backup_set.capture",
    Fetch = "assignments.fetch",
    Restore = "assignments.restore",
    Pipeline = "pipeline.run",
    TenantInstall = "tenant.install",
    TenantUpgrade = "tenant.upgrade",
    TenantDisable = "tenant.disable",
});

impl OperationKind {
    pub fn label(self) -> &'static str {
        match self {
            OperationKind::Capture => "Capture backup",
            OperationKind::Fetch => "Fetch assignments",
            OperationKind::Restore => "Restore assignments",
            OperationKind::Pipeline => "Pipeline run",
            OperationKind::TenantInstall => "Install tenant",
            OperationKind::TenantUpgrade => "Upgrade tenant",
            OperationKind::TenantDisable => "Disable tenant",
        }
    }

    /// A tenant lifecycle job (the tenant API's install, upgrade and disable).
    pub fn is_tenant_job(self) -> bool {
        matches!(
            self,
            OperationKind::TenantInstall | OperationKind::TenantUpgrade | OperationKind::TenantDisable
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Pending,
    Succeeded,
    PartiallySucceeded,
    Failed,
    Cancelled,
}

/// What a run works on, e.g. `backup_item` 42.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTarget {
    pub kind: String,
    pub id: String,
}

impl RunTarget {
    /// The target kind of a pipeline's runs.
    pub const PIPELINE: &'static str = "pipeline";

    pub fn pipeline(id: PipelineId) -> RunTarget {
        RunTarget { kind: RunTarget::PIPELINE.into(), id: id.to_string() }
    }

    /// The pipeline this run runs, if it is a pipeline's run.
    pub fn pipeline_id(&self) -> Option<PipelineId> {
        pipeline_id(Some(&self.kind), Some(&self.id))
    }
}

/// The pipeline a run's stored target names, if any.
pub fn pipeline_id(kind: Option<&str>, id: Option<&str>) -> Option<PipelineId> {
    (kind == Some(RunTarget::PIPELINE)).then(|| id?.parse().ok())?
}

/// Who started a run; the name is a snapshot, so renaming later does not rewrite history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Initiator {
    User {
        id: UserId,
        name: String,
    },
    /// A personal access token of user `user_id` (0 in runs recorded before tokens named it).
    Token {
        id: i64,
        name: String,
        #[serde(default)]
        user_id: UserId,
    },
    /// A schedule, acting for its owner `owner_id` (whose rights it was checked against).
    Schedule {
        id: i64,
        name: String,
        owner_id: UserId,
    },
    System,
}

impl Initiator {
    /// A user, with their name as it is now.
    pub fn user(user: &crate::model::User) -> Initiator {
        Initiator::User { id: user.id, name: user.display_name.clone() }
    }

    /// The schedule that acts, if it is one.
    pub fn schedule_id(&self) -> Option<i64> {
        match self {
            Initiator::Schedule { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The person acting: the user, or the token's owner.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Initiator::User { id, .. } => Some(*id),
            Initiator::Token { user_id, .. } => Some(*user_id).filter(|id| id.0 > 0),
            Initiator::Schedule { owner_id, .. } => Some(*owner_id),
            Initiator::System => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub total: i64,
    pub processed: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub code: String,
    pub reason_code: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRun {
    pub id: RunId,
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    /// The operation's type, e.g. `assignments.fetch`.
    pub kind: OperationKind,
    pub status: RunStatus,
    pub outcome: RunOutcome,
    pub identity: String,
    pub target: Option<RunTarget>,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub counters: Counters,
    pub failures: Vec<Failure>,
    pub initiator: Initiator,
    pub attempt: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// The run this one retries, if it is a retry.
    #[serde(default)]
    pub retry_of: Option<RunId>,
}

/// What changed, and the run's summary after the change: enough for a subscriber to decide
/// whether it cares (tenant, pipeline, type, status) and to show the run as it now is (status,
/// outcome, counters, times) without reading it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunChange {
    pub run_id: RunId,
    pub workspace_id: WorkspaceId,
    pub tenant_id: Option<TenantId>,
    /// Set for a pipeline's run: who may see it depends on the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<PipelineId>,
    #[serde(rename = "type")]
    pub kind: OperationKind,
    pub status: RunStatus,
    pub outcome: RunOutcome,
    pub counters: Counters,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl RunChange {
    /// `run` (the same run, as a page loaded it) brought up to this change.
    pub fn apply_to(&self, run: &mut OperationRun) {
        run.status = self.status;
        run.outcome = self.outcome;
        run.counters = self.counters;
        run.started_at = self.started_at;
        run.completed_at = self.completed_at;
    }
}

/// A run as the Monitoring list of the assignment-operations contract shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub id: RunId,
    #[serde(rename = "type")]
    pub kind: OperationKind,
    pub status: RunStatus,
    pub outcome: RunOutcome,
    pub created_at: DateTime<Utc>,
}

/// A failure as the contract shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureItem {
    pub code: String,
    pub reason_code: String,
    pub message: String,
}

/// A run as the contract's Monitoring detail shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub context: serde_json::Map<String, serde_json::Value>,
    pub failures: Vec<FailureItem>,
}

impl From<&OperationRun> for RunSummary {
    fn from(run: &OperationRun) -> Self {
        RunSummary {
            id: run.id,
            kind: run.kind,
            status: run.status,
            outcome: run.outcome,
            created_at: run.created_at,
        }
    }
}

impl From<&OperationRun> for RunDetail {
    fn from(run: &OperationRun) -> Self {
        RunDetail {
            summary: run.into(),
            started_at: run.started_at,
            completed_at: run.completed_at,
            context: run.context.clone(),
            failures: run
                .failures
                .iter()
                .map(|failure| FailureItem {
                    code: failure.code.clone(),
                    reason_code: failure.reason_code.clone(),
                    message: failure.message.clone(),
                })
                .collect(),
        }
    }
}

/// How far back Monitoring's chart of runs over time looks: a bar per hour for the last 24
/// hours, or a bar per day (the viewer's days) for the last 30.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChartSpan {
    #[default]
    Day,
    Month,
}

text_enum!(ChartSpan, "chart span" { Day = "24h", Month = "30d" });

/// One bar of the chart: the runs created in its hour or day, by outcome (every outcome, in
/// `RunOutcome::ALL` order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartBar {
    pub start: DateTime<Utc>,
    pub counts: Vec<(RunOutcome, i64)>,
}

/// Runs over time, stacked by outcome, oldest bar first; `totals` sums every bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunsOverTime {
    pub span: ChartSpan,
    pub bars: Vec<ChartBar>,
    pub totals: Vec<(RunOutcome, i64)>,
}

/// The filters of a Monitoring list as they arrive in a query string: all text, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListParams {
    pub tenant: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
    /// Only the runs this schedule (an id) started.
    pub schedule: Option<String>,
}

impl ListParams {
    /// The filters as a query string (without `?`), e.g. for a link to the next page.
    pub fn to_query(&self) -> String {
        let fields = [
            ("tenant", &self.tenant),
            ("type", &self.kind),
            ("status", &self.status),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
            ("cursor", &self.cursor),
            ("limit", &self.limit),
            ("schedule", &self.schedule),
        ];
        fields
            .iter()
            .filter_map(|(name, value)| {
                value.as_deref().filter(|value| !value.is_empty()).map(|value| (name, value))
            })
            .map(|(name, value)| format!("{name}={}", crate::encoding::percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Whether the run as `change` tells it matches these filters; `tenant_id` finds the id of
    /// the filter's tenant (by slug). A filter the change cannot tell (a schedule) may match.
    pub fn matches(&self, change: &RunChange, tenant_id: impl Fn(&str) -> Option<TenantId>) -> bool {
        let given = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
        let time = |value: &Option<String>| {
            given(value).map(|text| DateTime::parse_from_rfc3339(&text).map(|at| at.with_timezone(&Utc)).ok())
        };
        given(&self.tenant).is_none_or(|slug| tenant_id(&slug).is_some_and(|id| change.tenant_id == Some(id)))
            && given(&self.kind).is_none_or(|kind| kind == change.kind.as_str())
            && given(&self.status).is_none_or(|status| status == change.status.as_str())
            && given(&self.outcome).is_none_or(|outcome| outcome == change.outcome.as_str())
            && time(&self.since).is_none_or(|since| since.is_some_and(|since| change.created_at >= since))
            && time(&self.until).is_none_or(|until| until.is_some_and(|until| change.created_at <= until))
    }
}

/// What a bulk action on Monitoring's current filter does to each run it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Cancels the active runs.
    Cancel,
    /// Retries the runs that failed, partially succeeded or were cancelled.
    Retry,
}

text_enum!(BulkAction, "bulk action" {
    Cancel = "cancel",
    Retry = "retry",
});

/// The most runs one bulk action takes on; a filter matching more is refused.
pub const BULK_MAX: i64 = 1000;

/// What a bulk action did: the runs it matched, those it acted on, and those it skipped (the
/// viewer may see them but not act on them, or they changed meanwhile).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    pub matched: i64,
    pub acted: i64,
    pub skipped: i64,
}

/// A running run whose worker has not been heard from for this long is shown as likely stale
/// (the reconciler settles it once the engine's own threshold passes).
pub const LIKELY_STALE_AFTER_SECS: i64 = 30;

text_enum!(RunStatus, "status" { Queued = "queued", Running = "running", Completed = "completed" });
text_enum!(RunOutcome, "outcome" {
    Pending = "pending",
    Succeeded = "succeeded",
    PartiallySucceeded = "partially_succeeded",
    Failed = "failed",
    Cancelled = "cancelled",
});

impl RunOutcome {
    pub fn label(self) -> &'static str {
        match self {
            RunOutcome::Pending => "Pending",
            RunOutcome::Succeeded => "Succeeded",
            RunOutcome::PartiallySucceeded => "Partially succeeded",
            RunOutcome::Failed => "Failed",
            RunOutcome::Cancelled => "Cancelled",
        }
    }
}

impl Initiator {
    /// Who started it, for people.
    pub fn label(&self) -> String {
        match self {
            Initiator::User { name, .. } | Initiator::Token { name, .. } => name.clone(),
            Initiator::Schedule { name, .. } => format!("schedule: {name}"),
            Initiator::System => "System".into(),
        }
    }
}

impl Counters {
    /// Share of the items done, 0–100; `None` while the total is unknown.
    pub fn percent(&self) -> Option<i64> {
        (self.total > 0).then(|| (self.processed.clamp(0, self.total) * 100) / self.total)
    }
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Completed => "Completed",
        }
    }

    /// Queued and running runs are active: a start with the same identity reuses them.
    pub fn is_active(self) -> bool {
        self != RunStatus::Completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_make_a_query_string() {
        let params = ListParams {
            tenant: Some("contoso".into()),
            since: Some("2026-11-22T08:00:00+01:00".into()),
            status: Some(String::new()),
            cursor: Some("42".into()),
            ..ListParams::default()
        };
        assert_eq!(params.to_query(), "tenant=contoso&since=2026-11-22T08%3A00%3A00%2B01%3A00&cursor=42");
    }

    #[test]
    fn names_match_serde_and_parse_back() {
        for status in &RunStatus::ALL {
            assert_eq!(serde_json::to_string(status).unwrap(), format!("\"{status}\""));
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(*status));
        }
        for outcome in &RunOutcome::ALL {
            assert_eq!(serde_json::to_string(outcome).unwrap(), format!("\"{outcome}\""));
            assert_eq!(outcome.as_str().parse::<RunOutcome>(), Ok(*outcome));
        }
        assert!("done".parse::<RunStatus>().unwrap_err().contains("queued, running, completed"));
    }

    #[test]
    fn a_pushed_change_is_matched_against_the_filters_it_can_tell() {
        let created = DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().with_timezone(&Utc);
        let change = RunChange {
            run_id: RunId(7),
            workspace_id: WorkspaceId(1),
            tenant_id: Some(TenantId(3)),
            pipeline_id: None,
            kind: OperationKind::Capture,
            status: RunStatus::Completed,
            outcome: RunOutcome::Failed,
            counters: Counters::default(),
            created_at: created,
            started_at: Some(created),
            completed_at: Some(created),
        };
        let tenant_id = |slug: &str| (slug == "contoso").then_some(TenantId(3));
        let matches = |params: ListParams| params.matches(&change, tenant_id);
        assert!(matches(ListParams::default()));
        assert!(matches(ListParams { tenant: Some("contoso".into()), ..ListParams::default() }));
        assert!(!matches(ListParams { tenant: Some("fabrikam".into()), ..ListParams::default() }));
        assert!(matches(ListParams { kind: Some("backup_set.capture".into()), ..ListParams::default() }));
        assert!(!matches(ListParams { kind: Some("assignments.fetch".into()), ..ListParams::default() }));
        assert!(!matches(ListParams { status: Some("running".into()), ..ListParams::default() }));
        assert!(matches(ListParams { outcome: Some("failed".into()), ..ListParams::default() }));
        assert!(matches(ListParams {
            since: Some("2026-11-22T09:00:00+01:00".into()),
            ..ListParams::default()
        }));
        assert!(!matches(ListParams { since: Some("2026-11-22T08:30:00Z".into()), ..ListParams::default() }));
        assert!(!matches(ListParams { until: Some("2026-11-22T07:00:00Z".into()), ..ListParams::default() }));
        // What the change cannot tell (its schedule) may match; empty fields filter nothing.
        assert!(matches(ListParams {
            schedule: Some("4".into()),
            status: Some(String::new()),
            ..ListParams::default()
        }));

        let mut run = OperationRun {
            id: RunId(7),
            workspace_id: WorkspaceId(1),
            tenant_id: Some(TenantId(3)),
            kind: OperationKind::Capture,
            status: RunStatus::Running,
            outcome: RunOutcome::Pending,
            identity: String::new(),
            target: None,
            context: Default::default(),
            counters: Counters { total: 5, processed: 2, failed: 0 },
            failures: Vec::new(),
            initiator: Initiator::System,
            attempt: 1,
            created_at: created,
            started_at: Some(created),
            completed_at: None,
            heartbeat_at: None,
            cancel_requested: false,
            retry_of: None,
        };
        change.apply_to(&mut run);
        assert_eq!(
            (run.status, run.outcome, run.counters, run.completed_at),
            (RunStatus::Completed, RunOutcome::Failed, Counters::default(), Some(created))
        );
    }
}
