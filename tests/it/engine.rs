//! The engine end to end on SQLite and PostgreSQL: workers execute queued runs within the
//! tenant limit, cancels are heard, item failures make partial outcomes, dead workers' runs are
//! reconciled, shutdown releases runs, and starts and cancels are audited.

use chrono::Utc;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenantpilot_core::engine::{self, EngineHandle, EngineSettings, Operation, Operations, RunContext, Stop};
use tenantpilot_core::ids::{RunId, TenantId, UserId, WorkspaceId};
use tenantpilot_core::operations::{
    Failure, Initiator, OperationKind, OperationRun, RunOutcome, RunStatus, RunTarget,
};
use tenantpilot_core::store::{Backend, NewRun, Started, Store};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;

tenantpilot_core::test_on_both_backends!(
    workers_run_every_queued_run_within_the_tenant_limit,
    a_process_runs_as_many_runs_at_once_as_it_has_lanes,
    a_start_wakes_an_idle_worker_at_once,
    starts_handed_to_idle_lanes_keep_the_tenant_limit,
    item_failures_make_a_partial_outcome,
    cancelling_a_running_run_stops_it_at_the_next_item,
    a_killed_workers_run_fails_as_stale,
    a_killed_workers_retry_safe_run_runs_again,
    shutdown_releases_runs_to_the_queue,
    starts_reuses_and_cancels_are_audited,
);

/// Works through `items` items of `sleepMs` each; every `failEvery`-th item fails.
struct Items {
    retry_safe: bool,
    /// Runs of each tenant executing right now, and the most seen at once.
    concurrency: Arc<Mutex<HashMap<TenantId, (i64, i64)>>>,
    /// Runs of any tenant executing right now, and the most seen at once.
    overall: Arc<Mutex<(i64, i64)>>,
}

impl Items {
    fn new(retry_safe: bool) -> Arc<Items> {
        Arc::new(Items { retry_safe, concurrency: Arc::default(), overall: Arc::default() })
    }

    fn track(&self, tenant: TenantId, delta: i64) {
        let mut seen = self.concurrency.lock().unwrap();
        let (now, most) = seen.entry(tenant).or_default();
        *now += delta;
        *most = (*most).max(*now);
        let mut overall = self.overall.lock().unwrap();
        overall.0 += delta;
        overall.1 = overall.1.max(overall.0);
    }

    fn most_at_once_overall(&self) -> i64 {
        self.overall.lock().unwrap().1
    }

