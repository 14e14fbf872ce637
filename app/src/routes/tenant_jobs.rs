//! A tenant's lifecycle page for platform admins: its state, lifecycle actions and jobs.

use crate::components::{last_outcome, poll_for, run_href, timestamp, LiveRegion, Loaded, StatusBadge};
use crate::functions::{tenant_jobs, SubmitTenantJob};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::tenant_jobs::{JobRecord, LifecycleAction, TenantLifecycle};

/// A tenant's lifecycle, for platform admins: its module version and state, the actions an
/// orchestrator has through `/_/tenant` (install, upgrade, disable, purge), and its jobs,
/// kept current while one works.
#[component]
pub fn TenantLifecyclePage() -> impl IntoView {
    let params = use_params_map();
    let slug = Signal::derive(move || params.read().get("slug").unwrap_or_default());
    let submit = ServerAction::<SubmitTenantJob>::new();
    let view = Resource::new(move || slug.get(), tenant_jobs);
    view! {
        <Loaded resource=view let:lifecycle>
            {
                let poll = poll_for(lifecycle.jobs.iter().map(|record| &record.run), lifecycle.now);
                let tenant = lifecycle.tenant.as_ref().map(|tenant| tenant.id);
                // No tenant (purged, or not installed yet): whatever an install creates is news.
                view! {
                    <LiveRegion poll tenant>
                        <Lifecycle lifecycle submit />
                    </LiveRegion>
                }
            }
        </Loaded>
    }
}

