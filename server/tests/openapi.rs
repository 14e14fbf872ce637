//! `/api/openapi.json` documents every JSON route, and the routes of the assignment-operations
//! contract exactly as the contract file has them.

mod common;

use axum::http::{header, Method, StatusCode};
use common::contract::{self, Contract};
use common::TestApp;
use tenantpilot_core::store::Backend;

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

    // Every documented route exists: none answers the router's own 404 page.
    let cookie = app.sign_in("owner@demo.test").await;
    for (path, operations) in served.document()["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{tenant}", "contoso")
            .replace("{backupItem}", "1")
            .replace("{restoreRun}", "1")
            .replace("{operationRun}", "1");
        for method in operations.as_object().unwrap().keys() {
            if path.ends_with("/events") {
                continue; // a stream that stays open
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = app.json(method.clone(), &concrete, Some("{}"), Some(&cookie)).await;
            let json = reply.headers.get(header::CONTENT_TYPE).is_some_and(|t| t == "application/json");
            assert!(
                json || reply.status == StatusCode::NO_CONTENT,
                "{method} {concrete} is not a JSON route: {} {}",
                reply.status,
                reply.body
            );
        }
    }
    app.db.drop_database().await;
}
