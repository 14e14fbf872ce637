//! `/api/openapi.json` documents every JSON route, and the routes of the assignment-operations
//! contract exactly as the contract file has them.

use crate::common;

use axum::http::{header, Method, StatusCode};
use common::contract::{self, Contract};
use common::TestApp;
use std::path::Path;
use tenantpilot_core::store::Backend;

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
