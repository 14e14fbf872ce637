//! `pipeline.run`: a pipeline's steps, one after another, each doing real work: the tenant
//! steps start operation runs of their own (visible in Monitoring) and wait for them, `tool.http`
//! calls a registered tool, `wait` waits. A stop is heard between steps; a cancel also inside
//! one. Running twice would do the work twice, so it is not retry-safe.

use super::{start_capture, start_fetch, start_restore, target_id};
use crate::egress::{EgressClient, Refused};
use crate::engine::{Operation, RunContext, Stop};
use crate::ids::{PipelineId, RunId};
use crate::item_access::{self, Item};
use crate::model::User;
use crate::operations::{Failure, OperationKind, OperationRun, RunOutcome, RunStatus};
use crate::pipelines::{HttpCall, PipelineState, Step, StepAction, CONSOLE_OUTPUT, PIPELINE_OPERATIONS};
use crate::store::Started;
use crate::tools::BEARER_SECRET;
use crate::{access, Capability, CoreError};
use chrono::Utc;
use std::time::{Duration, Instant};

/// Console lines kept of a tool's answer, and characters per line.
const BODY_LINES: usize = 20;
const LINE_CHARS: usize = 500;
/// The most of a tool's answer read; the rest is not (the console shows its first lines).
const TOOL_ANSWER_MAX: usize = 1024 * 1024;
/// How often a waiting step looks at its child runs (and hears a cancel).
const POLL: Duration = Duration::from_millis(250);

pub(super) struct PipelineRun {
    /// Calls tools only where the egress policy allows.
    pub http: EgressClient,
}

/// How a run ended, and the state it leaves the pipeline in.
struct Ended {
    outcome: RunOutcome,
    state: PipelineState,
}

/// Where a run writes its log lines.
struct Log<'a> {
    run: &'a RunContext,
    pipeline_id: PipelineId,
    run_count: i64,
}

impl Log<'_> {
    async fn pipeline(&self, status: &str, message: &str) -> Result<(), Stop> {
        let store = &self.run.store;
        store
            .add_pipeline_log(self.pipeline_id, self.run_count, None, PIPELINE_OPERATIONS, status, message)
            .await?;
        Ok(())
    }

    async fn console(&self, step: (i64, &str), status: &str, message: &str) -> Result<(), Stop> {
        let store = &self.run.store;
        store
            .add_pipeline_log(self.pipeline_id, self.run_count, Some(step), CONSOLE_OUTPUT, status, message)
            .await?;
        Ok(())
    }
}

fn failure(code: &str, reason_code: &str, message: impl Into<String>) -> Failure {
    Failure { code: code.into(), reason_code: reason_code.into(), message: message.into(), at: Utc::now() }
}

#[async_trait::async_trait]
impl Operation for PipelineRun {
    fn kind(&self) -> OperationKind {
        OperationKind::Pipeline
    }

    fn retry_safe(&self) -> bool {
        false
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let pipeline_id: PipelineId = target_id(run, "pipeline")?;
        let run_count = run.run.context.get("runCount").and_then(|n| n.as_i64()).unwrap_or_default();
        // Linked right after the run was created; a run whose pipeline is gone has nothing to do.
        let steps = run.store.pipeline_run_steps(pipeline_id, run_count).await?.ok_or_else(|| {
            Stop::failed("pipeline.gone", "invalid_state", "This run's pipeline no longer exists.")
        })?;
        let result = self.steps(run, pipeline_id, run_count, &steps).await;
        let store = run.store.clone();
        let log = Log { run, pipeline_id, run_count };
        let (state, message) = match &result {
            Ok(Ended { outcome, state }) => (*state, format!("Run {run_count} ended: {}.", outcome.label())),
            Err(Stop::Cancelled) => (PipelineState::Stopped, format!("Run {run_count} was cancelled.")),
            Err(Stop::Failed(failure)) => {
                (PipelineState::Idle, format!("Run {run_count} failed: {}", failure.message))
            }
            // Another worker's reconciler completes it; the pipeline reads as idle then.
            Err(Stop::Released) => return Err(Stop::Released),
        };
        log.pipeline(state.as_str(), &message).await?;
        store.end_pipeline_run(pipeline_id, run_count, state).await?;
        result.map(|ended| ended.outcome)
    }
}

