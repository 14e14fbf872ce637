//! `backup_set.capture`: every policy of the tenant, with settings and assignments, into a new
//! backup set. Running it again after a lost worker fills the same set, so it is retry-safe.

use super::{group_names, provider_failure, provider_session, CAPTURE};
use crate::backup::AssignedGroup;
use crate::engine::{outcome_of_items, Operation, RunContext, Stop};
use crate::operation::RunOutcome;
use crate::provider::ProviderClient;
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
        let policies = session
            .policies()
            .await
            .map_err(|error| Stop::Failed(provider_failure("backup_set.capture.policies", &error)))?;
        let groups = group_names(&session, "backup_set.capture.groups").await?;
        let tenant_id = run.run.tenant_id.unwrap_or_default();
        let name = format!("Backup of {}", run.run.created_at.format("%Y-%m-%d %H:%M UTC"));
        let set = run.store.backup_set_for_run(tenant_id, run.run.id, &name).await?;
        run.set_total(policies.len() as i64);
        for policy in &policies {
            run.checkpoint().await?;
            match session.assignments(&policy.id).await {
                Ok(group_ids) => {
                    let assignments: Vec<AssignedGroup> = group_ids
                        .into_iter()
                        .map(|id| AssignedGroup { group_name: groups.get(&id).cloned(), group_id: id })
                        .collect();
                    let captured = CapturedPolicy {
                        policy_id: &policy.id,
                        policy_name: &policy.display_name,
                        policy_type: &policy.policy_type,
                        settings: &policy.settings,
                        assignments: &assignments,
                    };
                    run.store.put_backup_item(&set, &captured).await?;
                    run.item_succeeded();
                }
                Err(error) => {
                    let mut failure = provider_failure("backup_set.capture.item", &error);
                    failure.message = format!("{}: {}", policy.display_name, failure.message);
                    run.item_failed(failure).await?;
                }
            }
        }
        let counters = run.counters();
        Ok(outcome_of_items(counters.total, counters.failed))
    }
}
