//! The provider client against the simulator over real HTTP: paging, retries that honour
//! `Retry-After`, and every fault mapped to its reason code without leaking the secret.

mod common;

use common::sim::{Sim, SECRET};
use std::time::{Duration, Instant};
use tenantpilot_core::provider::{
    ClientSettings, ProviderClient, ProviderConnection, ProviderError, ReasonCode, Secret,
};
use tenantpilot_server::provider_sim::{Fault, SimPolicy};

fn client() -> ProviderClient {
    ProviderClient::new(ClientSettings {
        request_timeout: Duration::from_millis(1500),
        max_retries: 2,
        max_retry_wait: Duration::from_secs(2),
    })
}

fn fault(path: &str, status: u16) -> Fault {
    Fault { path: Some(path.into()), status: Some(status), ..Fault::default() }
}

/// What listing the tenant's policies fails with under `faults`.
async fn policies_error(sim: &Sim, faults: &[Fault]) -> ProviderError {
    sim.faults("contoso", faults).await;
    let session = client().connect(&sim.connection("contoso", SECRET)).await;
    let error = match session {
        Ok(session) => session.policies().await.expect_err("the fault makes the call fail"),
        Err(error) => error,
    };
    assert!(!error.message.contains(SECRET), "the secret leaked: {}", error.message);
    error
}

#[tokio::test]
async fn lists_follow_next_links_and_resolve_everything() {
    let sim = Sim::start().await;
    let mut tenant = sim.sample("contoso", 2).await;
    for n in 0..5 {
        tenant.policies.push(SimPolicy {
            id: format!("extra-{n}"),
            display_name: format!("Extra {n}"),
            policy_type: "deviceConfiguration".into(),
            settings: serde_json::json!({ "n": n }),
            assignments: vec!["grp-finance".into()],
        });
    }
    sim.put_tenant("contoso", &tenant).await;
    let session = client().connect(&sim.connection("contoso", SECRET)).await.unwrap();
    let policies = session.policies().await.unwrap();
    let ids: Vec<&str> = policies.iter().map(|p| p.id.as_str()).collect();
    let expected: Vec<&str> = tenant.policies.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, expected, "all 11 policies across 6 pages, in order");
    assert_eq!(policies[0].policy_type, "deviceConfiguration");
    assert_eq!(policies[7].settings, serde_json::json!({ "n": 1 }));
    assert_eq!(session.groups().await.unwrap().len(), 5);
    assert_eq!(session.assignments("pol-bitlocker").await.unwrap(), vec!["grp-all-staff", "grp-executives"]);

    session.assign("pol-wifi-office", &["grp-finance".into(), "grp-pilot".into()]).await.unwrap();
    assert_eq!(sim.tenant("contoso").await.policies[5].assignments, vec!["grp-finance", "grp-pilot"]);
}

#[tokio::test]
async fn throttling_is_retried_after_the_wait_it_asks_for() {
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let throttle = Fault { times: Some(1), retry_after_secs: Some(1), ..fault("configurationPolicies", 429) };
    sim.faults("contoso", &[throttle]).await;
    let session = client().connect(&sim.connection("contoso", SECRET)).await.unwrap();
    let started = Instant::now();
    assert_eq!(session.policies().await.unwrap().len(), 6);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());
    // Token, the throttled list, the retried list.
    assert_eq!(sim.tenant("contoso").await.requests, 3);

    let unavailable = Fault { times: Some(2), ..fault("/groups", 503) };
    sim.faults("contoso", &[unavailable]).await;
    assert_eq!(session.groups().await.unwrap().len(), 5, "two 503s fit in two retries");
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
        ("unavailable past the retries", always("Policies", 503), ReasonCode::DependencyUnreachable),
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

    let wrong_secret = client().connect(&sim.connection("contoso", "not-the-secret")).await.err().unwrap();
    assert_eq!(wrong_secret.reason, ReasonCode::AuthenticationFailed);
    assert!(wrong_secret.message.contains("Invalid client id or secret"), "{}", wrong_secret.message);

    let session = client().connect(&sim.connection("contoso", SECRET)).await.unwrap();
    let missing = session.assign("no-such-policy", &[]).await.unwrap_err();
    assert_eq!(missing.reason, ReasonCode::InvalidState);

    let nowhere = ProviderConnection {
        base_url: "http://127.0.0.1:9/v1.0".into(),
        token_url: "http://127.0.0.1:9/token".into(),
        client_id: "x".into(),
        client_secret: Secret::new(SECRET.into()),
    };
    let unreachable = client().connect(&nowhere).await.err().unwrap();
    assert_eq!(unreachable.reason, ReasonCode::DependencyUnreachable);
}

#[tokio::test]
async fn an_expired_token_is_renewed_once() {
    let sim = Sim::start().await;
    let tenant = sim.sample("contoso", 50).await;
    let session = client().connect(&sim.connection("contoso", SECRET)).await.unwrap();
    // A 401 mid-session (token expired or revoked) gets a new token and one more try.
    sim.faults("contoso", &[Fault { times: Some(1), ..fault("/groups", 401) }]).await;
    assert_eq!(session.groups().await.unwrap().len(), tenant.groups.len());
}
