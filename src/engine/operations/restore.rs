//! Restoring from a backup: a restore run is planned (previewed) from a backup set of the
//! destination or of another tenant, then executed as `assignments.restore`. The preview reads
//! each policy's live assignments, because `assign` replaces all of them, and shows what it has
//! now next to what it will have. Groups, filters and scope tags are matched in the destination
//! (mapped by the admin, else by id in the same tenant, else by name), and a policy deleted
//! since the backup is created again from its stored body. Executing twice leaves the same
//! state: assignments are replaced, and a policy created once is remembered, not created again.

use super::names::Names;
use super::{provider_failure, provider_session, target_id};
use crate::access;
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::backups::{
    self, BackupItem, MappingRow, Mappings, Referenced, Resolution, Resolved, RestoreAction, RestoreRequest,
    RestoreRun, TargetView,
};
use crate::engine::{outcome_of_items, Operation, RunContext, Stop};
use crate::model::Caller;
use crate::model::{Tenant, TenantMembership, User};
use crate::operations::{Failure, Initiator, OperationKind, RunOutcome};
use crate::provider::{self, Named, PolicyFamily, ProviderClient, ProviderError, ProviderSession};
use crate::store::{NewRestoreRun, Store};
use crate::{Capability, CoreError};
use chrono::Utc;
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// The tenant whose backup set a restore reads: the destination, or another tenant the caller
/// may see. Any other name is refused alike, whether it exists or not.
pub async fn restore_source(
    store: &Store,
    user: &User,
    destination: &TenantMembership,
    source: Option<&str>,
) -> Result<Tenant, CoreError> {
    match source {
        None => Ok(destination.tenant.clone()),
        Some(slug) if slug == destination.tenant.slug => Ok(destination.tenant.clone()),
        Some(slug) => match access::tenant(store, user, slug, Capability::CoreView).await {
            Ok(membership) => Ok(membership.tenant),
            Err(CoreError::NotFound) => Err(CoreError::invalid(
                "sourceTenant",
                format!("You are not a member of a tenant called {slug}"),
            )),
            Err(other) => Err(other),
        },
    }
}

/// The chosen items of a set of `source`.
async fn chosen_items(
    store: &Store,
    source: &Tenant,
    set_id: i64,
    item_ids: Option<&[i64]>,
) -> Result<Vec<BackupItem>, CoreError> {
    let in_set = store.backup_items(source.id, Some(set_id)).await?;
    let items: Vec<BackupItem> = match item_ids {
        None => in_set,
        Some(ids) => {
            if let Some(missing) = ids.iter().find(|id| !in_set.iter().any(|item| item.id == **id)) {
                return Err(CoreError::invalid(
                    "itemIds",
                    format!("Backup set {set_id} has no item {missing}"),
                ));
            }
            in_set.into_iter().filter(|item| ids.contains(&item.id)).collect()
        }
    };
    if items.is_empty() {
        return Err(CoreError::invalid("backupSetId", "This backup set has no policies to restore"));
    }
    Ok(items)
}

