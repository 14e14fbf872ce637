//! Backup sets, items and restore runs in the store, on SQLite and PostgreSQL.

use serde_json::json;
use std::collections::BTreeMap;
use tenantpilot_core::backups::{Assignment, Mappings, RestorePreview, ScopeTag};
use tenantpilot_core::ids::{RunId, TenantId};
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::store::{Backend, CapturedPolicy, NewRestoreRun};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;

tenantpilot_core::test_on_both_backends!(captures_fill_one_set_per_run, reads_are_scoped_to_the_tenant);

async fn tenant(db: &TestDatabase, slug: &str) -> TenantId {
    let new = NewTenant { workspace_slug: "w", slug, name: "T", external_tenant_id: None };
    tenancy::create_tenant(&db.store, &Initiator::System, new).await.unwrap().0.id
}

fn group(id: &str, name: &str) -> Assignment {
    Assignment {
        target: json!({ "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id, "futureField": 1 }),
        group_name: Some(name.into()),
        filter_name: None,
    }
}

async fn captures_fill_one_set_per_run(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let t1 = tenant(&db, "t1").await;
    let set = db.store.backup_set_for_run(t1, RunId(77), "Backup 1").await.unwrap();
    assert_eq!(
        db.store.backup_set_for_run(t1, RunId(77), "ignored").await.unwrap(),
        set,
        "same run, same set"
    );
    let body =
        json!({ "@odata.type": "#microsoft.graph.windowsWifiConfiguration", "id": "p1", "ssid": "corp" });
    let settings = json!([{ "id": "0", "settingInstance": { "settingDefinitionId": "x" } }]);
    let tags = [ScopeTag { id: "0".into(), name: Some("Default".into()) }];
    let groups = [group("g1", "Sales"), group("g2", "Ops")];
    let policy = CapturedPolicy {
        policy_id: "p1",
        policy_name: "Wi-Fi",
        policy_type: "deviceConfiguration",
        body: &body,
        settings: &settings,
        scope_tags: &tags,
        assignments: &groups,
    };
    db.store.put_backup_item(&set, &policy).await.unwrap();
    // A retried capture stores the same policy again: replaced, not doubled.
    db.store.put_backup_item(&set, &policy).await.unwrap();
    let other = CapturedPolicy { policy_id: "p2", policy_name: "BitLocker", assignments: &[], ..policy };
    db.store.put_backup_item(&set, &other).await.unwrap();

    let sets = db.store.backup_sets(t1).await.unwrap();
    assert_eq!((sets.len(), sets[0].item_count, sets[0].operation_run_id), (1, 2, Some(RunId(77))));
    let items = db.store.backup_items(t1, Some(set.id)).await.unwrap();
    let names: Vec<&str> = items.iter().map(|item| item.policy_name.as_str()).collect();
    assert_eq!(names, ["BitLocker", "Wi-Fi"]);
    let wifi = &items[1];
    assert_eq!(
        (
            wifi.body.clone(),
            wifi.settings.clone(),
            wifi.scope_tags.clone(),
            wifi.assignments.clone(),
            wifi.assignments_count
        ),
        (body, settings, tags.to_vec(), groups.to_vec(), 2)
    );
    assert!(wifi.assignments_fetched_at.is_some());

    db.store.set_item_assignments(wifi.id, &[group("g3", "Finance")]).await.unwrap();
    let fetched = db.store.backup_item(t1, wifi.id).await.unwrap().unwrap();
    assert_eq!((fetched.assignments_count, fetched.assignments[0].group_id()), (1, Some("g3")));
    assert!(fetched.assignments_fetched_at > wifi.assignments_fetched_at);
    db.drop_database().await;
}

async fn reads_are_scoped_to_the_tenant(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let t1 = tenant(&db, "t1").await;
    let t2 = tenant(&db, "t2").await;
    let set = db.store.backup_set_for_run(t1, RunId(1), "Backup").await.unwrap();
    let policy = CapturedPolicy {
        policy_id: "p1",
        policy_name: "Wi-Fi",
        policy_type: "deviceConfiguration",
        body: &json!({}),
        settings: &json!(null),
        scope_tags: &[],
        assignments: &[],
    };
    db.store.put_backup_item(&set, &policy).await.unwrap();
    let item = db.store.backup_items(t1, None).await.unwrap().remove(0);
    let mappings = Mappings {
        group_mapping: BTreeMap::from([("g1".to_string(), "g9".to_string())]),
        scope_tag_mapping: BTreeMap::from([("1".to_string(), "4".to_string())]),
        ..Mappings::default()
    };
    let preview = RestorePreview::default();
    // A restore into t2 of t1's backup.
    let restore = db
        .store
        .create_restore_run(&NewRestoreRun {
            tenant_id: t2,
            source_tenant_id: t1,
            backup_set_id: set.id,
            item_ids: &[item.id],
            mappings: &mappings,
            preview: &preview,
            created_by: None,
        })
        .await
        .unwrap();
    assert_eq!(
        (
            restore.tenant_id,
            restore.source_tenant_id,
            restore.item_ids.clone(),
            restore.group_mapping.clone()
        ),
        (t2, t1, vec![item.id], mappings.group_mapping.clone())
    );
    assert_eq!(restore.scope_tag_mapping, mappings.scope_tag_mapping);
    db.store.set_restore_execution(restore.id, RunId(5)).await.unwrap();
    assert_eq!(db.store.restore_run(t2, restore.id).await.unwrap().unwrap().operation_run_id, Some(RunId(5)));
    db.store.record_recreated(restore.id, item.id, "new-1").await.unwrap();
    let recorded = db.store.restore_run(t2, restore.id).await.unwrap().unwrap();
    assert_eq!(recorded.recreated, BTreeMap::from([(item.id.to_string(), "new-1".to_string())]));
    let planned_again =
        db.store.set_restore_plan(t2, restore.id, &Mappings::default(), &preview).await.unwrap().unwrap();
    assert!(planned_again.group_mapping.is_empty() && planned_again.recreated.len() == 1);
    assert!(db
        .store
        .set_restore_plan(t1, restore.id, &Mappings::default(), &preview)
        .await
        .unwrap()
        .is_none());

    // Another tenant's ids find nothing, like ids that do not exist.
    assert!(db.store.backup_set(t2, set.id).await.unwrap().is_none());
    assert!(db.store.backup_item(t2, item.id).await.unwrap().is_none());
    assert!(db.store.restore_run(t1, restore.id).await.unwrap().is_none());
    assert!(db.store.backup_items(t2, Some(set.id)).await.unwrap().is_empty());
    assert!(db.store.restore_runs(t1).await.unwrap().is_empty());
    db.drop_database().await;
}
