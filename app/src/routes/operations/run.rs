//! One run's page: timeline, progress, failures, related items (retries too), cancelling and
//! retrying it.

use crate::components::{
    duration, patch, poll_for, refreshed, run_href, timestamp, ActionError, ActionNotice, Applied,
    GatedButton, LiveRefresh, Loaded, Progress, Reload, StatusBadge,
};
use crate::functions::{run_detail, CancelRun, RetryRun, RunDetail, RunView};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::operations::LIKELY_STALE_AFTER_SECS;
use tenantpilot_core::operations::{OperationKind, OperationRun, RunOutcome};
use tenantpilot_core::Capability;

/// One run: timeline, progress, context, failures, related items, cancel; kept current.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<RunId>().ok()));
    let view = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => Some(run_detail(id).await),
                None => None,
            }
        },
    );
    // Forms posted from the run come back here with their outcome in the address.
    let (cancel, retry) = (ServerAction::<CancelRun>::new(), ServerAction::<RetryRun>::new());
    view! {
        <Loaded resource=view let:view>
            {
                let title = title(&view.run);
                view! {
                    <Title text=title />
                    <RunLive view>
                        <ActionNotice action=cancel done="Cancel requested." />
                        // A retry's answer is its new run's page: only a refusal shows here.
                        <ActionError action=retry />
                    </RunLive>
                }
            }
        </Loaded>
    }
}

fn title(run: &OperationRun) -> String {
    format!("{} #{}", run.kind.label(), run.id)
}

/// The run as the browser keeps it: pushed progress is patched in place; a new status (which
/// brings more: failures, what it did), or a poll, loads it again. Its forms are plain forms;
/// `children` (their outcome, drawn by the server) show under its heading.
#[island]
fn RunLive(view: RunView, children: Children) -> impl IntoView {
    let live = LiveRefresh::new();
    let id = view.run.id;
    let shown = refreshed(
        view,
        move || {
            live.tick();
        },
        move || Reload { function: RunDetail::PATH, arguments: format!("id={id}") },
    );
    live.follow_patching(
        move || shown.with(|view| poll_for([&view.run], view.now)),
        move |change| {
            patch(shown, |shown| {
                if shown.run.id != change.run_id {
                    return Applied::Ignored;
                }
                if shown.run.status != change.status {
                    return Applied::Reload;
                }
                change.apply_to(&mut shown.run);
                // It changed, so its worker is alive.
                shown.likely_stale = false;
                Applied::Patched
            })
        },
    );
    let notices = children();
    view! {
        {move || {
            shown.with(|view| view! { <RunHeading run=view.run.clone() likely_stale=view.likely_stale /> })
        }}
        {notices}
        {move || shown.with(|view| view! { <Run view=view.clone() /> })}
    }
}

/// Links to the run it retries and the runs retrying it, to what it worked on: its pipeline,
/// and in its tenant (if any) the items.
fn related(run: &OperationRun, retried_by: &[RunId], tenant: Option<&str>) -> Vec<(String, String)> {
    let number = |key: &str| run.context.get(key).and_then(|value| value.as_i64());
    let mut links = Vec::new();
    if let Some(original) = run.retry_of {
        links.push((run_href(original), format!("Retry of run #{original}")));
    }
    for retry in retried_by {
        links.push((run_href(*retry), format!("Retried by run #{retry}")));
    }
    if let Some(pipeline) = number("pipelineId") {
        links.push((format!("/admin/pipelines/{pipeline}"), format!("Pipeline #{pipeline}")));
    }
    let Some(slug) = tenant else { return links };
    if let Some(item) = number("backupItemId") {
        links.push((format!("/admin/t/{slug}/backups#item-{item}"), format!("Backup item #{item}")));
    }
    if let Some(restore) = number("restoreRunId") {
        links.push((format!("/admin/t/{slug}/restores/{restore}"), format!("Restore #{restore}")));
    }
    if let Some(set) = number("backupSetId") {
        links.push((format!("/admin/t/{slug}/backups#set-{set}"), format!("Backup set #{set}")));
    }
    if run.kind == OperationKind::Capture {
        links.push((format!("/admin/t/{slug}/backups"), "Backups of this tenant".into()));
    }
    links
}

fn show_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The crumbs and the heading: what the run is and where it stands.
#[component]
fn RunHeading(run: OperationRun, likely_stale: bool) -> impl IntoView {
    let active = run.status.is_active();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin/monitoring">"Monitoring"</a>
            " / #"
            {run.id.to_string()}
        </nav>
        <h1>
            {title(&run)} " " <StatusBadge status=run.status outcome=run.outcome />
            {likely_stale
                .then(|| {
                    view! {
                        " "
                        <span
                            class="badge stale"
                            title=format!(
                                "No sign of life from its worker for over {LIKELY_STALE_AFTER_SECS} s. If the worker stopped, the run is retried or failed automatically.",
                            )
                        >
                            "Likely stale"
                        </span>
                    }
                })}
            {(active && run.cancel_requested)
                .then(|| {
                    view! {
                        " "
                        <span class="badge">"Cancelling…"</span>
                    }
                })}
        </h1>
    }
}