#[component]
fn Lifecycle(lifecycle: TenantLifecycle, submit: ServerAction<SubmitTenantJob>) -> impl IntoView {
    let slug = lifecycle.slug.clone();
    let busy = lifecycle.busy();
    let actions = lifecycle.actions();
    let title = lifecycle.tenant.as_ref().map_or_else(|| slug.clone(), |tenant| tenant.name.clone());
    let (state, state_class) = match &lifecycle.tenant {
        Some(tenant) if tenant.enabled => ("Enabled", "badge outcome-succeeded"),
        Some(_) => ("Disabled", "badge outcome-cancelled"),
        None => ("Purged", "badge outcome-cancelled"),
    };
    let version = lifecycle
        .tenant
        .as_ref()
        .and_then(|tenant| tenant.module_version.clone())
        .map_or_else(|| "Not installed".to_string(), |version| format!("mod-tenantpilot-{version}"));
    view! {
        <Title text=format!("Lifecycle of {title}") />
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/system">"Platform"</a>
            " / "
            {slug.clone()}
        </nav>
        <h1>
            {title.clone()} " " <span class=state_class data-state=state>
                {state}
            </span>
        </h1>
        <dl class="facts">
            <dt>"Slug"</dt>
            <dd>
                <code>{slug.clone()}</code>
            </dd>
            <dt>"Workspace"</dt>
            <dd>{lifecycle.workspace.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Module version"</dt>
            <dd data-module-version>{version}</dd>
            <dt>"This build"</dt>
            <dd>
                <code>{lifecycle.module.clone()}</code>
            </dd>
        </dl>
        {lifecycle
            .tenant
            .is_none()
            .then(|| {
                view! {
                    <p class="notice" role="status">
                        "This tenant was purged: none of its data is left. Its jobs stay listed below."
                    </p>
                }
            })}
        <JobNotice submit />
        <section class="card lifecycle-actions">
            <h2>"Actions"</h2>
            {busy
                .then(|| {
                    view! {
                        <p class="muted">
                            "A job is working: until it finishes, asking again returns that job."
                        </p>
                    }
                })}
            {actions
                .into_iter()
                .map(|action| {
                    view! {
                        <ActionButton action slug=slug.clone() module=lifecycle.module.clone() busy submit />
                    }
                })
                .collect_view()}
        </section>
        <section class="card">
            <h2>"Jobs"</h2>
            <JobTable jobs=lifecycle.jobs />
        </section>
    }
}

/// One action's form; purge asks for the tenant's slug first.
#[component]
fn ActionButton(
    action: LifecycleAction,
    slug: String,
    module: String,
    busy: bool,
    submit: ServerAction<SubmitTenantJob>,
) -> impl IntoView {
    let fields = view! {
        <input type="hidden" name="slug" value=slug.clone() />
        <input type="hidden" name="action" value=action.as_str() />
    };
    match action {
        LifecycleAction::Install | LifecycleAction::Upgrade => {
            let label = match action {
                LifecycleAction::Install => format!("Install {module}"),
                _ => format!("Upgrade to {module}"),
            };
            view! {
                <ActionForm action=submit attr:class="inline-form" attr:data-action=action.as_str()>
                    {fields}
                    <label class="check">
                        <input type="checkbox" name="load_reference" value="true" />
                        " Load reference data"
                    </label>
                    {(action == LifecycleAction::Install)
                        .then(|| {
                            view! {
                                <label class="check">
                                    <input type="checkbox" name="load_sample" value="true" />
                                    " Load sample policies"
                                </label>
                            }
                        })}
                    <button type="submit" class="primary" disabled=busy>
                        {label}
                    </button>
                </ActionForm>
            }
            .into_any()
        }
        LifecycleAction::Disable => view! {
            <ActionForm action=submit attr:class="inline-form" attr:data-action="disable">
                {fields}
                <button type="submit" disabled=busy>
                    "Disable"
                </button>
                <small class="muted">
                    " Pages and routes of the tenant answer 404, active runs are cancelled; its data stays."
                </small>
            </ActionForm>
        }
        .into_any(),
        LifecycleAction::Purge => view! {
            <details class="confirm" data-action="purge">
                <summary>"Purge…"</summary>
                <ActionForm action=submit>
                    {fields}
                    <p>
                        "Purging deletes every backup set, item, restore run, membership, provider connection and run of "
                        <code>{slug.clone()}</code>
                        ". Audit entries of the deletion remain. This cannot be undone."
                    </p>
                    <label>
                        "Type the tenant's slug to confirm"
                        <input name="confirm" required autocomplete="off" placeholder=slug.clone() />
                    </label> <button type="submit" class="danger" disabled=busy>
                        "Purge tenant"
                    </button>
                </ActionForm>
            </details>
        }
        .into_any(),
    }
}

/// The result of the last action: what it did, a link to its job, or why it was refused.
#[component]
fn JobNotice(submit: ServerAction<SubmitTenantJob>) -> impl IntoView {
    last_outcome(submit).map(|result| match result {
        Ok(submitted) => view! {
            <p class="notice ok" role="status">
                {submitted.message}
                {submitted
                    .run
                    .map(|id| {
                        view! {
                            " "
                            <a href=run_href(id)>"View run"</a>
                        }
                    })}
            </p>
        }
        .into_any(),
        Err(error) => view! {
            <p class="notice error" role="alert">
                {error.to_string()}
            </p>
        }
        .into_any(),
    })
}

#[component]
fn JobTable(jobs: Vec<JobRecord>) -> impl IntoView {
    if jobs.is_empty() {
        return view! { <p class="muted">"No jobs yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="jobs">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Messages"</th>
                        <th scope="col">"Started by"</th>
                        <th scope="col">"Created"</th>
                    </tr>
                </thead>
                <tbody>
                    {jobs
                        .into_iter()
                        .map(|JobRecord { run, job }| {
                            view! {
                                <tr data-job=job.id.clone()>
                                    <td>
                                        <a href=run_href(run.id)>{run.kind.label()}</a>
                                        <small class="muted">" #" {run.id.to_string()}</small>
                                    </td>
                                    <td>
                                        <StatusBadge status=run.status outcome=run.outcome />
                                    </td>
                                    <td>
                                        {job.error.map(|error| view! { <p class="notice error">{error}</p> })}
                                        <ol class="job-messages">
                                            {job
                                                .messages
                                                .into_iter()
                                                .map(|message| view! { <li>{message}</li> })
                                                .collect_view()}
                                        </ol>
                                    </td>
                                    <td>{run.initiator.label().to_string()}</td>
                                    <td>{timestamp(run.created_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
