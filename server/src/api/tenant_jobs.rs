//! The tenant API v2 contract (`/_/tenant`): lifecycle jobs for orchestrators. Callers are
//! platform admins, by session or by a token with the Tenant Admin scope; the tenant is named
//! by the `X-Okapi-Tenant` header. Errors are `text/plain` as the contract says, except schema
//! violations, which are 422 `{"errors": […], "total_records": n}`.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, post};
use axum::Router;
use axum::{Extension, Json};
use std::collections::HashMap;
use std::time::Duration;
use tenantpilot_app::error::contracts::TenantApiError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::metrics;
use tenantpilot_core::tenant_jobs::{self, Refusal, Submitted, TENANT_HEADER};
use tenantpilot_core::CoreError;

/// How long `?wait` may hold a request at most.
#[derive(Clone, Copy, Debug)]
pub struct TenantApiSettings {
    pub max_wait: Duration,
}

/// The one guard, and then the platform plane: anyone else finds nothing here.
pub struct PlatformCaller(SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for PlatformCaller {
    type Rejection = TenantApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, TenantApiError> {
        let signed_in = SignedIn::from_request_parts(parts, state).await.map_err(|error| error.0)?;
        signed_in.on_platform().map_err(|error| error.0)?;
        Ok(PlatformCaller(signed_in))
    }
}

fn tenant_of(headers: &HeaderMap) -> Result<String, CoreError> {
    let value = match headers.get(TENANT_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            CoreError::invalid(TENANT_HEADER, format!("The {TENANT_HEADER} header is not a tenant slug."))
        })?),
    };
    tenant_jobs::tenant_slug(value)
}

/// `POST /_/tenant`: 201 with the job (and its `Location`) when it works in the background,
/// 204 when it was done during the request or there was nothing to do.
pub async fn submit(
    PlatformCaller(signed_in): PlatformCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, TenantApiError> {
    let slug = tenant_of(&headers)?;
    let (attributes, plan) = tenant_jobs::parse_request(&body).map_err(|refusal| match refusal {
        Refusal::Malformed(message) => TenantApiError::Core(CoreError::invalid("body", message)),
        Refusal::Invalid(errors) => TenantApiError::Invalid(errors),
    })?;
    let submitted =
        tenant_jobs::submit(&signed_in.state.store, &signed_in.caller.initiator, &slug, attributes, plan)
            .await?;
    Ok(match submitted {
        Submitted::Done => StatusCode::NO_CONTENT.into_response(),
        Submitted::Job(job) => {
            let location = format!("/_/tenant/{}", job.id);
            (StatusCode::CREATED, [(header::LOCATION, location)], Json(job)).into_response()
        }
    })
}

/// `GET /_/tenant/{operation_id}[?wait=ms]`.
pub async fn get(
    PlatformCaller(signed_in): PlatformCaller,
    Extension(settings): Extension<TenantApiSettings>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, TenantApiError> {
    let slug = tenant_of(&headers)?;
    let wait = wait_of(query, settings.max_wait)?;
    let _held = (!wait.is_zero()).then(|| metrics::Held::new(metrics::LONG_POLLS_HELD));
    let job = tenant_jobs::wait_for_change(&signed_in.state.store, &slug, &id, wait).await?;
    Ok(Json(job).into_response())
}

/// `wait` in milliseconds, capped; absent or 0 is no wait.
fn wait_of(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    max: Duration,
) -> Result<Duration, CoreError> {
    let bad = || {
        CoreError::invalid(
            "wait",
            format!(
                "wait must be a whole number of milliseconds from 0 to {} (0 means no wait).",
                max.as_millis()
            ),
        )
    };
    let Query(query) = query.map_err(|_| bad())?;
    match query.get("wait").map(|wait| wait.trim()) {
        None | Some("") => Ok(Duration::ZERO),
        Some(wait) => {
            let millis: u64 = wait.parse().map_err(|_| bad())?;
            Ok(Duration::from_millis(millis).min(max))
        }
    }
}

/// `DELETE /_/tenant/{operation_id}`: 204; a job still running is the caller's mistake.
pub async fn delete(
    PlatformCaller(signed_in): PlatformCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, TenantApiError> {
    let slug = tenant_of(&headers)?;
    tenant_jobs::delete(&signed_in.state.store, &signed_in.caller.initiator, &slug, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("tenant_jobs.openapi.json");

/// The tenant API: a token needs the Tenant Admin scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/_/tenant", post(submit))
        .route("/_/tenant/{operation_id}", routing::get(get).delete(delete))
        .route_layer(Extension(TokenRequirement::TENANT_ADMIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_capped_and_checked() {
        let max = Duration::from_secs(60);
        let query = |text: &str| {
            let uri: axum::http::Uri = format!("/_/tenant/1?{text}").parse().unwrap();
            Query::try_from_uri(&uri)
        };
        assert_eq!(wait_of(query(""), max).unwrap(), Duration::ZERO);
        assert_eq!(wait_of(query("wait=250"), max).unwrap(), Duration::from_millis(250));
        assert_eq!(wait_of(query("wait=86400000"), max).unwrap(), max);
        for bad in ["wait=-1", "wait=soon", "wait=1.5", "wait=99999999999999999999999"] {
            assert!(wait_of(query(bad), max).is_err(), "{bad}");
        }
    }
}
