//! The Monitoring list's data: a page of runs (and which of them the viewer may retry), runs
//! over time by outcome, the tenants, the time filters on the viewer's wall clock.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::RunId;
use tenantpilot_core::model::Tenant;
use tenantpilot_core::operations::ListParams;
use tenantpilot_core::operations::{OperationRun, RunsOverTime};

/// The Monitoring list: one page of runs, the cursor of the next, runs over time by outcome,
/// and the tenants the viewer may see (names for rows, choices for the filter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringView {
    pub runs: Vec<OperationRun>,
    /// The runs of this page the viewer may retry.
    pub retryable: Vec<RunId>,
    /// How many runs of the filter (every page) a bulk cancel and a bulk retry would take on,
    /// counted no further than one past the cap.
    pub bulk_cancel: i64,
    pub bulk_retry: i64,
    pub next_cursor: Option<RunId>,
    pub chart: RunsOverTime,
    /// The address's query with its time filters in RFC 3339, when it named them on a wall
    /// clock (a `datetime-local` field): the page goes there.
    pub canonical_query: Option<String>,
    /// The time filters on the viewer's wall clock, for the `datetime-local` fields.
    pub since_local: Option<String>,
    pub until_local: Option<String>,
    pub tenants: Vec<Tenant>,
    pub now: DateTime<Utc>,
}

/// `params` is optional because a form encoding drops a struct whose fields are all empty;
/// `chart` is the chart's span (`24h`, the default, or `30d`).
#[server(endpoint = "monitoring")]
pub async fn monitoring(
    params: Option<ListParams>,
    chart: Option<String>,
) -> Result<MonitoringView, AppError> {
    use tenantpilot_core::clock;
    use tenantpilot_core::operations::{self, BulkAction, ChartSpan};
    use tenantpilot_core::CoreError;
    let signed_in = crate::guard::signed_in().await?;
    let (store, user) = (&signed_in.state.store, &signed_in.caller.user);
    let zone = crate::guard::viewer_zone(user);
    let asked = params.unwrap_or_default();
    let params = asked.in_zone(zone);
    let canonical_query = (params != asked).then(|| params.to_query());
    let span = match chart.as_deref().filter(|span| !span.is_empty()) {
        Some(span) => span.parse().map_err(|message: String| CoreError::invalid("chart", message))?,
        None => ChartSpan::default(),
    };
    let now = Utc::now();
    let (page, chart) = operations::dashboard(store, user, &params, span, zone, now).await?;
    let local = |value: &Option<String>| {
        let at = chrono::DateTime::parse_from_rfc3339(value.as_deref()?).ok()?;
        Some(clock::wall_clock(at.with_timezone(&Utc), zone))
    };
    let (since_local, until_local) = (local(&params.since), local(&params.until));
    let tenants = if user.is_platform_admin {
        store.workspaces_with_tenants().await?.into_iter().flat_map(|entry| entry.tenants).collect()
    } else {
        store.memberships_of(user.id).await?.into_iter().map(|membership| membership.tenant).collect()
    };
    let mut retryable = Vec::new();
    for run in page.runs.iter().filter(|run| operations::retryable(run)) {
        if operations::may_retry(store, user, run).await? {
            retryable.push(run.id);
        }
    }
    let bulk_cancel = operations::bulk_count(store, user, BulkAction::Cancel, &params).await?;
    let bulk_retry = operations::bulk_count(store, user, BulkAction::Retry, &params).await?;
    Ok(MonitoringView {
        runs: page.runs,
        retryable,
        bulk_cancel,
        bulk_retry,
        next_cursor: page.next_cursor,
        chart,
        canonical_query,
        since_local,
        until_local,
        tenants,
        now,
    })
}
