//! One pipeline's page data: what the viewer may do, its latest runs and a run's console.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::PipelineId;
use tenantpilot_core::pipelines::{Pipeline, PipelineLog, PipelineRun};

/// Console lines a page shows of one run.
pub const CONSOLE_LINES: i64 = 500;

/// A pipeline, what the viewer may do with it, its latest runs and the console of the current
/// (or latest) run, oldest line first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineView {
    pub pipeline: Pipeline,
    pub can_write: bool,
    pub runs: Vec<PipelineRun>,
    pub console_run: Option<i64>,
    pub console: Vec<PipelineLog>,
}

#[server(endpoint = "pipeline_detail")]
pub async fn pipeline_detail(id: PipelineId) -> Result<PipelineView, AppError> {
    use tenantpilot_core::item_access::Level;
    use tenantpilot_core::pipelines;
    use tenantpilot_core::pipelines::CONSOLE_OUTPUT;
    let signed_in = crate::guard::signed_in().await?;
    let store = &signed_in.state.store;
    let (record, level) =
        pipelines::visible_with_level(store, &signed_in.caller.user, id, Level::Read).await?;
    let can_write = level == Level::Write;
    let runs = store.pipeline_runs(id, None, 10).await?;
    let console_run = record.pipeline.current_run.as_ref().or(runs.first()).map(|run| run.run_count);
    let mut console = match console_run {
        Some(n) => store.pipeline_logs(id, Some(n), Some(CONSOLE_OUTPUT), None, CONSOLE_LINES).await?,
        None => Vec::new(),
    };
    console.reverse();
    Ok(PipelineView { pipeline: record.pipeline, can_write, runs, console_run, console })
}
