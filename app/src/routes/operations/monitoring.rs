//! The Monitoring dashboard: every run the viewer may see, filtered, paged and kept current;
//! retrying one run, and cancelling or retrying every run of the filter at once.

use crate::components::{
    local_time, patch, poll_for, refreshed, ActionError, ActionSummary, Applied, LiveRefresh, Loaded, Reload,
    RunTable,
};
use crate::functions::{monitoring, BulkRuns, Monitoring, MonitoringView, RetryRun};
use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tenantpilot_core::encoding::percent_encode;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::operations::{BulkAction, BulkResult, ChartSpan, ListParams, RunsOverTime, BULK_MAX};
use tenantpilot_core::operations::{OperationKind, RunChange, RunOutcome, RunStatus};

/// Every run the viewer may see, newest first: filters in the URL, cursor paging, runs by
/// outcome over the last day. The list is an island, kept current by push (or polling).
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
    let chart = Memo::new(move |_| query.read().get("chart").filter(|span| !span.is_empty()));
    let view =
        Resource::new(move || (params.get(), chart.get()), |(params, chart)| monitoring(Some(params), chart));
    // Forms posted from the list come back here with their outcome in the address.
    let (retry, bulk) = (ServerAction::<RetryRun>::new(), ServerAction::<BulkRuns>::new());
    view! {
        <Title text="Monitoring" />
        <h1>"Monitoring"</h1>
        // A retry's answer is its new run's page: only a refusal comes back here.
        <ActionError action=retry />
        <ActionSummary
            action=bulk
            summary=|done: &BulkResult| {
                format!("Acted on {} of {} runs; {} skipped.", done.acted, done.matched, done.skipped)
            }
        />
        <Loaded resource=view let:view>
            {
                to_canonical(&view);
                let (params, chart) = (params.get_untracked(), chart.get_untracked());
                view! {
                    <MonitoringLive view=view.clone() params=params.clone() chart>
                        <Filters view params />
                    </MonitoringLive>
                }
            }
        </Loaded>
    }
}