    fn most_at_once(&self) -> i64 {
        self.concurrency.lock().unwrap().values().map(|(_, most)| *most).max().unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl Operation for Items {
    fn kind(&self) -> OperationKind {
        OperationKind::Capture
    }

    fn retry_safe(&self) -> bool {
        self.retry_safe
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let tenant = run.run.tenant_id.unwrap_or_default();
        self.track(tenant, 1);
        let result = self.items(run).await;
        self.track(tenant, -1);
        result
    }
}

impl Items {
    async fn items(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let number = |key: &str| run.run.context.get(key).and_then(|v| v.as_i64()).unwrap_or(0);
        let (items, sleep, fail_every) = (number("items"), number("sleepMs"), number("failEvery"));
        run.set_total(items);
        for item in 1..=items {
            run.checkpoint().await?;
            tokio::time::sleep(Duration::from_millis(sleep as u64)).await;
            if fail_every > 0 && item % fail_every == 0 {
                run.item_failed(Failure {
                    code: "test.item".into(),
                    reason_code: "invalid_state".into(),
                    message: format!("item {item} failed"),
                    at: Utc::now(),
                })
                .await?;
            } else {
                run.item_succeeded();
            }
        }
        let counters = run.counters();
        Ok(engine::outcome_of_items(counters.total, counters.failed))
    }
}

/// Dead workers are noticed within a second here.
fn fast() -> EngineSettings {
    EngineSettings {
        stale_after: Duration::from_millis(600),
        idle_poll: Duration::from_millis(200),
        ..EngineSettings::for_tests()
    }
}

async fn tenant(db: &TestDatabase, slug: &str) -> (WorkspaceId, TenantId) {
    let new = NewTenant { workspace_slug: "w", slug, name: "T", external_tenant_id: None };
    let (tenant, _) = tenancy::create_tenant(&db.store, &Initiator::System, new).await.unwrap();
    (tenant.workspace_id, tenant.id)
}

fn items(workspace_id: WorkspaceId, tenant_id: TenantId, target: &str, context: serde_json::Value) -> NewRun {
    NewRun {
        workspace_id,
        tenant_id: Some(tenant_id),
        kind: OperationKind::Capture,
        target: Some(RunTarget { kind: "test".into(), id: target.into() }),
        context: context.as_object().unwrap().clone(),
        initiator: Initiator::User { id: UserId(1), name: "Ann".into() },
        retry_of: None,
    }
}

async fn wait_for(
    store: &Store,
    id: RunId,
    within: Duration,
    done: impl Fn(&OperationRun) -> bool,
) -> OperationRun {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let run = store.operation_run(id).await.unwrap().expect("run exists");
        if done(&run) {
            return run;
        }
        assert!(tokio::time::Instant::now() < deadline, "run {id} not there within {within:?}: {run:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn completed(run: &OperationRun) -> bool {
    run.status == RunStatus::Completed
}

async fn workers_run_every_queued_run_within_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let mut ids = Vec::new();
    for slug in ["a", "b", "c"] {
        let (workspace, tenant) = tenant(&db, slug).await;
        for n in 0..6 {
            let run = items(workspace, tenant, &n.to_string(), json!({ "items": 3, "sleepMs": 15 }));
            ids.push(engine::start(&db.store, &run).await.unwrap().id());
        }
    }
    let operation = Items::new(false);
    let engine = EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation.clone()]), fast(), "t");
    for id in ids {
        let run = wait_for(&db.store, id, Duration::from_secs(20), completed).await;
        assert_eq!(run.outcome, RunOutcome::Succeeded);
        assert_eq!((run.counters.total, run.counters.processed, run.counters.failed), (3, 3, 0));
        assert!(run.started_at.is_some() && run.completed_at >= run.started_at);
    }
    assert!(operation.most_at_once() <= 2, "never more than 2 runs of a tenant at once");
    engine.shutdown().await;
    db.drop_database().await;
}

/// Issue 17 §2: workers are tasks, so one process runs many (network-bound) runs at once: as
/// many as it has lanes (`workers`), across tenants, never more.
async fn a_process_runs_as_many_runs_at_once_as_it_has_lanes(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let (workspace, tenant) = tenant(&db, &format!("t{n}")).await;
        let run = items(workspace, tenant, "x", json!({ "items": 1, "sleepMs": 1000 }));
        ids.push(engine::start(&db.store, &run).await.unwrap().id());
    }
    let operation = Items::new(false);
    let settings = EngineSettings { workers: 24, ..fast() };
    let engine =
        EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation.clone()]), settings, "t");
    for id in ids {
        let run = wait_for(&db.store, id, Duration::from_secs(30), completed).await;
        assert_eq!(run.outcome, RunOutcome::Succeeded);
    }
    let most = operation.most_at_once_overall();
    assert!((12..=24).contains(&most), "{most} runs at once with 24 lanes");
    engine.shutdown().await;
    db.drop_database().await;
}

async fn a_start_wakes_an_idle_worker_at_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let settings = EngineSettings { idle_poll: Duration::from_secs(3600), ..fast() };
    let engine =
        EngineHandle::spawn(db.store.clone(), Operations::new(vec![Items::new(false)]), settings, "t");
    // Let the workers go idle first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id =
        engine::start(&db.store, &items(workspace, tenant, "x", json!({ "items": 1 }))).await.unwrap().id();
    // Without the handover the worker would sleep for an hour.
    let run = wait_for(&db.store, id, Duration::from_secs(10), completed).await;
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    // Issue 17 §7: claimed for the idle lane in the start's own transaction.
    assert_eq!(run.started_at, Some(run.created_at));
    engine.shutdown().await;
    db.drop_database().await;
}