impl PipelineRun {
    async fn steps(
        &self,
        run: &mut RunContext,
        pipeline_id: PipelineId,
        run_count: i64,
        steps: &[Step],
    ) -> Result<Ended, Stop> {
        run.set_total(steps.len() as i64);
        let total = steps.len();
        Log { run, pipeline_id, run_count }
            .pipeline("running", &format!("Run {run_count} started: {total} steps."))
            .await?;
        for (n, step) in steps.iter().enumerate() {
            run.checkpoint().await?;
            let place = (n as i64, step.name.as_str());
            let log = Log { run, pipeline_id, run_count };
            log.console(
                place,
                "running",
                &format!("Step {} of {total}: {} ({})", n + 1, step.name, step.kind),
            )
            .await?;
            let result = match step.action(&format!("steps[{n}]")) {
                Ok(action) => self.step(run, pipeline_id, run_count, place, &action).await?,
                Err(error) => Err(failure("pipeline.step.invalid", "invalid_state", error.to_string())),
            };
            let log = Log { run, pipeline_id, run_count };
            match result {
                Ok(()) => {
                    run.item_succeeded();
                    log.console(place, "success", &format!("Step {} succeeded.", n + 1)).await?;
                }
                Err(mut failure) => {
                    failure.message = format!("{}: {}", step.name, failure.message);
                    log.console(place, "failed", &failure.message).await?;
                    run.item_failed(failure).await?;
                    let state = match step.on_failure {
                        crate::pipelines::OnFailure::Pause => PipelineState::Paused,
                        crate::pipelines::OnFailure::Stop => PipelineState::Idle,
                    };
                    return Ok(Ended { outcome: RunOutcome::Failed, state });
                }
            }
            if run.store.pipeline_stop_requested(pipeline_id).await? {
                let skipped = total - n - 1;
                let log = Log { run, pipeline_id, run_count };
                log.pipeline("stopped", &format!("Stopped after step {}; {skipped} skipped.", n + 1)).await?;
                return Ok(Ended { outcome: RunOutcome::Cancelled, state: PipelineState::Stopped });
            }
        }
        Ok(Ended { outcome: RunOutcome::Succeeded, state: PipelineState::Idle })
    }

