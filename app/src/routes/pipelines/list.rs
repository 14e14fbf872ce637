//! The pipelines page: each pipeline's state and current run, and a form for a new one.

use crate::components::{timestamp, ActionError, Loaded, Progress};
use crate::functions::{pipelines, CreatePipeline, PipelinesView};
use leptos::prelude::*;
use leptos_meta::Title;
use tenantpilot_core::operations::Counters;
use tenantpilot_core::pipelines::{Pipeline, PipelineState};

/// The pipelines the viewer may see, with their state and current run, and a form for a new one.
#[component]
pub fn PipelinesPage() -> impl IntoView {
    let create = ServerAction::<CreatePipeline>::new();
    let view = Resource::new(|| (), |_| pipelines());
    view! {
        <Title text="Pipelines" />
        <h1>"Pipelines"</h1>
        <p class="muted">
            "Ordered steps that capture, fetch and restore through the operation engine, call tools and wait. "
            "Every run shows in Monitoring."
        </p>
        <Loaded resource=view let:view>
            {
                view! { <Pipelines view create /> }
            }
        </Loaded>
    }
}

/// The state badge of a pipeline.
#[component]
pub fn StateBadge(state: PipelineState) -> impl IntoView {
    let label = match state {
        PipelineState::Idle => "Idle",
        PipelineState::Running => "Running",
        PipelineState::Paused => "Paused",
        PipelineState::Stopped => "Stopped",
    };
    view! { <span class=format!("badge state-{state}")>{label}</span> }
}

#[component]
fn Pipelines(view: PipelinesView, create: ServerAction<CreatePipeline>) -> impl IntoView {
    let several = view.accounts.len() > 1;
    view! {
        {if view.pipelines.is_empty() {
            view! { <p class="muted">"No pipelines you may see yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="pipelines">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Steps"</th>
                                <th scope="col">"Runs"</th>
                                <th scope="col">"Current run"</th>
                                <th scope="col">"Owner"</th>
                                <th scope="col">"Updated"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {view
                                .pipelines
                                .into_iter()
                                .map(|pipeline| view! { <PipelineRow pipeline /> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
        <section class="card">
            <h2>"New pipeline"</h2>
            <ActionError action=create />
            {if view.accounts.is_empty() {
                view! {
                    <p class="muted">
                        "You belong to no workspace yet: a tenant membership puts you in its workspace."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <ActionForm action=create attr:class="stacked-form">
                        <label>
                            "Name" <input name="name" required maxlength="120" placeholder="Nightly backup" />
                        </label>
                        <label>"Description" <input name="description" maxlength="2000" /></label>
                        {if several {
                            view! {
                                <label>
                                    "Workspace"
                                    <select name="account">
                                        {view
                                            .accounts
                                            .iter()
                                            .map(|account| {
                                                view! {
                                                    <option value=account
                                                        .slug
                                                        .clone()>{account.name.clone()}</option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                                .into_any()
                        } else {
                            view! {
                                <input type="hidden" name="account" value=view.accounts[0].slug.clone() />
                            }
                                .into_any()
                        }}
                        <button type="submit" class="primary">
                            "Create and add steps"
                        </button>
                    </ActionForm>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn PipelineRow(pipeline: Pipeline) -> impl IntoView {
    let href = format!("/admin/pipelines/{}", pipeline.id);
    let current = pipeline.current_run.clone().map(|run| {
        let counters = Counters { total: run.total, processed: run.processed, failed: run.failed };
        view! {
            <span>"Run " {run.run_count} " · "</span>
            <Progress counters />
        }
    });
    view! {
        <tr data-pipeline=pipeline.id.to_string()>
            <td>
                <a href=href>{pipeline.name.clone()}</a>
            </td>
            <td>
                <StateBadge state=pipeline.state />
            </td>
            <td>{pipeline.steps.len()}</td>
            <td>{pipeline.run_count}</td>
            <td>{current}</td>
            <td>{pipeline.owner.clone()}</td>
            <td>{timestamp(pipeline.updated_at)}</td>
        </tr>
    }
}
