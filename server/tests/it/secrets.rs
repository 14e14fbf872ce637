//! Secrets at rest: provider client secrets, certificate keys and tool secrets set through every
//! path (the settings page's form, the JSON twin, the tool registry page and API) are stored
//! sealed: the raw SQLite file and its WAL hold none of them, and no stored value on either
//! backend does; they still open for the code that uses them, and a rotation seals them all
//! under a new key.

use crate::common;
use tenantpilot_core::ids::ToolId;

use axum::http::{Method, StatusCode};
use common::{Sender, TestApp};
use serde_json::json;
use tenantpilot_core::encoding::percent_encode;
use tenantpilot_core::keyring::{self, Keyring};
use tenantpilot_core::provider::Credential;
use tenantpilot_core::store::{Backend, Db, Reseal, Store};
use tenantpilot_core::tokens::{self, AccountRole, Scope};

tenantpilot_core::test_on_both_backends!(secrets_are_sealed_wherever_they_are_set);

const CERTIFICATE: &str = include_str!("fixtures/app-certificate.pem");

/// Every value stored in a secret column, as stored.
async fn stored_secrets(store: &Store) -> Vec<String> {
    let sql = "SELECT client_secret FROM provider_connections UNION ALL SELECT secrets FROM tools";
    match store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
    }
    .unwrap()
}

async fn secrets_are_sealed_wherever_they_are_set(backend: Backend) {
    let app = TestApp::new(backend).await;
    let store = &app.db.store;
    let owner = app.sign_in("owner@demo.test").await;
    // A line of the certificate's private key: it must be nowhere on disk either.
    let key_line =
        CERTIFICATE.split("-----BEGIN PRIVATE KEY-----").nth(1).unwrap().lines().nth(1).unwrap().to_string();
    let plain =
        ["SECRET-json-twin-0001", "SECRET-page-form-0002", "SECRET-tool-page-0003", "SECRET-tool-api-0004"];

    // The JSON twin, with a secret; the settings page's form post; the JSON twin, with a certificate.
    let twin = json!({ "baseUrl": "http://127.0.0.1:9/beta", "tokenUrl": "http://127.0.0.1:9/t/token", "clientId": "c",
        "clientSecret": plain[0] });
    let reply = app
        .json(Method::PUT, "/admin/t/contoso/provider-connection", Some(&twin.to_string()), Some(&owner))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let form = format!(
        "tenant=fabrikam&base_url=http%3A%2F%2F127.0.0.1%3A9%2Fbeta&token_url=http%3A%2F%2F127.0.0.1%3A9%2Ft&client_id=c&client_secret={}",
        plain[1]
    );
    let reply = app
        .call(Method::POST, "/api/save_connection")
        .form(&form)
        .cookie(&owner)
        .by(Sender::Script)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let certificate = json!({ "baseUrl": "http://127.0.0.1:9/beta", "tokenUrl": "http://127.0.0.1:9/t/token",
        "clientId": "c", "clientCertificate": CERTIFICATE });
    let reply = app
        .json(
            Method::PUT,
            "/admin/t/northwind/provider-connection",
            Some(&certificate.to_string()),
            Some(&owner),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // A tool made on the registry page, then given a secret through the registry API.
    let tool = json!({ "name": "Hooks", "tool_identifier": "http", "configuration": { "baseUrl": "https://ci.example.com" },
        "secrets": { "apiToken": plain[2] } });
    let form = format!("json={}", percent_encode(&tool.to_string()));
    let reply =
        app.call(Method::POST, "/api/create_tool").form(&form).cookie(&owner).by(Sender::Script).send().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let tool_id: ToolId = serde_json::from_str(&reply.body).unwrap();
    let user = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    assert!(user.account_role >= AccountRole::PowerUser);
    let (_, token) =
        tokens::create(store, &user, "registry", &[Scope::Api, Scope::ToolRegistry], None).await.unwrap();
    let update = json!({ "toolId": tool_id, "tool": { "secrets": { "webhookKey": plain[3] } } });
    let reply =
        app.bearer_json(Method::POST, "/api/v1/registry/update", &token, Some(&update.to_string())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // As stored: sealed, under the current key.
    let stored = stored_secrets(store).await;
    assert_eq!(stored.len(), 4);
    for value in &stored {
        assert!(Keyring::is_sealed(value), "{value}");
        assert!(plain.iter().all(|secret| !value.contains(secret)) && !value.contains(&key_line));
    }
    // On disk (SQLite: the file and its write-ahead log): none of them anywhere.
    if let Some(file) = app.db.sqlite_file() {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            bytes.extend(std::fs::read(format!("{}{suffix}", file.display())).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database was read");
        let text = String::from_utf8_lossy(&bytes);
        for secret in plain.iter().copied().chain([key_line.as_str()]) {
            assert!(!text.contains(secret), "`{secret}` is on disk in the clear");
        }
    }

    // They open for the code that uses them.
    let contoso = store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let connection = store.provider_connection(contoso.id).await.unwrap().unwrap();
    assert!(matches!(&connection.credential, Credential::Secret(secret) if secret.expose() == plain[0]));
    let northwind = store.tenant_by_slug("northwind").await.unwrap().unwrap();
    let connection = store.provider_connection(northwind.id).await.unwrap().unwrap();
    assert!(matches!(connection.credential, Credential::Certificate(_)));
    let record = store.tool(tool_id).await.unwrap().unwrap();
    assert_eq!(
        (record.draft.secrets["apiToken"].as_str(), record.draft.secrets["webhookKey"].as_str()),
        (plain[2], plain[3])
    );

    // A rotation: the new key first, the old one still readable; then the old one alone fails.
    let old = Keyring::parse(&app.db.secret_key).unwrap();
    let new_key = keyring::generate_key();
    let rotating =
        store.clone().with_keyring(Keyring::parse(&format!("{new_key},{}", app.db.secret_key)).unwrap());
    assert_eq!(rotating.reseal_secrets(Reseal::All).await.unwrap(), 4);
    let new_only = store.clone().with_keyring(Keyring::parse(&new_key).unwrap());
    assert_eq!(new_only.tool(tool_id).await.unwrap().unwrap().draft.secrets["apiToken"], plain[2]);
    let new_id = Keyring::parse(&new_key).unwrap().current_id().to_string();
    assert!(stored_secrets(store).await.iter().all(|value| value.starts_with(&format!("tp1:{new_id}:"))));
    let old_only = store.clone().with_keyring(old);
    assert!(old_only.tool(tool_id).await.is_err(), "the old key no longer opens them");

    // Rows stored in the clear by an earlier version are sealed by the start-up pass.
    let sql = format!("UPDATE tools SET secrets = '{{\"apiToken\":\"legacy-clear\"}}' WHERE id = {tool_id}");
    match store.db() {
        Db::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
    }
    .unwrap();
    assert_eq!(new_only.reseal_secrets(Reseal::Unsealed).await.unwrap(), 1);
    assert!(stored_secrets(store)
        .await
        .iter()
        .all(|value| Keyring::is_sealed(value) && !value.contains("legacy-clear")));
    assert_eq!(new_only.tool(tool_id).await.unwrap().unwrap().draft.secrets["apiToken"], "legacy-clear");
    app.db.drop_database().await;
}
