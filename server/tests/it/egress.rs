//! No server-side request forgery: outbound HTTP goes only to public addresses unless the allow
//! list names the destination. A table of refused destinations (every private range, IPv6 and
//! IPv4-mapped forms, other spellings of loopback, names that resolve to it, a redirect to it, a
//! next link to another origin), none of which reaches the loopback listener the test runs; the
//! same listener reached once allow-listed; URLs refused when saved, naming their field; and the
//! connection check answering alike whether a refused address would have answered or not.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tenantpilot_core::egress::{EgressClient, EgressPolicy};
use tenantpilot_core::model::Caller;
use tenantpilot_core::provider::{
    ClientSettings, Credential, PolicyFamily, ProviderClient, ProviderConnection, ReasonCode, Secret,
};
use tenantpilot_core::store::{Backend, Db};
use tenantpilot_core::{tools, CoreError};

tenantpilot_core::test_on_both_backends!(saved_urls_are_checked_and_the_check_says_nothing_of_ports);

/// A loopback listener that counts every request it gets, answering each with `answer`.
struct Listener {
    port: u16,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listener(address: &str, answer: axum::Router) -> Listener {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = answer.layer(axum::middleware::from_fn(move |request, next: axum::middleware::Next| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { next.run(request).await }
    }));
    let bound = tokio::net::TcpListener::bind((address, 0)).await.unwrap();
    let port = bound.local_addr().unwrap().port();
    let task = tokio::spawn(async move { axum::serve(bound, app).await.unwrap() });
    Listener { port, hits, task }
}

fn token_answer() -> axum::Router {
    axum::Router::new().fallback(|| async {
        axum::Json(json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": "t" }))
    })
}

fn connection(token_url: String, base_url: String) -> ProviderConnection {
    ProviderConnection {
        base_url,
        token_url,
        client_id: "app".into(),
        scope: Some("https://graph.microsoft.com/.default".into()),
        credential: Credential::Secret(Secret::new("s".into())),
    }
}

fn client(egress: EgressPolicy) -> ProviderClient {
    ProviderClient::new(ClientSettings {
        egress,
        request_timeout: Duration::from_secs(3),
        ..ClientSettings::default()
    })
}

#[tokio::test]
async fn refused_destinations_never_reach_the_listener() {
    let target = listener("127.0.0.1", token_answer()).await;
    let port = target.port;
    let refused = [
        format!("http://127.0.0.1:{port}/token"),
        format!("http://127.1.2.3:{port}/token"),
        format!("http://127.1:{port}/token"),
        format!("http://2130706433:{port}/token"),
        format!("http://0x7f000001:{port}/token"),
        format!("http://0177.0.0.1:{port}/token"),
        format!("http://0.0.0.0:{port}/token"),
        format!("http://localhost:{port}/token"),
        format!("http://LOCALHOST:{port}/token"),
        format!("http://[::1]:{port}/token"),
        format!("http://[::ffff:127.0.0.1]:{port}/token"),
        format!("http://[::ffff:7f00:1]:{port}/token"),
        format!("http://[64:ff9b::7f00:1]:{port}/token"),
        format!("http://[::]:{port}/token"),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into(),
        "http://[::ffff:169.254.169.254]/latest/meta-data".into(),
        "http://[fd00:ec2::254]/latest/meta-data".into(),
        "http://[fe80::1]/".into(),
        "http://10.0.0.1/".into(),
        "http://172.16.5.4/".into(),
        "http://172.31.255.254/".into(),
        "http://192.168.0.1/".into(),
        "http://100.64.0.1/".into(),
        "http://[fc00::1]/".into(),
        "http://224.0.0.1/".into(),
        "http://[ff02::1]/".into(),
        "http://255.255.255.255/".into(),
    ];
    assert!(refused.len() >= 25);
    let client = client(EgressPolicy::public_only());
    for url in &refused {
        let error = client
            .connect(&connection(url.clone(), "https://graph.microsoft.com/beta".into()), None)
            .await
            .err();
        let error = error.unwrap_or_else(|| panic!("{url} was called"));
        assert_eq!(error.reason, ReasonCode::EgressBlocked, "{url}: {}", error.message);
        assert!(error.message.starts_with("TenantPilot does not call "), "{url}: {}", error.message);
        assert!(
            !error.message.contains("refused") && !error.message.contains("timed out"),
            "{}",
            error.message
        );
    }
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "nothing reached the listener");

    // The same listener, allow-listed, is reached.
    let allowed = client_allowing("127.0.0.1");
    allowed
        .connect(&connection(refused[0].clone(), "https://graph.microsoft.com/beta".into()), None)
        .await
        .unwrap();
    assert_eq!(target.hits.load(Ordering::SeqCst), 1);
    // A host:port entry admits that port only.
    let one_port = client_allowing(&format!("127.0.0.1:{}", port + 1));
    let error = one_port
        .connect(&connection(refused[0].clone(), "https://graph.microsoft.com/beta".into()), None)
        .await
        .err()
        .unwrap();
    assert_eq!(error.reason, ReasonCode::EgressBlocked);
}

