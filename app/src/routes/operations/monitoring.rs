//! The Monitoring dashboard: every run the viewer may see, filtered, paged and kept current;
//! retrying one run, and cancelling or retrying every run of the filter at once.

use crate::components::{poll_for, ActionSummary, LiveRefresh, Loaded, Poll, Retries, RunNotice, RunTable};
use crate::functions::{monitoring, BulkRuns, MonitoringView, RetryRun};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use tenantpilot_core::operations::{BulkAction, BulkResult, ListParams, BULK_MAX};
use tenantpilot_core::operations::{OperationKind, RunOutcome, RunStatus};

/// Every run the viewer may see, newest first: filters in the URL, cursor paging, runs by
/// outcome over the last day, kept current by push (or polling).
#[component]
pub fn MonitoringPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let query = query.read();
        let get = |name: &str| query.get(name).filter(|value| !value.is_empty());
        ListParams {
            tenant: get("tenant"),
            kind: get("type"),
            status: get("status"),
            outcome: get("outcome"),
            since: get("since"),
            until: get("until"),
            cursor: get("cursor"),
            limit: get("limit"),
            schedule: get("schedule"),
        }
    });
    let live = LiveRefresh::new();
    let retry = ServerAction::<RetryRun>::new();
    let bulk = ServerAction::<BulkRuns>::new();
    let view = Resource::new(
        move || (params.get(), live.tick(), retry.version().get(), bulk.version().get()),
        |(params, ..)| monitoring(Some(params)),
    );
    live.follow(move || match &*view.read() {
        Some(Ok(view)) => poll_for(&view.runs, view.now),
        _ => Poll::Stop,
    });
    view! {
        <Title text="Monitoring" />
        <h1>"Monitoring"</h1>
        <RunNotice action=retry queued="Retry queued." />
        <ActionSummary
            action=bulk
            summary=|done: &BulkResult| {
                format!("Acted on {} of {} runs; {} skipped.", done.acted, done.matched, done.skipped)
            }
        />
        <Loaded resource=view let:view>
            {
                view! { <Runs view params=params.get_untracked() retry bulk /> }
            }
        </Loaded>
    }
}

#[component]
fn Runs(
    view: MonitoringView,
    params: ListParams,
    retry: ServerAction<RetryRun>,
    bulk: ServerAction<BulkRuns>,
) -> impl IntoView {
    let filtered = ListParams { cursor: None, limit: None, ..params.clone() } != ListParams::default();
    let next = view.next_cursor.map(|cursor| {
        format!(
            "/admin/monitoring?{}",
            ListParams { cursor: Some(cursor.to_string()), ..params.clone() }.to_query()
        )
    });
    let first = params
        .cursor
        .is_some()
        .then(|| format!("/admin/monitoring?{}", ListParams { cursor: None, ..params.clone() }.to_query()));
    view! {
        <OutcomeChart counts=view.by_outcome.clone() />
        <Filters view=view.clone() params=params.clone() />
        <section class="bulk" aria-label="Act on every run of this filter">
            <Bulk action=bulk what=BulkAction::Cancel count=view.bulk_cancel params=params.clone() />
            <Bulk action=bulk what=BulkAction::Retry count=view.bulk_retry params=params.clone() />
        </section>
        {if view.runs.is_empty() {
            view! {
                <p class="muted">
                    {if filtered { "No operations match these filters." } else { "No operations yet." }}
                </p>
            }
                .into_any()
        } else {
            let retries = Retries {
                action: retry,
                allowed: view.retryable.clone(),
            };
            view! { <RunTable runs=view.runs.clone() now=view.now tenants=view.tenants.clone() retries /> }
                .into_any()
        }}
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a href=href>"← Newest"</a> })}
            {next
                .map(|href| {
                    view! {
                        <a href=href rel="next">
                            "Older →"
                        </a>
                    }
                })}
        </nav>
    }
}

/// One bulk action on the filter, behind a confirmation that states how many runs it takes on;
/// nothing when there are none, a request for a narrower filter past the cap.
#[component]
fn Bulk(action: ServerAction<BulkRuns>, what: BulkAction, count: i64, params: ListParams) -> impl IntoView {
    let (verb, runs) = match what {
        BulkAction::Cancel => ("Cancel", if count == 1 { "active run" } else { "active runs" }),
        BulkAction::Retry => ("Retry", if count == 1 { "failed run" } else { "failed runs" }),
    };
    if count == 0 {
        return ().into_any();
    }
    if count > BULK_MAX {
        return view! {
            <p class="muted">
                {format!(
                    "More than {BULK_MAX} {runs} match: narrow the filter to {} them at once.",
                    verb.to_lowercase(),
                )}
            </p>
        }
        .into_any();
    }
    let confirm = match what {
        BulkAction::Cancel => format!("{count} {runs} of this filter, on every page, will be cancelled."),
        BulkAction::Retry => format!("{count} {runs} of this filter, on every page, will be started again."),
    };
    let field = |name: &'static str, value: Option<String>| {
        value
            .filter(|value| !value.is_empty())
            .map(|value| view! { <input type="hidden" name=format!("filter[{name}]") value=value /> })
    };
    view! {
        <details class="confirm">
            <summary>{format!("{verb} {count} {runs}…")}</summary>
            <ActionForm action=action>
                <input type="hidden" name="action" value=what.as_str() />
                {field("tenant", params.tenant)}
                {field("type", params.kind)}
                {field("status", params.status)}
                {field("outcome", params.outcome)}
                {field("since", params.since)}
                {field("until", params.until)}
                {field("schedule", params.schedule)}
                <p>{confirm} " Runs you may see but not act on are skipped."</p>
                <button type="submit" class=if what == BulkAction::Cancel { "danger" } else { "primary" }>
                    {format!("{verb} {count} runs")}
                </button>
            </ActionForm>
        </details>
    }
    .into_any()
}

