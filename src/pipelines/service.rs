//! The pipeline use cases behind the pages, the pipeline contract's routes and the CLI: create,
//! edit, run, stop, reset, status and logs, each behind the item access check.

use super::{Pipeline, PipelineInput, PipelineLog, PipelineRun, StepAction, CONSOLE_OUTPUT};
use crate::audit::LOG_LIMIT;
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::ids::{PipelineId, RunId, WorkspaceId};
use crate::item_access::{self, validate_rules, Item, Level};
use crate::model::Caller;
use crate::model::User;
use crate::operations::{Initiator, OperationKind, RunOutcome, RunStatus, RunTarget};
use crate::store::{NewRun, NotBegun, PipelineFields, PipelineRecord, Store};
use crate::CoreError;

fn item(record: &PipelineRecord) -> Item<'_> {
    Item { workspace_id: record.workspace_id, owner_id: record.owner_id, rules: &record.pipeline.access }
}

/// Pipeline `id` if `user` has `needed` on it: not found when they may not see it, forbidden
/// when they may see but not change it.
pub async fn visible(
    store: &Store,
    user: &User,
    id: PipelineId,
    needed: Level,
) -> Result<PipelineRecord, CoreError> {
    Ok(visible_with_level(store, user, id, needed).await?.0)
}

/// `visible`, and the level the user has (a page shows what they may do).
pub async fn visible_with_level(
    store: &Store,
    user: &User,
    id: PipelineId,
    needed: Level,
) -> Result<(PipelineRecord, Level), CoreError> {
    let record = store.pipeline(id).await?.ok_or(CoreError::NotFound)?;
    let workspaces = store.workspaces_of(user.id).await?;
    let level = item_access::require(user, &workspaces, &item(&record), needed)?;
    Ok((record, level))
}

/// Every pipeline `user` may see, by name.
pub async fn list(store: &Store, user: &User) -> Result<Vec<Pipeline>, CoreError> {
    Ok(seen_by(store, user, Level::Read).await?.into_iter().map(|record| record.pipeline).collect())
}

/// Every pipeline `user` may change (write access or more), by name.
pub async fn writable(store: &Store, user: &User) -> Result<Vec<Pipeline>, CoreError> {
    Ok(seen_by(store, user, Level::Write).await?.into_iter().map(|record| record.pipeline).collect())
}

/// The ids of every pipeline `user` may read: whose runs they may see.
pub async fn readable_ids(store: &Store, user: &User) -> Result<Vec<PipelineId>, CoreError> {
    Ok(seen_by(store, user, Level::Read).await?.iter().map(|record| record.pipeline.id).collect())
}

/// The pipelines `user` has `needed` (or more) on, by name.
async fn seen_by(store: &Store, user: &User, needed: Level) -> Result<Vec<PipelineRecord>, CoreError> {
    let workspaces = store.workspaces_of(user.id).await?;
    let mut records = store.pipelines_for(user.id).await?;
    records.retain(|record| item_access::level(user, &workspaces, &item(record)) >= Some(needed));
    Ok(records)
}

