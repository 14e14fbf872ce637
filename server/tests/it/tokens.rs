//! Personal access tokens on the JSON routes, on SQLite and PostgreSQL: scopes intersected with
//! the user's capabilities, unknown/expired/revoked tokens refused alike, tokens kept to the JSON
//! routes, stored only as hashes.

use crate::common;

use axum::http::{Method, StatusCode};
use common::contract::{self, Contract};
use common::TestApp;
use serde_json::Value;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::store::{Backend, NewToken};
use tenantpilot_core::tokens::{self, Scope};

tenantpilot_core::test_on_both_backends!(
    tokens_act_within_their_scopes_and_their_users_rights,
    each_json_route_asks_for_its_scope,
    bad_tokens_are_refused_alike
);

async fn token_for(app: &TestApp, email: &str, scopes: &[Scope]) -> String {
    let user = app.db.store.user_by_email(email).await.unwrap().unwrap();
    tokens::create(&app.db.store, &user, "script", scopes, None).await.unwrap().1
}

/// Every JSON route declares the scope a token needs there: a token with `api` alone is told
/// which one it lacks, and a page or server function takes no token at all.
async fn each_json_route_asks_for_its_scope(backend: Backend) {
    let app = TestApp::new(backend).await;
    let api_only = token_for(&app, "owner@demo.test", &[Scope::Api]).await;
    let routes = [
        (Method::GET, "/admin/monitoring/operations", Scope::Operations),
        (Method::GET, "/admin/monitoring/operations/5", Scope::Operations),
        (Method::POST, "/admin/monitoring/operations/5/cancel", Scope::Operations),
        (Method::GET, "/admin/monitoring/events", Scope::Operations),
        (Method::GET, "/admin/t/contoso/backup-sets", Scope::Operations),
        (Method::POST, "/admin/t/contoso/backup-sets/capture", Scope::Operations),
        (Method::GET, "/admin/t/contoso/backup-items", Scope::Operations),
        (Method::POST, "/admin/t/contoso/backup-items/4/assignments/fetch", Scope::Operations),
        (Method::GET, "/admin/t/contoso/restore-runs", Scope::Operations),
        (Method::POST, "/admin/t/contoso/restore-runs/4/assignments/restore", Scope::Operations),
        (Method::GET, "/admin/t/contoso/provider-connection", Scope::TenantAdmin),
        (Method::POST, "/admin/t/contoso/provider-connection/check", Scope::TenantAdmin),
        (Method::POST, "/_/tenant", Scope::TenantAdmin),
        (Method::GET, "/_/tenant/12", Scope::TenantAdmin),
        (Method::POST, "/api/v1/pipeline/run", Scope::Pipeline),
        (Method::POST, "/api/v1/pipeline/status", Scope::Pipeline),
        (Method::POST, "/api/v1/pipeline/logs", Scope::Pipeline),
        (Method::GET, "/api/v1/pipeline/pipelines", Scope::Pipeline),
        (Method::GET, "/api/v1/registry/tools", Scope::ToolRegistry),
        (Method::POST, "/api/v1/registry/update", Scope::ToolRegistry),
        (Method::GET, "/api/v1/logs/user/actions", Scope::SecurityLogs),
        (Method::GET, "/api/v1/logs/user/tokens", Scope::SecurityLogs),
    ];
    for (method, path, scope) in routes {
        let refused = app.bearer(method.clone(), path, &api_only).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}: {}", refused.body);
        let lacks = format!("lacks the {} scope", scope.label());
        assert!(refused.body.contains(&lacks), "{method} {path}: {}", refused.body);
    }
    // Status and logs are readable with Pipeline Logs; starting a run is not.
    let logs = token_for(&app, "owner@demo.test", &[Scope::Api, Scope::PipelineLogs]).await;
    let status = app.bearer(Method::POST, "/api/v1/pipeline/status", &logs).await;
    assert_ne!(status.status, StatusCode::FORBIDDEN, "{}", status.body);
    assert_ne!(status.status, StatusCode::UNAUTHORIZED, "{}", status.body);
    assert_eq!(app.bearer(Method::POST, "/api/v1/pipeline/run", &logs).await.status, StatusCode::FORBIDDEN);

    let every = token_for(&app, "owner@demo.test", &Scope::ALL).await;
    for (method, path) in [
        (Method::GET, "/admin"),
        (Method::GET, "/admin/t/contoso/backups"),
        (Method::GET, "/admin/t/contoso/restores/1"),
        (Method::GET, "/admin/monitoring/runs/3"),
        (Method::POST, "/api/my_tokens"),
        (Method::GET, "/system"),
    ] {
        assert_eq!(app.bearer(method.clone(), path, &every).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    app.db.drop_database().await;
}

async fn tokens_act_within_their_scopes_and_their_users_rights(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contract = Contract::load(contract::ASSIGNMENT_OPERATIONS);
    let full = token_for(&app, "owner@demo.test", &[Scope::Api, Scope::Operations]).await;

    let listed = app.bearer(Method::GET, "/admin/monitoring/operations", &full).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    contract.check("get", "/admin/monitoring/operations", 200, &listed.body);
    // A script sends no Origin: a bearer token cannot be forged cross-site, so none is needed.
    let started = app.bearer(Method::POST, "/admin/t/contoso/backup-sets/capture", &full).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let id = RunId(serde_json::from_str::<Value>(&started.body).unwrap()["operationRunId"].as_i64().unwrap());
    let run = app.db.store.operation_run(id).await.unwrap().unwrap();
    assert!(
        matches!(&run.initiator, Initiator::Token { name, .. } if name.contains("Olivia Owner")),
        "{:?}",
        run.initiator
    );

    // Scopes: `api` plus the route's own.
    for scopes in [&[Scope::Api][..], &[Scope::Operations][..], &[Scope::Api, Scope::Pipeline][..]] {
        let token = token_for(&app, "owner@demo.test", scopes).await;
        let refused = app.bearer(Method::GET, "/admin/monitoring/operations", &token).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{scopes:?}: {}", refused.body);
        assert!(refused.body.contains("lacks the"), "{}", refused.body);
    }
    // Never more than its user: a reader's token cannot start, nor see another tenant.
    let reader = token_for(&app, "readonly@demo.test", &[Scope::Api, Scope::Operations]).await;
    assert_eq!(
        app.bearer(Method::POST, "/admin/t/contoso/backup-sets/capture", &reader).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.bearer(Method::GET, "/admin/t/fabrikam/backup-items", &reader).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.bearer(Method::GET, "/admin/t/contoso/backup-items", &reader).await.status,
        StatusCode::OK
    );
    // Tenant settings need the Tenant Admin scope.
    let admin = token_for(&app, "owner@demo.test", &[Scope::Api, Scope::TenantAdmin]).await;
    assert_eq!(
        app.bearer(Method::GET, "/admin/t/contoso/provider-connection", &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.bearer(Method::GET, "/admin/t/contoso/provider-connection", &full).await.status,
        StatusCode::FORBIDDEN
    );

    // Pages and server functions are for people with a session.
    for path in ["/admin/t/contoso", "/admin/monitoring"] {
        assert_eq!(app.bearer(Method::GET, path, &full).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(app.bearer(Method::POST, "/api/current_viewer", &full).await.status, StatusCode::UNAUTHORIZED);

    // Last use is recorded; only a hash is kept.
    let owner = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let mine = app.db.store.tokens_of(owner.id).await.unwrap();
    let used = mine.iter().find(|token| full.starts_with(&token.prefix)).unwrap();
    assert!(used.last_used_at.is_some());
    assert!(app.db.store.token_by_hash(&full).await.unwrap().is_none(), "the plain token is not a key");
    app.db.drop_database().await;
}

async fn bad_tokens_are_refused_alike(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let (revoked, revoked_plain) =
        tokens::create(&app.db.store, &owner, "old", &[Scope::Api, Scope::Operations], None).await.unwrap();
    tokens::revoke(&app.db.store, &owner, revoked.id).await.unwrap();
    let expired_plain = "tpat_expiredexpiredexpiredexpiredexpired0";
    let hash = tenantpilot_core::tokens::hash_of(expired_plain);
    app.db
        .store
        .create_token(&NewToken {
            user_id: owner.id,
            name: "expired",
            prefix: &expired_plain[..13],
            secret_hash: &hash,
            scopes: &[Scope::Api, Scope::Operations],
            expires_at: chrono::Utc::now() - chrono::Duration::minutes(1),
        })
        .await
        .unwrap();
    let unknown = app
        .bearer(Method::GET, "/admin/monitoring/operations", "tpat_doesnotexistdoesnotexistdoesnotexis")
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    for token in [revoked_plain.as_str(), expired_plain, "not-a-token", ""] {
        let reply = app.bearer(Method::GET, "/admin/monitoring/operations", token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(reply.body, unknown.body, "{token} is refused like any other");
    }
    // Revoking twice, or another user's token, finds nothing.
    assert_eq!(tokens::revoke(&app.db.store, &owner, revoked.id).await.unwrap_err().status(), 404);
    let other = app.db.store.user_by_email("manager@demo.test").await.unwrap().unwrap();
    let (theirs, _) = tokens::create(&app.db.store, &other, "theirs", &[Scope::Api], None).await.unwrap();
    assert_eq!(tokens::revoke(&app.db.store, &owner, theirs.id).await.unwrap_err().status(), 404);
    // Bad input to creation names the field.
    for (days, scopes, field) in [
        (Some(0), vec![Scope::Api], "expires_days"),
        (Some(366), vec![Scope::Api], "expires_days"),
        (None, vec![], "scopes"),
    ] {
        let error = tokens::create(&app.db.store, &owner, "x", &scopes, days).await.unwrap_err();
        assert!(
            matches!(&error, tenantpilot_core::CoreError::Invalid { field: f, .. } if f == field),
            "{error:?}"
        );
    }
    app.db.drop_database().await;
}
