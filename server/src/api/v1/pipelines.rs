//! `/api/v1/pipeline/…`: run, status, reset, stop, summary, logs and the list.

use super::{said, Body, Caller, Failed};
use axum::body::Bytes;
use axum::Json;
use serde_json::{json, Value};
use tenantpilot_core::audit::require_power_user;
use tenantpilot_core::item_access::Level;
use tenantpilot_core::pipeline::{Pipeline, PipelineLog};
use tenantpilot_core::pipelines;

pub async fn run(Caller(caller): Caller, body: Bytes) -> Result<Json<Value>, Failed> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    let started = pipelines::run(&caller.state.store, &caller.user, &caller.initiator(), id).await?;
    Ok(Json(json!({
        "status": "executed",
        "message": format!("Run pipeline request submitted successfully for ({id})"),
        "runCount": started.run_count,
    })))
}

pub async fn status(Caller(caller): Caller, body: Bytes) -> Result<Json<Value>, Failed> {
    let body = Body::parse(&body)?;
    let (id, run_count) = (body.id("pipelineId")?, body.count("runCount")?);
    let answer = pipelines::status(&caller.state.store, &caller.user, id, run_count).await?;
    Ok(said(answer.status, answer.message))
}

pub async fn reset(Caller(caller): Caller, body: Bytes) -> Result<Json<Value>, Failed> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    pipelines::reset(&caller.state.store, &caller.user, &caller.initiator(), id).await?;
    Ok(said("success", "The pipeline run status has been reset."))
}

pub async fn stop(Caller(caller): Caller, body: Bytes) -> Result<Json<Value>, Failed> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    pipelines::stop(&caller.state.store, &caller.user, &caller.initiator(), id).await?;
    Ok(said("success", "The pipeline has been stopped."))
}

pub async fn summary(Caller(caller): Caller, body: Bytes) -> Result<Json<Pipeline>, Failed> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    let record = pipelines::visible(&caller.state.store, &caller.user, id, Level::Read).await?;
    Ok(Json(record.pipeline))
}

pub async fn logs(Caller(caller): Caller, body: Bytes) -> Result<Json<Vec<PipelineLog>>, Failed> {
    let body = Body::parse(&body)?;
    let (id, run_count, kind) = (body.id("pipelineId")?, body.count("runCount")?, body.text("type")?);
    Ok(Json(pipelines::logs(&caller.state.store, &caller.user, id, run_count, kind, None).await?))
}

pub async fn list(Caller(caller): Caller) -> Result<Json<Vec<Pipeline>>, Failed> {
    require_power_user(&caller.user)?;
    Ok(Json(pipelines::list(&caller.state.store, &caller.user).await?))
}