/// The list's filters and chart as `monitoring`'s arguments, form-encoded: `params[type]=…`.
fn monitoring_arguments(params: &ListParams, chart: Option<&str>) -> String {
    let filters = params.to_query();
    let filters = filters.split('&').filter_map(|pair| pair.split_once('='));
    let chart = chart.map(|chart| ("chart", percent_encode(chart)));
    filters
        .map(|(name, value)| format!("params%5B{name}%5D={value}"))
        .chain(chart.map(|(name, value)| format!("{name}={value}")))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends the browser to the same list with its times in RFC 3339, when the address had them
/// on the viewer's wall clock (as a `datetime-local` field sends them).
fn to_canonical(view: &MonitoringView) {
    #[cfg(feature = "ssr")]
    if let Some(query) = &view.canonical_query {
        leptos_axum::redirect(&format!("/admin/monitoring?{query}"));
    }
    #[cfg(not(feature = "ssr"))]
    let _ = view;
}

/// The list and its chart as the browser keeps them: pushed changes patch rows in place; a
/// change that may alter which runs are listed, or a poll, loads the list again. Its forms are
/// plain forms. `children` are the filters, drawn by the server once.
#[island]
fn MonitoringLive(
    view: MonitoringView,
    params: ListParams,
    chart: Option<String>,
    children: Children,
) -> impl IntoView {
    let live = LiveRefresh::new();
    let reload = {
        let arguments = monitoring_arguments(&params, chart.as_deref());
        move || Reload { function: Monitoring::PATH, arguments: arguments.clone() }
    };
    let shown = refreshed(
        view,
        move || {
            live.tick();
        },
        reload,
    );
    live.follow_patching(move || shown.with(|view| poll_for(&view.runs, view.now)), {
        let params = params.clone();
        move |change| patch(shown, |shown| apply_change(shown, &params, change))
    });
    let chart_params = params.clone();
    view! {
        {move || {
            shown
                .with(|view| {
                    view! {
                        <RunsChart chart=view.chart.clone() params=chart_params.clone() shown=chart.clone() />
                    }
                })
        }}
        {children()}
        {move || shown.with(|view| view! { <Runs view=view.clone() params=params.clone() /> })}
    }
}

/// What a pushed change does to the list shown: a listed run still in the filter is patched in
/// place, unless it just ended in a way that may be retried (its Retry button and the bulk
/// counts are the server's to work out); a run leaving the filter, or one entering this page,
/// reloads it; anything else leaves it be.
fn apply_change(shown: &mut MonitoringView, params: &ListParams, change: &RunChange) -> Applied {
    let tenants = &shown.tenants;
    let matches = params
        .matches(change, |slug| tenants.iter().find(|tenant| tenant.slug == slug).map(|tenant| tenant.id));
    if let Some(run) = shown.runs.iter_mut().find(|run| run.id == change.run_id) {
        let ended = run.status != RunStatus::Completed && change.status == RunStatus::Completed;
        if !matches || (ended && change.outcome != RunOutcome::Succeeded) {
            return Applied::Reload;
        }
        change.apply_to(run);
        return Applied::Patched;
    }
    // Newest first: this page holds the runs below its cursor and, unless it is the last,
    // above its last row.
    let below_cursor = params.cursor.as_deref().and_then(|cursor| cursor.parse::<RunId>().ok());
    let on_this_page = below_cursor.is_none_or(|cursor| change.run_id < cursor)
        && (shown.next_cursor.is_none() || shown.runs.last().is_some_and(|last| change.run_id > last.id));
    if matches && on_this_page {
        Applied::Reload
    } else {
        Applied::Ignored
    }
}

#[component]
fn Runs(view: MonitoringView, params: ListParams) -> impl IntoView {
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
        <section class="bulk" aria-label="Act on every run of this filter">
            <Bulk what=BulkAction::Cancel count=view.bulk_cancel params=params.clone() />
            <Bulk what=BulkAction::Retry count=view.bulk_retry params=params.clone() />
        </section>
        {if view.runs.is_empty() {
            view! {
                <p class="muted">
                    {if filtered { "No operations match these filters." } else { "No operations yet." }}
                </p>
            }
                .into_any()
        } else {
            view! {
                <RunTable
                    runs=view.runs.clone()
                    now=view.now
                    tenants=view.tenants.clone()
                    retryable=view.retryable.clone()
                />
            }
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
fn Bulk(what: BulkAction, count: i64, params: ListParams) -> impl IntoView {
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
            <form method="post" action=BulkRuns::PATH>
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
            </form>
        </details>
    }
    .into_any()
}

/// The chart's drawing area, in SVG units: bars from `LEFT` to `WIDTH`, from `TOP` down `HEIGHT`.
const WIDTH: f64 = 720.0;
const LEFT: f64 = 36.0;
const TOP: f64 = 8.0;
const HEIGHT: f64 = 140.0;

/// Runs over time, stacked by outcome, drawn as SVG on the server (so it shows without
/// JavaScript): a bar per hour for 24 hours or per day for 30, with the totals by outcome.
#[component]
fn RunsChart(chart: RunsOverTime, params: ListParams, shown: Option<String>) -> impl IntoView {
    let total: i64 = chart.totals.iter().map(|(_, count)| count).sum();
    let tallest =
        chart.bars.iter().map(|bar| bar.counts.iter().map(|(_, n)| n).sum::<i64>()).max().unwrap_or(0).max(1);
    let slot = (WIDTH - LEFT) / chart.bars.len().max(1) as f64;
    let (title, every) = match chart.span {
        ChartSpan::Day => ("Runs over the last 24 hours", 6),
        ChartSpan::Month => ("Runs over the last 30 days", 5),
    };
    let span_link = move |span: ChartSpan, label: &'static str| {
        let query = params.to_query();
        let chart = match span {
            ChartSpan::Day => String::new(),
            ChartSpan::Month => format!("chart={span}"),
        };
        let href = match (query.is_empty(), chart.is_empty()) {
            (true, true) => "/admin/monitoring".to_string(),
            (false, true) => format!("/admin/monitoring?{query}"),
            (true, false) => format!("/admin/monitoring?{chart}"),
            (false, false) => format!("/admin/monitoring?{query}&{chart}"),
        };
        let current = (shown.as_deref().unwrap_or("24h") == span.as_str()).then_some("page");
        view! {
            <a href=href aria-current=current>
                {label}
            </a>
        }
    };
    let bars = chart
        .bars
        .iter()
        .enumerate()
        .map(|(n, bar)| {
            let x = LEFT + n as f64 * slot + slot * 0.1;
            let sum: i64 = bar.counts.iter().map(|(_, count)| count).sum();
            let when = bar_label(bar.start, chart.span);
            let parts: Vec<String> = bar
                .counts
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(outcome, count)| format!("{count} {}", outcome.label().to_lowercase()))
                .collect();
            let tip = if parts.is_empty() {
                format!("{when}: no runs")
            } else {
                format!("{when}: {}", parts.join(", "))
            };
            let mut bottom = TOP + HEIGHT;
            let segments = bar
                .counts
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(outcome, count)| {
                    let height = *count as f64 * HEIGHT / tallest as f64;
                    bottom -= height;
                    view! {
                        <rect
                            class=format!("bar outcome-{}", outcome.as_str())
                            x=format!("{x:.1}")
                            y=format!("{bottom:.1}")
                            width=format!("{:.1}", slot * 0.8)
                            height=format!("{height:.1}")
                        />
                    }
                })
                .collect_view();
            let tick = (n % every == 0).then(|| {
                view! {
                    <text class="tick" x=format!("{x:.1}") y=format!("{:.1}", TOP + HEIGHT + 14.0)>
                        {bar_tick(bar.start, chart.span)}
                    </text>
                }
            });
            view! {
                <g data-runs=sum>
                    <title>{tip}</title>
                    {segments}
                    {tick}
                </g>
            }
        })
        .collect_view();
    view! {
        <section class="card chart" aria-labelledby="chart-title">
            <h2 id="chart-title">{title} " " <small class="muted">{total} " runs"</small></h2>
            <nav class="chart-span" aria-label="Chart span">
                {span_link(ChartSpan::Day, "24 hours")}
                " · "
                {span_link(ChartSpan::Month, "30 days")}
            </nav>
            <svg
                class="runs-over-time"
                viewBox=format!("0 0 {WIDTH} {}", TOP + HEIGHT + 20.0)
                role="img"
                aria-label=format!("{title}: {total} runs, stacked by outcome")
            >
                <line class="axis" x1=LEFT y1=TOP + HEIGHT x2=WIDTH y2=TOP + HEIGHT />
                <text class="tick" x=LEFT - 4.0 y=TOP + 8.0 text-anchor="end">
                    {tallest}
                </text>
                <text class="tick" x=LEFT - 4.0 y=TOP + HEIGHT text-anchor="end">
                    "0"
                </text>
                {bars}
            </svg>
            <ul class="legend" role="list">
                {chart
                    .totals
                    .into_iter()
                    .map(|(outcome, count)| {
                        view! {
                            <li data-outcome=outcome.as_str()>
                                <svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">
                                    <rect
                                        class=format!("swatch-fill outcome-{}", outcome.as_str())
                                        width="10"
                                        height="10"
                                    />
                                </svg>
                                {outcome.label()}
                                " "
                                <span class="bar-count">{count}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// A bar's time span in words, on the viewer's clock: "30 Nov 14:00–15:00" or "Mon 30 Nov".
fn bar_label(start: DateTime<Utc>, span: ChartSpan) -> String {
    let local = local_time(start);
    match span {
        ChartSpan::Day => {
            format!("{}–{}", local.format("%-d %b %H:%M"), (local + Duration::hours(1)).format("%H:%M"))
        }
        ChartSpan::Month => local.format("%a %-d %b").to_string(),
    }
}

/// A bar's axis label: its hour, or its day.
fn bar_tick(start: DateTime<Utc>, span: ChartSpan) -> String {
    let local = local_time(start);
    match span {
        ChartSpan::Day => local.format("%H:%M").to_string(),
        ChartSpan::Month => local.format("%-d %b").to_string(),
    }
}

#[component]
fn Filters(view: MonitoringView, params: ListParams) -> impl IntoView {
    view! {
        <form method="get" action="/admin/monitoring" class="inline-form filters">
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
                "Since"
                <input
                    type="datetime-local"
                    name="since"
                    value=view.since_local.clone().unwrap_or_default()
                />
            </label>
            <label>
                "Until"
                <input
                    type="datetime-local"
                    name="until"
                    value=view.until_local.clone().unwrap_or_default()
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
        </form>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_reloads_with_the_filters_it_shows() {
        let params = ListParams {
            tenant: Some("contoso".into()),
            kind: Some("assignments.fetch".into()),
            since: Some("2026-12-01T00:00:00Z".into()),
            ..ListParams::default()
        };
        assert_eq!(
            monitoring_arguments(&params, Some("30d")),
            "params%5Btenant%5D=contoso&params%5Btype%5D=assignments.fetch\
             &params%5Bsince%5D=2026-12-01T00%3A00%3A00Z&chart=30d"
        );
        assert_eq!(monitoring_arguments(&ListParams::default(), None), "");
    }
}
