//! Restoring assignments: a restore run is planned (previewed) from a backup set, then executed
//! as `assignments.restore`, which assigns each selected policy to its mapped groups. `assign`
//! replaces a policy's assignments, so executing twice leaves the same state: retry-safe.

use super::{group_names, provider_failure, provider_session, target_id, RESTORE};
use crate::audit::{action, kind, NewAuditEntry};
use crate::backup::{self, BackupItem, RestoreRequest, RestoreRun};
use crate::engine::{outcome_of_items, Operation, RunContext, Stop};
use crate::model::TenantMembership;
use crate::operation::{Initiator, RunOutcome};
use crate::provider::{self, ProviderClient};
use crate::store::{NewRestoreRun, Store};
use crate::CoreError;
use std::collections::BTreeMap;

/// Plans a restore of `request` in the member's tenant: checks the set, items and mapping, reads
/// the tenant's groups from its provider, and stores the run with its preview for confirmation.
pub async fn create_restore_run(
    store: &Store,
    client: &ProviderClient,
    member: &TenantMembership,
    actor: &Initiator,
    request: &RestoreRequest,
) -> Result<RestoreRun, CoreError> {
    request.check()?;
    let tenant_id = member.tenant.id;
    let no_set = || {
        CoreError::invalid("backupSetId", format!("This tenant has no backup set {}", request.backup_set_id))
    };
    let set = store.backup_set(tenant_id, request.backup_set_id).await?.ok_or_else(no_set)?;
    let in_set = store.backup_items(tenant_id, Some(set.id)).await?;
    let items: Vec<BackupItem> = match &request.item_ids {
        None => in_set,
        Some(ids) => {
            if let Some(missing) = ids.iter().find(|id| !in_set.iter().any(|item| item.id == **id)) {
                return Err(CoreError::invalid(
                    "itemIds",
                    format!("Backup set {} has no item {missing}", set.id),
                ));
            }
            in_set.into_iter().filter(|item| ids.contains(&item.id)).collect()
        }
    };
    if items.is_empty() {
        return Err(CoreError::invalid("backupSetId", "This backup set has no policies to restore"));
    }
    let groups: BTreeMap<String, String> = provider::current_groups(store, client, tenant_id)
        .await?
        .into_iter()
        .map(|group| (group.id, group.display_name))
        .collect();
    if let Some((source, target)) =
        request.group_mapping.iter().find(|(_, target)| !groups.contains_key(*target))
    {
        return Err(CoreError::invalid(
            "groupMapping",
            format!("Group {source} is mapped to {target}, which does not exist in this tenant"),
        ));
    }
    let preview = backup::plan(&items, &request.group_mapping, &groups);
    let item_ids: Vec<i64> = items.iter().map(|item| item.id).collect();
    let run = store
        .create_restore_run(&NewRestoreRun {
            tenant_id,
            backup_set_id: set.id,
            item_ids: &item_ids,
            group_mapping: &request.group_mapping,
            preview: &preview,
            created_by: actor.user_id(),
        })
        .await?;
    let mut details = serde_json::Map::new();
    details.insert("backupSetId".into(), set.id.into());
    details.insert("itemCount".into(), item_ids.len().into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(member.tenant.workspace_id),
            tenant_id: Some(tenant_id),
            actor: actor.clone(),
            kind: kind::RESTORE_RUN,
            action: action::CREATE,
            target_id: run.id.to_string(),
            details,
        })
        .await?;
    Ok(run)
}

pub(super) struct Restore {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Restore {
    fn kind(&self) -> &'static str {
        RESTORE
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let restore_id = target_id(run, "restore_run")?;
        let tenant_id = run.run.tenant_id.unwrap_or_default();
        let restore = run.store.restore_run(tenant_id, restore_id).await?.ok_or(CoreError::NotFound)?;
        let items: Vec<BackupItem> = run
            .store
            .backup_items(tenant_id, Some(restore.backup_set_id))
            .await?
            .into_iter()
            .filter(|item| restore.item_ids.contains(&item.id))
            .collect();
        let session = provider_session(run, &self.client).await?;
        // Planned again against the groups as they are now: the preview may be old.
        let groups = group_names(&session, "assignments.restore.groups").await?;
        run.set_total(items.len() as i64);
        let mut skipped_groups = 0;
        for item in &items {
            run.checkpoint().await?;
            let plan = backup::plan_item(item, &restore.group_mapping, &groups);
            skipped_groups += plan.unmapped.len();
            let targets: Vec<String> = plan.assign.iter().map(|group| group.group_id.clone()).collect();
            match session.assign(&item.policy_id, &targets).await {
                Ok(()) => run.item_succeeded(),
                Err(error) => {
                    let mut failure = provider_failure("assignments.restore.item", &error);
                    failure.message = format!("{}: {}", item.policy_name, failure.message);
                    run.item_failed(failure).await?;
                }
            }
        }
        let counters = run.counters();
        let outcome = outcome_of_items(counters.total, counters.failed);
        let mut details = serde_json::Map::new();
        details.insert("restoreRunId".into(), restore.id.into());
        details.insert("operationRunId".into(), run.run.id.into());
        details.insert("outcome".into(), outcome.as_str().into());
        details.insert("restored".into(), (counters.processed - counters.failed).into());
        details.insert("failed".into(), counters.failed.into());
        details.insert("skippedGroups".into(), skipped_groups.into());
        run.store
            .record_audit(&NewAuditEntry {
                workspace_id: Some(run.run.workspace_id),
                tenant_id: Some(tenant_id),
                actor: run.run.initiator.clone(),
                kind: kind::RESTORE_RUN,
                action: action::EXECUTE,
                target_id: restore.id.to_string(),
                details,
            })
            .await?;
        Ok(outcome)
    }
}