fn client_allowing(list: &str) -> ProviderClient {
    client(EgressPolicy::parse(list).unwrap())
}

#[tokio::test]
async fn redirects_and_next_links_to_loopback_are_not_followed() {
    let target = listener("127.0.0.1", token_answer()).await;
    let port = target.port;
    // An allowed host (another loopback address, allow-listed by name) that points elsewhere.
    let redirect = format!("http://127.0.0.1:{port}/token");
    let next = format!("http://127.0.0.1:{port}/beta/deviceManagement/configurationPolicies?$skiptoken=1");
    let elsewhere = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(move || {
                let to = redirect.clone();
                async move { (StatusCode::FOUND, [(axum::http::header::LOCATION, to)]) }
            }),
        )
        .route(
            "/ok-token",
            axum::routing::post(|| async { axum::Json(json!({ "expires_in": 3599, "access_token": "t" })) }),
        )
        .route(
            "/beta/deviceManagement/configurationPolicies",
            axum::routing::get(move || {
                let next = next.clone();
                async move { axum::Json(json!({ "value": [], "@odata.nextLink": next })) }
            }),
        );
    let relay = listener("127.0.0.2", elsewhere).await;
    let relay_url = format!("http://127.0.0.2:{}", relay.port);
    let client = client_allowing("127.0.0.2");
    let redirected =
        client.connect(&connection(format!("{relay_url}/token"), format!("{relay_url}/beta")), None).await;
    assert!(redirected.is_err(), "a 302 is an answer, not a way elsewhere");
    let session = client
        .connect(&connection(format!("{relay_url}/ok-token"), format!("{relay_url}/beta")), None)
        .await
        .unwrap();
    let error = session.policies(PolicyFamily::SettingsCatalog).await.unwrap_err();
    assert!(error.message.contains("does not follow it"), "{}", error.message);
    assert_eq!(relay.hits.load(Ordering::SeqCst), 3);
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "nothing reached loopback");
}