/// Whether `user` may read pipeline `id` (a missing one: no).
pub async fn readable(store: &Store, user: &User, id: PipelineId) -> Result<bool, CoreError> {
    match visible(store, user, id, Level::Read).await {
        Ok(_) => Ok(true),
        Err(CoreError::NotFound) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Checks the input, that every step's tenant and tool belong to the workspace, and that
/// `saver` (None: an import from the command line) may do what each step does: the tenant
/// capability of its operation, write access to its tool. Running checks the runner again.
async fn fields_of<'a>(
    store: &Store,
    workspace_id: WorkspaceId,
    input: &'a PipelineInput,
    description: &'a str,
    saver: Option<&User>,
) -> Result<(String, Vec<item_access::AccessRule>), CoreError> {
    let name = crate::validate::name("name", &input.name)?;
    if description.chars().count() > super::DESCRIPTION_MAX {
        return Err(CoreError::invalid("description", "At most 2000 characters"));
    }
    let actions = super::validate_steps(&input.steps)?;
    let saver_workspaces = match saver {
        Some(user) => store.workspaces_of(user.id).await?,
        None => Vec::new(),
    };
    for (n, action) in actions.iter().enumerate() {
        if let (Some(slug), Some(capability)) = (action.tenant(), action.capability()) {
            let field = format!("steps[{n}].params.tenant");
            let no_tenant =
                || CoreError::invalid(&field, format!("No tenant `{slug}` in this pipeline's workspace"));
            let tenant = store
                .tenant_by_slug(slug)
                .await?
                .filter(|t| t.workspace_id == workspace_id)
                .ok_or_else(no_tenant)?;
            if let Some(saver) = saver {
                match crate::access::tenant(store, saver, &tenant.slug, capability).await {
                    Ok(_) => {}
                    // A tenant the saver is not a member of reads like one that is not there.
                    Err(CoreError::NotFound) => return Err(no_tenant()),
                    Err(CoreError::Forbidden { hint }) => {
                        return Err(CoreError::Forbidden {
                            hint: format!("Step {} in tenant {slug}: {hint}", n + 1),
                        })
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        if let StepAction::ToolHttp(call) = action {
            let field = format!("steps[{n}].params.toolId");
            let no_tool = || {
                CoreError::invalid(&field, format!("No tool {} in this pipeline's workspace", call.tool_id))
            };
            let record = store
                .tool(call.tool_id)
                .await?
                .filter(|t| t.workspace_id == workspace_id)
                .ok_or_else(no_tool)?;
            if let Some(saver) = saver {
                let item = Item {
                    workspace_id: record.workspace_id,
                    owner_id: record.owner_id,
                    rules: &record.tool.access,
                };
                match item_access::level(saver, &saver_workspaces, &item) {
                    Some(Level::Write) => {}
                    Some(Level::Read) => {
                        return Err(CoreError::Forbidden {
                            hint: format!(
                                "Step {} calls tool {}: that needs write access to the tool; you have read access",
                                n + 1,
                                record.tool.name
                            ),
                        })
                    }
                    None => return Err(no_tool()),
                }
            }
        }
    }
    Ok((name, validate_rules("access", input.access.clone())?))
}

async fn audit(
    store: &Store,
    actor: &Initiator,
    record: &PipelineRecord,
    verb: AuditAction,
    details: serde_json::Value,
) -> Result<(), CoreError> {
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(record.workspace_id),
            tenant_id: None,
            actor: actor.clone(),
            kind: AuditKind::Pipeline,
            action: verb,
            target_id: record.pipeline.id.to_string(),
            details: details.as_object().cloned().unwrap_or_default(),
        })
        .await
}

/// Creates a pipeline for `creator` (None: an import from the command line, which names owner
/// and account, recorded as the system).
pub async fn create(
    store: &Store,
    creator: Option<&Caller>,
    input: &PipelineInput,
) -> Result<Pipeline, CoreError> {
    let actor = &Caller::initiator_of(creator);
    let creator = creator.map(|caller| &caller.user);
    let (workspace_id, owner) =
        item_access::placement(store, creator, input.account.as_deref(), input.owner.as_deref()).await?;
    let description = input.description.trim();
    let (name, access) = fields_of(store, workspace_id, input, description, creator).await?;
    let fields = PipelineFields { name: &name, description, steps: &input.steps, access: &access };
    let id = store.create_pipeline(workspace_id, owner.id, &fields).await?;
    let record =
        store.pipeline(id).await?.ok_or_else(|| CoreError::broken(format!("pipeline {id} is missing")))?;
    audit(store, actor, &record, AuditAction::Create, serde_json::json!({ "name": name })).await?;
    Ok(record.pipeline)
}

/// Replaces name, description, steps and (for the owner or a Site Admin) the access list.
pub async fn update(
    store: &Store,
    caller: &Caller,
    id: PipelineId,
    input: &PipelineInput,
) -> Result<Pipeline, CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    let description = input.description.trim();
    let (name, access) = fields_of(store, record.workspace_id, input, description, Some(user)).await?;
    if access != record.pipeline.access && !item_access::may_share(user, &item(&record)) {
        return Err(CoreError::Forbidden {
            hint: "Only the owner or a Site Admin changes who has access.".into(),
        });
    }
    let fields = PipelineFields { name: &name, description, steps: &input.steps, access: &access };
    store.update_pipeline(id, &fields).await?;
    audit(store, actor, &record, AuditAction::Update, serde_json::json!({ "name": name })).await?;
    store.pipeline(id).await?.map(|record| record.pipeline).ok_or(CoreError::NotFound)
}

pub async fn delete(store: &Store, caller: &Caller, id: PipelineId) -> Result<(), CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    if !store.delete_pipeline(id).await? {
        return Err(CoreError::conflict("This pipeline is running. Stop it before deleting it."));
    }
    audit(store, actor, &record, AuditAction::Delete, serde_json::json!({ "name": record.pipeline.name }))
        .await
}

/// A run that was started: its number and operation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunStarted {
    pub run_count: i64,
    pub operation_run_id: RunId,
}

