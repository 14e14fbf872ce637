//! Monitoring: who may see which runs, and the list query as clients spell it (query-string
//! filters, cursor paging). Pages, server functions and the JSON routes all come through here.

use super::{BulkAction, BulkResult, ListParams, BULK_MAX, LIKELY_STALE_AFTER_SECS};
use super::{
    ChartBar, ChartSpan, OperationKind, OperationRun, RunOutcome, RunStatus, RunTarget, RunsOverTime,
};
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::clock::Tz;
use crate::engine;
use crate::ids::{PipelineId, RunId, TenantId, WorkspaceId};
use crate::model::Caller;
use crate::model::User;
use crate::store::{NewRun, RunChange, RunQuery, RunScope, Started, Store};
use crate::{Capability, CoreError};
use chrono::{DateTime, Duration, DurationRound, Utc};

pub const PAGE_DEFAULT: i64 = 50;

pub const PAGE_MAX: i64 = 200;

/// One page of runs and, when there are more, the cursor of the next page.
pub struct Page {
    pub runs: Vec<OperationRun>,
    pub next_cursor: Option<RunId>,
}

/// The runs `user` may see: all of them for platform admins.
pub async fn scope(store: &Store, user: &User) -> Result<RunScope, CoreError> {
    Ok(if user.is_platform_admin {
        RunScope::All
    } else {
        RunScope::MemberOf { user_id: user.id, pipelines: crate::pipelines::readable_ids(store, user).await? }
    })
}

