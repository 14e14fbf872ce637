//! `backup_set.capture`: every policy of the tenant, with settings and assignments, into a new
//! backup set. Running it again after a lost worker fills the same set, so it is retry-safe.

use super::{group_names, provider_failure, provider_session, CAPTURE};
use crate::backup::AssignedGroup;
use crate::engine::{outcome_of_items, Operation, RunContext, Stop};
use crate::operation::{Failure, RunOutcome};
use crate::provider::{ProviderClient, ProviderSession};
use crate::store::CapturedPolicy;

pub(super) struct Capture {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Capture {
    fn kind(&self) -> &'static str {
        CAPTURE
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let session = provider_session(run, &self.client).await?;
        let name = format!("Backup of {}", run.run.created_at.format("%Y-%m-%d %H:%M UTC"));
        capture_policies(run, &session, &name, Tally::EachPolicy).await?;
        let counters = run.counters();
        Ok(outcome_of_items(counters.total, counters.failed))
    }
}

/// How a capture shows in its run's counters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tally {
    /// One item per policy (a capture run).
    EachPolicy,
    /// Not at all: the caller counts the capture as one step of its own.
    Nothing,
}

/// What a capture stored.
pub(super) struct Captured {
    pub set_id: i64,
    pub stored: usize,
    /// Policies that could not be read (with `Tally::EachPolicy`, already in the run's failures).
    pub failures: Vec<Failure>,
}

/// Captures every policy `session` sees into the backup set of this run (named `name`).
pub(super) async fn capture_policies(
    run: &mut RunContext,
    session: &ProviderSession,
    name: &str,
    tally: Tally,
) -> Result<Captured, Stop> {
    let policies = session
        .policies()
        .await
        .map_err(|error| Stop::Failed(provider_failure("backup_set.capture.policies", &error)))?;
    let groups = group_names(session, "backup_set.capture.groups").await?;
    let tenant_id = run.run.tenant_id.unwrap_or_default();
    let set = run.store.backup_set_for_run(tenant_id, run.run.id, name).await?;
    if tally == Tally::EachPolicy {
        run.set_total(policies.len() as i64);
    }
    let mut captured = Captured { set_id: set.id, stored: 0, failures: Vec::new() };
    for policy in &policies {
        run.checkpoint().await?;
        match session.assignments(&policy.id).await {
            Ok(group_ids) => {
                let assignments: Vec<AssignedGroup> = group_ids
                    .into_iter()
                    .map(|id| AssignedGroup { group_name: groups.get(&id).cloned(), group_id: id })
                    .collect();
                let policy = CapturedPolicy {
                    policy_id: &policy.id,
                    policy_name: &policy.display_name,
                    policy_type: &policy.policy_type,
                    settings: &policy.settings,
                    assignments: &assignments,
                };
                run.store.put_backup_item(&set, &policy).await?;
                captured.stored += 1;
                if tally == Tally::EachPolicy {
                    run.item_succeeded();
                }
            }
            Err(error) => {
                let mut failure = provider_failure("backup_set.capture.item", &error);
                failure.message = format!("{}: {}", policy.display_name, failure.message);
                if tally == Tally::EachPolicy {
                    run.item_failed(failure.clone()).await?;
                }
                captured.failures.push(failure);
            }
        }
    }
    Ok(captured)
}
