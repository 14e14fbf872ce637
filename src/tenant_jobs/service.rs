//! Tenant lifecycle jobs: the use cases behind `/_/tenant` and the platform's lifecycle page.
//! A job is an operation run of a lifecycle kind whose target is the tenant (by slug, which
//! outlives a purge); its messages are the run's log and its error the run's failure.

use super::{JobPlan, JobRecord, LifecycleAction, TenantAttributes, TenantJob, TenantLifecycle};
use crate::engine::{self, operations};
use crate::ids::RunId;
use crate::model::Tenant;
use crate::operations::{Initiator, OperationKind, OperationRun, RunOutcome, RunTarget};
use crate::store::{NewRun, Started, Store};
use crate::tenancy::{self, NewTenant};
use crate::{validate, CoreError};
use semver::Version;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The header naming the tenant a request is about.
pub const TENANT_HEADER: &str = "X-Okapi-Tenant";

/// What a `POST /_/tenant` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A job works in the background (or was already working): 201 with it.
    Job(TenantJob),
    /// Done while the request waited, or nothing to do: 204.
    Done,
}

/// The tenant slug of the tenant header; a missing or malformed one is the caller's mistake.
pub fn tenant_slug(header: Option<&str>) -> Result<String, CoreError> {
    let header = header.filter(|value| !value.trim().is_empty()).ok_or_else(|| {
        CoreError::invalid(
            TENANT_HEADER,
            format!("The {TENANT_HEADER} header is required: name the tenant's slug."),
        )
    })?;
    validate::slug(TENANT_HEADER, header).map_err(|error| {
        CoreError::invalid(TENANT_HEADER, format!("The {TENANT_HEADER} header is not a tenant slug: {error}"))
    })
}

/// Starts the job `plan` for tenant `slug`, or answers that there is nothing to do. The
/// tenant's state must fit the request: upgrading or disabling needs an existing tenant at
/// `module_from`. A job already active for the tenant is returned instead of a second one.
pub async fn submit(
    store: &Store,
    actor: &Initiator,
    slug: &str,
    attributes: TenantAttributes,
    plan: JobPlan,
) -> Result<Submitted, CoreError> {
    let existing = store.tenant_by_slug(slug).await?;
    match &plan {
        JobPlan::Install { to, options } => {
            let tenant = match existing {
                Some(tenant) => {
                    if let Some(workspace) = &options.workspace {
                        let home = store.workspace_of(&tenant).await?;
                        if home != *workspace {
                            return Err(CoreError::invalid(
                                "parameters",
                                format!("Tenant {slug} belongs to workspace {home}, not {workspace}."),
                            ));
                        }
                    }
                    match tenant.installed_version() {
                        Some(current) if tenant.enabled && current == *to => return Ok(Submitted::Done),
                        Some(current) if current > *to => {
                            return Err(CoreError::invalid(
                                "module_to",
                                format!("Tenant {slug} is at {current}, newer than {to}: downgrades are not supported."),
                            ));
                        }
                        _ => tenant,
                    }
                }
                None => {
                    let new = NewTenant {
                        workspace_slug: options.workspace.as_deref().unwrap_or(tenancy::DEFAULT_WORKSPACE),
                        slug,
                        name: &tenancy::title_case(slug),
                        external_tenant_id: None,
                    };
                    tenancy::register_tenant(store, actor, new).await?.0
                }
            };
            background(store, actor, &tenant, OperationKind::TenantInstall, attributes).await
        }
        JobPlan::Upgrade { from, to, .. } => {
            let tenant = known(existing, slug)?;
            if !tenant.enabled {
                return Err(CoreError::invalid(
                    "module_from",
                    format!("Tenant {slug} is not enabled: install it (module_to alone) to enable it."),
                ));
            }
            at_version(&tenant, from)?;
            if from == to {
                return Ok(Submitted::Done);
            }
            background(store, actor, &tenant, OperationKind::TenantUpgrade, attributes).await
        }
        JobPlan::Disable { from, purge } => {
            let tenant = known(existing, slug)?;
            if tenant.module_version.is_some() {
                at_version(&tenant, from)?;
            }
            if !tenant.enabled && !purge {
                return Ok(Submitted::Done);
            }
            let new = new_run(&tenant, OperationKind::TenantDisable, &attributes, actor)?;
            match engine::start_now(store, &new).await? {
                Started::Reused(id) => Ok(Submitted::Job(job_of_run(store, id).await?)),
                Started::Created(id) => {
                    let run = store
                        .operation_run(id)
                        .await?
                        .ok_or_else(|| CoreError::broken(format!("run {id} is missing")))?;
                    let ended = engine::run_now(store, operations::disable_tenant(), run).await?;
                    if ended.outcome == RunOutcome::Succeeded {
                        Ok(Submitted::Done)
                    } else {
                        // Finished, but not well: the job says why, as the contract's 201 can.
                        Ok(Submitted::Job(job_of_run(store, id).await?))
                    }
                }
            }
        }
    }
}

