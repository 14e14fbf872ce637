//! `GET /metrics` (issue 17 §6), on SQLite and PostgreSQL: Prometheus's text format for a
//! platform admin's session or token with the metrics scope, or (where set) a scraper on the
//! loopback address; the runs, HTTP requests and pool it reports move as the server works.
//! The recorder is one per process and tests run side by side, so counts are compared as
//! "at least", never as exact values. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a real server
//! exports its request spans as OTLP traces, the last of them on shutdown.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::TestApp;
use tenantpilot_core::operations::{Counters, RunOutcome};
use tenantpilot_core::store::Backend;
use tenantpilot_core::tokens::{self, Scope};

tenantpilot_core::test_on_both_backends!(metrics_are_for_platform_admins_and_count_the_work);

/// What a collector received: each POST's path, content type and body.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A real `tenantpilot serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` set to a collector of this
/// test: after a request and a SIGTERM, the collector holds its span, as the OTLP/HTTP spec
/// describes the export (https://opentelemetry.io/docs/specs/otlp/#otlphttp-request: a POST of
/// binary protobuf, `Content-Type: application/x-protobuf`, to `{endpoint}/v1/traces`).
// Multi-threaded: the collector must answer while the test waits for the server to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_go_to_the_otlp_endpoint_when_one_is_set() {
    let received = Received::default();
    let collector = {
        let received = received.clone();
        axum::Router::new().fallback(move |request: Request<Body>| {
            let received = received.clone();
            async move {
                let path = request.uri().path().to_string();
                let kind = request
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap_or_default().to_string());
                let body = axum::body::to_bytes(request.into_body(), 1 << 24).await.unwrap_or_default();
                received.lock().unwrap().push((path, kind.unwrap_or_default(), body.to_vec()));
                StatusCode::OK
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let dir = std::env::temp_dir().join(format!("tenantpilot-otlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
        .arg("serve")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("DATABASE_URL", format!("sqlite://{}", dir.join("otlp.db").display()))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTPILOT_WORKERS", "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("RUST_LOG", "warn,tenantpilot_server=info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start tenantpilot");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let mut answered = false;
    for _ in 0..300 {
        if reqwest::get(&ready).await.is_ok_and(|reply| reply.status() == 200) {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let stopped = std::process::Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    let exited = tokio::task::spawn_blocking(move || server.wait()).await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(answered, "the server became ready");
    assert!(stopped.unwrap().success() && exited.unwrap().success(), "the server stopped cleanly");

    let received = received.lock().unwrap();
    let traces: Vec<_> = received.iter().filter(|(path, _, _)| path == "/v1/traces").collect();
    assert!(
        !traces.is_empty(),
        "traces were posted to {{endpoint}}/v1/traces: {:?}",
        received.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    let contains = |body: &[u8], text: &str| body.windows(text.len()).any(|window| window == text.as_bytes());
    for (_, kind, _) in &traces {
        assert_eq!(kind, "application/x-protobuf");
    }
    // The resource's `service.name` attribute as protobuf encodes it (key, then the AnyValue's
    // string): the SDK would otherwise name the service `unknown_service`.
    let service_name = "service.name\x12\x0d\x0a\x0btenantpilot";
    assert!(traces.iter().any(|(_, _, body)| contains(body, service_name)), "the service is named");
    assert!(traces.iter().any(|(_, _, body)| contains(body, "/readyz")), "the request's span is there");
}

/// The value of the series `name{labels}` (labels in the order they are recorded), or 0.
pub(crate) fn value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

/// A scrape from `peer`, without credentials.
async fn scrape_from(app: &TestApp, peer: &str) -> common::Reply {
    let mut request = Request::get("/metrics").header(header::HOST, "localhost").body(Body::empty()).unwrap();
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    app.reply(request).await
}

async fn metrics_are_for_platform_admins_and_count_the_work(backend: Backend) {
    let app = TestApp::new(backend).await;
    let store = &app.db.store;
    let admin = store.user_by_email("admin@demo.test").await.unwrap().unwrap();
    let token = |scopes: Vec<Scope>| {
        let admin = admin.clone();
        async move { tokens::create(store, &admin, "prometheus", &scopes, None).await.unwrap().1 }
    };
    let scraper = token(vec![Scope::Api, Scope::Metrics]).await;

    // Who may read them: a platform admin's token with the scope; others as documented.
    assert_eq!(app.get("/metrics", None).await.status, StatusCode::UNAUTHORIZED);
    let owner = app.sign_in("owner@demo.test").await;
    let member = app.json(Method::GET, "/metrics", None, Some(&owner)).await;
    assert_eq!(member.status, StatusCode::NOT_FOUND, "the platform plane: {}", member.body);
    let unscoped = app.bearer(Method::GET, "/metrics", &token(vec![Scope::Api]).await).await;
    assert_eq!(unscoped.status, StatusCode::FORBIDDEN);
    assert!(unscoped.body.contains("lacks the Metrics (Read Only) scope"), "{}", unscoped.body);
    // Loopback without credentials only where the setting says so.
    assert_eq!(scrape_from(&app, "127.0.0.1:40000").await.status, StatusCode::UNAUTHORIZED);
    let loopback = TestApp::with_flags(backend, &["--metrics-loopback"]).await;
    assert_eq!(scrape_from(&loopback, "127.0.0.1:40000").await.status, StatusCode::OK);
    assert_eq!(scrape_from(&loopback, "[::1]:40000").await.status, StatusCode::OK);
    assert_eq!(scrape_from(&loopback, "10.1.2.3:40000").await.status, StatusCode::UNAUTHORIZED);
    loopback.db.drop_database().await;

    let before = app.bearer(Method::GET, "/metrics", &scraper).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert!(before.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let started = "tenantpilot_runs_started_total{type=\"backup_set.capture\"}";
    let completed = "tenantpilot_runs_completed_total{type=\"backup_set.capture\",outcome=\"failed\"}";

    // A capture started through the JSON route, then failed.
    let capture = app.json(Method::POST, "/admin/t/contoso/backup-sets/capture", None, Some(&owner)).await;
    assert_eq!(capture.status, StatusCode::ACCEPTED, "{}", capture.body);
    let id: serde_json::Value = serde_json::from_str(&capture.body).unwrap();
    let run = tenantpilot_core::ids::RunId(id["operationRunId"].as_i64().unwrap());
    let queued = app.bearer(Method::GET, "/metrics", &scraper).await.body;
    assert!(value(&queued, started) >= value(&before.body, started) + 1.0, "{queued}");
    // (Its value is this database's count when scraped; a side-by-side test may set it too.)
    assert!(queued.contains("tenantpilot_runs{type=\"backup_set.capture\",status=\"queued\"} "), "{queued}");
    store.complete_run(run, RunOutcome::Failed, Counters::default()).await.unwrap();

    let after = app.bearer(Method::GET, "/metrics", &scraper).await.body;
    assert!(value(&after, completed) >= value(&before.body, completed) + 1.0, "{after}");
    let timed =
        "tenantpilot_http_request_duration_seconds_count{route=\"/admin/t/{tenant}/backup-sets/capture\",\
                 method=\"POST\",status=\"202\"}";
    assert!(value(&after, timed) >= 1.0, "the start was timed by its route: {after}");
    assert!(after.contains("# HELP tenantpilot_runs_started_total Operation runs created"), "{after}");
    assert!(value(&after, "tenantpilot_db_pool_connections{state=\"max\"}") >= 1.0, "{after}");
    app.db.drop_database().await;
}
