//! The operations TenantPilot runs against a tenant's provider, and the use cases that start
//! them. Pages, server functions and JSON routes call these after the guard has checked the
//! caller's capability; each start is create-or-reuse through [`super::start`].

mod capture;
mod fetch;
mod names;
mod pipeline;
mod restore;
mod tenant_jobs;

pub use restore::{create_restore_run, remap_restore_run, restore_source, FAILED_ITEMS, RETRIED_ITEMS};
pub use tenant_jobs::{data_steps, reference_catalog, DataStep, DATA_STEPS};

use super::{Operation, Operations, RunContext, Stop};
use crate::egress::EgressClient;
use crate::model::{Tenant, TenantMembership};
use crate::operations::{Failure, Initiator, OperationKind, RunTarget};
use crate::provider::{ProviderClient, ProviderError, ProviderSession};
use crate::store::{NewRun, Started, Store};
use crate::CoreError;
use chrono::Utc;
use std::sync::Arc;

/// Every operation this version runs, calling providers through `client`; installs asked for
/// sample data get it from `sample_provider` (a provider simulator), when there is one.
pub fn all(client: ProviderClient, sample_provider: Option<String>) -> Operations {
    let egress = client.egress().clone();
    Operations::new(vec![
        Arc::new(capture::Capture { client: client.clone() }) as Arc<dyn Operation>,
        Arc::new(fetch::Fetch { client: client.clone() }),
        Arc::new(restore::Restore { client: client.clone() }),
        Arc::new(tenant_jobs::Install {
            kind: OperationKind::TenantInstall,
            client: client.clone(),
            sample_provider: sample_provider.clone(),
        }),
        Arc::new(tenant_jobs::Install { kind: OperationKind::TenantUpgrade, client, sample_provider }),
        Arc::new(tenant_jobs::Disable),
        // A tool answers where it is asked (a redirect elsewhere is its answer, not followed),
        // and only where the provider client may call too.
        Arc::new(pipeline::PipelineRun { http: EgressClient::new(egress, |builder| builder) }),
    ])
}

/// The operation of `tenant.disable` jobs, which requests run while the caller waits.
pub fn disable_tenant() -> Arc<dyn Operation> {
    Arc::new(tenant_jobs::Disable)
}

fn new_run(
    member: &TenantMembership,
    kind: OperationKind,
    target: Option<RunTarget>,
    context: serde_json::Value,
    initiator: Initiator,
) -> NewRun {
    tenant_run(&member.tenant, kind, target, context, initiator)
}

/// A run of `tenant`, as its start would make it.
pub fn tenant_run(
    tenant: &Tenant,
    kind: OperationKind,
    target: Option<RunTarget>,
    context: serde_json::Value,
    initiator: Initiator,
) -> NewRun {
    NewRun {
        workspace_id: tenant.workspace_id,
        tenant_id: Some(tenant.id),
        kind,
        target,
        context: match context {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        },
        initiator,
        retry_of: None,
    }
}

/// Captures the tenant's policies into a new backup set.
pub async fn start_capture(
    store: &Store,
    member: &TenantMembership,
    initiator: Initiator,
) -> Result<Started, CoreError> {
    start_tenant_capture(store, &member.tenant, initiator).await
}

/// Captures `tenant`, for a caller whose right to do so was checked elsewhere (a workspace
/// schedule's owner, a Site Admin of the workspace).
pub async fn start_tenant_capture(
    store: &Store,
    tenant: &Tenant,
    initiator: Initiator,
) -> Result<Started, CoreError> {
    let context = serde_json::json!({ "tenant": tenant.slug });
    super::start(store, &tenant_run(tenant, OperationKind::Capture, None, context, initiator)).await
}

/// Fetches the current assignments of backup item `item_id`; not found unless it is the tenant's.
pub async fn start_fetch(
    store: &Store,
    member: &TenantMembership,
    item_id: i64,
    initiator: Initiator,
) -> Result<Started, CoreError> {
    let item = store.backup_item(member.tenant.id, item_id).await?.ok_or(CoreError::NotFound)?;
    let target = RunTarget { kind: "backup_item".into(), id: item.id.to_string() };
    let context = serde_json::json!({
        "tenant": member.tenant.slug,
        "backupItemId": item.id,
        "backupSetId": item.backup_set_id,
        "policyId": item.policy_id,
        "policyName": item.policy_name,
    });
    super::start(store, &new_run(member, OperationKind::Fetch, Some(target), context, initiator)).await
}

/// Executes restore run `restore_id`; not found unless it is the tenant's.
pub async fn start_restore(
    store: &Store,
    member: &TenantMembership,
    restore_id: i64,
    initiator: Initiator,
) -> Result<Started, CoreError> {
    let restore = store.restore_run(member.tenant.id, restore_id).await?.ok_or(CoreError::NotFound)?;
    let target = RunTarget { kind: "restore_run".into(), id: restore.id.to_string() };
    let context = serde_json::json!({
        "tenant": member.tenant.slug,
        "restoreRunId": restore.id,
        "backupSetId": restore.backup_set_id,
        "itemCount": restore.item_ids.len(),
    });
    let started =
        super::start(store, &new_run(member, OperationKind::Restore, Some(target), context, initiator))
            .await?;
    store.set_restore_execution(restore.id, started.id()).await?;
    Ok(started)
}

/// A provider failure as a run records it.
fn provider_failure(code: &str, error: &ProviderError) -> Failure {
    Failure {
        code: code.into(),
        reason_code: error.reason.as_str().into(),
        message: error.message.clone(),
        at: Utc::now(),
    }
}

/// How a run stops on a provider error: interrupted while waiting (a cancel, a release), or
/// failed with the error.
fn stop_for(run: &RunContext, code: &str, error: &ProviderError) -> Stop {
    if error.interrupted {
        run.interruption()
    } else {
        Stop::Failed(provider_failure(code, error))
    }
}

/// A session with the run's tenant's provider, whose throttling waits show in the run, or the
/// run fails saying why.
async fn provider_session(run: &RunContext, client: &ProviderClient) -> Result<ProviderSession, Stop> {
    let tenant_id = run
        .run
        .tenant_id
        .ok_or_else(|| Stop::failed("ops.no_tenant", "invalid_state", "This operation needs a tenant."))?;
    let connection = run.store.provider_connection(tenant_id).await?.ok_or_else(|| {
        Stop::failed(
            "provider.not_connected",
            "invalid_state",
            "This tenant has no provider connection. Set one in the tenant's settings.",
        )
    })?;
    client
        .connect(&connection, Some(run.pauses()))
        .await
        .map_err(|error| stop_for(run, "provider.connect", &error))
}

/// The run's target id as a number (the start wrote it, so anything else is a broken run).
fn target_id<Id: std::str::FromStr>(run: &RunContext, kind: &str) -> Result<Id, Stop> {
    run.run
        .target
        .as_ref()
        .filter(|target| target.kind == kind)
        .and_then(|target| target.id.parse().ok())
        .ok_or_else(|| {
            Stop::failed("ops.bad_target", "invalid_state", format!("This operation needs a {kind} target."))
        })
}