    /// Runs one step. The outer error stops the whole run (cancel, shutdown, internal error);
    /// the inner one is the step's failure.
    async fn step(
        &self,
        run: &mut RunContext,
        pipeline_id: PipelineId,
        run_count: i64,
        place: (i64, &str),
        action: &StepAction,
    ) -> Result<Result<(), Failure>, Stop> {
        let user = match run.run.initiator.user_id() {
            Some(id) => run.store.user_by_id(id).await?,
            None => None,
        };
        let Some(user) = user else {
            return Ok(Err(failure("pipeline.step.forbidden", "missing_capability", "No user to act for.")));
        };
        let log = Log { run, pipeline_id, run_count };
        match action {
            StepAction::Wait { seconds } => {
                log.console(place, "running", &format!("Waiting {seconds} s.")).await?;
                let until = Instant::now() + Duration::from_secs(*seconds);
                while Instant::now() < until {
                    run.checkpoint().await?;
                    tokio::time::sleep(POLL.min(until - Instant::now())).await;
                }
                Ok(Ok(()))
            }
            StepAction::ToolHttp(call) => {
                self.call_tool(run, &user, pipeline_id, run_count, place, call).await
            }
            tenant_step => {
                let slug = tenant_step.tenant().unwrap_or_default();
                let capability = tenant_step.capability().unwrap_or(Capability::BackupsManage);
                let member = match access::tenant(&run.store, &user, slug, capability).await {
                    Ok(member) if member.tenant.workspace_id == run.run.workspace_id => member,
                    Ok(_) | Err(CoreError::NotFound) => {
                        return Ok(Err(failure(
                            "pipeline.step.tenant",
                            "not_found",
                            format!("{} cannot see tenant `{slug}`.", user.email),
                        )))
                    }
                    Err(CoreError::Forbidden { .. }) => {
                        return Ok(Err(failure(
                            "pipeline.step.forbidden",
                            "missing_capability",
                            format!("{} lacks {} in tenant `{slug}`.", user.email, capability.as_str()),
                        )))
                    }
                    Err(other) => return Err(other.into()),
                };
                let initiator = run.run.initiator.clone();
                let started: Vec<Started> = match tenant_step {
                    StepAction::Capture { .. } => vec![start_capture(&run.store, &member, initiator).await?],
                    StepAction::Restore { restore_run_id, .. } => {
                        match start_restore(&run.store, &member, *restore_run_id, initiator).await {
                            Ok(started) => vec![started],
                            Err(CoreError::NotFound) => {
                                return Ok(Err(failure(
                                    "pipeline.step.target",
                                    "not_found",
                                    format!("No restore run {restore_run_id} in `{slug}`."),
                                )))
                            }
                            Err(other) => return Err(other.into()),
                        }
                    }
                    StepAction::Fetch { backup_set_id, .. } => {
                        let items = run.store.backup_items(member.tenant.id, Some(*backup_set_id)).await?;
                        if items.is_empty() {
                            return Ok(Err(failure(
                                "pipeline.step.target",
                                "not_found",
                                format!("Backup set {backup_set_id} of `{slug}` has no items."),
                            )));
                        }
                        let mut started = Vec::with_capacity(items.len());
                        for item in items {
                            started.push(
                                start_fetch(&run.store, &member, item.id, run.run.initiator.clone()).await?,
                            );
                        }
                        started
                    }
                    StepAction::ToolHttp(_) | StepAction::Wait { .. } => Vec::new(),
                };
                let ids: Vec<RunId> = started.iter().map(|started| started.id()).collect();
                let listed: Vec<String> = ids.iter().map(|id| format!("#{id}")).collect();
                log.console(place, "running", &format!("Started operation run {}.", listed.join(", ")))
                    .await?;
                let children = self.wait_for(run, &ids).await?;
                let log = Log { run, pipeline_id, run_count };
                let mut failed = None;
                for child in &children {
                    let counters = child.counters;
                    log.console(
                        place,
                        child.outcome.as_str(),
                        &format!(
                            "Operation run #{} {}: {}/{} items, {} failed.",
                            child.id,
                            child.outcome.label().to_lowercase(),
                            counters.processed,
                            counters.total,
                            counters.failed
                        ),
                    )
                    .await?;
                    if child.outcome != RunOutcome::Succeeded && failed.is_none() {
                        let reason =
                            child.failures.first().map_or("operation_failed", |f| f.reason_code.as_str());
                        let detail =
                            child.failures.first().map(|f| format!(": {}", f.message)).unwrap_or_default();
                        failed = Some(failure(
                            "pipeline.step.operation",
                            reason,
                            format!(
                                "Operation run #{} {}{detail}",
                                child.id,
                                child.outcome.label().to_lowercase()
                            ),
                        ));
                    }
                }
                Ok(failed.map_or(Ok(()), Err))
            }
        }
    }