async fn background(
    store: &Store,
    actor: &Initiator,
    tenant: &Tenant,
    kind: OperationKind,
    attributes: TenantAttributes,
) -> Result<Submitted, CoreError> {
    let started = engine::start(store, &new_run(tenant, kind, &attributes, actor)?).await?;
    Ok(Submitted::Job(job_of_run(store, started.id()).await?))
}

fn new_run(
    tenant: &Tenant,
    kind: OperationKind,
    attributes: &TenantAttributes,
    actor: &Initiator,
) -> Result<NewRun, CoreError> {
    let mut context = serde_json::Map::new();
    context.insert("tenant".into(), tenant.slug.clone().into());
    context.insert("tenantAttributes".into(), serde_json::to_value(attributes).map_err(CoreError::internal)?);
    Ok(NewRun {
        workspace_id: tenant.workspace_id,
        tenant_id: Some(tenant.id),
        kind,
        target: Some(RunTarget { kind: "tenant".into(), id: tenant.slug.clone() }),
        context,
        initiator: actor.clone(),
        retry_of: None,
    })
}

fn known(tenant: Option<Tenant>, slug: &str) -> Result<Tenant, CoreError> {
    tenant.ok_or_else(|| {
        CoreError::invalid(
            TENANT_HEADER,
            format!("There is no tenant {slug}: install it first (module_to alone)."),
        )
    })
}

fn at_version(tenant: &Tenant, from: &Version) -> Result<(), CoreError> {
    match tenant.installed_version() {
        Some(current) if current == *from => Ok(()),
        current => {
            let at = current.map_or_else(
                || "not installed".to_string(),
                |version| format!("at {}", super::ModuleId::tenantpilot(version)),
            );
            Err(CoreError::invalid(
                "module_from",
                format!(
                    "Tenant {} is {at}, not at {}.",
                    tenant.slug,
                    super::ModuleId::tenantpilot(from.clone())
                ),
            ))
        }
    }
}

/// The job with id `id` (a run id) of tenant `slug`; anything else is not found.
pub async fn job(store: &Store, slug: &str, id: &str) -> Result<TenantJob, CoreError> {
    let run = job_run(store, slug, id).await?;
    Ok(to_job(&run, store.run_messages(run.id).await?))
}

async fn job_run(store: &Store, slug: &str, id: &str) -> Result<OperationRun, CoreError> {
    let id: RunId = id.parse().ok().filter(|id: &RunId| id.0 > 0).ok_or(CoreError::NotFound)?;
    let run = store.operation_run(id).await?.ok_or(CoreError::NotFound)?;
    let of_tenant = run.target.as_ref().is_some_and(|target| target.kind == "tenant" && target.id == slug);
    if run.kind.is_tenant_job() && of_tenant {
        Ok(run)
    } else {
        Err(CoreError::NotFound)
    }
}