/// Starts made while lanes wait are handed to them, but never past a tenant's limit: the
/// rest wait in the queue and run as slots free up.
async fn starts_handed_to_idle_lanes_keep_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let operation = Items::new(false);
    // Lanes that only wake for a change (or a lane freed), so the first start finds them waiting.
    let settings =
        EngineSettings { workers: 8, per_tenant_limit: 2, idle_poll: Duration::from_secs(3600), ..fast() };
    let engine =
        EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation.clone()]), settings, "t");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let run = items(workspace, tenant, &n.to_string(), json!({ "items": 2, "sleepMs": 50 }));
        ids.push(engine::start(&db.store, &run).await.unwrap().id());
    }
    let mut handed = 0;
    for id in ids {
        let run = wait_for(&db.store, id, Duration::from_secs(20), completed).await;
        assert_eq!(run.outcome, RunOutcome::Succeeded);
        handed += usize::from(run.started_at == Some(run.created_at));
    }
    assert!(operation.most_at_once() <= 2, "never more than 2 runs of a tenant at once");
    assert!((1..=2).contains(&handed), "{handed} runs handed over; the rest waited for a slot");
    engine.shutdown().await;
    db.drop_database().await;
}

async fn item_failures_make_a_partial_outcome(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let partial =
        engine::start(&db.store, &items(workspace, tenant, "p", json!({ "items": 6, "failEvery": 3 })))
            .await
            .unwrap()
            .id();
    let all = engine::start(&db.store, &items(workspace, tenant, "f", json!({ "items": 2, "failEvery": 1 })))
        .await
        .unwrap()
        .id();
    let engine = EngineHandle::spawn(db.store.clone(), Operations::new(vec![Items::new(false)]), fast(), "t");
    let run = wait_for(&db.store, partial, Duration::from_secs(10), completed).await;
    assert_eq!(run.outcome, RunOutcome::PartiallySucceeded);
    assert_eq!((run.counters.total, run.counters.processed, run.counters.failed), (6, 6, 2));
    let messages: Vec<&str> = run.failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(messages, ["item 3 failed", "item 6 failed"]);
    let run = wait_for(&db.store, all, Duration::from_secs(10), completed).await;
    assert_eq!(run.outcome, RunOutcome::Failed);
    engine.shutdown().await;
    db.drop_database().await;
}

async fn cancelling_a_running_run_stops_it_at_the_next_item(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let id =
        engine::start(&db.store, &items(workspace, tenant, "x", json!({ "items": 1000, "sleepMs": 10 })))
            .await
            .unwrap()
            .id();
    let engine = EngineHandle::spawn(db.store.clone(), Operations::new(vec![Items::new(false)]), fast(), "t");
    let running = wait_for(&db.store, id, Duration::from_secs(10), |run| run.counters.processed > 3).await;
    let actor = Initiator::User { id: UserId(2), name: "Bob".into() };
    engine::cancel(&db.store, &actor, &running).await.unwrap();
    let run = wait_for(&db.store, id, Duration::from_secs(10), completed).await;
    assert_eq!(run.outcome, RunOutcome::Cancelled);
    assert!(run.counters.processed < 1000, "stopped early: {:?}", run.counters);
    let again = engine::cancel(&db.store, &actor, &run).await.unwrap_err();
    assert_eq!(again.status(), 409, "a completed run cannot be cancelled");
    engine.shutdown().await;
    db.drop_database().await;
}

/// Starts an engine, lets it claim a long run, and kills it: its tasks are dropped mid-run,
/// as when the process dies, so the run stops getting heartbeats.
async fn kill_mid_run(db: &TestDatabase, operation: Arc<Items>) -> RunId {
    let (workspace, tenant) = tenant(db, "a").await;
    let long = items(workspace, tenant, "x", json!({ "items": 10000, "sleepMs": 10 }));
    let id = engine::start(&db.store, &long).await.unwrap().id();
    let doomed = EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation]), fast(), "doomed");
    wait_for(&db.store, id, Duration::from_secs(10), |run| run.counters.processed > 0).await;
    drop(doomed);
    id
}

