//! `/api/openapi.json` documents every JSON route, and the routes of the assignment-operations
//! contract exactly as the contract file has them.

use crate::common;

use axum::http::{header, Method, StatusCode};
use common::contract::{self, Contract};
use common::TestApp;
use std::path::Path;
use tenantpilot_core::store::Backend;
use tenantpilot_core::tokens::{self, Scope};

/// The contracts live in the repository (`contracts/`) so a clone stands alone; where the shared
/// folder they come from sits beside the checkout, the two must be byte for byte the same.
#[test]
fn the_contracts_are_the_shared_ones_byte_for_byte() {
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts");
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/contracts");
    let names = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let kept = names(&ours);
    assert_eq!(kept.len(), 3, "the three contracts are kept: {kept:?}");
    if !shared.is_dir() {
        return;
    }
    assert_eq!(kept, names(&shared), "the same contract files as the shared folder");
    for name in kept {
        let (a, b) = (std::fs::read(ours.join(&name)).unwrap(), std::fs::read(shared.join(&name)).unwrap());
        assert!(a == b, "contracts/{name} differs from the shared copy; copy it over again");
    }
}

/// A documented path with each parameter filled in.
fn concrete(template: &str) -> String {
    template
        .replace("{tenant}", "contoso")
        .replace("{backupItem}", "1")
        .replace("{restoreRun}", "1")
        .replace("{operationRun}", "1")
        .replace("{operation_id}", "1")
}

#[tokio::test]
async fn the_document_carries_the_contract_unchanged() {
    let app = TestApp::new(Backend::Sqlite).await;
    let reply = app.json(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let served = Contract::parse(&reply.body);
    let contract = Contract::load(contract::ASSIGNMENT_OPERATIONS);
    assert_eq!(served.document()["openapi"], "3.0.3");

    let contract_paths = contract.document()["paths"].as_object().unwrap();
    assert_eq!(contract_paths.len(), 4);
    for (path, operations) in contract_paths {
        for (method, operation) in operations.as_object().unwrap() {
            let ours = &served.document()["paths"][path][method];
            assert!(!ours.is_null(), "{method} {path} is not documented");
            // Parameters and responses, schemas inlined: equal whatever the components' names.
            for part in ["parameters", "responses"] {
                assert_eq!(
                    served.inline(&ours[part]),
                    contract.inline(&operation[part]),
                    "{method} {path}: {part} differ from the contract"
                );
            }
        }
    }

    // Every documented route exists and answers as documented (status, media type, body),
    // never with the router's own 404 page.
    let cookie = app.sign_in("owner@demo.test").await;
    for (path, operations) in served.document()["paths"].as_object().unwrap() {
        let concrete = concrete(path);
        for method in operations.as_object().unwrap().keys() {
            if path.ends_with("/events") {
                continue; // a stream that stays open
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = app.json(method.clone(), &concrete, Some("{}"), Some(&cookie)).await;
            let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
            served.check_reply(method.as_str(), &concrete, reply.status.as_u16(), content_type, &reply.body);
        }
    }
    app.db.drop_database().await;
}

/// Each operation's `x-token-scopes` is what its route asks of a token: with `api` alone a
/// token is told the scope it lacks; with any one listed set it gets past the scope check.
#[tokio::test]
async fn each_operation_names_the_token_scopes_its_route_asks_for() {
    let app = TestApp::new(Backend::Sqlite).await;
    let store = &app.db.store;
    let admin = store.user_by_email("admin@demo.test").await.unwrap().unwrap();
    let token = |scopes: Vec<Scope>| {
        let admin = admin.clone();
        async move { tokens::create(store, &admin, "script", &scopes, None).await.unwrap().1 }
    };
    let api_only = token(vec![Scope::Api]).await;
    let served = app.api_document().await;
    for (path, operations) in served.document()["paths"].as_object().unwrap() {
        let concrete = concrete(path);
        for (method, operation) in operations.as_object().unwrap() {
            if path.ends_with("/events") {
                continue; // a stream that stays open once let in
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let sets: Vec<Vec<Scope>> = serde_json::from_value(operation["x-token-scopes"].clone())
                .unwrap_or_else(|error| panic!("{method} {path}: x-token-scopes: {error}"));
            let first_lacking = sets[0].iter().find(|scope| **scope != Scope::Api).unwrap();
            let refused = app.bearer_json(method.clone(), &concrete, &api_only, Some("{}")).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}: {}", refused.body);
            let lacks = format!("lacks the {} scope", first_lacking.label());
            assert!(refused.body.contains(&lacks), "{method} {path}: {}", refused.body);
            for set in sets {
                let reply =
                    app.bearer_json(method.clone(), &concrete, &token(set.clone()).await, Some("{}")).await;
                assert!(
                    reply.status != StatusCode::UNAUTHORIZED && !reply.body.contains("lacks the"),
                    "{method} {path} with {set:?}: {} {}",
                    reply.status,
                    reply.body
                );
            }
        }
    }
    app.db.drop_database().await;
}
