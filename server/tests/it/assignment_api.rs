//! The start routes of the assignment-operations contract and their JSON twins, on SQLite and
//! PostgreSQL: 202 with the same run id while a run is active, the plane × role 404/403 matrix,
//! cross-tenant ids, restore previews and bad bodies that name their field and change nothing.

use crate::common;

use axum::http::{Method, StatusCode};
use common::contract::{self, Contract};
use common::sim::Sim;
use common::{Sender, TestApp};
use serde_json::{json, Value};
use tenantpilot_core::backups::{Assignment, BackupItem, BackupSet, Mappings, RestorePreview};
use tenantpilot_core::engine::operations;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::store::{Backend, CapturedPolicy, NewRestoreRun};

tenantpilot_core::test_on_both_backends!(
    starts_answer_202_and_reuse_the_active_run,
    who_may_start_what,
    restore_runs_are_previewed_and_bad_bodies_name_their_field,
    backup_items_list_and_runs_cancel,
    provider_connections_are_set_checked_and_never_shown,
    the_restore_form_reads_the_checked_policies,
);

const FETCH: &str = "/admin/t/{tenant}/backup-items/{backupItem}/assignments/fetch";
const RESTORE: &str = "/admin/t/{tenant}/restore-runs/{restoreRun}/assignments/restore";

fn fetch_path(tenant: &str, item: impl std::fmt::Display) -> String {
    format!("/admin/t/{tenant}/backup-items/{item}/assignments/fetch")
}

fn restore_path(tenant: &str, restore: impl std::fmt::Display) -> String {
    format!("/admin/t/{tenant}/restore-runs/{restore}/assignments/restore")
}

