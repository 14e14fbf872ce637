//! One pipeline's page: run, stop and reset it, follow its console, edit its steps.

use super::list::StateBadge;
use crate::components::{run_href, timestamp, ActionNotice, LiveRegion, Loaded, Poll, Progress, StatusBadge};
use crate::functions::{
    pipeline_detail, DeletePipeline, PipelineView, ResetPipeline, RunPipeline, SavePipeline, StopPipeline,
};
use crate::routes::schedules::{ScheduleScope, ScheduleSection};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::ids::PipelineId;
use tenantpilot_core::operations::Counters;
use tenantpilot_core::pipelines::{OnFailure, PipelineState, Step, StepKind};

/// Params each step kind takes, as the editor's help shows them.
const PARAM_EXAMPLES: [(&str, &str); 5] = [
    ("backup_set.capture", r#"{"tenant": "contoso"}"#),
    ("assignments.fetch", r#"{"tenant": "contoso", "backupSetId": 3}"#),
    ("assignments.restore", r#"{"tenant": "contoso", "restoreRunId": 4}"#),
    (
        "tool.http",
        r#"{"toolId": "1", "method": "POST", "path": "/hooks/deploy", "expectedStatus": 200, "timeoutSecs": 30}"#,
    ),
    ("wait", r#"{"seconds": 5}"#),
];

/// One pipeline: Run / Stop / Reset, the current run's progress, its console following new
/// lines, the steps editor and the latest runs. Kept current by push, or polling while it runs.
#[component]
pub fn PipelinePage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<PipelineId>().ok()));
    let run = ServerAction::<RunPipeline>::new();
    let stop = ServerAction::<StopPipeline>::new();
    let reset = ServerAction::<ResetPipeline>::new();
    let save = ServerAction::<SavePipeline>::new();
    let delete = ServerAction::<DeletePipeline>::new();
    let view = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => Some(pipeline_detail(id).await),
                None => None,
            }
        },
    );
    let actions = Actions { run, stop, reset, save, delete };
    view! {
        <Loaded resource=view let:view>
            {
                let poll = pipeline_poll(&view);
                view! {
                    // A pipeline's steps run in any tenant: every change.
                    <LiveRegion poll tenant=None>
                        <Pipeline view actions />
                    </LiveRegion>
                }
            }
        </Loaded>
        {move || {
            id.get().map(|id| view! { <ScheduleSection scope=Signal::stored(ScheduleScope::Pipeline(id)) /> })
        }}
    }
}

#[derive(Clone, Copy)]
struct Actions {
    run: ServerAction<RunPipeline>,
    stop: ServerAction<StopPipeline>,
    reset: ServerAction<ResetPipeline>,
    save: ServerAction<SavePipeline>,
    delete: ServerAction<DeletePipeline>,
}

