//! The provider client against the simulator over real HTTP, held to what Microsoft documents:
//! the client-credentials scope rule and Entra's error codes, certificate assertions, the token
//! cache, Graph's paging (on the API's origin only), the Graph SDK's retry budget, Graph's error
//! bodies with request ids, and the size caps. Each behaviour names the page it comes from.

use crate::common;

use common::sim::{Sim, CLIENT_ID, SECRET};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenantpilot_core::provider::{
    BudgetLimits, ClientCertificate, ClientSettings, Credential, PolicyFamily, ProviderClient,
    ProviderConnection, ProviderError, ReasonCode, Secret,
};
use tenantpilot_server::provider_sim::{Fault, SimPolicy, SimTenant};

/// Test-only certificates with their private keys (made once with `openssl req -x509 -newkey
/// rsa:2048 -nodes`); nothing else trusts them.
const APP_CERTIFICATE: &str = include_str!("fixtures/app-certificate.pem");
const OTHER_CERTIFICATE: &str = include_str!("fixtures/other-certificate.pem");

fn settings() -> ClientSettings {
    ClientSettings {
        egress: common::loopback(),
        request_timeout: Duration::from_millis(1500),
        first_backoff: Duration::from_millis(50),
        max_retry_wait: Duration::from_secs(2),
        ..ClientSettings::default()
    }
}

fn client() -> ProviderClient {
    ProviderClient::new(settings())
}

fn fault(path: &str, status: u16) -> Fault {
    Fault { path: Some(path.into()), status: Some(status), ..Fault::default() }
}

/// What listing the settings catalog fails with under `faults`.
async fn policies_error(sim: &Sim, faults: &[Fault]) -> ProviderError {
    sim.faults("contoso", faults).await;
    let session = client().connect(&sim.connection("contoso", SECRET), None).await;
    let error = match session {
        Ok(session) => {
            session.policies(PolicyFamily::SettingsCatalog).await.expect_err("the fault makes the call fail")
        }
        Err(error) => error,
    };
    assert!(!error.message.contains(SECRET), "the secret leaked: {}", error.message);
    error
}

fn settings_catalog(n: usize) -> SimPolicy {
    SimPolicy {
        family: PolicyFamily::SettingsCatalog,
        body: json!({ "id": format!("extra-{n}"), "name": format!("Extra {n}"), "platforms": "windows10", "technologies": "mdm" }),
        settings: vec![
            json!({ "id": "0", "settingInstance": { "settingDefinitionId": format!("setting_{n}") } }),
        ],
        assignments: vec![],
    }
}

#[tokio::test]
async fn the_scope_is_the_origin_of_the_api_base_and_entra_refuses_a_path() {
    // https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#get-a-token
    // "scope: The value passed for the scope parameter in this request should be the resource
    // identifier (application ID URI) of the resource you want, affixed with the .default suffix."
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let connection = sim.connection("contoso", SECRET);
    assert_eq!(connection.scope(), format!("{}/.default", sim.url), "no /beta in the scope");
    client().connect(&connection, None).await.expect("the rule's scope is accepted");

    // With the base's path in it, Entra reads `…/beta` as the resource: AADSTS500011.
    let wrong =
        ProviderConnection { scope: Some(format!("{}/beta/.default", sim.url)), ..connection.clone() };
    let error = client().connect(&wrong, None).await.err().unwrap();
    assert_eq!(error.reason, ReasonCode::AuthenticationFailed);
    assert!(error.message.contains("AADSTS500011: The resource principal named"), "{}", error.message);
    // The national clouds and Graph's app id are resources too; the override reaches them.
    let graph =
        ProviderConnection { scope: Some("https://graph.microsoft.com/.default".into()), ..connection };
    client().connect(&graph, None).await.expect("an overriding scope is sent as given");
}