/// Runs by outcome over the last 24 hours, as bars.
#[component]
fn OutcomeChart(counts: Vec<(RunOutcome, i64)>) -> impl IntoView {
    let most = counts.iter().map(|(_, count)| *count).max().unwrap_or(0).max(1);
    let total: i64 = counts.iter().map(|(_, count)| count).sum();
    view! {
        <section class="card chart" aria-labelledby="chart-title">
            <h2 id="chart-title">"Last 24 hours " <small class="muted">{total} " runs"</small></h2>
            <ul class="bars" role="list">
                {counts
                    .into_iter()
                    .map(|(outcome, count)| {
                        view! {
                            <li data-outcome=outcome.as_str()>
                                <span class="bar-label">{outcome.label()}</span>
                                <svg
                                    class="bar-track"
                                    viewBox="0 0 100 10"
                                    preserveAspectRatio="none"
                                    aria-hidden="true"
                                >
                                    // No bar at all for none: a sliver would read as some.
                                    {(count > 0)
                                        .then(|| {
                                            view! {
                                                <rect
                                                    class=format!("bar outcome-{}", outcome.as_str())
                                                    width=(count * 100 / most).max(1)
                                                    height="10"
                                                />
                                            }
                                        })}
                                </svg>
                                <span class="bar-count">{count}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Filters(view: MonitoringView, params: ListParams) -> impl IntoView {
    view! {
        <Form method="GET" action="/admin/monitoring" attr:class="inline-form filters">
            <label>
                "Tenant"
                <Choices
                    name="tenant"
                    any="All"
                    chosen=params.tenant.clone()
                    values=view
                        .tenants
                        .iter()
                        .map(|tenant| (tenant.slug.clone(), tenant.name.clone()))
                        .collect()
                />
            </label>
            <label>
                "Operation"
                <Choices
                    name="type"
                    any="All"
                    chosen=params.kind.clone()
                    values=OperationKind::ALL
                        .iter()
                        .map(|kind| (kind.as_str().into(), kind.label().into()))
                        .collect()
                />
            </label>
            <label>
                "Status"
                <Choices
                    name="status"
                    any="Any"
                    chosen=params.status.clone()
                    values=RunStatus::ALL
                        .iter()
                        .map(|status| (status.as_str().into(), status.label().into()))
                        .collect()
                />
            </label>
            <label>
                "Outcome"
                <Choices
                    name="outcome"
                    any="Any"
                    chosen=params.outcome.clone()
                    values=RunOutcome::ALL
                        .iter()
                        .map(|outcome| (outcome.as_str().into(), outcome.label().into()))
                        .collect()
                />
            </label>
            <label>
                "Since " <small class="muted">"(RFC 3339)"</small>
                <input
                    name="since"
                    value=params.since.clone().unwrap_or_default()
                    placeholder="2026-11-22T00:00:00Z"
                />
            </label>
            <label>
                "Until"
                <input
                    name="until"
                    value=params.until.clone().unwrap_or_default()
                    placeholder="2026-11-23T00:00:00Z"
                />
            </label>
            // A schedule's runs (from its "Runs" link) stay the schedule's while filtering further.
            {params
                .schedule
                .clone()
                .map(|schedule| {
                    view! {
                        <input type="hidden" name="schedule" value=schedule.clone() />
                        <span class="badge">{format!("Schedule #{schedule}")}</span>
                    }
                })}
            <button type="submit">"Filter"</button>
            <a href="/admin/monitoring">"Clear"</a>
        </Form>
    }
}

/// A filter's `<select>`: `any` (no filter), then one option per `(value, label)`, the one the
/// address names selected.
#[component]
fn Choices(
    name: &'static str,
    any: &'static str,
    chosen: Option<String>,
    values: Vec<(String, String)>,
) -> impl IntoView {
    view! {
        <select name=name>
            <option value="">{any}</option>
            {values
                .into_iter()
                .map(|(value, label)| {
                    let selected = chosen.as_deref() == Some(value.as_str());
                    view! {
                        <option value=value selected=selected>
                            {label}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}