pub(super) async fn job_of_run(store: &Store, id: RunId) -> Result<TenantJob, CoreError> {
    let run =
        store.operation_run(id).await?.ok_or_else(|| CoreError::broken(format!("run {id} is missing")))?;
    Ok(to_job(&run, store.run_messages(run.id).await?))
}

/// `run` as the contract shows a job, with its log `messages`.
fn to_job(run: &OperationRun, messages: Vec<String>) -> TenantJob {
    let tenant_attributes = run
        .context
        .get("tenantAttributes")
        .and_then(|value| serde_json::from_value(value.clone()).ok())
        .unwrap_or_default();
    let error = match run.outcome {
        RunOutcome::Cancelled => Some("The job was cancelled before it finished.".to_string()),
        _ => run.failures.last().map(|failure| failure.message.clone()),
    };
    TenantJob {
        id: run.id.to_string(),
        tenant: run.target.as_ref().map(|target| target.id.clone()).unwrap_or_default(),
        tenant_attributes,
        complete: !run.status.is_active(),
        error,
        messages,
    }
}

/// The job, answered as soon as it changes (completes, gains a message, fails) or after
/// `wait`, whichever comes first. Changes are heard from every replica through the store's
/// run events, by one reader per job that every waiting request shares (see [`super::watch`]).
pub async fn wait_for_change(
    store: &Store,
    slug: &str,
    id: &str,
    wait: Duration,
) -> Result<TenantJob, CoreError> {
    let first = job(store, slug, id).await?;
    if wait.is_zero() || first.complete {
        return Ok(first);
    }
    let run_id: RunId = first.id.parse().map_err(CoreError::internal)?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut watched = super::watch::subscribe(store, run_id);
    let _parked = Parked::new();
    loop {
        if let Some(now) = watched.borrow_and_update().as_deref().filter(|now| is_news(now, &first)) {
            return Ok(now.clone());
        }
        match tokio::time::timeout_at(deadline, watched.changed()).await {
            Ok(Ok(())) => {}
            Err(_) | Ok(Err(_)) => return job(store, slug, id).await,
        }
    }
}

/// Whether `now` is a later state of the job than `first`: the shared reader may have read
/// just before the change this request's own first read already saw. A job only moves forward
/// (messages are appended, an error appears, it completes), so an older read is never news.
fn is_news(now: &TenantJob, first: &TenantJob) -> bool {
    now != first
        && now.messages.len() >= first.messages.len()
        && (now.complete || !first.complete)
        && (now.error.is_some() || first.error.is_none())
}

/// Requests of this process parked in [`wait_for_change`], past their first read.
static PARKED: AtomicUsize = AtomicUsize::new(0);

/// How many `?wait` requests this process holds now, waiting for their job to change.
pub fn parked_waits() -> usize {
    PARKED.load(Ordering::Relaxed)
}

/// Counts one parked request for as long as it lives.
struct Parked;

impl Parked {
    fn new() -> Parked {
        PARKED.fetch_add(1, Ordering::Relaxed);
        Parked
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        PARKED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Deletes a completed job; one still active is the caller's mistake.
pub async fn delete(store: &Store, actor: &Initiator, slug: &str, id: &str) -> Result<(), CoreError> {
    let run = job_run(store, slug, id).await?;
    if run.status.is_active() {
        return Err(CoreError::invalid(
            "operation_id",
            "The job is still running: delete it once it is complete.",
        ));
    }
    if !store.delete_completed_run(run.id).await? {
        return Err(CoreError::NotFound);
    }
    store
        .record_audit(&crate::audit::NewAuditEntry {
            workspace_id: Some(run.workspace_id),
            tenant_id: run.tenant_id,
            actor: actor.clone(),
            kind: crate::audit::AuditKind::Operation,
            action: crate::audit::AuditAction::Delete,
            target_id: run.id.to_string(),
            details: serde_json::Map::from_iter([("type".to_string(), run.kind.as_str().into())]),
        })
        .await
}

/// The lifecycle jobs of tenant `slug`, newest first, for the platform's lifecycle page.
pub async fn history(store: &Store, slug: &str, limit: i64) -> Result<Vec<JobRecord>, CoreError> {
    let runs = store.runs_with_target("tenant", slug, limit).await?;
    let runs: Vec<OperationRun> = runs.into_iter().filter(|run| run.kind.is_tenant_job()).collect();
    let ids: Vec<RunId> = runs.iter().map(|run| run.id).collect();
    let mut logs = store.runs_messages(&ids).await?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let job = to_job(&run, logs.remove(&run.id).unwrap_or_default());
            JobRecord { run, job }
        })
        .collect())
}