/// One object of `candidates` named exactly `name`, if there is exactly one.
fn only_named<'a>(candidates: &'a [Named], name: &str) -> Option<&'a Named> {
    let mut named = candidates.iter().filter(|candidate| candidate.display_name == name);
    match (named.next(), named.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

fn row(
    source_id: &str,
    source_name: &Option<String>,
    found: Option<&Named>,
    resolution: Resolution,
) -> MappingRow {
    MappingRow {
        source_id: source_id.to_string(),
        source_name: source_name.clone(),
        target_id: found.map(|found| found.id.clone()),
        target_name: found.map(|found| found.display_name.clone()),
        resolution: if found.is_some() { resolution } else { Resolution::Unresolved },
    }
}

/// Counterparts in a short list the destination has whole (filters, scope tags).
fn resolve_in_list(
    referenced: &BTreeMap<String, Option<String>>,
    mapping: &BTreeMap<String, String>,
    destination: &[Named],
    same_tenant: bool,
    builtin: &[&str],
) -> BTreeMap<String, MappingRow> {
    referenced
        .iter()
        .map(|(id, name)| {
            let by_id = |wanted: &str| destination.iter().find(|candidate| candidate.id == wanted);
            let resolved = if let Some(target) = mapping.get(id) {
                row(id, name, by_id(target), Resolution::Mapped)
            } else if let Some(found) = by_id(id).filter(|_| same_tenant || builtin.contains(&id.as_str())) {
                row(id, name, Some(found), Resolution::SameId)
            } else {
                let found = name.as_deref().and_then(|name| only_named(destination, name));
                row(id, name, found, Resolution::SameName)
            };
            (id.clone(), resolved)
        })
        .collect()
}

/// Finds the counterpart of every group, filter and scope tag `referenced` names in the
/// destination. An admin's mapping to something that does not exist there stays unresolved
/// (planning refuses it; an execution blocks the policies that need it).
async fn resolve(
    session: &ProviderSession,
    referenced: &Referenced,
    same_tenant: bool,
    mappings: &Mappings,
) -> Result<(Resolved, Vec<Named>), ProviderError> {
    let mut resolved = Resolved::default();
    for (id, name) in &referenced.groups {
        let found = if let Some(target) = mappings.group_mapping.get(id) {
            row(id, name, session.group(target).await?.as_ref(), Resolution::Mapped)
        } else if let Some(group) = if same_tenant { session.group(id).await? } else { None } {
            row(id, name, Some(&group), Resolution::SameId)
        } else {
            let candidates = match name {
                Some(name) => session.groups_named(name).await?,
                None => Vec::new(),
            };
            let found = name.as_deref().and_then(|name| only_named(&candidates, name));
            row(id, name, found, Resolution::SameName)
        };
        resolved.groups.insert(id.clone(), found);
    }
    let filters =
        if referenced.filters.is_empty() { Vec::new() } else { session.assignment_filters().await? };
    resolved.filters =
        resolve_in_list(&referenced.filters, &mappings.filter_mapping, &filters, same_tenant, &[]);
    if !referenced.scope_tags.is_empty() {
        let tags = session.scope_tags().await?;
        // "0" is the built-in Default tag of every tenant.
        resolved.scope_tags =
            resolve_in_list(&referenced.scope_tags, &mappings.scope_tag_mapping, &tags, same_tenant, &["0"]);
    }
    Ok((resolved, filters))
}

/// Refuses a mapping whose destination id does not exist there, naming its field.
fn check_mapped(resolved: &Resolved, mappings: &Mappings) -> Result<(), CoreError> {
    let checks = [
        ("groupMapping", "Group", &mappings.group_mapping, &resolved.groups),
        ("filterMapping", "Assignment filter", &mappings.filter_mapping, &resolved.filters),
        ("scopeTagMapping", "Scope tag", &mappings.scope_tag_mapping, &resolved.scope_tags),
    ];
    for (field, what, mapping, rows) in checks {
        for (source, target) in mapping {
            if rows.get(source).is_some_and(|row| row.target_id.is_none()) {
                return Err(CoreError::invalid(
                    field,
                    format!("{what} {source} is mapped to {target}, which does not exist in this tenant"),
                ));
            }
        }
    }
    Ok(())
}

/// Where the item's policy lives in the destination now, with its assignments' targets, or
/// `None` when it has to be created: the policy this restore created before, else (in its own
/// tenant) the policy itself.
async fn live_policy(
    session: &ProviderSession,
    item: &BackupItem,
    same_tenant: bool,
    recreated: &BTreeMap<String, String>,
) -> Result<Option<(String, Vec<serde_json::Value>)>, ProviderError> {
    let Some(family) = item.family() else { return Ok(None) };
    let candidates = recreated
        .get(&item.id.to_string())
        .cloned()
        .into_iter()
        .chain(same_tenant.then(|| item.policy_id.clone()));
    for id in candidates {
        match session.assignments(family, &id).await {
            Ok(targets) => return Ok(Some((id, targets))),
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}

/// [`live_policy`] with the targets named as a preview shows them.
async fn live_views(
    names: &mut Names<'_>,
    live: Option<(String, Vec<serde_json::Value>)>,
) -> Result<Option<(String, Vec<TargetView>)>, ProviderError> {
    match live {
        Some((id, targets)) => Ok(Some((id, names.views(targets).await?))),
        None => Ok(None),
    }
}

/// Live reads a preview makes at once: a real tenant has hundreds of policies, each a round trip.
const PREVIEW_READS_AT_ONCE: usize = 8;

/// The preview of restoring `items` into the session's tenant.
async fn preview(
    session: &ProviderSession,
    items: &[BackupItem],
    same_tenant: bool,
    mappings: &Mappings,
    recreated: &BTreeMap<String, String>,
) -> Result<(backups::RestorePreview, Resolved), ProviderError> {
    let (resolved, filters) = resolve(session, &Referenced::of(items), same_tenant, mappings).await?;
    let mut names =
        Names::new(session).with_filters(filters.into_iter().map(|filter| (filter.id, filter.display_name)));
    // The futures made first, then run a few at a time: a closure in the stream would not be
    // `Send` for every lifetime, as the server functions' futures must be.
    let reads: Vec<_> = items.iter().map(|item| live_policy(session, item, same_tenant, recreated)).collect();
    let lives: Vec<_> = futures_util::stream::iter(reads).buffered(PREVIEW_READS_AT_ONCE).collect().await;
    let mut previews = Vec::with_capacity(items.len());
    for (item, live) in items.iter().zip(lives) {
        let live = live_views(&mut names, live?).await?;
        previews.push(backups::plan_item(item, &resolved, live.map(|(_, views)| views)).preview);
    }
    Ok((backups::preview(previews, &resolved), resolved))
}

/// Plans a restore of `request` into the member's tenant: checks the set, items and mappings,
/// reads the destination's live assignments and counterparts, and stores the run with its
/// preview for confirmation.
pub async fn create_restore_run(
    store: &Store,
    client: &ProviderClient,
    member: &TenantMembership,
    caller: &Caller,
    request: &RestoreRequest,
) -> Result<RestoreRun, CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    request.check()?;
    let source = restore_source(store, user, member, request.source_tenant.as_deref()).await?;
    let no_set = || {
        CoreError::invalid(
            "backupSetId",
            format!("Tenant {} has no backup set {}", source.slug, request.backup_set_id),
        )
    };
    let set = store.backup_set(source.id, request.backup_set_id).await?.ok_or_else(no_set)?;
    let items = chosen_items(store, &source, set.id, request.item_ids.as_deref()).await?;
    let tenant_id = member.tenant.id;
    let same_tenant = source.id == tenant_id;
    let session = provider::request_session(store, client, tenant_id).await?;
    let (preview, resolved) = preview(&session, &items, same_tenant, &request.mappings, &BTreeMap::new())
        .await
        .map_err(provider::provider_error)?;
    check_mapped(&resolved, &request.mappings)?;
    let item_ids: Vec<i64> = items.iter().map(|item| item.id).collect();
    let run = store
        .create_restore_run(&NewRestoreRun {
            tenant_id,
            source_tenant_id: source.id,
            backup_set_id: set.id,
            item_ids: &item_ids,
            mappings: &request.mappings,
            preview: &preview,
            created_by: actor.user_id(),
        })
        .await?;
    let mut details = serde_json::Map::new();
    details.insert("backupSetId".into(), set.id.into());
    details.insert("sourceTenant".into(), source.slug.into());
    details.insert("itemCount".into(), item_ids.len().into());
    details.insert("blocked".into(), preview.blocked().into());
    audit(store, member, actor, AuditAction::Create, run.id, details).await?;
    Ok(run)
}

/// Plans restore run `restore_id` again with new mappings (the preview's edit), unless it is
/// executing now.
pub async fn remap_restore_run(
    store: &Store,
    client: &ProviderClient,
    member: &TenantMembership,
    actor: &Initiator,
    restore_id: i64,
    mappings: &Mappings,
) -> Result<RestoreRun, CoreError> {
    mappings.check()?;
    let tenant_id = member.tenant.id;
    let restore = store.restore_run(tenant_id, restore_id).await?.ok_or(CoreError::NotFound)?;
    if let Some(run) = restore.operation_run_id {
        if store.operation_run(run).await?.is_some_and(|run| run.status.is_active()) {
            return Err(CoreError::conflict(
                "This restore is executing; change its mappings once it has finished",
            ));
        }
    }
    let source = store
        .tenant_by_id(restore.source_tenant_id)
        .await?
        .ok_or_else(|| CoreError::conflict("The tenant this restore's backup came from no longer exists"))?;
    let items = chosen_items(store, &source, restore.backup_set_id, Some(&restore.item_ids)).await?;
    let session = provider::request_session(store, client, tenant_id).await?;
    let same_tenant = source.id == tenant_id;
    let (preview, resolved) = preview(&session, &items, same_tenant, mappings, &restore.recreated)
        .await
        .map_err(provider::provider_error)?;
    check_mapped(&resolved, mappings)?;
    let updated = store
        .set_restore_plan(tenant_id, restore.id, mappings, &preview)
        .await?
        .ok_or(CoreError::NotFound)?;
    let mut details = serde_json::Map::new();
    details.insert("mappings".into(), serde_json::to_value(mappings).unwrap_or_default());
    details.insert("blocked".into(), preview.blocked().into());
    audit(store, member, actor, AuditAction::Update, restore.id, details).await?;
    Ok(updated)
}

async fn audit(
    store: &Store,
    member: &TenantMembership,
    actor: &Initiator,
    verb: AuditAction,
    restore_id: i64,
    details: serde_json::Map<String, serde_json::Value>,
) -> Result<(), CoreError> {
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(member.tenant.workspace_id),
            tenant_id: Some(member.tenant.id),
            actor: actor.clone(),
            kind: AuditKind::RestoreRun,
            action: verb,
            target_id: restore_id.to_string(),
            details,
        })
        .await
}