fn blank_is_none(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, CoreError> {
    value
        .map(|value| {
            DateTime::parse_from_rfc3339(value).map(|time| time.with_timezone(&Utc)).map_err(|_| {
                CoreError::invalid(
                    field,
                    format!("`{value}` is not an RFC 3339 time, like 2026-11-22T08:00:00Z"),
                )
            })
        })
        .transpose()
}

fn parse_positive(field: &str, value: Option<&str>) -> Result<Option<i64>, CoreError> {
    value
        .map(|value| match value.parse::<i64>() {
            Ok(number) if number > 0 => Ok(number),
            _ => Err(CoreError::invalid(field, format!("`{value}` is not a positive whole number"))),
        })
        .transpose()
}

impl ListParams {
    /// These filters with times picked on a wall clock (a `datetime-local` field's
    /// `2026-11-30T14:00`) read in `zone` and written as RFC 3339 in UTC, as the address keeps
    /// them; times already in RFC 3339, and mistakes (named later by [`ListParams::query`]), stay.
    pub fn in_zone(&self, zone: Tz) -> ListParams {
        let convert = |value: &Option<String>| {
            value.as_ref().map(|text| match crate::clock::from_wall_clock(text, zone) {
                Some(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                None => text.clone(),
            })
        };
        ListParams { since: convert(&self.since), until: convert(&self.until), ..self.clone() }
    }

    /// Checks every parameter and names the first bad one.
    pub async fn query(&self, store: &Store, user: &User) -> Result<RunQuery, CoreError> {
        let status = blank_is_none(&self.status)
            .map(|value| value.parse::<RunStatus>().map_err(|message| CoreError::invalid("status", message)))
            .transpose()?;
        let outcome = blank_is_none(&self.outcome)
            .map(|value| {
                value.parse::<RunOutcome>().map_err(|message| CoreError::invalid("outcome", message))
            })
            .transpose()?;
        let since = parse_time("since", blank_is_none(&self.since))?;
        let until = parse_time("until", blank_is_none(&self.until))?;
        let before_id = parse_positive("cursor", blank_is_none(&self.cursor))?.map(RunId);
        let schedule = parse_positive("schedule", blank_is_none(&self.schedule))?;
        let limit = parse_positive("limit", blank_is_none(&self.limit))?.unwrap_or(PAGE_DEFAULT);
        if limit > PAGE_MAX {
            return Err(CoreError::invalid("limit", format!("At most {PAGE_MAX} runs per page")));
        }
        let kind = blank_is_none(&self.kind);
        if kind.is_some_and(|kind| kind.len() > 64) {
            return Err(CoreError::invalid("type", "An operation type is at most 64 characters"));
        }
        // A type this version does not know filters everything out, as an unknown tenant does.
        let kinds = kind.map(|kind| kind.parse::<OperationKind>().into_iter().collect());
        let mut query = RunQuery {
            status,
            outcome,
            since,
            until,
            before_id,
            kinds,
            schedule,
            ..RunQuery::new(scope(store, user).await?, limit)
        };
        if let Some(slug) = blank_is_none(&self.tenant) {
            // An unknown tenant filters everything out, as a tenant the caller may not see does.
            query.tenant_id = Some(store.tenant_by_slug(slug).await?.map_or(TenantId(0), |tenant| tenant.id));
        }
        Ok(query)
    }
}

/// A page of the runs `user` may see, newest first.
pub async fn list(store: &Store, user: &User, params: &ListParams) -> Result<Page, CoreError> {
    page(store, params.query(store, user).await?).await
}

/// The Monitoring page's data: a page of runs, and runs by outcome over the 24 hours before
/// `now` under the same tenant and type filters. What `user` may see is read once for both.
pub async fn dashboard(
    store: &Store,
    user: &User,
    params: &ListParams,
    span: ChartSpan,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<(Page, RunsOverTime), CoreError> {
    let query = params.query(store, user).await?;
    let chart = runs_over_time(store, &query, span, zone, now).await?;
    Ok((page(store, query).await?, chart))
}

/// The runs of `query` (its time filters aside) created over the chart's span, by outcome: a
/// bar per hour for the last 24 hours, or per day of `zone` for the last 30 days (today's
/// included).
async fn runs_over_time(
    store: &Store,
    query: &RunQuery,
    span: ChartSpan,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<RunsOverTime, CoreError> {
    let this_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let starts: Vec<DateTime<Utc>> = match span {
        ChartSpan::Day => (0..24).rev().map(|back| this_hour - Duration::hours(back)).collect(),
        ChartSpan::Month => {
            let today = now.with_timezone(&zone).date_naive();
            (0..30).rev().map(|back| crate::clock::start_of_day(today - Duration::days(back), zone)).collect()
        }
    };
    let since = starts[0].duration_trunc(Duration::hours(1)).unwrap_or(starts[0]);
    let over = RunQuery { since: Some(since), until: None, ..query.clone() };
    let mut bars: Vec<ChartBar> = starts
        .iter()
        .map(|start| ChartBar {
            start: *start,
            counts: RunOutcome::ALL.iter().map(|outcome| (*outcome, 0)).collect(),
        })
        .collect();
    for (hour, outcome, count) in store.count_runs_by_hour(&over).await? {
        // The bar an hour falls in: the last one starting at or before it.
        let Some(bar) = bars.iter_mut().rev().find(|bar| bar.start <= hour) else { continue };
        if let Some(slot) = bar.counts.iter_mut().find(|(known, _)| *known == outcome) {
            slot.1 += count;
        }
    }
    let totals = RunOutcome::ALL
        .iter()
        .map(|outcome| {
            let sum = bars
                .iter()
                .flat_map(|bar| &bar.counts)
                .filter(|(known, _)| known == outcome)
                .map(|(_, n)| n)
                .sum();
            (*outcome, sum)
        })
        .collect();
    Ok(RunsOverTime { span, bars, totals })
}

async fn page(store: &Store, mut query: RunQuery) -> Result<Page, CoreError> {
    let limit = query.limit;
    // One more than asked tells whether there is a next page.
    query.limit = limit + 1;
    let mut runs = store.list_runs(&query).await?;
    let next_cursor = if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        runs.last().map(|run| run.id)
    } else {
        None
    };
    Ok(Page { runs, next_cursor })
}

/// The run `id`, if `user` may see it; otherwise not found, as if it did not exist.
pub async fn run(store: &Store, user: &User, id: RunId) -> Result<OperationRun, CoreError> {
    let run = store.operation_run(id).await?.ok_or(CoreError::NotFound)?;
    if sees(store, user, &run).await? {
        Ok(run)
    } else {
        Err(CoreError::NotFound)
    }
}

/// Run `id` as the Monitoring detail shows it to `user`, with its retry links in its context:
/// `retryOf` (the run it retries) and `retriedBy` (its retries, oldest first), where it has them.
pub async fn detail(store: &Store, user: &User, id: RunId) -> Result<super::RunDetail, CoreError> {
    let run = run(store, user, id).await?;
    let mut detail = super::RunDetail::from(&run);
    if let Some(of) = run.retry_of {
        detail.context.insert("retryOf".into(), of.0.into());
    }
    let retries = store.retries_of(run.id).await?;
    if !retries.is_empty() {
        detail.context.insert("retriedBy".into(), retries.iter().map(|id| id.0).collect::<Vec<_>>().into());
    }
    Ok(detail)
}

/// Whether `user` may see `run`: platform admins every run; members their enabled tenants' runs;
/// a pipeline's runs (and their failures) whoever may read the pipeline; other workspace-level
/// runs the workspace's members.
pub async fn sees(store: &Store, user: &User, run: &OperationRun) -> Result<bool, CoreError> {
    if user.is_platform_admin {
        return Ok(true);
    }
    match (run.tenant_id, run.target.as_ref().and_then(RunTarget::pipeline_id)) {
        (None, Some(pipeline)) => crate::pipelines::readable(store, user, pipeline).await,
        _ => store.member_sees_run(user.id, run).await,
    }
}

/// Cancels run `id` for `user` (recorded as `actor`): they must see it (else not found) and hold
/// `tenant.operations.start` in its tenant (else forbidden; workspace-level runs: platform
/// admins). Returns the run as it is after the cancel.
pub async fn cancel(store: &Store, caller: &Caller, id: RunId) -> Result<OperationRun, CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let run = run(store, user, id).await?;
    if !may_cancel(store, user, &run).await? {
        return Err(CoreError::forbidden(Capability::OperationsStart));
    }
    engine::cancel(store, actor, &run).await?;
    store.operation_run(id).await?.ok_or(CoreError::NotFound)
}

/// Whether run `run` may be retried: it completed without succeeding in full.
pub fn retryable(run: &OperationRun) -> bool {
    run.status == RunStatus::Completed
        && matches!(run.outcome, RunOutcome::Failed | RunOutcome::PartiallySucceeded | RunOutcome::Cancelled)
}

/// Retries run `id` for `caller`, who must be allowed to start it: a new run of the same type,
/// target and context, linked to the run it retries, started through the same create-or-reuse
/// as any start (an active run of the same identity is reused, and is no retry). A partially
/// succeeded restore is retried for its failed items only; a pipeline's retry is its next run.
pub async fn retry(store: &Store, caller: &Caller, id: RunId) -> Result<Started, CoreError> {
    retry_seen(store, caller, &run(store, &caller.user, id).await?).await
}

/// [`retry`] of a run the caller was found to see.
async fn retry_seen(store: &Store, caller: &Caller, run: &OperationRun) -> Result<Started, CoreError> {
    let (user, id) = (&caller.user, run.id);
    if !retryable(run) {
        return Err(CoreError::conflict(format!(
            "Run {id} is {}: only a failed, partially succeeded or cancelled run can be retried.",
            if run.status == RunStatus::Completed { run.outcome.as_str() } else { run.status.as_str() }
        )));
    }
    if let Some(pipeline) = run.target.as_ref().and_then(RunTarget::pipeline_id) {
        let started = crate::pipelines::retry(store, caller, pipeline, run.id).await?;
        return Ok(Started::Created(started.operation_run_id));
    }
    may_start_again(store, user, run).await?;
    let mut context = run.context.clone();
    if let Some(failed) = context.remove(engine::operations::FAILED_ITEMS) {
        if run.kind == OperationKind::Restore && run.outcome == RunOutcome::PartiallySucceeded {
            context.insert(engine::operations::RETRIED_ITEMS.into(), failed);
        }
    }
    let new = NewRun {
        workspace_id: run.workspace_id,
        tenant_id: run.tenant_id,
        kind: run.kind,
        target: run.target.clone(),
        context,
        initiator: caller.initiator.clone(),
        retry_of: Some(run.id),
    };
    let started = engine::start(store, &new).await?;
    if run.kind == OperationKind::Restore {
        let restore_id = run.target.as_ref().and_then(|target| target.id.parse().ok());
        if let (Some(restore_id), Started::Created(created)) = (restore_id, started) {
            store.set_restore_execution(restore_id, created).await?;
        }
    }
    Ok(started)
}

/// Whether `user` may retry `run` (see [`retry`]).
pub async fn may_retry(store: &Store, user: &User, run: &OperationRun) -> Result<bool, CoreError> {
    if !retryable(run) {
        return Ok(false);
    }
    match may_start_again(store, user, run).await {
        Ok(()) => Ok(true),
        Err(CoreError::Forbidden { .. } | CoreError::NotFound) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Refuses `user` a new run like `run` unless they may start one: tenant jobs are the platform
/// admins', a pipeline's runs need write access to it, the others the capability their start
/// route asks for.
async fn may_start_again(store: &Store, user: &User, run: &OperationRun) -> Result<(), CoreError> {
    if run.kind.is_tenant_job() {
        return match user.is_platform_admin {
            true => Ok(()),
            false => {
                Err(CoreError::Forbidden { hint: "Tenant lifecycle jobs are the platform admins'.".into() })
            }
        };
    }
    if let Some(pipeline) = run.target.as_ref().and_then(RunTarget::pipeline_id) {
        return crate::pipelines::visible(store, user, pipeline, crate::item_access::Level::Write)
            .await
            .map(drop);
    }
    let tenant_id =
        run.tenant_id.ok_or_else(|| CoreError::broken(format!("run {} has no tenant", run.id)))?;
    let tenant = store.tenant_by_id(tenant_id).await?.ok_or(CoreError::NotFound)?;
    let needed = match run.kind {
        OperationKind::Restore => Capability::RestoreExecute,
        _ => Capability::BackupsManage,
    };
    crate::access::tenant(store, user, &tenant.slug, needed).await.map(drop)
}

/// The runs `params` shows `user` that `action` applies to, at most `cap`: every page of the
/// filter, its cursor and page size aside.
async fn bulk_query(
    store: &Store,
    user: &User,
    action: BulkAction,
    params: &ListParams,
) -> Result<RunQuery, CoreError> {
    let params = ListParams { cursor: None, limit: None, ..params.clone() };
    let mut query = params.query(store, user).await?;
    query.limit = BULK_MAX + 1;
    match action {
        BulkAction::Cancel => query.statuses = Some(vec![RunStatus::Queued, RunStatus::Running]),
        BulkAction::Retry => {
            query.statuses = Some(vec![RunStatus::Completed]);
            query.outcomes =
                Some(vec![RunOutcome::Failed, RunOutcome::PartiallySucceeded, RunOutcome::Cancelled]);
        }
    }
    Ok(query)
}

/// How many runs of the filter `action` would take on (counted no further than one past
/// [`BULK_MAX`]): what its confirmation states.
pub async fn bulk_count(
    store: &Store,
    user: &User,
    action: BulkAction,
    params: &ListParams,
) -> Result<i64, CoreError> {
    let query = bulk_query(store, user, action, params).await?;
    store.count_runs(&query, BULK_MAX + 1).await
}

/// Cancels or retries every run of Monitoring's filter `params` that `action` applies to, as
/// `caller` sees them; more than [`BULK_MAX`] is refused, asking for a narrower filter. Runs the
/// caller may see but not act on are skipped and counted. One audit entry records the filter
/// and the counts (each cancel or retry is recorded as well, as one made by hand).
pub async fn bulk(
    store: &Store,
    caller: &Caller,
    action: BulkAction,
    params: &ListParams,
) -> Result<BulkResult, CoreError> {
    let user = &caller.user;
    let runs = store.list_runs(&bulk_query(store, user, action, params).await?).await?;
    if runs.len() as i64 > BULK_MAX {
        return Err(CoreError::invalid(
            "filter",
            format!(
                "More than {BULK_MAX} runs match: narrow the filter (one action takes at most {BULK_MAX})."
            ),
        ));
    }
    let mut result = BulkResult { matched: runs.len() as i64, ..BulkResult::default() };
    for run in &runs {
        let done = match action {
            BulkAction::Cancel => match may_cancel(store, user, run).await? {
                true => engine::cancel(store, &caller.initiator, run).await.map(drop),
                false => Err(CoreError::forbidden(Capability::OperationsStart)),
            },
            BulkAction::Retry => retry_seen(store, caller, run).await.map(drop),
        };
        match done {
            Ok(()) => result.acted += 1,
            Err(CoreError::Forbidden { .. } | CoreError::NotFound | CoreError::Conflict { .. }) => {
                result.skipped += 1
            }
            Err(other) => return Err(other),
        }
    }
    let tenant = match blank_is_none(&params.tenant) {
        Some(slug) => store.tenant_by_slug(slug).await?,
        None => None,
    };
    let mut details = serde_json::Map::new();
    details.insert("action".into(), action.as_str().into());
    details.insert(
        "filter".into(),
        serde_json::to_value(ListParams { cursor: None, limit: None, ..params.clone() })
            .map_err(CoreError::internal)?,
    );
    details.insert("matched".into(), result.matched.into());
    details.insert("acted".into(), result.acted.into());
    details.insert("skipped".into(), result.skipped.into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: tenant.as_ref().map(|tenant| tenant.workspace_id),
            tenant_id: tenant.as_ref().map(|tenant| tenant.id),
            actor: caller.initiator.clone(),
            kind: AuditKind::Operation,
            action: AuditAction::Bulk,
            target_id: action.as_str().into(),
            details,
        })
        .await?;
    Ok(result)
}

/// Which runs' changes a user may hear about, as loaded at one moment, under the rule of
/// [`sees`]: members hear their enabled tenants' runs, the runs of pipelines they may read and
/// their workspaces' other tenant-less runs; platform admins every run.
#[derive(Debug, Clone, Default)]
pub struct Entitlement {
    all: bool,
    tenants: std::collections::HashSet<TenantId>,
    workspaces: std::collections::HashSet<WorkspaceId>,
    pipelines: std::collections::HashSet<PipelineId>,
}

impl Entitlement {
    pub async fn load(store: &Store, user: &User) -> Result<Entitlement, CoreError> {
        if user.is_platform_admin {
            return Ok(Entitlement { all: true, ..Entitlement::default() });
        }
        let memberships = store.memberships_of(user.id).await?;
        Ok(Entitlement {
            all: false,
            tenants: memberships.iter().map(|m| m.tenant.id).collect(),
            workspaces: memberships.iter().map(|m| m.tenant.workspace_id).collect(),
            pipelines: crate::pipelines::readable_ids(store, user).await?.into_iter().collect(),
        })
    }

    pub fn sees(&self, change: &RunChange) -> bool {
        self.all
            || match (change.tenant_id, change.pipeline_id) {
                (Some(tenant), _) => self.tenants.contains(&tenant),
                (None, Some(pipeline)) => self.pipelines.contains(&pipeline),
                (None, None) => self.workspaces.contains(&change.workspace_id),
            }
    }
}

/// Whether `run` is running but its worker has gone quiet.
pub fn likely_stale(run: &OperationRun, now: DateTime<Utc>) -> bool {
    run.status == RunStatus::Running
        && run.heartbeat_at.is_none_or(|beat| now - beat > chrono::Duration::seconds(LIKELY_STALE_AFTER_SECS))
}

/// Whether `user` may cancel `run` (which they can see): a member holding
/// `tenant.operations.start` in its tenant; for a pipeline's run, whoever may change the
/// pipeline; for a tenant's lifecycle (install, upgrade, disable) and other workspace-level
/// runs, a platform admin.
pub async fn may_cancel(store: &Store, user: &User, run: &OperationRun) -> Result<bool, CoreError> {
    if run.kind.is_tenant_job() {
        return Ok(user.is_platform_admin);
    }
    let pipeline = run.target.as_ref().and_then(RunTarget::pipeline_id);
    Ok(match (run.tenant_id, pipeline) {
        (Some(tenant_id), _) => store
            .member_role(tenant_id, user.id)
            .await?
            .is_some_and(|role| role.has(Capability::OperationsStart)),
        (None, Some(pipeline_id)) => {
            user.is_platform_admin
                || crate::pipelines::visible(store, user, pipeline_id, crate::item_access::Level::Write)
                    .await
                    .is_ok()
        }
        (None, None) => user.is_platform_admin,
    })
}
