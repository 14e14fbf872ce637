//! One run for its Monitoring page: its tenant, its retries, and whether it may be cancelled or
//! retried or looks stale.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::RunId;
use tenantpilot_core::model::Tenant;
use tenantpilot_core::operations::OperationRun;

/// One run as its Monitoring page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub run: OperationRun,
    pub tenant: Option<Tenant>,
    pub can_cancel: bool,
    pub can_retry: bool,
    /// The runs that retry this one, oldest first.
    pub retried_by: Vec<RunId>,
    pub likely_stale: bool,
    pub now: DateTime<Utc>,
}

#[server(endpoint = "run_detail")]
pub async fn run_detail(id: RunId) -> Result<RunView, AppError> {
    use tenantpilot_core::operations;
    let signed_in = crate::guard::signed_in().await?;
    let (store, user) = (&signed_in.state.store, &signed_in.caller.user);
    let run = operations::run(store, user, id).await?;
    let now = Utc::now();
    let tenant = match run.tenant_id {
        Some(id) => store.tenant_by_id(id).await?,
        None => None,
    };
    Ok(RunView {
        can_cancel: run.status.is_active() && operations::may_cancel(store, user, &run).await?,
        can_retry: operations::may_retry(store, user, &run).await?,
        retried_by: store.retries_of(run.id).await?,
        likely_stale: operations::likely_stale(&run, now),
        tenant,
        run,
        now,
    })
}