pub(super) struct Restore {
    pub client: ProviderClient,
}

#[async_trait::async_trait]
impl Operation for Restore {
    fn kind(&self) -> OperationKind {
        OperationKind::Restore
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let restore_id: i64 = target_id(run, "restore_run")?;
        let tenant_id = run.run.tenant_id.unwrap_or_default();
        let restore = run.store.restore_run(tenant_id, restore_id).await?.ok_or(CoreError::NotFound)?;
        let items: Vec<BackupItem> = run
            .store
            .backup_items(restore.source_tenant_id, Some(restore.backup_set_id))
            .await?
            .into_iter()
            .filter(|item| restore.item_ids.contains(&item.id))
            .filter(|item| retried_only(&run.run.context).is_none_or(|only| only.contains(&item.id)))
            .collect();
        let same_tenant = restore.source_tenant_id == tenant_id;
        let session = provider_session(run, &self.client).await?;
        let mappings = Mappings {
            group_mapping: restore.group_mapping.clone(),
            filter_mapping: restore.filter_mapping.clone(),
            scope_tag_mapping: restore.scope_tag_mapping.clone(),
        };
        // Planned again against the destination as it is now: the preview may be old.
        let (resolved, filters) =
            match resolve(&session, &Referenced::of(&items), same_tenant, &mappings).await {
                Ok(resolved) => resolved,
                Err(error) => return Err(super::stop_for(run, "assignments.restore.mappings", &error)),
            };
        let mut names = Names::new(&session)
            .with_filters(filters.into_iter().map(|filter| (filter.id, filter.display_name)));
        let mut recreated = restore.recreated.clone();
        run.set_total(items.len() as i64);
        let (mut skipped, mut created) = (0, 0);
        // The items that failed, for a retry to take up only these.
        let mut failed_items: Vec<i64> = Vec::new();
        for item in &items {
            run.checkpoint().await?;
            let live = match live_policy(&session, item, same_tenant, &recreated).await {
                Ok(live) => live_views(&mut names, live).await,
                Err(error) => Err(error),
            };
            let live = match live {
                Ok(live) => live,
                Err(error) => {
                    item_failed(run, item, &error, &mut failed_items).await?;
                    continue;
                }
            };
            let (existing, views) = live.unzip();
            let planned = backups::plan_item(item, &resolved, views);
            skipped += planned.preview.skipped.len();
            if planned.preview.action == RestoreAction::Blocked {
                let failure = Failure {
                    code: "assignments.restore.blocked".into(),
                    reason_code: "invalid_state".into(),
                    message: format!("{}: {}", item.policy_name, planned.preview.blocked_by.join(" ")),
                    at: Utc::now(),
                };
                run.item_failed(failure).await?;
                failed_items.push(item.id);
                continue;
            }
            // A blocked plan is never restored, and a plan is blocked when the family is unknown.
            let Some(family) = item.family() else { continue };
            let id = match existing {
                Some(id) => id,
                None => match session
                    .create_policy(family, &item.body, &item.settings, &planned.scope_tag_ids)
                    .await
                {
                    // Remembered before anything else, so no later execution creates it twice.
                    Ok(id) => {
                        remember(run, restore.id, item, id.clone(), &mut recreated).await?;
                        created += 1;
                        if family == PolicyFamily::AdministrativeTemplate {
                            if let Err(error) = session.add_definition_values(&id, &item.settings).await {
                                item_failed(run, item, &error, &mut failed_items).await?;
                                continue;
                            }
                        }
                        id
                    }
                    Err(error) => {
                        item_failed(run, item, &error, &mut failed_items).await?;
                        continue;
                    }
                },
            };
            match session.assign(family, &id, &planned.targets).await {
                Ok(()) => run.item_succeeded(),
                Err(error) => item_failed(run, item, &error, &mut failed_items).await?,
            }
        }
        if !failed_items.is_empty() {
            let failed = serde_json::to_value(&failed_items).unwrap_or_default();
            run.store.set_run_context_entry(run.run.id, FAILED_ITEMS, Some(failed)).await?;
        }
        let counters = run.counters();
        let outcome = outcome_of_items(counters.total, counters.failed);
        let mut details = serde_json::Map::new();
        details.insert("restoreRunId".into(), restore.id.into());
        details.insert("operationRunId".into(), run.run.id.0.into());
        details.insert("outcome".into(), outcome.as_str().into());
        details.insert("restored".into(), (counters.processed - counters.failed).into());
        details.insert("recreated".into(), created.into());
        details.insert("failed".into(), counters.failed.into());
        details.insert("skippedTargets".into(), skipped.into());
        run.store
            .record_audit(&NewAuditEntry {
                workspace_id: Some(run.run.workspace_id),
                tenant_id: Some(tenant_id),
                actor: run.run.initiator.clone(),
                kind: AuditKind::RestoreRun,
                action: AuditAction::Execute,
                target_id: restore.id.to_string(),
                details,
            })
            .await?;
        Ok(outcome)
    }
}

