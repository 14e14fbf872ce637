//! Operation runs in the store, on SQLite and PostgreSQL.

use serde_json::json;
use std::collections::HashSet;
use tenantpilot_core::operation::{Initiator, RunOutcome, RunStatus, RunTarget};
use tenantpilot_core::store::{Backend, NewRun, Started};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;

tenantpilot_core::test_on_both_backends!(
    start_reuses_the_active_run,
    concurrent_identical_starts_make_one_run
);

async fn tenant(db: &TestDatabase, slug: &str) -> (i64, i64) {
    let new = NewTenant { workspace_slug: "w", slug, name: "T", external_tenant_id: None };
    let (tenant, _) = tenancy::create_tenant(&db.store, new).await.unwrap();
    (tenant.workspace_id, tenant.id)
}

fn fetch(workspace_id: i64, tenant_id: i64, item: &str) -> NewRun {
    NewRun {
        workspace_id,
        tenant_id: Some(tenant_id),
        kind: "assignments.fetch".into(),
        target: Some(RunTarget { kind: "backup_item".into(), id: item.into() }),
        context: json!({ "backupItemId": item }).as_object().unwrap().clone(),
        initiator: Initiator::User { id: 7, name: "Ann".into() },
    }
}

async fn start_reuses_the_active_run(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (_, t2) = tenant(&db, "t2").await;
    let first = db.store.start_run(&fetch(workspace, t1, "42")).await.unwrap();
    let Started::Created(id) = first else { panic!("{first:?}") };
    assert_eq!(db.store.start_run(&fetch(workspace, t1, "42")).await.unwrap(), Started::Reused(id));
    // Another target or another tenant is another identity.
    assert!(
        matches!(db.store.start_run(&fetch(workspace, t1, "43")).await.unwrap(), Started::Created(other) if other != id)
    );
    assert!(
        matches!(db.store.start_run(&fetch(workspace, t2, "42")).await.unwrap(), Started::Created(other) if other != id)
    );

    let run = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.outcome, run.kind.as_str()),
        (RunStatus::Queued, RunOutcome::Pending, "assignments.fetch")
    );
    assert_eq!(run.target, Some(RunTarget { kind: "backup_item".into(), id: "42".into() }));
    assert_eq!(run.context["backupItemId"], "42");
    assert_eq!(run.initiator, Initiator::User { id: 7, name: "Ann".into() });
    assert_eq!((run.counters.total, run.attempt, run.failures.len()), (0, 1, 0));

    // Once it completes, a start makes a new run.
    assert!(db.store.complete_run(id, RunOutcome::Succeeded).await.unwrap());
    assert!(!db.store.complete_run(id, RunOutcome::Failed).await.unwrap(), "completes once");
    let done = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!((done.status, done.outcome), (RunStatus::Completed, RunOutcome::Succeeded));
    assert!(done.completed_at.is_some());
    let next = db.store.start_run(&fetch(workspace, t1, "42")).await.unwrap();
    assert!(matches!(next, Started::Created(new) if new != id), "{next:?}");
    db.drop_database().await;
}

async fn concurrent_identical_starts_make_one_run(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let starts = (0..200).map(|_| {
        let store = db.store.clone();
        tokio::spawn(async move { store.start_run(&fetch(workspace, t1, "42")).await.unwrap() })
    });
    let results: Vec<Started> = join_all(starts).await;
    let ids: HashSet<i64> = results.iter().map(|started| started.id()).collect();
    assert_eq!(ids.len(), 1, "one run for 200 identical starts");
    assert_eq!(results.iter().filter(|started| matches!(started, Started::Created(_))).count(), 1);
    db.drop_database().await;
}

async fn join_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await.unwrap());
    }
    results
}
