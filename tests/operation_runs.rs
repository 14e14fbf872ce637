//! Operation runs in the store, on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use serde_json::json;
use std::collections::HashSet;
use tenantpilot_core::operation::{Counters, Failure, Initiator, RunOutcome, RunStatus, RunTarget};
use tenantpilot_core::store::{Backend, NewRun, Started};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;

tenantpilot_core::test_on_both_backends!(
    start_reuses_the_active_run,
    concurrent_identical_starts_make_one_run,
    claims_are_oldest_first_within_the_tenant_limit,
    cancel_and_heartbeat,
    stale_runs_fail_and_keep_their_failures,
    concurrent_claims_take_each_run_once,
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

async fn start(db: &TestDatabase, workspace: i64, tenant: i64, item: &str) -> i64 {
    db.store.start_run(&fetch(workspace, tenant, item)).await.unwrap().id()
}

async fn claims_are_oldest_first_within_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (_, t2) = tenant(&db, "t2").await;
    let a = start(&db, workspace, t1, "a").await;
    let b = start(&db, workspace, t1, "b").await;
    let c = start(&db, workspace, t1, "c").await;
    let d = start(&db, workspace, t2, "d").await;
    let claim = || async { db.store.claim_run("w1", 2).await.unwrap().map(|run| run.id) };
    assert_eq!(claim().await, Some(a));
    assert_eq!(claim().await, Some(b));
    assert_eq!(claim().await, Some(d), "t1 is at its limit of 2; t2 goes ahead");
    assert_eq!(claim().await, None);
    assert!(db.store.complete_run(a, RunOutcome::Succeeded).await.unwrap());
    let run = db.store.claim_run("w2", 2).await.unwrap().unwrap();
    assert_eq!((run.id, run.status), (c, RunStatus::Running));
    assert!(run.started_at.is_some() && run.heartbeat_at.is_some());
    db.drop_database().await;
}

async fn cancel_and_heartbeat(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let running = start(&db, workspace, t1, "a").await;
    assert_eq!(db.store.claim_run("w", 2).await.unwrap().unwrap().id, running);
    let queued = start(&db, workspace, t1, "b").await;

    let progress = Counters { total: 10, processed: 4, failed: 1 };
    assert!(!db.store.heartbeat_run(running, progress).await.unwrap(), "no cancel yet");
    assert_eq!(db.store.operation_run(running).await.unwrap().unwrap().counters, progress);

    assert!(db.store.cancel_run(queued).await.unwrap());
    let cancelled = db.store.operation_run(queued).await.unwrap().unwrap();
    assert_eq!((cancelled.status, cancelled.outcome), (RunStatus::Completed, RunOutcome::Cancelled));
    assert!(db.store.cancel_run(running).await.unwrap());
    assert!(db.store.heartbeat_run(running, progress).await.unwrap(), "the handler hears the cancel");
    assert_eq!(db.store.operation_run(running).await.unwrap().unwrap().status, RunStatus::Running);
    assert!(db.store.complete_run(running, RunOutcome::Cancelled).await.unwrap());
    assert!(!db.store.cancel_run(running).await.unwrap(), "nothing to cancel once completed");
    db.drop_database().await;
}

async fn stale_runs_fail_and_keep_their_failures(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let id = start(&db, workspace, t1, "a").await;
    db.store.claim_run("w", 2).await.unwrap().unwrap();
    let earlier = Failure {
        code: "item".into(),
        reason_code: "throttled".into(),
        message: "429".into(),
        at: Utc::now(),
    };
    db.store.add_run_failure(id, &earlier).await.unwrap();
    // A heartbeat a minute old is not stale by a ten-minute rule.
    assert!(db.store.fail_stale_runs(Utc::now() - Duration::minutes(10)).await.unwrap().is_empty());
    assert_eq!(db.store.fail_stale_runs(Utc::now() + Duration::seconds(1)).await.unwrap(), [id]);
    let run = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, RunOutcome::Failed));
    let codes: Vec<&str> = run.failures.iter().map(|f| f.reason_code.as_str()).collect();
    assert_eq!(codes, ["throttled", "ops.stale"]);
    db.drop_database().await;
}

async fn concurrent_claims_take_each_run_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    for item in 0..60 {
        start(&db, workspace, t1, &item.to_string()).await;
    }
    let workers = (0..6).map(|worker| {
        let store = db.store.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(run) = store.claim_run(&format!("w{worker}"), 1000).await.unwrap() {
                claimed.push(run.id);
            }
            claimed
        })
    });
    let claimed: Vec<i64> = join_all(workers).await.into_iter().flatten().collect();
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!((claimed.len(), unique.len()), (60, 60), "every run claimed exactly once");
    db.drop_database().await;
}
