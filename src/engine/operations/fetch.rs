//! `assignments.fetch` (target: a backup item): the policy's current assignments, whole targets
//! with group and filter names, stored on the item. Fetching twice stores the same, so it is
//! retry-safe.

use super::names::Names;
use super::{provider_session, stop_for, target_id};
use crate::engine::{Operation, RunContext, Stop};
use crate::operations::{OperationKind, RunOutcome};
use crate::provider::ProviderClient;
use crate::CoreError;

pub(super) struct Fetch {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Fetch {
    fn kind(&self) -> OperationKind {
        OperationKind::Fetch
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let item_id: i64 = target_id(run, "backup_item")?;
        let tenant_id = run.run.tenant_id.unwrap_or_default();
        let item = run.store.backup_item(tenant_id, item_id).await?.ok_or(CoreError::NotFound)?;
        let family = item.family().ok_or_else(|| {
            Stop::failed(
                "assignments.fetch.type",
                "invalid_state",
                format!("TenantPilot does not know policies of type {}.", item.policy_type),
            )
        })?;
        let session = provider_session(run, &self.client).await?;
        let targets = match session.assignments(family, &item.policy_id).await {
            Ok(targets) => targets,
            Err(error) if error.is_not_found() => {
                return Err(Stop::failed(
                    "assignments.fetch.assignments",
                    "invalid_state",
                    format!(
                        "{} no longer exists in the tenant; restore it from this backup to create it again.",
                        item.policy_name
                    ),
                ))
            }
            Err(error) => return Err(stop_for(run, "assignments.fetch.assignments", &error)),
        };
        run.set_total(targets.len() as i64);
        let mut names = Names::new(&session);
        let assignments = names
            .assignments(targets)
            .await
            .map_err(|error| stop_for(run, "assignments.fetch.names", &error))?;
        for _ in &assignments {
            run.checkpoint().await?;
            run.item_succeeded();
        }
        run.store.set_item_assignments(item.id, &assignments).await?;
        if let Some(refused) = names.refused {
            run.log(format!("Some group or filter names could not be read: {}", refused.message)).await?;
        }
        Ok(RunOutcome::Succeeded)
    }
}
