//! `GET /metrics`: the process's numbers in Prometheus's text format, for a platform admin's
//! session or token (scopes `api` + `metrics`), or, where the setting allows, for a scraper on
//! the loopback address without credentials. Recorded through the `metrics` facade (see the
//! core's `metrics` module); the recorder is installed once per process.

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::{AppState, SignedIn};
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::metrics as names;
use tenantpilot_core::operations::{OperationKind, RunStatus};

/// Who may read `/metrics` besides platform admins.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsAccess {
    /// A request from the loopback address without credentials (a scraper beside the server).
    pub loopback: bool,
}

/// Histogram buckets in seconds: from a fast page (1 ms) to a long run (an hour).
const BUCKETS: [f64; 16] =
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];

/// The process's recorder, installed on first use (a process holds one: tests build many routers).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .expect("histogram buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder in this process");
        names::describe();
        handle
    })
}

/// Times each request, by its route (the matched template, so ids do not multiply the series),
/// method and status.
pub async fn time_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(names::HTTP_REQUEST_DURATION, "route" => route, "method" => method,
        "status" => response.status().as_u16().to_string())
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
async fn serve(
    Extension(access): Extension<MetricsAccess>,
    Extension(state): Extension<AppState>,
    request: Request,
) -> Result<Response, AppError> {
    let (mut parts, _) = request.into_parts();
    let from_loopback = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    let anonymous = !parts.headers.contains_key(header::AUTHORIZATION);
    if !(access.loopback && from_loopback && anonymous) {
        SignedIn::from_request_parts(&mut parts, &()).await?.on_platform()?;
    }
    // Gauges read when scraped: the runs waiting and running (all processes share them), and
    // this process's database pool.
    let active = state.store.active_runs().await?;
    for kind in OperationKind::ALL {
        for status in [RunStatus::Queued, RunStatus::Running] {
            let count = active.iter().find(|(k, s, _)| *k == kind && *s == status).map_or(0, |(.., n)| *n);
            metrics::gauge!(names::RUNS_ACTIVE, "type" => kind.as_str(), "status" => status.as_str())
                .set(count as f64);
        }
    }
    let (idle, in_use, max) = state.store.pool_connections();
    for (connections, count) in [("idle", idle), ("in_use", in_use), ("max", max)] {
        metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => connections).set(f64::from(count));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], recorder().render())
        .into_response())
}

/// The OpenAPI operation of this route.
pub const OPENAPI: &str = include_str!("metrics.openapi.json");

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(serve)).route_layer(Extension(TokenRequirement::METRICS))
}
