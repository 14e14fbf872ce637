//! Schedules: a cron expression read in an IANA time zone that starts a capture of one tenant,
//! a capture of every enabled tenant of a workspace, or a pipeline run, by itself. Each fire
//! time (slot) runs at most once, however many processes watch the schedules.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

pub use crate::ids::ScheduleId;
use crate::ids::{PipelineId, TenantId, UserId, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a schedule starts when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleTarget {
    /// A capture of one tenant.
    TenantCapture { tenant: TenantId },
    /// A capture of every enabled tenant of a workspace: one run per tenant, each through the
    /// same create-or-reuse as a click, spread over the jitter window.
    WorkspaceCapture { workspace: WorkspaceId },
    /// A run of one pipeline.
    Pipeline { pipeline: PipelineId },
}

/// What happens to a slot that passed while no process watched the schedules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// The most recent missed slot runs once, late.
    #[default]
    CatchUp,
    /// The most recent missed slot is recorded as skipped.
    Skip,
}

text_enum!(Missed, "missed-slot rule" {
    CatchUp = "catch_up",
    Skip = "skip",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: ScheduleId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// Five fields: minute, hour, day of month, month, day of week.
    pub cron: String,
    /// An IANA time zone, e.g. `Europe/Berlin`: the cron expression's wall clock.
    pub time_zone: String,
    pub target: ScheduleTarget,
    /// Spreads a workspace fan-out's runs over this many minutes after the slot, the same
    /// offset for a tenant every time; 0 starts them all at the slot.
    pub jitter_minutes: i64,
    pub missed: Missed,
    pub paused: bool,
    /// Whose rights a firing uses; checked each time it fires.
    pub owner_id: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What became of one slot (or, for a fan-out, of one tenant's part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotOutcome {
    Started,
    Skipped,
}

text_enum!(SlotOutcome, "slot outcome" {
    Started = "started",
    Skipped = "skipped",
});

/// Something a person may schedule, as a form offers it: `value` is what
/// `ScheduleInput::target` reads (`tenant:SLUG`, `workspace:SLUG`, `pipeline:ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetChoice {
    pub value: String,
    pub label: String,
}

impl TargetChoice {
    pub fn tenant(slug: &str, name: &str) -> TargetChoice {
        TargetChoice { value: format!("tenant:{slug}"), label: format!("Capture of {name}") }
    }

    pub fn workspace(slug: &str, name: &str) -> TargetChoice {
        TargetChoice {
            value: format!("workspace:{slug}"),
            label: format!("Capture of every tenant of {name}"),
        }
    }

    pub fn pipeline(id: PipelineId, name: &str) -> TargetChoice {
        TargetChoice { value: format!("pipeline:{id}"), label: format!("Run of pipeline {name}") }
    }
}