    /// Waits until every run in `ids` has completed; a cancel of this run cancels them too.
    async fn wait_for(&self, run: &mut RunContext, ids: &[RunId]) -> Result<Vec<OperationRun>, Stop> {
        let mut changes = run.store.events().subscribe();
        loop {
            if let Err(stop) = run.checkpoint().await {
                if stop == Stop::Cancelled {
                    for id in ids {
                        if let Some(child) = run.store.operation_run(*id).await? {
                            if child.status != RunStatus::Completed {
                                // Best effort: the step's run still ends, as cancelled or not.
                                if let Err(error) =
                                    crate::engine::cancel(&run.store, &run.run.initiator, &child).await
                                {
                                    tracing::warn!(error = %error.detail(), run = %child.id, "cannot cancel a step's run");
                                }
                            }
                        }
                    }
                }
                return Err(stop);
            }
            let mut children = Vec::with_capacity(ids.len());
            for id in ids {
                children.push(run.store.operation_run(*id).await?.ok_or(CoreError::NotFound)?);
            }
            if children.iter().all(|child| child.status == RunStatus::Completed) {
                return Ok(children);
            }
            let _ = tokio::time::timeout(POLL, changes.recv()).await;
        }
    }

    async fn call_tool(
        &self,
        run: &mut RunContext,
        user: &User,
        pipeline_id: PipelineId,
        run_count: i64,
        place: (i64, &str),
        call: &HttpCall,
    ) -> Result<Result<(), Failure>, Stop> {
        let log = Log { run, pipeline_id, run_count };
        let workspaces = run.store.workspaces_of(user.id).await?;
        let record = run.store.tool(call.tool_id).await?.filter(|tool| {
            let item =
                Item { workspace_id: tool.workspace_id, owner_id: tool.owner_id, rules: &tool.tool.access };
            // Calling a tool needs write access to it: a reader may see it, not use it.
            tool.workspace_id == run.run.workspace_id
                && item_access::level(user, &workspaces, &item) == Some(item_access::Level::Write)
        });
        let Some(record) = record else {
            return Ok(Err(failure(
                "pipeline.step.tool",
                "not_found",
                format!("No tool {} that {} may use.", call.tool_id, user.email),
            )));
        };
        if !record.tool.active {
            return Ok(Err(failure(
                "pipeline.step.tool",
                "invalid_state",
                format!("Tool `{}` is not active.", record.tool.name),
            )));
        }
        let base = record.tool.configuration.get("baseUrl").and_then(|url| url.as_str()).unwrap_or_default();
        let url = format!("{}{}", base.trim_end_matches('/'), call.path);
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = match self.http.request(method, &url) {
            Ok(request) => request.timeout(Duration::from_secs(call.timeout_secs)),
            Err(refused) => return Ok(Err(refusal(&log, place, call, &url, &refused).await?)),
        };
        if let Some(headers) =
            record.tool.configuration.get("headers").and_then(|headers| headers.as_object())
        {
            for (name, value) in headers {
                match with_secrets(value.as_str().unwrap_or_default(), &record.draft.secrets) {
                    Ok(value) => request = request.header(name.as_str(), value),
                    Err(missing) => {
                        return Ok(Err(failure(
                            "pipeline.step.tool",
                            "invalid_state",
                            format!(
                            "Header {name} of tool `{}` uses the secret {missing}, which it does not have.",
                            record.tool.name
                        ),
                        )))
                    }
                }
            }
        }
        if let Some(secret) = record.draft.secrets.get(BEARER_SECRET) {
            request = request.bearer_auth(secret);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        log.console(place, "running", &format!("{} {url}", call.method)).await?;
        let began = Instant::now();
        let response = tokio::select! {
            response = request.send() => response,
            stop = cancelled(run) => return Err(stop),
        };
        let log = Log { run, pipeline_id, run_count };
        let response = match response {
            Ok(response) => response,
            Err(error) if EgressClient::refusal(&error).is_some() => {
                let refused = EgressClient::refusal(&error).unwrap_or(Refused { host: String::new() });
                return Ok(Err(refusal(&log, place, call, &url, &refused).await?));
            }
            Err(error) => {
                let reason = if error.is_timeout() { "timeout" } else { "network_error" };
                let message = format!("{} {url} failed: {}", call.method, without_url(&error));
                log.console(place, "failed", &message).await?;
                return Ok(Err(failure("pipeline.step.http", reason, message)));
            }
        };
        let status = response.status();
        let elapsed = began.elapsed().as_millis();
        log.console(place, "running", &format!("{} {url} → {status} in {elapsed} ms", call.method)).await?;
        let (body, cut) = read_at_most(response, TOOL_ANSWER_MAX).await;
        if cut {
            log.console(place, "running", "(the answer is longer than 1 MiB; the rest was not read)").await?;
        }
        for line in body.lines().filter(|line| !line.trim().is_empty()).take(BODY_LINES) {
            let line: String = line.chars().take(LINE_CHARS).collect();
            log.console(place, "output", &line).await?;
        }
        if status.as_u16() == call.expected_status {
            Ok(Ok(()))
        } else {
            Ok(Err(failure(
                "pipeline.step.http",
                "unexpected_status",
                format!("{} {url} answered {status}, expected {}.", call.method, call.expected_status),
            )))
        }
    }
}

/// The step's failure when the egress policy refuses the tool's address: it names the host and
/// says nothing of what answers there.
async fn refusal(
    log: &Log<'_>,
    place: (i64, &str),
    call: &HttpCall,
    url: &str,
    refused: &Refused,
) -> Result<Failure, Stop> {
    let message = format!("{} {url} refused: {refused}", call.method);
    log.console(place, "failed", &message).await?;
    Ok(failure("pipeline.step.http", "egress_blocked", message))
}

/// A header value with each `{{secrets.NAME}}` replaced by that secret, so that configuration
/// (shown to readers) holds no credential; the name of a missing one otherwise.
fn with_secrets(value: &str, secrets: &std::collections::BTreeMap<String, String>) -> Result<String, String> {
    let mut filled = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("{{secrets.") {
        let Some(length) = rest[start..].find("}}") else { break };
        let name = rest[start + "{{secrets.".len()..start + length].trim();
        let secret = secrets.get(name).ok_or_else(|| name.to_string())?;
        filled.push_str(&rest[..start]);
        filled.push_str(secret);
        rest = &rest[start + length + 2..];
    }
    filled.push_str(rest);
    Ok(filled)
}

/// The answer's first `cap` bytes as text, and whether there was more.
async fn read_at_most(mut response: reqwest::Response, cap: usize) -> (String, bool) {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return (String::from_utf8_lossy(&body).into_owned(), true);
        }
        body.extend_from_slice(&chunk);
    }
    (String::from_utf8_lossy(&body).into_owned(), false)
}

/// Resolves when the run is cancelled or released, checking as often as it polls.
async fn cancelled(run: &mut RunContext) -> Stop {
    loop {
        if let Err(stop) = run.checkpoint().await {
            return stop;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A transport error's text without the URL reqwest puts in it (already on the line).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut deepest = error.to_string();
    while let Some(cause) = source {
        deepest = cause.to_string();
        source = cause.source();
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::with_secrets;
    use std::collections::BTreeMap;

    #[test]
    fn headers_name_secrets_instead_of_holding_them() {
        let secrets = BTreeMap::from([("apiToken".to_string(), "t0k3n".to_string())]);
        assert_eq!(with_secrets("Bearer {{secrets.apiToken}}", &secrets).unwrap(), "Bearer t0k3n");
        assert_eq!(
            with_secrets("{{secrets.apiToken}}:{{secrets.apiToken}}", &secrets).unwrap(),
            "t0k3n:t0k3n"
        );
        assert_eq!(with_secrets("plain", &secrets).unwrap(), "plain");
        assert_eq!(with_secrets("x {{secrets.other}}", &secrets).unwrap_err(), "other");
    }
}