#[component]
fn Pipeline(view: PipelineView, actions: Actions) -> impl IntoView {
    let pipeline = view.pipeline.clone();
    let id = pipeline.id;
    let state = pipeline.state;
    let running = state == PipelineState::Running;
    let current = pipeline.current_run.clone();
    let Actions { run, stop, reset, save, delete } = actions;
    let can_write = view.can_write;
    let refresh = format!("/admin/pipelines/{id}");
    view! {
        <Title text=pipeline.name.clone() />
        <p class="crumbs">
            <a href="/admin/pipelines">"Pipelines"</a>
        </p>
        <h1>{pipeline.name.clone()} " " <StateBadge state /></h1>
        <p class="muted">{pipeline.description.clone()}</p>
        <dl class="facts">
            <dt>"Owner"</dt>
            <dd>{pipeline.owner.clone()}</dd>
            <dt>"Workspace"</dt>
            <dd>{pipeline.account.clone()}</dd>
            <dt>"Runs"</dt>
            <dd>{pipeline.run_count}</dd>
            <dt>"Updated"</dt>
            <dd>{timestamp(pipeline.updated_at)}</dd>
        </dl>
        <ActionNotice action=run done="Run started." />
        <ActionNotice action=stop done="Stop requested: the current step finishes, the rest are skipped." />
        <ActionNotice action=reset done="The pipeline run status has been reset." />
        {can_write
            .then(|| {
                view! {
                    <div class="row-actions pipeline-actions">
                        <ActionForm action=run attr:class="inline-form">
                            <input type="hidden" name="id" value=id.to_string() />
                            <button
                                type="submit"
                                class="primary"
                                disabled=running || state == PipelineState::Paused
                            >
                                "Run"
                            </button>
                        </ActionForm>
                        {running
                            .then(|| {
                                view! {
                                    <ActionForm action=stop attr:class="inline-form">
                                        <input type="hidden" name="id" value=id.to_string() />
                                        <button type="submit" class="danger">
                                            "Stop"
                                        </button>
                                    </ActionForm>
                                }
                            })}
                        {(!running && (state != PipelineState::Idle || current.is_some()))
                            .then(|| {
                                view! {
                                    <ActionForm action=reset attr:class="inline-form">
                                        <input type="hidden" name="id" value=id.to_string() />
                                        <button type="submit">"Reset"</button>
                                    </ActionForm>
                                }
                            })}
                    </div>
                }
            })}
        {(state == PipelineState::Paused)
            .then(|| {
                view! {
                    <p class="notice error" role="status">
                        "Paused after a failed step. Reset it to run again."
                    </p>
                }
            })}
        <section class="card">
            <h2>"Current run"</h2>
            {match current {
                Some(run) => {
                    let counters = Counters {
                        total: run.total,
                        processed: run.processed,
                        failed: run.failed,
                    };
                    view! {
                        <p>
                            "Run " {run.run_count} " " <StatusBadge status=run.status outcome=run.outcome />
                            " · "
                            <a href=run_href(
                                run.operation_run_id,
                            )>"Operation run #" {run.operation_run_id.to_string()}</a>
                        </p>
                        <Progress counters />
                    }
                        .into_any()
                }
                None => view! { <p class="muted">"No current run."</p> }.into_any(),
            }}
            <h3>"Console" {view.console_run.map(|n| format!(" · run {n}"))}</h3>
            <ol class="console" data-follow-end="" aria-live="polite">
                {view
                    .console
                    .iter()
                    .map(|line| {
                        view! {
                            <li class=format!("line-{}", line.status)>
                                <time datetime=line
                                    .created_at
                                    .to_rfc3339()>{line.created_at.format("%H:%M:%S").to_string()}</time>
                                " "
                                {line.message.clone()}
                            </li>
                        }
                    })
                    .collect_view()}
                {view.console.is_empty().then(|| view! { <li class="muted">"Nothing yet."</li> })}
            </ol>
            <noscript>
                <p>
                    <a href=refresh>"Refresh"</a>
                </p>
            </noscript>
        </section>
        <section class="card">
            <h2>"Steps"</h2>
            <ActionNotice action=save done="Saved." />
            {if can_write {
                view! { <StepsEditor view=view.clone() save /> }.into_any()
            } else {
                view! { <StepsTable steps=pipeline.steps.clone() /> }.into_any()
            }}
        </section>
        <section class="card">
            <h2>"Latest runs"</h2>
            {if view.runs.is_empty() {
                view! { <p class="muted">"Never run."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="runs">
                            <thead>
                                <tr>
                                    <th scope="col">"Run"</th>
                                    <th scope="col">"Status"</th>
                                    <th scope="col">"Steps done"</th>
                                    <th scope="col">"Operation run"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {view
                                    .runs
                                    .iter()
                                    .map(|run| {
                                        view! {
                                            <tr>
                                                <td>{run.run_count}</td>
                                                <td>
                                                    <StatusBadge status=run.status outcome=run.outcome />
                                                </td>
                                                <td>
                                                    {run.processed} " of " {run.total}
                                                    {(run.failed > 0)
                                                        .then(|| format!(" ({} failed)", run.failed))}
                                                </td>
                                                <td>
                                                    <a href=run_href(
                                                        run.operation_run_id,
                                                    )>"#" {run.operation_run_id.to_string()}</a>
                                                </td>
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
        {can_write
            .then(|| {
                view! {
                    <details class="confirm">
                        <summary>"Delete pipeline…"</summary>
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=id.to_string() />
                            <p>"Delete " {pipeline.name.clone()} "? Its runs stay in Monitoring."</p>
                            <button type="submit" class="danger">
                                "Confirm delete"
                            </button>
                        </ActionForm>
                    </details>
                    <ActionNotice action=delete done="Deleted." />
                }
            })}
    }
}

#[component]
fn StepsTable(steps: Vec<Step>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="steps">
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Params"</th>
                        <th scope="col">"On failure"</th>
                    </tr>
                </thead>
                <tbody>
                    {steps
                        .into_iter()
                        .enumerate()
                        .map(|(n, step)| {
                            view! {
                                <tr>
                                    <td>{n + 1}</td>
                                    <td>{step.name}</td>
                                    <td>
                                        <code>{step.kind}</code>
                                    </td>
                                    <td>
                                        <code>{serde_json::Value::Object(step.params).to_string()}</code>
                                    </td>
                                    <td>
                                        {if step.on_failure == OnFailure::Pause { "pause" } else { "stop" }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Name, description, access and one row per step, plus a blank row for a new step. Rows are
/// kept in the order of their numbers; "Remove" drops one. Works the same with JavaScript off.
#[component]
fn StepsEditor(view: PipelineView, save: ServerAction<SavePipeline>) -> impl IntoView {
    let pipeline = view.pipeline;
    let rows = pipeline.steps.len() + 1;
    let access = serde_json::to_string(&pipeline.access).unwrap_or_else(|_| "[]".into());
    let steps: Vec<Option<Step>> = pipeline.steps.into_iter().map(Some).chain([None]).collect();
    view! {
        <ActionForm action=save attr:class="stacked-form steps-editor">
            <input type="hidden" name="id" value=pipeline.id.to_string() />
            <label>"Name" <input name="name" required maxlength="120" value=pipeline.name /></label>
            <label>
                "Description" <input name="description" maxlength="2000" value=pipeline.description />
            </label>
            <div class="table-wrap">
                <table class="steps">
                    <thead>
                        <tr>
                            <th scope="col">"Order"</th>
                            <th scope="col">"Name"</th>
                            <th scope="col">"Kind"</th>
                            <th scope="col">"Params (JSON)"</th>
                            <th scope="col">"On failure"</th>
                            <th scope="col">"Remove"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {steps
                            .into_iter()
                            .enumerate()
                            .map(|(n, step)| {
                                let field = move |name: &str| format!("steps[{n}][{name}]");
                                let blank = step.is_none();
                                let step = step
                                    .unwrap_or(Step {
                                        name: String::new(),
                                        kind: "wait".into(),
                                        params: Default::default(),
                                        on_failure: OnFailure::Stop,
                                    });
                                let params = if blank {
                                    String::new()
                                } else {
                                    serde_json::Value::Object(step.params.clone()).to_string()
                                };
                                let kind = step.kind.clone();
                                let pause = step.on_failure == OnFailure::Pause;
                                view! {
                                    <tr class:new-step=blank>
                                        <td>
                                            <input
                                                type="number"
                                                name=field("order")
                                                value=n + 1
                                                min="1"
                                                max=rows
                                                aria-label="Order"
                                                class="order"
                                            />
                                        </td>
                                        <td>
                                            <input
                                                name=field("name")
                                                value=step.name
                                                maxlength="100"
                                                aria-label="Step name"
                                                placeholder=if blank { "New step" } else { "" }
                                            />
                                        </td>
                                        <td>
                                            <select name=field("kind") aria-label="Kind">
                                                {StepKind::ALL
                                                    .iter()
                                                    .map(|option| {
                                                        view! {
                                                            <option
                                                                value=option.as_str()
                                                                selected=kind == option.as_str()
                                                            >
                                                                {option.as_str()}
                                                            </option>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </select>
                                        </td>
                                        <td>
                                            <textarea name=field("params") rows="2" aria-label="Params">
                                                {params}
                                            </textarea>
                                        </td>
                                        <td>
                                            <select name=field("on_failure") aria-label="On failure">
                                                <option value="stop" selected=!pause>
                                                    "stop"
                                                </option>
                                                <option value="pause" selected=pause>
                                                    "pause"
                                                </option>
                                            </select>
                                        </td>
                                        <td>
                                            {(!blank)
                                                .then(|| {
                                                    view! {
                                                        <label class="check">
                                                            <input type="checkbox" name=field("remove") value="on" />
                                                            "Remove"
                                                        </label>
                                                    }
                                                })}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <details>
                <summary>"Params by kind"</summary>
                <dl class="facts">
                    {PARAM_EXAMPLES
                        .iter()
                        .map(|(kind, example)| {
                            view! {
                                <dt>
                                    <code>{*kind}</code>
                                </dt>
                                <dd>
                                    <code>{*example}</code>
                                </dd>
                            }
                        })
                        .collect_view()}
                </dl>
            </details>
            <label>
                "Access (JSON: users by e-mail or roles, read or write; only the owner or a Site Admin changes it)"
                <textarea name="access" rows="2">
                    {access}
                </textarea>
            </label>
            <button type="submit" class="primary">
                "Save pipeline"
            </button>
        </ActionForm>
    }
}

/// A pipeline's page polls every second while the pipeline or its current run is running.
fn pipeline_poll(view: &PipelineView) -> Poll {
    let running = view.pipeline.state == PipelineState::Running
        || view.pipeline.current_run.as_ref().is_some_and(|run| run.status.is_active());
    if running {
        Poll::EverySecs(1)
    } else {
        Poll::Stop
    }
}
