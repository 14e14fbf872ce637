//! How a run looks wherever it is shown: badges, a progress bar, a duration, the toast after
//! a start, and a compact table of runs.

use super::notice::last_outcome;
use super::time::Ago;
use crate::error::AppError;
use crate::functions::RetryRun;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::model::Tenant;
use tenantpilot_core::operations::{Counters, OperationRun, RunOutcome, RunStatus};

pub fn run_href(id: RunId) -> String {
    format!("/admin/monitoring/runs/{id}")
}

#[component]
pub fn StatusBadge(status: RunStatus, outcome: RunOutcome) -> impl IntoView {
    // A completed run is told by its outcome; an active one by its status.
    let (class, label) = match status {
        RunStatus::Completed => (format!("badge outcome-{}", outcome.as_str()), outcome.label()),
        active => (format!("badge status-{}", active.as_str()), active.label()),
    };
    view! {
        <span class=class data-status=status.as_str() data-outcome=outcome.as_str()>
            {label}
        </span>
    }
}

#[component]
pub fn Progress(counters: Counters) -> impl IntoView {
    let label = format!(
        "{} of {} done{}",
        counters.processed,
        counters.total,
        if counters.failed > 0 { format!(", {} failed", counters.failed) } else { String::new() }
    );
    let title = label.clone();
    match counters.percent() {
        // A drawing, not a style attribute: the Content-Security-Policy allows no inline style.
        Some(percent) => view! {
            <svg
                class="progress"
                role="progressbar"
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=percent
                aria-label=title
                viewBox="0 0 100 10"
                preserveAspectRatio="none"
            >
                <title>{label}</title>
                <rect class="progress-bar" width=percent height="10" />
            </svg>
        }
        .into_any(),
        None => view! { <span class="muted">"starting…"</span> }.into_any(),
    }
}

/// "1 min 5 s" from start to end (or to `now` while running); empty before it started.
pub fn duration(run: &OperationRun, now: DateTime<Utc>) -> String {
    let Some(started) = run.started_at else { return String::new() };
    let seconds = (run.completed_at.unwrap_or(now) - started).num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// A progress bar while the run is running; otherwise how long it took (or nothing yet).
#[component]
pub fn RunProgress(run: OperationRun, now: DateTime<Utc>) -> impl IntoView {
    if run.status == RunStatus::Running {
        view! { <Progress counters=run.counters /> }.into_any()
    } else {
        duration(&run, now).into_any()
    }
}

/// After a start: "<what> queued." with a link to the run, or the error.
#[component]
pub fn RunNotice<S>(action: ServerAction<S>, #[prop(into)] queued: String) -> impl IntoView
where
    S: ServerFn<Output = RunId, Error = AppError> + Clone + Send + Sync + 'static,
{
    last_outcome(action).map(|result| match result {
        Ok(id) => view! {
            <p class="notice ok toast" role="status">
                {queued.clone()}
                " "
                <a href=run_href(id)>"View run"</a>
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

/// A table of runs, linking to each; with `tenants` (those the viewer may see), a tenant
/// column too (Monitoring), without it a tenant's own latest runs. A Retry button on the rows
/// of `retryable` (runs the viewer may retry): a plain form, whose answer is the new run's page.
#[component]
pub fn RunTable(
    runs: Vec<OperationRun>,
    now: DateTime<Utc>,
    #[prop(optional)] tenants: Option<Vec<Tenant>>,
    #[prop(optional)] retryable: Vec<RunId>,
) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="muted">"No operations yet."</p> }.into_any();
    }
    let with_tenants = tenants.is_some();
    let tenant_cell = move |run: &OperationRun| {
        tenants.as_ref().map(|tenants| {
            let tenant = run.tenant_id.and_then(|id| tenants.iter().find(|tenant| tenant.id == id));
            let cell = match tenant {
                Some(tenant) => view! { <a href=format!("/admin/monitoring?tenant={}", tenant.slug)>{tenant.name.clone()}</a> }
                .into_any(),
                None => view! { <span class="muted">"Workspace"</span> }.into_any(),
            };
            view! { <td>{cell}</td> }
        })
    };
    let tenant_header = with_tenants.then(|| view! { <th scope="col">"Tenant"</th> });
    view! {
        <div class="table-wrap">
            <table class=if with_tenants { "runs monitoring" } else { "runs" }>
                <thead>
                    <tr>
                        <th scope="col">"Operation"</th>
                        {tenant_header}
                        <th scope="col">"State"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Started by"</th>
                        <th scope="col">"Created"</th>
                    </tr>
                </thead>
                <tbody>
                    {runs
                        .into_iter()
                        .map(|run| {
                            view! {
                                <tr data-run=run.id.to_string()>
                                    <td>
                                        <a href=run_href(run.id)>{run.kind.label()}</a>
                                        <small class="muted">" #" {run.id.to_string()}</small>
                                    </td>
                                    {tenant_cell(&run)}
                                    <td>
                                        <StatusBadge status=run.status outcome=run.outcome />
                                        {retryable
                                            .contains(&run.id)
                                            .then(|| {
                                                view! {
                                                    " "
                                                    <form
                                                        method="post"
                                                        action=RetryRun::PATH
                                                        class="inline-action"
                                                    >
                                                        <input type="hidden" name="id" value=run.id.to_string() />
                                                        <button
                                                            type="submit"
                                                            class="link"
                                                            aria-label=format!("Retry run #{}", run.id)
                                                        >
                                                            "Retry"
                                                        </button>
                                                    </form>
                                                }
                                            })}
                                    </td>
                                    <td>
                                        <RunProgress run=run.clone() now />
                                    </td>
                                    <td>{run.initiator.label().to_string()}</td>
                                    <td>
                                        <Ago at=run.created_at now />
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
}