async fn a_killed_workers_run_fails_as_stale(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let operation = Items::new(false);
    let id = kill_mid_run(&db, operation.clone()).await;
    let survivor =
        EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation]), fast(), "survivor");
    let run = wait_for(&db.store, id, Duration::from_secs(10), completed).await;
    assert_eq!(run.outcome, RunOutcome::Failed);
    assert_eq!(run.failures.last().map(|f| f.reason_code.as_str()), Some("ops.stale"));
    survivor.shutdown().await;
    db.drop_database().await;
}

async fn a_killed_workers_retry_safe_run_runs_again(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let operation = Items::new(true);
    let id = kill_mid_run(&db, operation.clone()).await;
    let survivor =
        EngineHandle::spawn(db.store.clone(), Operations::new(vec![operation]), fast(), "survivor");
    let run = wait_for(&db.store, id, Duration::from_secs(10), |run| run.attempt == 2).await;
    assert!(run.status.is_active(), "back in the queue or running again: {run:?}");
    let actor = Initiator::System;
    engine::cancel(&db.store, &actor, &run).await.unwrap();
    let run = wait_for(&db.store, id, Duration::from_secs(10), completed).await;
    assert_eq!((run.outcome, run.attempt), (RunOutcome::Cancelled, 2));
    survivor.shutdown().await;
    db.drop_database().await;
}

async fn shutdown_releases_runs_to_the_queue(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let long =
        engine::start(&db.store, &items(workspace, tenant, "x", json!({ "items": 10000, "sleepMs": 10 })))
            .await
            .unwrap()
            .id();
    let short =
        engine::start(&db.store, &items(workspace, tenant, "y", json!({ "items": 1, "sleepMs": 50 })))
            .await
            .unwrap()
            .id();
    let engine = EngineHandle::spawn(db.store.clone(), Operations::new(vec![Items::new(false)]), fast(), "t");
    wait_for(&db.store, long, Duration::from_secs(10), |run| run.counters.processed > 0).await;
    engine.shutdown().await;
    let finished = db.store.operation_run(short).await.unwrap().unwrap();
    assert_eq!(
        finished.outcome,
        RunOutcome::Succeeded,
        "in-flight runs that finish in the grace period complete"
    );
    let released = db.store.operation_run(long).await.unwrap().unwrap();
    assert_eq!((released.status, released.attempt), (RunStatus::Queued, 1), "{released:?}");
    assert!(released.counters.processed > 0, "its progress so far is kept");
    db.drop_database().await;
}

async fn starts_reuses_and_cancels_are_audited(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, tenant) = tenant(&db, "a").await;
    let run = items(workspace, tenant, "x", json!({}));
    let first = engine::start(&db.store, &run).await.unwrap();
    let second = engine::start(&db.store, &run).await.unwrap();
    assert_eq!(second, Started::Reused(first.id()));
    let queued = db.store.operation_run(first.id()).await.unwrap().unwrap();
    engine::cancel(&db.store, &Initiator::User { id: UserId(2), name: "Bob".into() }, &queued).await.unwrap();
    let entries = db.store.tenant_audit(tenant, 10).await.unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .filter(|entry| entry.kind == "operation")
        .map(|entry| {
            (entry.kind.as_str(), entry.action.as_str(), entry.target_id.as_deref().unwrap_or_default())
        })
        .collect();
    let id = first.id().to_string();
    assert_eq!(
        actions,
        [
            ("operation", "cancel", id.as_str()),
            ("operation", "reuse", id.as_str()),
            ("operation", "start", id.as_str())
        ]
    );
    assert_eq!(entries[0].actor, Initiator::User { id: UserId(2), name: "Bob".into() });
    assert_eq!(entries[2].details["type"], "backup_set.capture");
    db.drop_database().await;
}
