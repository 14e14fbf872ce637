//! `backup_set.capture`: every policy of the tenant's four policy families, with its body as
//! Graph returned it, its settings, its scope tags and its assignments' whole targets, into a
//! new backup set. A family the app may not read is one failure; the rest goes on. Running it
//! again after a lost worker fills the same set, so it is retry-safe.

use super::names::Names;
use super::{provider_failure, provider_session};
use crate::backups::{Assignment, ScopeTag};
use crate::engine::{outcome_of_items, Operation, RunContext, Stop};
use crate::operations::{Failure, OperationKind, RunOutcome};
use crate::provider::graph::Policy;
use crate::provider::{PolicyFamily, ProviderClient, ProviderError, ProviderSession};
use crate::store::CapturedPolicy;
use futures_util::StreamExt;
use std::collections::HashMap;

pub(super) struct Capture {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Capture {
    fn kind(&self) -> OperationKind {
        OperationKind::Capture
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
    /// One item per policy, and one per family that could not be listed (a capture run).
    EachPolicy,
    /// Not at all: the caller counts the capture as one step of its own.
    Nothing,
}

/// What a capture stored.
pub(super) struct Captured {
    pub set_id: i64,
    pub stored: usize,
    /// Families and policies that could not be read (with `Tally::EachPolicy`, already in the
    /// run's failures).
    pub failures: Vec<Failure>,
}

async fn failed(
    run: &RunContext,
    tally: Tally,
    captured: &mut Captured,
    failure: Failure,
) -> Result<(), Stop> {
    if tally == Tally::EachPolicy {
        run.item_failed(failure.clone()).await?;
    }
    captured.failures.push(failure);
    Ok(())
}

/// The tenant's scope tags, id → name; unknown (with a line in the run's log) when the app may
/// not read them: the backup then keeps the ids alone.
async fn scope_tag_names(
    run: &RunContext,
    session: &ProviderSession,
) -> Result<HashMap<String, String>, Stop> {
    match session.scope_tags().await {
        Ok(tags) => Ok(tags.into_iter().map(|tag| (tag.id, tag.display_name)).collect()),
        Err(error) if error.interrupted => Err(run.interruption()),
        Err(error) => {
            run.log(format!(
                "Scope tag names could not be read, so the backup keeps their ids only: {}",
                error.message
            ))
            .await?;
            Ok(HashMap::new())
        }
    }
}

/// One policy read whole.
struct ReadPolicy {
    body: serde_json::Value,
    settings: serde_json::Value,
    scope_tags: Vec<ScopeTag>,
    assignments: Vec<Assignment>,
}

/// One policy as Graph gives it: its body (compliance policies with their scheduled actions),
/// the settings kept outside it, and its assignments' targets. `None`: deleted meanwhile.
async fn fetch_policy(
    session: &ProviderSession,
    policy: Policy,
) -> (Policy, Result<Option<Fetched>, ProviderError>) {
    let fetched = fetch_parts(session, &policy).await;
    (policy, fetched)
}

/// A policy's body, settings and assignments' targets, as Graph gives them.
type Fetched = (serde_json::Value, serde_json::Value, Vec<serde_json::Value>);

async fn fetch_parts(session: &ProviderSession, policy: &Policy) -> Result<Option<Fetched>, ProviderError> {
    let body = match policy.family {
        PolicyFamily::Compliance => match session.policy(policy.family, &policy.id).await? {
            Some(body) => body,
            None => return Ok(None),
        },
        _ => policy.body.clone(),
    };
    let settings = session.policy_settings(policy.family, &policy.id).await?;
    let targets = session.assignments(policy.family, &policy.id).await?;
    Ok(Some((body, settings, targets)))
}

/// A fetched policy made whole: its assignments' groups and filters named (from `names`'
/// cache where it can), its scope tags named.
async fn read_policy(
    names: &mut Names<'_>,
    tags: &HashMap<String, String>,
    (body, settings, targets): Fetched,
) -> Result<ReadPolicy, ProviderError> {
    let assignments = names.assignments(targets).await?;
    let scope_tags = body["roleScopeTagIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str())
        .map(|id| ScopeTag { id: id.to_string(), name: tags.get(id).cloned() })
        .collect();
    Ok(ReadPolicy { body, settings, scope_tags, assignments })
}

/// Captures every policy `session` sees into the backup set of this run (named `name`).
pub(super) async fn capture_policies(
    run: &mut RunContext,
    session: &ProviderSession,
    name: &str,
    tally: Tally,
) -> Result<Captured, Stop> {
    let tenant_id = run.run.tenant_id.unwrap_or_default();
    let set = run.store.backup_set_for_run(tenant_id, run.run.id, name).await?;
    let mut captured = Captured { set_id: set.id, stored: 0, failures: Vec::new() };
    let mut policies = Vec::new();
    let mut unreadable_families = 0;
    for family in PolicyFamily::ALL {
        run.checkpoint().await?;
        match session.policies(family).await {
            Ok(found) => policies.extend(found),
            Err(error) if error.interrupted => return Err(run.interruption()),
            Err(error) => {
                unreadable_families += 1;
                let mut failure =
                    provider_failure(&format!("backup_set.capture.{}", family.policy_type()), &error);
                failure.message = format!("{}: {}", family.label(), failure.message);
                if tally == Tally::EachPolicy {
                    run.set_total(policies.len() as i64 + unreadable_families);
                }
                failed(run, tally, &mut captured, failure).await?;
            }
        }
    }
    if tally == Tally::EachPolicy {
        run.set_total(policies.len() as i64 + unreadable_families);
    }
    let tags = scope_tag_names(run, session).await?;
    let mut names = Names::new(session);
    // Several policies' reads at once (each a few Graph requests), in order, so the items
    // are stored as they arrive; the tenant's request budget still paces them all.
    let at_once = session.requests_at_once();
    let mut fetched =
        futures_util::stream::iter(policies).map(|policy| fetch_policy(session, policy)).buffered(at_once);
    while let Some((policy, read)) = fetched.next().await {
        run.checkpoint().await?;
        let read = match read {
            Ok(Some(parts)) => read_policy(&mut names, &tags, parts).await.map(Some),
            other => other.map(|_| None),
        };
        match read {
            Ok(Some(ReadPolicy { body, settings, scope_tags, assignments })) => {
                let stored = CapturedPolicy {
                    policy_id: &policy.id,
                    policy_name: &policy.name,
                    policy_type: policy.family.policy_type(),
                    body: &body,
                    settings: &settings,
                    scope_tags: &scope_tags,
                    assignments: &assignments,
                };
                run.store.put_backup_item(&set, &stored).await?;
                captured.stored += 1;
                if tally == Tally::EachPolicy {
                    run.item_succeeded();
                }
            }
            // Deleted between the list and the read: nothing to back up.
            Ok(None) => {
                if tally == Tally::EachPolicy {
                    run.item_succeeded();
                }
            }
            Err(error) if error.interrupted => return Err(run.interruption()),
            Err(error) => {
                let mut failure = provider_failure("backup_set.capture.item", &error);
                failure.message = format!("{} ({}): {}", policy.name, policy.family.label(), failure.message);
                failed(run, tally, &mut captured, failure).await?;
            }
        }
    }
    if let Some(refused) = names.refused.take() {
        run.log(format!(
            "Some group or filter names could not be read, so only their ids are kept: {}",
            refused.message
        ))
        .await?;
    }
    Ok(captured)
}