async fn saved_urls_are_checked_and_the_check_says_nothing_of_ports(backend: Backend) {
    // A server that may call nothing private (the allow list names a documentation address).
    let app = TestApp::with_flags(backend, &["--egress-allow", "192.0.2.1"]).await;
    let owner = app.sign_in("owner@demo.test").await;
    let path = "/admin/t/contoso/provider-connection";
    for (body, field) in [
        (
            json!({ "tokenUrl": "https://169.254.169.254/token", "clientId": "c", "clientSecret": "s" }),
            "tokenUrl",
        ),
        (
            json!({ "baseUrl": "https://[::1]/beta", "tokenUrl": "https://login.example.com/t", "clientId": "c", "clientSecret": "s" }),
            "baseUrl",
        ),
        (
            json!({ "baseUrl": "https://10.0.0.8/beta", "tokenUrl": "https://login.example.com/t", "clientId": "c", "clientSecret": "s" }),
            "baseUrl",
        ),
        (
            json!({ "tokenUrl": "http://login.example.com/t", "clientId": "c", "clientSecret": "s" }),
            "tokenUrl",
        ),
        (
            json!({ "baseUrl": "http://graph.example.com/beta", "tokenUrl": "https://login.example.com/t", "clientId": "c", "clientSecret": "s" }),
            "baseUrl",
        ),
    ] {
        let reply = app.json(axum::http::Method::PUT, path, Some(&body.to_string()), Some(&owner)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap()["field"], field, "{body}");
    }
    let tenant = app.db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    assert!(app.db.store.provider_connection_info(tenant.id).await.unwrap().is_none(), "nothing was saved");

    // Names are checked where they resolve. Open port, closed port, and an address that would
    // time out (stored before this check existed): the check answers the same way for each.
    let open = listener("127.0.0.1", token_answer()).await;
    let closed = {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut answers = Vec::new();
    for token_url in [
        format!("https://localhost:{}/token", open.port),
        format!("https://localhost:{closed}/token"),
        "https://10.255.255.1/token".to_string(),
    ] {
        let sql = "INSERT INTO provider_connections (tenant_id, base_url, token_url, client_id, client_secret, updated_at) \
                   VALUES ($1, 'https://graph.microsoft.com/beta', $2, 'c', 's', CURRENT_TIMESTAMP) \
                   ON CONFLICT (tenant_id) DO UPDATE SET token_url = excluded.token_url";
        match app.db.store.db() {
            Db::Sqlite(pool) => {
                sqlx::query(sql).bind(tenant.id).bind(&token_url).execute(pool).await.map(drop)
            }
            Db::Postgres(pool) => {
                sqlx::query(sql).bind(tenant.id).bind(&token_url).execute(pool).await.map(drop)
            }
        }
        .unwrap();
        let reply = app.json(axum::http::Method::POST, &format!("{path}/check"), None, Some(&owner)).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{token_url}: {}", reply.body);
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["reason_code"], "egress_blocked", "{token_url}");
        let host = if token_url.contains("localhost") { "localhost" } else { "10.255.255.1" };
        answers.push(body["message"].as_str().unwrap().replace(host, "HOST"));
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]), "{answers:?}");
    assert_eq!(open.hits.load(Ordering::SeqCst), 0);

    // A tool's baseUrl is checked the same way when saved, by the registry's update too.
    let store = &app.db.store;
    let creator = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let caller = tenantpilot_core::model::Caller::person(&creator);
    let tool = |base: &str| {
        json!({ "name": "CI", "tool_identifier": "http", "configuration": { "baseUrl": base } })
            .as_object()
            .unwrap()
            .clone()
    };
    let public = EgressPolicy::public_only();
    let refused =
        tools::create(store, &public, Some(&caller), &tool("http://169.254.169.254")).await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::Invalid { field, .. } if field == "tool.configuration.baseUrl"),
        "{refused:?}"
    );
    let created =
        tools::create(store, &public, Some(&caller), &tool("https://ci.example.com")).await.unwrap();
    let patch = json!({ "configuration": { "baseUrl": "http://[::ffff:10.0.0.1]:8080" } })
        .as_object()
        .unwrap()
        .clone();
    let id = created.id;
    let refused = tools::update(store, &public, &Caller::person(&creator), id, &patch).await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::Invalid { field, .. } if field == "tool.configuration.baseUrl"),
        "{refused:?}"
    );
    app.db.drop_database().await;
}

#[tokio::test]
async fn tools_are_called_under_the_same_policy() {
    let target = listener("127.0.0.1", token_answer()).await;
    let tools = EgressClient::new(EgressPolicy::public_only(), |builder| builder);
    let url = format!("http://localhost:{}/hook", target.port);
    // A name passes the first check and is refused where it resolves.
    let error = tools.request(Method::GET, &url).unwrap().send().await.unwrap_err();
    assert_eq!(EgressClient::refusal(&error).map(|refused| refused.host), Some("localhost".to_string()));
    let literal = tools.request(Method::GET, &format!("http://127.0.0.1:{}/hook", target.port)).unwrap_err();
    assert_eq!(literal.host, "127.0.0.1");
    assert_eq!(target.hits.load(Ordering::SeqCst), 0);
    let allowed = EgressClient::new(EgressPolicy::parse("127.0.0.1").unwrap(), |builder| builder);
    assert!(
        allowed.request(Method::GET, &url).unwrap().send().await.is_ok(),
        "localhost resolves to an allowed address"
    );
    assert_eq!(target.hits.load(Ordering::SeqCst), 1);
}