/// Records a policy this restore created: on the restore run (so no execution creates it
/// again) and in the run's context (`recreated`: item id → new policy id).
async fn remember(
    run: &RunContext,
    restore_id: i64,
    item: &BackupItem,
    policy_id: String,
    recreated: &mut BTreeMap<String, String>,
) -> Result<(), Stop> {
    run.store.record_recreated(restore_id, item.id, &policy_id).await?;
    recreated.insert(item.id.to_string(), policy_id);
    let context = serde_json::to_value(&*recreated).unwrap_or_default();
    run.store.set_run_context_entry(run.run.id, "recreated", Some(context)).await?;
    Ok(())
}

/// One policy failed on the provider, or the run was interrupted while waiting for it.
async fn item_failed(
    run: &RunContext,
    item: &BackupItem,
    error: &ProviderError,
    failed_items: &mut Vec<i64>,
) -> Result<(), Stop> {
    if error.interrupted {
        return Err(run.interruption());
    }
    let mut failure = provider_failure("assignments.restore.item", error);
    failure.message = format!("{}: {}", item.policy_name, failure.message);
    failed_items.push(item.id);
    run.item_failed(failure).await
}

/// The run context entry naming the items a restore run failed on.
pub const FAILED_ITEMS: &str = "failedItemIds";
/// The run context entry of a retry that takes up only these items (a partial restore's).
pub const RETRIED_ITEMS: &str = "retriedItemIds";

/// The items a retry of a partial restore is limited to, if it is one.
fn retried_only(context: &serde_json::Map<String, serde_json::Value>) -> Option<Vec<i64>> {
    serde_json::from_value(context.get(RETRIED_ITEMS)?.clone()).ok()
}