/// A backup set of two policies in tenant `slug`, as a capture would leave it.
async fn backup(app: &TestApp, slug: &str) -> (BackupSet, Vec<BackupItem>) {
    let store = &app.db.store;
    let owner = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let member = store.membership(owner.id, slug).await.unwrap().unwrap();
    let capture = operations::start_capture(store, &member, Initiator::System).await.unwrap();
    let set = store.backup_set_for_run(member.tenant.id, capture.id(), "Backup").await.unwrap();
    for (id, name, groups) in
        [("pol-bitlocker", "BitLocker", vec!["grp-all-staff"]), ("pol-edge", "Edge", vec!["grp-pilot"])]
    {
        let assignments: Vec<Assignment> = groups
            .into_iter()
            .map(|g| Assignment {
                target: json!({ "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g }),
                group_name: None,
                filter_name: None,
            })
            .collect();
        let body = json!({ "@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": id, "displayName": name });
        let policy = CapturedPolicy {
            policy_id: id,
            policy_name: name,
            policy_type: "deviceConfiguration",
            body: &body,
            settings: &Value::Null,
            scope_tags: &[],
            assignments: &assignments,
        };
        store.put_backup_item(&set, &policy).await.unwrap();
    }
    store
        .complete_run(capture.id(), tenantpilot_core::operations::RunOutcome::Succeeded, Default::default())
        .await
        .unwrap();
    let items = store.backup_items(member.tenant.id, Some(set.id)).await.unwrap();
    (set, items)
}

/// A restore run of `set`, planned without a provider.
async fn restore_run(app: &TestApp, set: &BackupSet, items: &[BackupItem]) -> i64 {
    let ids: Vec<i64> = items.iter().map(|item| item.id).collect();
    let run = app
        .db
        .store
        .create_restore_run(&NewRestoreRun {
            tenant_id: set.tenant_id,
            source_tenant_id: set.tenant_id,
            backup_set_id: set.id,
            item_ids: &ids,
            mappings: &Mappings::default(),
            preview: &RestorePreview::default(),
            created_by: None,
        })
        .await
        .unwrap();
    run.id
}

fn run_id(body: &str) -> i64 {
    serde_json::from_str::<Value>(body).unwrap()["operationRunId"].as_i64().expect("operationRunId")
}

async fn starts_answer_202_and_reuse_the_active_run(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contract = Contract::load(contract::ASSIGNMENT_OPERATIONS);
    let (set, items) = backup(&app, "contoso").await;
    let restore = restore_run(&app, &set, &items).await;
    let cookie = app.sign_in("owner@demo.test").await;

    let first = app.json(Method::POST, &fetch_path("contoso", items[0].id), None, Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    contract.check("post", FETCH, 202, &first.body);
    let again = app.json(Method::POST, &fetch_path("contoso", items[0].id), None, Some(&cookie)).await;
    assert_eq!(run_id(&again.body), run_id(&first.body), "the active run is reused");
    let other = app.json(Method::POST, &fetch_path("contoso", items[1].id), None, Some(&cookie)).await;
    assert_ne!(run_id(&other.body), run_id(&first.body), "another target is another run");

    let restoring = app.json(Method::POST, &restore_path("contoso", restore), None, Some(&cookie)).await;
    assert_eq!(restoring.status, StatusCode::ACCEPTED, "{}", restoring.body);
    contract.check("post", RESTORE, 202, &restoring.body);
    let again = app.json(Method::POST, &restore_path("contoso", restore), None, Some(&cookie)).await;
    assert_eq!(run_id(&again.body), run_id(&restoring.body));

    let api = app.api_document().await;
    let capture = app.json(Method::POST, "/admin/t/contoso/backup-sets/capture", None, Some(&cookie)).await;
    assert_eq!(capture.status, StatusCode::ACCEPTED, "{}", capture.body);
    api.check("post", "/admin/t/{tenant}/backup-sets/capture", 202, &capture.body);
    let sets = app.json(Method::GET, "/admin/t/contoso/backup-sets", None, Some(&cookie)).await;
    api.check("get", "/admin/t/{tenant}/backup-sets", 200, &sets.body);
    let again = app.json(Method::POST, "/admin/t/contoso/backup-sets/capture", None, Some(&cookie)).await;
    assert_eq!(run_id(&again.body), run_id(&capture.body));

    // The run is in Monitoring, queued, with what it works on.
    let detail = app
        .json(
            Method::GET,
            &format!("/admin/monitoring/operations/{}", run_id(&first.body)),
            None,
            Some(&cookie),
        )
        .await;
    contract.check("get", "/admin/monitoring/operations/{operationRun}", 200, &detail.body);
    let detail: Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(
        (detail["type"].as_str(), detail["status"].as_str()),
        (Some("assignments.fetch"), Some("queued"))
    );
    assert_eq!(detail["context"]["backupItemId"], items[0].id);
    assert_eq!(detail["context"]["policyName"], "BitLocker");

    // Starts and reuses are audited, with who asked.
    let tenant = app.db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let audit = app.db.store.tenant_audit(tenant.id, 100).await.unwrap();
    let reused = audit
        .iter()
        .filter(|entry| (entry.kind.as_str(), entry.action.as_str()) == ("operation", "reuse"))
        .count();
    assert_eq!(reused, 3);
    assert!(audit.iter().all(|entry| (entry.kind.as_str(), entry.action.as_str()) != ("operation", "reuse")
        || matches!(&entry.actor, Initiator::User { name, .. } if name == "Olivia Owner")));
    app.db.drop_database().await;
}

async fn who_may_start_what(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (set, items) = backup(&app, "contoso").await;
    let restore = restore_run(&app, &set, &items).await;
    let (other_set, other_items) = backup(&app, "fabrikam").await;
    let other_restore = restore_run(&app, &other_set, &other_items).await;
    let item = items[0].id;

    // (who, capture, fetch, restore)
    let matrix = [
        ("owner@demo.test", 202, 202, 202),
        ("manager@demo.test", 202, 202, 202),
        ("operator@demo.test", 202, 202, 403),
        ("readonly@demo.test", 403, 403, 403),
        ("admin@demo.test", 404, 404, 404),
    ];
    for (email, capture, fetch, restoring) in matrix {
        let cookie = app.sign_in(email).await;
        let reply = app.json(Method::POST, "/admin/t/contoso/backup-sets/capture", None, Some(&cookie)).await;
        assert_eq!(reply.status.as_u16(), capture, "{email} capture: {}", reply.body);
        let reply = app.json(Method::POST, &fetch_path("contoso", item), None, Some(&cookie)).await;
        assert_eq!(reply.status.as_u16(), fetch, "{email} fetch: {}", reply.body);
        let reply = app.json(Method::POST, &restore_path("contoso", restore), None, Some(&cookie)).await;
        assert_eq!(reply.status.as_u16(), restoring, "{email} restore: {}", reply.body);
    }

    // Whatever may not be seen is one and the same 404.
    let operator = app.sign_in("operator@demo.test").await;
    let readonly = app.sign_in("readonly@demo.test").await;
    let not_found = app.json(Method::POST, &fetch_path("no-such-tenant", item), None, Some(&operator)).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    let unseen = [
        ("a tenant the reader is not in", fetch_path("fabrikam", other_items[0].id), &readonly),
        ("an unknown tenant", fetch_path("no-such-tenant", item), &operator),
        ("another tenant's item", fetch_path("contoso", other_items[0].id), &operator),
        ("an unknown item", fetch_path("contoso", 999_999), &operator),
        ("an item id that is no number", fetch_path("contoso", "abc"), &operator),
        (
            "another tenant's restore run",
            restore_path("contoso", other_restore),
            &app.sign_in("owner@demo.test").await,
        ),
        ("a tenant the operator is not in", restore_path("northwind", restore), &operator),
    ];
    for (what, path, cookie) in unseen {
        let reply = app.json(Method::POST, &path, None, Some(cookie)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}: {}", reply.body);
        assert_eq!(reply.body, not_found.body, "{what} looks exactly like nothing");
    }

    let signed_out = app.json(Method::POST, &fetch_path("contoso", item), None, None).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);

    // A post from another site changes nothing.
    let runs_before = app
        .db
        .store
        .list_runs(&tenantpilot_core::store::RunQuery::new(tenantpilot_core::store::RunScope::All, 1000))
        .await
        .unwrap()
        .len();
    let owner = app.sign_in("owner@demo.test").await;
    let cross = app
        .call(Method::POST, "/admin/t/contoso/backup-sets/capture")
        .cookie(&owner)
        .by(Sender::CrossSite)
        .send()
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let runs_after = app
        .db
        .store
        .list_runs(&tenantpilot_core::store::RunQuery::new(tenantpilot_core::store::RunScope::All, 1000))
        .await
        .unwrap()
        .len();
    assert_eq!(runs_before, runs_after);
    app.db.drop_database().await;
}

async fn restore_runs_are_previewed_and_bad_bodies_name_their_field(backend: Backend) {
    let app = TestApp::new(backend).await;
    let sim = Sim::start().await;
    sim.connect(&app.db.store, "contoso", 50).await;
    let (set, items) = backup(&app, "contoso").await;
    let (other_set, other_items) = backup(&app, "fabrikam").await;
    let cookie = app.sign_in("manager@demo.test").await;
    let path = "/admin/t/contoso/restore-runs";

    let body = json!({ "backupSetId": set.id, "itemIds": [items[1].id], "groupMapping": { "grp-pilot": "grp-finance" } });
    let api = app.api_document().await;
    let created = app.json(Method::POST, path, Some(&body.to_string()), Some(&cookie)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    api.check("post", "/admin/t/{tenant}/restore-runs", 201, &created.body);
    let one = format!("{path}/{}", serde_json::from_str::<Value>(&created.body).unwrap()["id"]);
    let fetched = app.json(Method::GET, &one, None, Some(&cookie)).await;
    api.check("get", "/admin/t/{tenant}/restore-runs/{restoreRun}", 200, &fetched.body);
    assert_eq!(fetched.body, created.body, "reads back as created");
    let listed = app.json(Method::GET, path, None, Some(&cookie)).await;
    api.check("get", "/admin/t/{tenant}/restore-runs", 200, &listed.body);
    let created: Value = serde_json::from_str(&created.body).unwrap();
    assert!(created["id"].as_i64().is_some());
    assert_eq!(created["itemIds"], json!([items[1].id]));
    // The simulator's pol-edge is a settings-catalog policy: as a device configuration it is
    // gone, so it would be created again, and assigned to the mapped group.
    let preview = &created["preview"]["items"][0];
    assert_eq!(preview["action"], "recreate");
    assert_eq!(
        (
            preview["planned"][0]["kind"].as_str(),
            preview["planned"][0]["groupId"].as_str(),
            preview["planned"][0]["groupName"].as_str()
        ),
        (Some("includeGroup"), Some("grp-finance"), Some("Finance"))
    );
    assert_eq!(created["preview"]["unmappedGroups"], json!([]));
    assert_eq!(created["preview"]["groups"][0]["resolution"], "mapped");
    let all = json!({ "backupSetId": set.id });
    let created_all = app.json(Method::POST, path, Some(&all.to_string()), Some(&cookie)).await;
    assert_eq!(created_all.status, StatusCode::CREATED, "{}", created_all.body);

    let count = || async { app.db.store.restore_runs(set.tenant_id).await.unwrap().len() };
    let before = count().await;
    let bad: Vec<(&str, String)> = vec![
        ("body", "{not json".into()),
        ("body", "[]".into()),
        ("backupSetId", json!({}).to_string()),
        ("backupSetId", json!({ "backupSetId": "1" }).to_string()),
        ("backupSetId", json!({ "backupSetId": other_set.id }).to_string()),
        ("backupSetId", json!({ "backupSetId": 999_999 }).to_string()),
        ("itemIds", json!({ "backupSetId": set.id, "itemIds": "all" }).to_string()),
        ("itemIds", json!({ "backupSetId": set.id, "itemIds": [] }).to_string()),
        ("itemIds", json!({ "backupSetId": set.id, "itemIds": [-1] }).to_string()),
        ("itemIds", json!({ "backupSetId": set.id, "itemIds": [other_items[0].id] }).to_string()),
        ("groupMapping", json!({ "backupSetId": set.id, "groupMapping": ["a"] }).to_string()),
        ("groupMapping", json!({ "backupSetId": set.id, "groupMapping": { "a": 1 } }).to_string()),
        (
            "groupMapping",
            json!({ "backupSetId": set.id, "groupMapping": { "grp-pilot": "no-such-group" } }).to_string(),
        ),
        ("groupMapping", json!({ "backupSetId": set.id, "groupMapping": { "": "grp-finance" } }).to_string()),
        ("itemIDs", json!({ "backupSetId": set.id, "itemIDs": [1] }).to_string()),
        ("filterMapping", json!({ "backupSetId": set.id, "filterMapping": { "a": 1 } }).to_string()),
        ("scopeTagMapping", json!({ "backupSetId": set.id, "scopeTagMapping": "1=2" }).to_string()),
        ("sourceTenant", json!({ "backupSetId": set.id, "sourceTenant": 5 }).to_string()),
        ("sourceTenant", json!({ "backupSetId": set.id, "sourceTenant": "no-such-tenant" }).to_string()),
        ("backupSetId", json!({ "backupSetId": set.id, "sourceTenant": "fabrikam" }).to_string()),
    ];
    for (field, body) in bad {
        let reply = app.json(Method::POST, path, Some(&body), Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        api.check("post", "/admin/t/{tenant}/restore-runs", 400, &reply.body);
        let error: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            (error["error"].as_str(), error["field"].as_str()),
            (Some("invalid"), Some(field)),
            "{body}"
        );
        assert!(!error["message"].as_str().unwrap_or_default().is_empty());
    }
    assert_eq!(count().await, before, "nothing was created");

    // Planned again with other mappings (the preview's edit): a bad one names its field.
    let remap = format!("{path}/{}", created["id"]);
    let mapped = json!({ "groupMapping": { "grp-pilot": "grp-all-staff" } }).to_string();
    let remapped = app.json(Method::PATCH, &remap, Some(&mapped), Some(&cookie)).await;
    assert_eq!(remapped.status, StatusCode::OK, "{}", remapped.body);
    api.check("patch", "/admin/t/{tenant}/restore-runs/{restoreRun}", 200, &remapped.body);
    let remapped: Value = serde_json::from_str(&remapped.body).unwrap();
    assert_eq!(remapped["preview"]["items"][0]["planned"][0]["groupId"], "grp-all-staff");
    for (field, body) in [
        ("groupMapping", json!({ "groupMapping": { "grp-pilot": "nowhere" } })),
        ("itemIds", json!({ "itemIds": [1] })),
        ("body", json!([])),
    ] {
        let reply = app.json(Method::PATCH, &remap, Some(&body.to_string()), Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        api.check("patch", "/admin/t/{tenant}/restore-runs/{restoreRun}", 400, &reply.body);
        assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap()["field"], field);
    }
    let reader = app.sign_in("readonly@demo.test").await;
    assert_eq!(
        app.json(Method::PATCH, &remap, Some(&mapped), Some(&reader)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.json(Method::PATCH, &remap.replace("contoso", "fabrikam"), Some(&mapped), Some(&cookie))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "another tenant's restore run is not found there"
    );

    // Fabrikam has no provider connection: the preview cannot be made.
    let owner = app.sign_in("owner@demo.test").await;
    let body = json!({ "backupSetId": other_set.id }).to_string();
    let unconnected =
        app.json(Method::POST, "/admin/t/fabrikam/restore-runs", Some(&body), Some(&owner)).await;
    assert_eq!(unconnected.status, StatusCode::CONFLICT, "{}", unconnected.body);
    api.check("post", "/admin/t/{tenant}/restore-runs", 409, &unconnected.body);
    // The provider failing is the provider's failure, with its reason.
    sim.faults(
        "contoso",
        &[tenantpilot_server::provider_sim::Fault {
            path: Some("/groups".into()),
            status: Some(403),
            ..Default::default()
        }],
    )
    .await;
    let refused = app.json(Method::POST, path, Some(&all.to_string()), Some(&owner)).await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.body);
    api.check("post", "/admin/t/{tenant}/restore-runs", 502, &refused.body);
    assert_eq!(serde_json::from_str::<Value>(&refused.body).unwrap()["reason_code"], "permission_denied");

    let operator = app.sign_in("operator@demo.test").await;
    let forbidden = app.json(Method::POST, path, Some(&all.to_string()), Some(&operator)).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    api.check("post", "/admin/t/{tenant}/restore-runs", 403, &forbidden.body);
    app.db.drop_database().await;
}

async fn backup_items_list_and_runs_cancel(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (set, items) = backup(&app, "contoso").await;
    let readonly = app.sign_in("readonly@demo.test").await;
    let api = app.api_document().await;
    let listed = app.json(Method::GET, "/admin/t/contoso/backup-items", None, Some(&readonly)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    api.check("get", "/admin/t/{tenant}/backup-items", 200, &listed.body);
    let listed: Vec<Value> = serde_json::from_str(&listed.body).unwrap();
    assert_eq!(listed.len(), 2);
    let keys: Vec<&str> = listed[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6);
    for key in ["id", "backupSetId", "policyName", "policyType", "assignmentsCount", "assignmentsFetchedAt"] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(listed[0]["backupSetId"], set.id);
    assert_eq!(listed[0]["assignmentsCount"], 1);
    let not_member = app.json(Method::GET, "/admin/t/northwind/backup-items", None, Some(&readonly)).await;
    assert_eq!(not_member.status, StatusCode::NOT_FOUND);

    // One item, as stored: the body and each target whole.
    let one = format!("/admin/t/contoso/backup-items/{}", items[0].id);
    let item = app.json(Method::GET, &one, None, Some(&readonly)).await;
    assert_eq!(item.status, StatusCode::OK, "{}", item.body);
    api.check("get", "/admin/t/{tenant}/backup-items/{backupItem}", 200, &item.body);
    let item: Value = serde_json::from_str(&item.body).unwrap();
    assert_eq!(item["body"]["displayName"], items[0].policy_name.as_str());
    assert_eq!(item["assignments"][0]["target"]["@odata.type"], "#microsoft.graph.groupAssignmentTarget");
    for missing in [
        one.replace("contoso", "northwind"),
        one.replace("contoso", "fabrikam"),
        "/admin/t/contoso/backup-items/x".into(),
    ] {
        let reply = app.json(Method::GET, &missing, None, Some(&readonly)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        api.check("get", "/admin/t/{tenant}/backup-items/{backupItem}", 404, &reply.body);
    }

    let operator = app.sign_in("operator@demo.test").await;
    let id = run_id(
        &app.json(Method::POST, &fetch_path("contoso", items[0].id), None, Some(&operator)).await.body,
    );
    let cancel = format!("/admin/monitoring/operations/{id}/cancel");
    let refused = app.json(Method::POST, &cancel, None, Some(&readonly)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let cancelled = app.json(Method::POST, &cancel, None, Some(&operator)).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    api.check("post", "/admin/monitoring/operations/{operationRun}/cancel", 200, &cancelled.body);
    let cancelled: Value = serde_json::from_str(&cancelled.body).unwrap();
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["outcome"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    let twice = app.json(Method::POST, &cancel, None, Some(&operator)).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    api.check("post", "/admin/monitoring/operations/{operationRun}/cancel", 409, &twice.body);
    let fabrikam_only = app.sign_in("admin@demo.test").await;
    assert_eq!(
        app.json(Method::POST, &cancel, None, Some(&fabrikam_only)).await.status,
        StatusCode::FORBIDDEN,
        "a platform admin sees every run but cancels only as a member"
    );
    app.db.drop_database().await;
}

async fn provider_connections_are_set_checked_and_never_shown(backend: Backend) {
    let app = TestApp::new(backend).await;
    let sim = Sim::start().await;
    sim.sample("contoso", 50).await;
    let api = app.api_document().await;
    let path = "/admin/t/contoso/provider-connection";
    let owner = app.sign_in("owner@demo.test").await;
    let none = app.json(Method::GET, path, None, Some(&owner)).await;
    assert_eq!(none.status, StatusCode::NO_CONTENT);

    let connection = sim.connection("contoso", common::sim::SECRET);
    let body = json!({
        "baseUrl": connection.base_url, "tokenUrl": connection.token_url,
        "clientId": common::sim::CLIENT_ID, "clientSecret": common::sim::SECRET,
    });
    let saved = app.json(Method::PUT, path, Some(&body.to_string()), Some(&owner)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    api.check("put", "/admin/t/{tenant}/provider-connection", 200, &saved.body);
    let reader = app.sign_in("readonly@demo.test").await;
    let shown = app.json(Method::GET, path, None, Some(&reader)).await;
    assert_eq!(shown.status, StatusCode::OK);
    api.check("get", "/admin/t/{tenant}/provider-connection", 200, &shown.body);
    assert!(!shown.body.contains(common::sim::SECRET) && !saved.body.contains(common::sim::SECRET));

    // A new URL without a secret keeps the stored secret: the check still signs in.
    let keep = json!({ "baseUrl": connection.base_url, "tokenUrl": connection.token_url, "clientId": common::sim::CLIENT_ID });
    assert_eq!(
        app.json(Method::PUT, path, Some(&keep.to_string()), Some(&owner)).await.status,
        StatusCode::OK
    );
    let checked = app.json(Method::POST, &format!("{path}/check"), None, Some(&owner)).await;
    assert_eq!(checked.status, StatusCode::OK, "{}", checked.body);
    api.check("post", "/admin/t/{tenant}/provider-connection/check", 200, &checked.body);
    let check: Value = serde_json::from_str(&checked.body).unwrap();
    assert_eq!(check["tokenTenant"], "contoso", "the token's tid");
    let areas: Vec<(&str, bool)> = check["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["area"].as_str().unwrap(), c["readable"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        areas,
        [
            ("Settings catalog", true),
            ("Device configuration", true),
            ("Compliance policy", true),
            ("Administrative template", true),
            ("Assignment filters", true),
            ("Scope tags", true),
            ("Groups", true)
        ]
    );
    // Consent only for groups: every family says which permission it lacks.
    let mut limited = sim.tenant("contoso").await;
    limited.permissions = Some(vec!["Group.Read.All".into()]);
    sim.put_tenant("contoso", &limited).await;
    let checked = app.json(Method::POST, &format!("{path}/check"), None, Some(&owner)).await;
    api.check("post", "/admin/t/{tenant}/provider-connection/check", 200, &checked.body);
    let check: Value = serde_json::from_str(&checked.body).unwrap();
    assert_eq!(check["roles"], json!(["Group.Read.All"]));
    let settings_catalog = &check["checks"][0];
    assert_eq!(
        (settings_catalog["readable"].as_bool(), settings_catalog["permission"].as_str()),
        (Some(false), Some("DeviceManagementConfiguration.Read.All"))
    );
    assert!(settings_catalog["message"].as_str().unwrap().contains("HTTP 403"), "{settings_catalog}");
    assert_eq!(check["checks"][6]["readable"], true);
    sim.faults(
        "contoso",
        &[tenantpilot_server::provider_sim::Fault {
            path: Some("/oauth2".into()),
            status: Some(401),
            ..Default::default()
        }],
    )
    .await;
    let refused = app.json(Method::POST, &format!("{path}/check"), None, Some(&owner)).await;
    assert_eq!(refused.status, StatusCode::BAD_GATEWAY);
    assert_eq!(serde_json::from_str::<Value>(&refused.body).unwrap()["reason_code"], "authentication_failed");

    for (bad, field) in [
        (json!({ "baseUrl": "ftp://x", "tokenUrl": connection.token_url, "clientId": "c" }), "baseUrl"),
        (
            json!({ "baseUrl": "https://graph.microsoft.com/v1.0", "tokenUrl": connection.token_url, "clientId": "c" }),
            "baseUrl",
        ),
        (
            json!({ "tokenUrl": connection.token_url, "clientId": "c", "scope": "https://graph.microsoft.com/beta" }),
            "scope",
        ),
        (
            json!({ "tokenUrl": connection.token_url, "clientId": "c", "clientSecret": "s", "clientCertificate": "x" }),
            "clientCertificate",
        ),
        (
            json!({ "tokenUrl": connection.token_url, "clientId": "c", "clientCertificate": "not a pem" }),
            "clientCertificate",
        ),
        // The stored secret does not follow the token URL to another origin.
        (
            json!({ "baseUrl": connection.base_url, "tokenUrl": "http://127.0.0.1:1/t/oauth2/v2.0/token", "clientId": "c" }),
            "clientSecret",
        ),
        (json!({ "baseUrl": connection.base_url, "tokenUrl": 5, "clientId": "c" }), "tokenUrl"),
        (json!({ "baseUrl": connection.base_url, "tokenUrl": connection.token_url }), "clientId"),
        (
            json!({ "baseUrl": connection.base_url, "tokenUrl": connection.token_url, "clientId": "c", "secret": "x" }),
            "secret",
        ),
    ] {
        let reply = app.json(Method::PUT, path, Some(&bad.to_string()), Some(&owner)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.body);
        api.check("put", "/admin/t/{tenant}/provider-connection", 400, &reply.body);
        assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap()["field"], field, "{bad}");
    }
    let manager = app.sign_in("manager@demo.test").await;
    assert_eq!(
        app.json(Method::PUT, path, Some(&body.to_string()), Some(&manager)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.json(Method::GET, "/admin/t/northwind/provider-connection", None, Some(&reader)).await.status,
        StatusCode::NOT_FOUND
    );
    // Graph's beta is the default base; a certificate replaces the secret and is never shown.
    let certificate = include_str!("fixtures/app-certificate.pem");
    let with_certificate = json!({ "tokenUrl": connection.token_url, "clientId": common::sim::CLIENT_ID, "clientCertificate": certificate });
    let saved = app.json(Method::PUT, path, Some(&with_certificate.to_string()), Some(&owner)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    api.check("put", "/admin/t/{tenant}/provider-connection", 200, &saved.body);
    let saved: Value = serde_json::from_str(&saved.body).unwrap();
    assert_eq!(
        (saved["baseUrl"].as_str(), saved["effectiveScope"].as_str(), saved["credential"].as_str()),
        (
            Some("https://graph.microsoft.com/beta"),
            Some("https://graph.microsoft.com/.default"),
            Some("certificate")
        )
    );
    assert_eq!(saved["certificateThumbprint"].as_str().map(str::len), Some(40));
    let shown = app.json(Method::GET, path, None, Some(&reader)).await;
    assert!(
        !shown.body.contains("PRIVATE KEY") && !shown.body.contains("BEGIN CERTIFICATE"),
        "{}",
        shown.body
    );
    // The secret and the key never reach the audit trail.
    let tenant = app.db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let audit = app.db.store.tenant_audit(tenant.id, 50).await.unwrap();
    assert_eq!(audit.iter().filter(|entry| entry.kind == "provider_connection").count(), 3);
    assert!(!serde_json::to_string(&audit).unwrap().contains("PRIVATE KEY"));
    assert!(!serde_json::to_string(&audit).unwrap().contains(common::sim::SECRET));
    app.db.drop_database().await;
}

/// The page's plan form without JavaScript: checkboxes `item_ids[i]` (unchecked ones absent),
/// then a redirect to the new restore run; nothing checked is an error, and nothing is made.
async fn the_restore_form_reads_the_checked_policies(backend: Backend) {
    let app = TestApp::new(backend).await;
    let sim = Sim::start().await;
    sim.connect(&app.db.store, "contoso", 50).await;
    let (set, items) = backup(&app, "contoso").await;
    let cookie = app.sign_in("manager@demo.test").await;
    let form = format!(
        "tenant=contoso&backup_set_id={}&item_ids%5B1%5D={}&group_mapping=grp-pilot+%3D+grp-finance",
        set.id, items[1].id
    );
    let reply = app.call(Method::POST, "/api/plan_restore").form(&form).cookie(&cookie).send().await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let restores = app.db.store.restore_runs(set.tenant_id).await.unwrap();
    assert_eq!(reply.location(), format!("/admin/t/contoso/restores/{}", restores[0].id));
    assert_eq!(restores[0].item_ids, vec![items[1].id]);
    assert_eq!(restores[0].group_mapping["grp-pilot"], "grp-finance");

    let nothing = format!("tenant=contoso&backup_set_id={}&group_mapping=", set.id);
    let reply = app
        .call(Method::POST, "/api/plan_restore")
        .form(&nothing)
        .cookie(&cookie)
        .by(Sender::Script)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(serde_json::from_str::<Value>(&reply.body).unwrap()["field"], "itemIds");
    assert_eq!(app.db.store.restore_runs(set.tenant_id).await.unwrap().len(), 1);
    app.db.drop_database().await;
}