#[tokio::test]
async fn entra_refusals_reach_the_admin_in_entras_words() {
    // https://learn.microsoft.com/entra/identity-platform/reference-error-codes
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let wrong_secret =
        client().connect(&sim.connection("contoso", "not-the-secret"), None).await.err().unwrap();
    assert_eq!((wrong_secret.reason, wrong_secret.status), (ReasonCode::AuthenticationFailed, Some(401)));
    assert!(
        wrong_secret.message.contains("AADSTS7000215: Invalid client secret provided."),
        "{}",
        wrong_secret.message
    );
    assert!(
        wrong_secret.message.contains("Trace ID:"),
        "support needs the trace id: {}",
        wrong_secret.message
    );

    let other_app =
        ProviderConnection { client_id: "someone-else".into(), ..sim.connection("contoso", SECRET) };
    let unknown = client().connect(&other_app, None).await.err().unwrap();
    assert!(unknown.message.contains("AADSTS700016"), "{}", unknown.message);

    let nowhere = ProviderConnection {
        token_url: format!("{}/no-such-directory/oauth2/v2.0/token", sim.url),
        ..sim.connection("contoso", SECRET)
    };
    let tenant = client().connect(&nowhere, None).await.err().unwrap();
    assert!(tenant.message.contains("AADSTS90002"), "{}", tenant.message);
}

#[tokio::test]
async fn a_certificate_signs_in_with_an_rs256_assertion() {
    // https://learn.microsoft.com/entra/identity-platform/certificate-credentials
    let sim = Sim::start().await;
    let tenant = SimTenant { certificates: vec![APP_CERTIFICATE.into()], ..sim.sample("contoso", 50).await };
    sim.put_tenant("contoso", &tenant).await;
    let certificate = ClientCertificate::from_pem(APP_CERTIFICATE).unwrap();
    assert_eq!(certificate.thumbprint_sha1().len(), 40, "hex SHA-1, as the admin center shows it");
    let with_certificate = ProviderConnection {
        credential: Credential::Certificate(certificate.clone()),
        ..sim.connection("contoso", SECRET)
    };
    let session = client().connect(&with_certificate, None).await.expect("the assertion is accepted");
    assert_eq!(session.policies(PolicyFamily::SettingsCatalog).await.unwrap().len(), 2);
    assert_eq!(session.token_facts().await.unwrap().tenant.as_deref(), Some("contoso"));

    // The header names the certificate by thumbprint, the claims name the app and the token URL.
    let assertion =
        certificate.assertion(CLIENT_ID, &with_certificate.token_url, chrono::Utc::now()).unwrap();
    let part = |n: usize| -> Value {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(assertion.split('.').nth(n).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let (header, claims) = (part(0), part(1));
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("RS256"), Some("JWT")));
    assert!(header["x5t#S256"].is_string() && header["x5t"].is_string(), "{header}");
    assert_eq!(claims["aud"], with_certificate.token_url.as_str());
    assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some(CLIENT_ID), Some(CLIENT_ID)));
    assert!(claims["jti"].is_string() && claims["nbf"].is_i64());
    assert!(claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap() <= 600, "5-10 minutes at most");

    // A certificate the app registration does not have: AADSTS700027.
    let other = ProviderConnection {
        credential: Credential::Certificate(ClientCertificate::from_pem(OTHER_CERTIFICATE).unwrap()),
        ..sim.connection("contoso", SECRET)
    };
    let refused = client().connect(&other, None).await.err().unwrap();
    assert!(refused.message.contains("AADSTS700027"), "{}", refused.message);

    // A key that does not belong to the certificate is refused when it is entered.
    let app_certificate = APP_CERTIFICATE.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
    let other_key = &OTHER_CERTIFICATE[OTHER_CERTIFICATE.find("-----BEGIN PRIVATE KEY-----").unwrap()..];
    let mismatch = ClientCertificate::from_pem(&format!("{app_certificate}{other_key}")).unwrap_err();
    assert!(mismatch.contains("does not belong"), "{mismatch}");
    assert!(ClientCertificate::from_pem(app_certificate).unwrap_err().contains("No private key"));
}

#[tokio::test]
async fn a_token_is_kept_until_five_minutes_before_it_expires_and_renewed_once_on_401() {
    let sim = Sim::start().await;
    let tenant = sim.sample("contoso", 50).await;
    let client = client();
    let connection = sim.connection("contoso", SECRET);
    for _ in 0..3 {
        let session = client.connect(&connection, None).await.unwrap();
        session.policies(PolicyFamily::DeviceConfiguration).await.unwrap();
    }
    assert_eq!(sim.tenant("contoso").await.token_requests, 1, "one token for every session of the process");

    // A 401 mid-session (a revoked token): one new token, one more try.
    let session = client.connect(&connection, None).await.unwrap();
    sim.faults("contoso", &[Fault { times: Some(1), ..fault("/deviceManagement/roleScopeTags", 401) }]).await;
    assert_eq!(session.scope_tags().await.unwrap().len(), 2);
    assert_eq!(sim.tenant("contoso").await.token_requests, 2);

    // Tokens living under five minutes are never kept.
    sim.put_tenant("contoso", &SimTenant { token_lifetime_secs: 240, ..tenant }).await;
    let short_lived = ProviderClient::new(settings());
    for _ in 0..2 {
        short_lived.connect(&connection, None).await.unwrap();
    }
    assert_eq!(sim.tenant("contoso").await.token_requests, 2);
}

