//! The HTTP surface: Leptos pages and server functions, JSON routes, static files, and the
//! layers every request passes (request id, tracing, body limit, same-origin check, session).

use crate::config::ServeArgs;
use crate::form_outcome::form_outcome;
use crate::origin::{same_origin, OriginPolicy};
use crate::sessions::SessionBackend;
use crate::{api, health};
use axum::http::{header, HeaderName, HeaderValue, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Extension, Router};
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler, generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::{AppState, TokenActivityCommit};
use tenantpilot_app::{shell, App};
use tenantpilot_core::provider::ProviderClient;
use tenantpilot_core::store::Store;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

/// Forms and JSON bodies are small; anything larger is refused with 413 before it is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const SESSION_COOKIE: &str = "tenantpilot_session";

/// Leptos' settings as cargo-leptos compiled them in, with our address. Without an explicit
/// `LEPTOS_ENV` it runs as production (no live-reload script in pages).
pub fn leptos_options(serve: &ServeArgs) -> LeptosOptions {
    let mut options = get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("tenantpilot").build());
    options.site_addr = serve.site_addr;
    if std::env::var_os("LEPTOS_ENV").is_none() {
        options.env = leptos::config::Env::PROD;
    }
    options
}

/// HSTS when the public URL is https: browsers then never try the site over plain http.
/// `SetResponseHeaderLayer` skips an empty value, so without https no header is sent.
fn hsts(serve: &ServeArgs) -> Option<HeaderValue> {
    serve.secure_cookies().then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"))
}

/// Pages and JSON answers (a signed-in person's data, a new token's secret) are never kept by a
/// browser or a proxy; the site's own files (`/pkg/…`) may be.
async fn not_stored(request: Request<axum::body::Body>, next: middleware::Next) -> axum::response::Response {
    let cacheable = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    if !cacheable {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A request with a token is answered once the row its guard queued in the token's activity
/// log has committed (see `TokenActivityCommit`).
async fn token_activity_committed(
    mut request: Request<axum::body::Body>,
    next: middleware::Next,
) -> axum::response::Response {
    let activity = TokenActivityCommit::default();
    request.extensions_mut().insert(activity.clone());
    let response = next.run(request).await;
    match activity.committed().await {
        Ok(()) => response,
        Err(error) => AppError(error).into_response(),
    }
}

/// A page request learns the viewer's time zone before it renders (`PageZone`): its times are
/// drawn in it. Other requests skip the lookup.
async fn page_zone(request: Request<axum::body::Body>, next: middleware::Next) -> axum::response::Response {
    if !asks_for_html(&request) || request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let zone = tenantpilot_app::guard::page_zone(&parts).await;
    parts.extensions.insert(zone);
    next.run(Request::from_parts(parts, body)).await
}

/// The pages' routes, walked from `App` once per process. Leptos walks them with a process-wide
/// flag raised that holds back, for good, every resource first polled meanwhile (leptos_server's
/// `SuppressResourceLoad`): a second walk while another router renders a page (tests and
/// replicas share a process) left that page unfinished.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Addresses that are a page for a browser and the JSON twin for every other client (a script,
/// a token): `/admin/schedules` lists schedules either way.
const PAGE_OR_JSON: [&str; 1] = ["/admin/schedules"];

/// Whether a request to a [`PAGE_OR_JSON`] address wants the page: a browser's GET, asking for
/// HTML and carrying no token.
fn wants_page(request: &Request<axum::body::Body>) -> bool {
    asks_for_html(request)
        && PAGE_OR_JSON.contains(&request.uri().path())
        && !request.headers().contains_key(header::AUTHORIZATION)
}

/// A GET that asks for HTML: a browser loading a page.
fn asks_for_html(request: &Request<axum::body::Body>) -> bool {
    request.method() == axum::http::Method::GET && accepts_html(request.headers())
}

/// Whether a request takes HTML for an answer: a browser's, not a script's.
pub(crate) fn accepts_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("text/html"))
}

/// Sends a browser's request for a [`PAGE_OR_JSON`] address to its page; the rest go on to the
/// JSON route.
async fn page_or_json(
    axum::extract::State(pages): axum::extract::State<Router>,
    request: Request<axum::body::Body>,
    next: middleware::Next,
) -> axum::response::Response {
    use tower::ServiceExt;
    if wants_page(&request) {
        match pages.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    } else {
        next.run(request).await
    }
}

/// The whole router; `provider` is the process's provider client (shared with its workers),
/// `sessions` the session store (its housekeeping runs beside the server, not in here).
pub fn build(
    store: Store,
    provider: ProviderClient,
    sessions: SessionBackend,
    serve: &ServeArgs,
    options: LeptosOptions,
) -> Router {
    let live_streams = api::operations::LiveStreams::new(sessions.clone(), serve.live_settings());
    let state = AppState {
        store,
        provider,
        fresh_tokens: Default::default(),
        session_absolute_lifetime: chrono::Duration::hours(serve.session_max_hours),
        trusted_proxies: serve.trusted_proxies.clone(),
    };
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(serve.secure_cookies())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(serve.session_idle_minutes)));
    let origin_policy = OriginPolicy { public_origin: serve.public_origin() };

    let (shared, routes): (Vec<_>, Vec<_>) =
        page_routes().into_iter().partition(|route| PAGE_OR_JSON.contains(&route.path()));
    let pages = {
        let options = options.clone();
        move || shell(options.clone())
    };
    let shared_pages: Router =
        Router::new().leptos_routes(&options, shared, pages.clone()).with_state(options.clone());
    api::metrics::recorder();
    let router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(api::routes())
        .leptos_routes(&options, routes, pages)
        .fallback(file_and_error_handler(shell))
        .with_state(options)
        .layer(middleware::from_fn_with_state(shared_pages, page_or_json))
        .layer(middleware::from_fn(form_outcome))
        .layer(middleware::from_fn(token_activity_committed))
        .layer(middleware::from_fn(api::metrics::time_requests));

    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: headers (cookies) and query strings stay out of the log.
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", id, method = %request.method(), path = request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts(serve)))
        .layer(middleware::from_fn(not_stored))
        .layer(middleware::from_fn_with_state(origin_policy, same_origin))
        .layer(session_layer)
        .layer(Extension(state))
        .layer(Extension(live_streams))
        .layer(Extension(api::tenant_jobs::TenantApiSettings {
            max_wait: std::time::Duration::from_millis(serve.tenant_job_max_wait_ms),
        }))
        .layer(Extension(api::metrics::MetricsAccess { loopback: serve.metrics_loopback }))
        .layer(middleware::from_fn(page_zone));
    // The body limit goes on the routes themselves: it changes the body type, which the
    // middleware above would not accept.
    router.layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)).layer(layers)
}