/// Starts the next run: one `pipeline.run` operation run whose counters are the steps. A
/// paused or running pipeline starts nothing and says why, in the contract's words.
pub async fn run(store: &Store, caller: &Caller, id: PipelineId) -> Result<RunStarted, CoreError> {
    start_run(store, caller, id, None).await
}

/// Retries run `failed` of pipeline `id`: the pipeline's next run (its own run count, the
/// steps as they are now), linked to the run it retries.
pub async fn retry(
    store: &Store,
    caller: &Caller,
    id: PipelineId,
    failed: RunId,
) -> Result<RunStarted, CoreError> {
    start_run(store, caller, id, Some(failed)).await
}

async fn start_run(
    store: &Store,
    caller: &Caller,
    id: PipelineId,
    retry_of: Option<RunId>,
) -> Result<RunStarted, CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    if record.pipeline.steps.is_empty() {
        return Err(CoreError::conflict(format!("Pipeline {id} has no steps to run.")));
    }
    let run_count = match store.begin_pipeline_run(id).await? {
        Ok(run_count) => run_count,
        Err(NotBegun::Paused) => {
            return Err(CoreError::conflict(format!(
                "Pipeline {id} is currently in a paused state.  Will not start another job until this pending status is resolved."
            )))
        }
        Err(NotBegun::Running) => {
            return Err(CoreError::conflict(format!(
                "Pipeline {id} is currently running.  Will not start another job until this run completes."
            )))
        }
    };
    // Ids only: the run's context is shown wherever the run is, and that is to whoever may read
    // the pipeline (see `operations::sees`).
    let context = serde_json::json!({ "pipelineId": id, "runCount": run_count });
    let new = NewRun {
        workspace_id: record.workspace_id,
        tenant_id: None,
        kind: OperationKind::Pipeline,
        target: Some(RunTarget::pipeline(id)),
        context: context.as_object().cloned().unwrap_or_default(),
        initiator: actor.clone(),
        retry_of,
    };
    // Not `engine::start`: this run's audit entry is the pipeline's own, naming the run.
    store.record_pipeline_run(id, run_count, &record.pipeline.steps).await?;
    let started = store.start_run(&new).await?;
    store.link_pipeline_run(id, run_count, started.id()).await?;
    let details = serde_json::json!({ "runCount": run_count, "operationRunId": started.id() });
    audit(store, actor, &record, AuditAction::Run, details).await?;
    Ok(RunStarted { run_count, operation_run_id: started.id() })
}

/// The contract's `status` answer for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatusAnswer {
    pub status: &'static str,
    pub message: String,
}

