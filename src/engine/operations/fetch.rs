//! `assignments.fetch` (target: a backup item): the policy's current assignments, with group
//! names resolved, stored on the item. Fetching twice stores the same, so it is retry-safe.

use super::{group_names, provider_failure, provider_session, target_id, FETCH};
use crate::backup::AssignedGroup;
use crate::engine::{Operation, RunContext, Stop};
use crate::operation::RunOutcome;
use crate::provider::ProviderClient;
use crate::CoreError;

pub(super) struct Fetch {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Fetch {
    fn kind(&self) -> &'static str {
        FETCH
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let item_id = target_id(run, "backup_item")?;
        let tenant_id = run.run.tenant_id.unwrap_or_default();
        let item = run.store.backup_item(tenant_id, item_id).await?.ok_or(CoreError::NotFound)?;
        let session = provider_session(run, &self.client).await?;
        let group_ids = session
            .assignments(&item.policy_id)
            .await
            .map_err(|error| Stop::Failed(provider_failure("assignments.fetch.assignments", &error)))?;
        let groups = group_names(&session, "assignments.fetch.groups").await?;
        run.set_total(group_ids.len() as i64);
        let mut assignments = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            run.checkpoint().await?;
            assignments.push(AssignedGroup { group_name: groups.get(&group_id).cloned(), group_id });
            run.item_succeeded();
        }
        run.store.set_item_assignments(item.id, &assignments).await?;
        Ok(RunOutcome::Succeeded)
    }
}
