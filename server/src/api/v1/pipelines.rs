//! `/api/v1/pipeline/…`: run, status, reset, stop, summary, logs and the list.

use super::{said, Body, PipelineCaller};
use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Json;
use axum::{Extension, Router};
use serde_json::{json, Value};
use tenantpilot_app::error::contracts::PipelineApiError;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::audit::require_power_user;
use tenantpilot_core::item_access::Level;
use tenantpilot_core::pipelines;
use tenantpilot_core::pipelines::{Pipeline, PipelineLog};

pub async fn run(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Value>, PipelineApiError> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    let started = pipelines::run(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(Json(json!({
        "status": "executed",
        "message": format!("Run pipeline request submitted successfully for ({id})"),
        "runCount": started.run_count,
    })))
}

pub async fn status(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Value>, PipelineApiError> {
    let body = Body::parse(&body)?;
    let (id, run_count) = (body.id("pipelineId")?, body.count("runCount")?);
    let answer = pipelines::status(&signed_in.state.store, &signed_in.caller.user, id, run_count).await?;
    Ok(said(answer.status, answer.message))
}

pub async fn reset(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Value>, PipelineApiError> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    pipelines::reset(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(said("success", "The pipeline run status has been reset."))
}

pub async fn stop(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Value>, PipelineApiError> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    pipelines::stop(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(said("success", "The pipeline has been stopped."))
}

pub async fn summary(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Pipeline>, PipelineApiError> {
    let id = Body::parse(&body)?.id("pipelineId")?;
    let record = pipelines::visible(&signed_in.state.store, &signed_in.caller.user, id, Level::Read).await?;
    Ok(Json(record.pipeline))
}

pub async fn logs(
    PipelineCaller(signed_in): PipelineCaller,
    body: Bytes,
) -> Result<Json<Vec<PipelineLog>>, PipelineApiError> {
    let body = Body::parse(&body)?;
    let (id, run_count, kind) = (body.id("pipelineId")?, body.count("runCount")?, body.text("type")?);
    Ok(Json(
        pipelines::logs(&signed_in.state.store, &signed_in.caller.user, id, run_count, kind, None).await?,
    ))
}

pub async fn list(
    PipelineCaller(signed_in): PipelineCaller,
) -> Result<Json<Vec<Pipeline>>, PipelineApiError> {
    require_power_user(&signed_in.caller.user)?;
    Ok(Json(pipelines::list(&signed_in.state.store, &signed_in.caller.user).await?))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("pipelines.openapi.json");

/// Pipelines: a token needs the Pipeline scope; status and logs also take Pipeline Logs.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/v1/pipeline/status", post(status))
        .route("/api/v1/pipeline/logs", post(logs))
        .route_layer(Extension(TokenRequirement::PIPELINE_READ))
        .route("/api/v1/pipeline/run", post(run))
        .route("/api/v1/pipeline/reset", post(reset))
        .route("/api/v1/pipeline/stop", post(stop))
        .route("/api/v1/pipeline/summary", post(summary))
        .route("/api/v1/pipeline/pipelines", get(list))
        .route_layer(Extension(TokenRequirement::PIPELINE))
}