/// The status of run `run_count` (the current run when none is named).
pub async fn status(
    store: &Store,
    user: &User,
    id: PipelineId,
    run_count: Option<i64>,
) -> Result<RunStatusAnswer, CoreError> {
    let record = visible(store, user, id, Level::Read).await?;
    let name = &record.pipeline.name;
    let run = match run_count {
        Some(n) => Some(
            store
                .pipeline_run(id, n)
                .await?
                .ok_or_else(|| CoreError::invalid("runCount", format!("Pipeline {id} has no run {n}.")))?,
        ),
        None => record.pipeline.current_run.clone(),
    };
    let Some(run) = run else {
        return Ok(RunStatusAnswer {
            status: "idle",
            message: format!("Pipeline: {name} has no current run."),
        });
    };
    Ok(describe(name, &run))
}

fn describe(name: &str, run: &PipelineRun) -> RunStatusAnswer {
    let n = run.run_count;
    let (status, how) = match (run.status, run.outcome) {
        (RunStatus::Queued, _) => ("queued", "is queued".to_string()),
        (RunStatus::Running, _) => {
            ("running", format!("is running (step {} of {})", run.processed + 1, run.total))
        }
        (_, RunOutcome::Succeeded) => ("success", "was successful".to_string()),
        (_, RunOutcome::Cancelled) => ("stopped", "was stopped".to_string()),
        (_, RunOutcome::PartiallySucceeded | RunOutcome::Failed) => {
            ("failed", format!("failed ({} of {} steps failed)", run.failed, run.total))
        }
        (_, RunOutcome::Pending) => ("running", "is running".to_string()),
    };
    RunStatusAnswer { status, message: format!("Pipeline: {name}'s Run {n} {how}.") }
}

/// Clears the current run and a paused state. A run in flight must be stopped first.
pub async fn reset(store: &Store, caller: &Caller, id: PipelineId) -> Result<(), CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    if !store.reset_pipeline(id).await? {
        return Err(CoreError::conflict(format!("Pipeline {id} is running.  Stop it before resetting it.")));
    }
    audit(store, actor, &record, AuditAction::Reset, serde_json::json!({})).await
}

/// Asks the running pipeline to stop: its current step finishes, the rest are skipped, and the
/// run completes as cancelled.
pub async fn stop(store: &Store, caller: &Caller, id: PipelineId) -> Result<(), CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    if !store.request_pipeline_stop(id).await? {
        return Err(CoreError::conflict(format!("Pipeline {id} is not running.")));
    }
    let run_count = record.pipeline.current_run.as_ref().map_or(0, |run| run.run_count);
    store
        .add_pipeline_log(
            id,
            run_count,
            None,
            super::PIPELINE_OPERATIONS,
            "stopping",
            "Stop requested: the current step finishes, the rest are skipped.",
        )
        .await?;
    audit(store, actor, &record, AuditAction::Stop, serde_json::json!({ "runCount": run_count })).await
}

/// Activity logs, newest first, at most `LOG_LIMIT`: of one run when named, only its console
/// lines when `kind` is exactly "console output", and newer than `after_id` when following.
pub async fn logs(
    store: &Store,
    user: &User,
    id: PipelineId,
    run_count: Option<i64>,
    kind: Option<&str>,
    after_id: Option<i64>,
) -> Result<Vec<PipelineLog>, CoreError> {
    let record = visible(store, user, id, Level::Read).await?;
    let console = kind == Some(CONSOLE_OUTPUT);
    // Console lines belong to a run: the named one, else the current (or latest) one.
    let run_count = match (run_count, console) {
        (Some(n), _) => Some(n),
        (None, true) => {
            Some(record.pipeline.current_run.as_ref().map_or(record.pipeline.run_count, |run| run.run_count))
        }
        (None, false) => None,
    };
    store.pipeline_logs(id, run_count, console.then_some(CONSOLE_OUTPUT), after_id, LOG_LIMIT).await
}