/// How many jobs the lifecycle page lists.
pub const HISTORY_LIMIT: i64 = 50;

/// Tenant `slug` and its jobs for the platform's lifecycle page; a slug that names neither a
/// tenant nor a past one's jobs is not found.
pub async fn lifecycle_of(store: &Store, slug: &str) -> Result<TenantLifecycle, CoreError> {
    let tenant = store.tenant_by_slug(slug).await?;
    let jobs = history(store, slug, HISTORY_LIMIT).await?;
    if tenant.is_none() && jobs.is_empty() {
        return Err(CoreError::NotFound);
    }
    let workspace = match &tenant {
        Some(tenant) => Some(store.workspace_of(tenant).await?),
        None => None,
    };
    Ok(TenantLifecycle {
        slug: slug.to_string(),
        tenant,
        workspace,
        module: super::module_id(),
        jobs,
        now: chrono::Utc::now(),
    })
}

/// Submits `action` for tenant `slug` as the request `/_/tenant` would get for it: install and
/// upgrade go to this build's version (with `options`), disable and purge from the tenant's.
/// A purge deletes everything of the tenant, so the admin must have typed its slug (`typed_slug`).
pub async fn submit_action(
    store: &Store,
    actor: &Initiator,
    slug: &str,
    action: LifecycleAction,
    options: super::InstallOptions,
    typed_slug: Option<&str>,
) -> Result<Submitted, CoreError> {
    if action == LifecycleAction::Purge && typed_slug.map(str::trim) != Some(slug) {
        return Err(CoreError::invalid(
            "confirm",
            format!("Type the tenant's slug, {slug}, to confirm the purge: it deletes all of its data."),
        ));
    }
    let tenant = store.tenant_by_slug(slug).await?;
    let installed = tenant.as_ref().and_then(Tenant::installed_version);
    let running = super::running_version();
    let module = |version: &Version| Some(super::ModuleId::tenantpilot(version.clone()).to_string());
    let flags = [("loadReference", options.load_reference), ("loadSample", options.load_sample)];
    let parameters: Vec<super::Parameter> = flags
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(key, _)| super::Parameter { key: key.into(), value: "true".into() })
        .collect();
    let parameters = (!parameters.is_empty()).then_some(parameters);
    let (attributes, plan) = match action {
        LifecycleAction::Install => (
            TenantAttributes { module_to: module(&running), parameters, ..TenantAttributes::default() },
            JobPlan::Install { to: running, options },
        ),
        LifecycleAction::Upgrade => {
            let from = installed.ok_or_else(|| {
                CoreError::invalid("action", format!("Tenant {slug} is not installed: install it instead."))
            })?;
            let attributes = TenantAttributes {
                module_from: module(&from),
                module_to: module(&running),
                parameters,
                ..TenantAttributes::default()
            };
            (attributes, JobPlan::Upgrade { from, to: running, options })
        }
        LifecycleAction::Disable | LifecycleAction::Purge => {
            // A tenant never installed is disabled from this build's version, as it is shown.
            let from = installed.unwrap_or(running);
            let purge = action == LifecycleAction::Purge;
            let attributes = TenantAttributes {
                module_from: module(&from),
                purge: purge.then_some(true),
                ..TenantAttributes::default()
            };
            (attributes, JobPlan::Disable { from, purge })
        }
    };
    submit(store, actor, slug, attributes, plan).await
}
