//! The Monitoring list's data: a page of runs (and which of them the viewer may retry), runs
//! by outcome over the last day, the tenants.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::RunId;
use tenantpilot_core::model::Tenant;
use tenantpilot_core::operations::ListParams;
use tenantpilot_core::operations::{OperationRun, RunOutcome};

/// The Monitoring list: one page of runs, the cursor of the next, runs by outcome over the
/// last day, and the tenants the viewer may see (names for rows, choices for the filter).
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
    pub by_outcome: Vec<(RunOutcome, i64)>,
    pub tenants: Vec<Tenant>,
    pub now: DateTime<Utc>,
}

/// `params` is optional because a form encoding drops a struct whose fields are all empty.
#[server(endpoint = "monitoring")]
pub async fn monitoring(params: Option<ListParams>) -> Result<MonitoringView, AppError> {
    use tenantpilot_core::operations::{self, BulkAction};
    let params = params.unwrap_or_default();
    let signed_in = crate::guard::signed_in().await?;
    let (store, user) = (&signed_in.state.store, &signed_in.caller.user);
    let now = Utc::now();
    let (page, by_outcome) = operations::dashboard(store, user, &params, now).await?;
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
        by_outcome,
        tenants,
        now,
    })
}