#[tokio::test]
async fn lists_follow_next_links_and_graph_shapes_hold() {
    // https://learn.microsoft.com/graph/paging
    let sim = Sim::start().await;
    let mut tenant = sim.sample("contoso", 2).await;
    tenant.policies.extend((0..5).map(settings_catalog));
    sim.put_tenant("contoso", &tenant).await;
    let session = client().connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let policies = session.policies(PolicyFamily::SettingsCatalog).await.unwrap();
    let ids: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["pol-edge", "pol-defender", "extra-0", "extra-1", "extra-2", "extra-3", "extra-4"],
        "four pages"
    );
    assert!(policies.iter().all(|policy| policy.body.get("settings").is_none()), "lists carry no settings");
    // Settings are a relationship, read page by page.
    let settings = session.policy_settings(PolicyFamily::SettingsCatalog, "pol-edge").await.unwrap();
    assert_eq!(settings.as_array().unwrap().len(), 2);
    // Compliance policies: scheduled actions only when expanded.
    let listed = session.policies(PolicyFamily::Compliance).await.unwrap();
    assert!(listed[0].body.get("scheduledActionsForRule").is_none());
    let read = session.policy(PolicyFamily::Compliance, "pol-ios-compliance").await.unwrap().unwrap();
    assert_eq!(read["scheduledActionsForRule"][0]["scheduledActionConfigurations"][0]["actionType"], "block");
    // Groups by id with $select; a missing one is None.
    assert_eq!(session.group("grp-finance").await.unwrap().unwrap().display_name, "Finance");
    assert_eq!(session.group("grp-gone").await.unwrap(), None);
    assert_eq!(session.groups_named("Pilot devices").await.unwrap()[0].id, "grp-pilot");

    // The v1.0 API has no settings catalog: Graph's 400 for an unknown segment.
    let v1 = reqwest::get(format!("{}/v1.0/deviceManagement/configurationPolicies", sim.url)).await.unwrap();
    assert_eq!(v1.status(), 400);
    let body: Value = v1.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(body["error"]["message"], "Resource not found for the segment 'configurationPolicies'.");
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed() {
    // A provider that pages to another host would receive the token there.
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let elsewhere = format!("{}/beta/deviceManagement/configurationPolicies?$skiptoken=1", sim.url);
    let graph = axum::Router::new().route(
        "/beta/deviceManagement/configurationPolicies",
        axum::routing::get(move || {
            let next = elsewhere.clone();
            async move { axum::Json(json!({ "value": [], "@odata.nextLink": next })) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/beta", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, graph).await.unwrap() });
    let connection = ProviderConnection {
        base_url: base,
        scope: Some(format!("{}/.default", sim.url)),
        ..sim.connection("contoso", SECRET)
    };
    let session = client().connect(&connection, None).await.unwrap();
    let before = sim.tenant("contoso").await.requests;
    let error = session.policies(PolicyFamily::SettingsCatalog).await.unwrap_err();
    assert!(error.message.contains("does not follow it"), "{}", error.message);
    assert_eq!(sim.tenant("contoso").await.requests, before, "nothing was sent to the other origin");
}

#[tokio::test]
async fn throttling_is_retried_as_the_graph_sdk_does() {
    // https://learn.microsoft.com/graph/throttling: honour Retry-After, else back off exponentially.
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let client = client();
    let session = client.connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let requests = || async { sim.tenant("contoso").await.requests };

    let throttle = Fault { times: Some(1), retry_after_secs: Some(1), ..fault("configurationPolicies", 429) };
    sim.faults("contoso", &[throttle]).await;
    let (before, started) = (requests().await, Instant::now());
    assert_eq!(session.policies(PolicyFamily::SettingsCatalog).await.unwrap().len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());
    assert_eq!(requests().await - before, 2, "the throttled list, then the retried one");

    // 503 and 504 are retried too; without Retry-After the waits double from the first.
    let unavailable = [
        Fault { times: Some(2), ..fault("/groups", 503) },
        Fault { times: Some(1), ..fault("/groups", 504) },
    ];
    sim.faults("contoso", &unavailable).await;
    let started = Instant::now();
    assert!(session.group("grp-finance").await.unwrap().is_some());
    assert!(started.elapsed() >= Duration::from_millis(50 + 100 + 200), "waited {:?}", started.elapsed());

    // Ten attempts in all, then the failure; /metrics counts each throttled answer (at least:
    // the recorder is the process's, shared with the tests beside this one).
    let recorder = tenantpilot_server::api::metrics::recorder();
    let throttled =
        || crate::metrics::value(&recorder.render(), "tenantpilot_provider_throttled_total{status=\"429\"}");
    let counted = throttled();
    sim.faults("contoso", &[Fault { retry_after_secs: Some(0), ..fault("deviceConfigurations", 429) }]).await;
    let before = requests().await;
    let error = session.policies(PolicyFamily::DeviceConfiguration).await.unwrap_err();
    assert_eq!(error.reason, ReasonCode::Throttled);
    assert_eq!(requests().await - before, 10);
    assert!(throttled() >= counted + 10.0, "{}", recorder.render());
    assert!(recorder
        .render()
        .contains("tenantpilot_provider_request_duration_seconds_count{status=\"429\"}"));
}

#[tokio::test]
async fn the_request_budget_paces_a_tenant_under_its_limit() {
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let limits = BudgetLimits { window: Duration::from_millis(500), writes: 1, requests: 3 };
    let client = ProviderClient::new(ClientSettings { budget: limits, ..settings() });
    let session = client.connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        session.group("grp-finance").await.unwrap();
    }
    // Six reads at three per half second: the last three wait for the window.
    assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());
    // A second session of the same app and tenant shares the budget.
    let other = client.connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        other.group("grp-finance").await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(100), "{:?}", started.elapsed());
}

#[tokio::test]
async fn graph_errors_keep_their_code_and_request_ids() {
    // https://learn.microsoft.com/graph/errors and best-practices-concept#reliability-and-support
    let sim = Sim::start().await;
    let tenant =
        SimTenant { permissions: Some(vec!["Group.Read.All".into()]), ..sim.sample("contoso", 50).await };
    sim.put_tenant("contoso", &tenant).await;
    let session = client().connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let first = session.policies(PolicyFamily::SettingsCatalog).await.unwrap_err();
    assert_eq!((first.reason, first.code.as_deref()), (ReasonCode::PermissionDenied, Some("Forbidden")));
    assert!(first.message.contains("DeviceManagementConfiguration.Read.All"), "{}", first.message);
    let request_id = first.request_id.clone().expect("Graph's request-id");
    assert!(first.message.contains(&format!("request-id {request_id}")), "{}", first.message);
    let client_id = |error: &ProviderError| {
        error.message.split("client-request-id ").nth(1).unwrap().trim_end_matches(')').to_string()
    };
    let second = session.policies(PolicyFamily::SettingsCatalog).await.unwrap_err();
    assert_ne!(client_id(&first), client_id(&second), "a fresh client-request-id per request");
    assert!(uuid::Uuid::parse_str(&client_id(&first)).is_ok());
}

#[tokio::test]
async fn every_fault_maps_to_its_reason_code() {
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let always = |path: &str, status: u16| vec![fault(path, status)];
    let cases: Vec<(&str, Vec<Fault>, ReasonCode)> = vec![
        (
            "throttled past the retries",
            vec![Fault { retry_after_secs: Some(0), ..fault("Policies", 429) }],
            ReasonCode::Throttled,
        ),
        ("forbidden", always("Policies", 403), ReasonCode::PermissionDenied),
        ("token refused", always("/oauth2", 401), ReasonCode::AuthenticationFailed),
        ("server error", always("Policies", 500), ReasonCode::UnknownError),
        (
            "unavailable past the retries",
            vec![Fault { retry_after_secs: Some(0), ..fault("Policies", 503) }],
            ReasonCode::DependencyUnreachable,
        ),
        (
            "gateway timeout past the retries",
            vec![Fault { retry_after_secs: Some(0), ..fault("Policies", 504) }],
            ReasonCode::DependencyUnreachable,
        ),
        ("bad gateway", always("Policies", 502), ReasonCode::DependencyUnreachable),
        ("conflict", always("Policies", 409), ReasonCode::InvalidState),
        (
            "dropped connection",
            vec![Fault { drop: true, path: Some("Policies".into()), ..Fault::default() }],
            ReasonCode::DependencyUnreachable,
        ),
        (
            "too slow",
            vec![Fault { latency_ms: 2500, path: Some("Policies".into()), ..Fault::default() }],
            ReasonCode::DependencyUnreachable,
        ),
    ];
    for (what, faults, reason) in cases {
        let error = policies_error(&sim, &faults).await;
        assert_eq!(error.reason, reason, "{what}: {}", error.message);
    }
    sim.faults("contoso", &[]).await;

    let session = client().connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let missing = session.assign(PolicyFamily::SettingsCatalog, "no-such-policy", &[]).await.unwrap_err();
    assert_eq!(missing.reason, ReasonCode::InvalidState);

    let nowhere = ProviderConnection {
        base_url: "http://127.0.0.1:9/beta".into(),
        token_url: "http://127.0.0.1:9/token".into(),
        client_id: "x".into(),
        scope: None,
        credential: Credential::Secret(Secret::new(SECRET.into())),
    };
    let unreachable = client().connect(&nowhere, None).await.err().unwrap();
    assert_eq!(unreachable.reason, ReasonCode::DependencyUnreachable);
}

#[tokio::test]
async fn answers_and_lists_past_their_caps_fail_clearly() {
    let sim = Sim::start().await;
    let mut tenant = sim.sample("contoso", 2).await;
    tenant.policies.extend((0..5).map(settings_catalog));
    sim.put_tenant("contoso", &tenant).await;
    let capped = |settings: ClientSettings| ProviderClient::new(settings);
    let few = capped(ClientSettings { max_list_items: 4, ..settings() });
    let session = few.connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let error = session.policies(PolicyFamily::SettingsCatalog).await.unwrap_err();
    assert!(error.message.contains("more than 4 items"), "{}", error.message);

    let mut tenant = sim.tenant("contoso").await;
    tenant.policies.push(SimPolicy {
        family: PolicyFamily::DeviceConfiguration,
        body: json!({ "@odata.type": "#microsoft.graph.windows10CustomConfiguration", "id": "big",
            "displayName": "Big", "omaSettings": [{ "value": "x".repeat(8192) }] }),
        settings: vec![],
        assignments: vec![],
    });
    tenant.page_size = 50;
    sim.put_tenant("contoso", &tenant).await;
    let small = capped(ClientSettings { max_body_bytes: 4096, ..settings() });
    let session = small.connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let error = session.policies(PolicyFamily::DeviceConfiguration).await.unwrap_err();
    assert!(error.message.contains("larger than"), "{}", error.message);
}

#[tokio::test]
async fn assign_sends_targets_verbatim() {
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let session = client().connect(&sim.connection("contoso", SECRET), None).await.unwrap();
    let targets = vec![
        json!({ "@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "grp-finance" }),
        json!({ "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
            "deviceAndAppManagementAssignmentFilterId": "flt-corporate", "deviceAndAppManagementAssignmentFilterType": "exclude",
            "someFutureField": [1, 2] }),
    ];
    session.assign(PolicyFamily::DeviceConfiguration, "pol-wifi-office", &targets).await.unwrap();
    let tenant = sim.tenant("contoso").await;
    let wifi = tenant.policies.iter().find(|policy| policy.id() == "pol-wifi-office").unwrap();
    assert_eq!(wifi.assignments, targets);
    assert_eq!(
        session.assignments(PolicyFamily::DeviceConfiguration, "pol-wifi-office").await.unwrap(),
        targets
    );
    let sent = tenant.writes.last().unwrap();
    assert_eq!(sent.path, "/deviceManagement/deviceConfigurations/pol-wifi-office/assign");
    assert_eq!(sent.body, json!({ "assignments": [{ "target": targets[0] }, { "target": targets[1] }] }));
}