/// Retry, the facts, timeline, progress, related items, context, failures and cancel.
#[component]
fn Run(view: RunView) -> impl IntoView {
    let run = view.run.clone();
    let links = related(&run, &view.retried_by, view.tenant.as_ref().map(|tenant| tenant.slug.as_str()));
    let retry_label = if run.kind == OperationKind::Restore && run.outcome == RunOutcome::PartiallySucceeded {
        "Retry the failed items"
    } else {
        "Retry"
    };
    let active = run.status.is_active();
    view! {
        {view
            .can_retry
            .then(|| {
                view! {
                    <form method="post" action=RetryRun::PATH class="inline-action">
                        <input type="hidden" name="id" value=run.id.to_string() />
                        <button type="submit" class="primary">
                            {retry_label}
                        </button>
                    </form>
                }
            })}
        <dl class="facts">
            <dt>"Tenant"</dt>
            <dd>
                {view
                    .tenant
                    .clone()
                    .map(|tenant| {
                        view! { <a href=format!("/admin/t/{}", tenant.slug)>{tenant.name}</a> }.into_any()
                    })
                    .unwrap_or_else(|| "Workspace".into_any())}
            </dd>
            <dt>"Started by"</dt>
            <dd>{run.initiator.label().to_string()}</dd>
            <dt>"Attempt"</dt>
            <dd>{run.attempt}</dd>
            <dt>"Duration"</dt>
            <dd>{duration(&run, view.now)}</dd>
        </dl>
        <section class="card">
            <h2>"Timeline"</h2>
            <ol class="timeline">
                <li class="done">
                    "Queued " <time datetime=run.created_at.to_rfc3339()>{timestamp(run.created_at)}</time>
                </li>
                <li class:done=run
                    .started_at
                    .is_some()>"Started " {run.started_at.map(timestamp).unwrap_or_else(|| "—".into())}</li>
                <li class:done=run
                    .completed_at
                    .is_some()>
                    "Completed " {run.completed_at.map(timestamp).unwrap_or_else(|| "—".into())}
                </li>
            </ol>
        </section>
        <section class="card">
            <h2>"Progress"</h2>
            <p class="counters">
                <span>"Total " <strong>{run.counters.total}</strong></span>
                <span>"Processed " <strong>{run.counters.processed}</strong></span>
                <span>"Failed " <strong>{run.counters.failed}</strong></span>
            </p>
            <Progress counters=run.counters />
            {run
                .context
                .get("progressNote")
                .and_then(|note| note.as_str())
                .map(|note| {
                    view! {
                        <p class="progress-note" role="status">
                            {note.to_string()}
                        </p>
                    }
                })}
        </section>
        {(!links.is_empty())
            .then(|| {
                view! {
                    <section class="card">
                        <h2>"Related"</h2>
                        <ul>
                            {links
                                .into_iter()
                                .map(|(href, label)| {
                                    view! {
                                        <li>
                                            <a href=href>{label}</a>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </section>
                }
            })}
        <section class="card">
            <h2>"Context"</h2>
            <dl class="facts">
                {run
                    .context
                    .iter()
                    .map(|(key, value)| {
                        view! {
                            <dt>{key.clone()}</dt>
                            <dd>
                                <code>{show_value(value)}</code>
                            </dd>
                        }
                    })
                    .collect_view()}
            </dl>
        </section>
        <section>
            <h2>"Failures"</h2>
            {if run.failures.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="failures">
                            <thead>
                                <tr>
                                    <th scope="col">"Code"</th>
                                    <th scope="col">"Reason"</th>
                                    <th scope="col">"Message"</th>
                                    <th scope="col">"When"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {run
                                    .failures
                                    .iter()
                                    .map(|failure| {
                                        view! {
                                            <tr>
                                                <td>
                                                    <code>{failure.code.clone()}</code>
                                                </td>
                                                <td>
                                                    <code>{failure.reason_code.clone()}</code>
                                                </td>
                                                <td>{failure.message.clone()}</td>
                                                <td>{timestamp(failure.at)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
        {active
            .then(|| {
                view! {
                    <details class="confirm">
                        <summary>"Cancel this operation…"</summary>
                        <form method="post" action=CancelRun::PATH>
                            <input type="hidden" name="id" value=run.id.to_string() />
                            <p>
                                "A queued run stops at once; a running one stops after the item it is working on."
                            </p>
                            <GatedButton
                                allowed=view.can_cancel
                                capability=Capability::OperationsStart
                                label="Cancel operation"
                                class="danger"
                            />
                        </form>
                    </details>
                }
            })}
    }
}
