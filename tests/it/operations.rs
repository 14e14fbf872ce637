//! Operation runs in the store, on SQLite and PostgreSQL.

use chrono::{Duration, Utc};
use serde_json::json;
use std::collections::HashSet;
use tenantpilot_core::audit::AuditEntry;
use tenantpilot_core::ids::{PipelineId, RunId, TenantId, UserId, WorkspaceId};
use tenantpilot_core::model::AccountKind;
use tenantpilot_core::operations::{
    Counters, Failure, Initiator, OperationKind, RunOutcome, RunStatus, RunTarget,
};
use tenantpilot_core::store::{
    Backend, Completion, Db, Handed, NewRun, Reconciled, RunChange, RunQuery, RunScope, Started, CLAIM_LOCK,
};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;

tenantpilot_core::test_on_both_backends!(
    start_reuses_the_active_run,
    concurrent_identical_starts_make_one_run,
    concurrent_starts_share_commits_each_with_its_own_audit_entry,
    claims_are_oldest_first_within_the_tenant_limit,
    one_claim_takes_many_runs_within_each_tenants_limit,
    a_claim_first_saves_how_its_lanes_runs_ended,
    runs_held_ahead_keep_the_tenant_limit_and_come_from_the_oldest,
    a_start_hands_its_run_to_an_offered_lane_within_the_tenant_limit,
    handovers_racing_claims_keep_the_tenant_limit,
    racing_starts_for_idle_lanes_make_one_run_each_and_record_every_start,
    cancel_and_heartbeat,
    stale_runs_fail_and_keep_their_failures,
    stale_runs_that_may_retry_go_back_to_the_queue,
    released_runs_are_claimed_again,
    concurrent_claims_take_each_run_once,
    concurrent_claims_keep_the_tenant_limit,
    pipeline_runs_leave_a_worker_for_the_runs_they_wait_for,
    pipelines_are_fair_across_workspaces_and_bounded_in_time,
    every_change_is_published,
    completed_runs_are_pruned_after_retention,
    monitoring_lists_only_entitled_runs_with_filters_and_cursor,
    the_demo_week_fills_the_chart_of_runs_over_time,
);

async fn tenant(db: &TestDatabase, slug: &str) -> (WorkspaceId, TenantId) {
    let new = NewTenant { workspace_slug: "w", slug, name: "T", external_tenant_id: None };
    let (tenant, _) = tenancy::create_tenant(&db.store, &Initiator::System, new).await.unwrap();
    (tenant.workspace_id, tenant.id)
}

fn fetch(workspace_id: WorkspaceId, tenant_id: TenantId, item: &str) -> NewRun {
    NewRun {
        workspace_id,
        tenant_id: Some(tenant_id),
        kind: OperationKind::Fetch,
        target: Some(RunTarget { kind: "backup_item".into(), id: item.into() }),
        context: json!({ "backupItemId": item }).as_object().unwrap().clone(),
        initiator: Initiator::User { id: UserId(7), name: "Ann".into() },
        retry_of: None,
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
    assert_eq!(run.initiator, Initiator::User { id: UserId(7), name: "Ann".into() });
    assert_eq!((run.counters.total, run.attempt, run.failures.len()), (0, 1, 0));

    // Once it completes, a start makes a new run.
    assert!(db.store.complete_run(id, RunOutcome::Succeeded, Counters::default()).await.unwrap());
    assert!(
        !db.store.complete_run(id, RunOutcome::Failed, Counters::default()).await.unwrap(),
        "completes once"
    );
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
    let ids: HashSet<RunId> = results.iter().map(|started| started.id()).collect();
    assert_eq!(ids.len(), 1, "one run for 200 identical starts");
    assert_eq!(results.iter().filter(|started| matches!(started, Started::Created(_))).count(), 1);
    db.drop_database().await;
}

/// Issue 17 §4: concurrent starts are written by the group commit, many to a transaction, yet
/// each created run commits with the audit entry that names it, and each reuse with its own.
async fn concurrent_starts_share_commits_each_with_its_own_audit_entry(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    // 100 distinct targets, each started twice at once: 100 runs made, 100 reused.
    let created = start_each_at_once(&db, workspace, t1, 100, 2).await;
    assert_eq!(created.len(), 100);
    let entries = db.store.tenant_audit(t1, 1000).await.unwrap();
    assert_starts_recorded(&entries, &created, 100);
    for id in created {
        let run = db.store.operation_run(id).await.unwrap().unwrap();
        let item = run.target.unwrap().id;
        let named = entries
            .iter()
            .find(|entry| entry.action == "start" && entry.target_id == Some(id.to_string()))
            .unwrap();
        assert_eq!(named.details["target"]["id"], item.as_str(), "run {id}'s entry is about its target");
    }
    db.drop_database().await;
}

async fn join_all<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await.unwrap());
    }
    results
}

async fn start(db: &TestDatabase, workspace: WorkspaceId, tenant: TenantId, item: &str) -> RunId {
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
    let claim = || async { db.store.claim_run("w1", 2, 1, 2).await.unwrap().map(|run| run.id) };
    assert_eq!(claim().await, Some(a));
    assert_eq!(claim().await, Some(b));
    assert_eq!(claim().await, Some(d), "t1 is at its limit of 2; t2 goes ahead");
    assert_eq!(claim().await, None);
    assert!(db.store.complete_run(a, RunOutcome::Succeeded, Counters::default()).await.unwrap());
    let run = db.store.claim_run("w2", 2, 1, 2).await.unwrap().unwrap();
    assert_eq!((run.id, run.status), (c, RunStatus::Running));
    assert!(run.started_at.is_some() && run.heartbeat_at.is_some());
    db.drop_database().await;
}

/// The lanes free at one moment claim together: the oldest runs, as many as asked, each
/// tenant within its limit, oldest first; a pipeline run among them is claimed as a claim of
/// one would, with its own limits.
async fn one_claim_takes_many_runs_within_each_tenants_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (_, t2) = tenant(&db, "t2").await;
    let mut first = Vec::new();
    for item in ["a", "b", "c", "d", "e"] {
        first.push(start(&db, workspace, t1, item).await);
    }
    let f = start(&db, workspace, t2, "f").await;
    let g = start(&db, workspace, t2, "g").await;
    start(&db, workspace, t2, "h").await;
    let ids = |runs: Vec<tenantpilot_core::operations::OperationRun>| {
        runs.iter().map(|run| run.id).collect::<Vec<_>>()
    };
    let claimed = db.store.claim_runs("p1", 10, 2, 1, 2).await.unwrap();
    assert!(claimed.iter().all(|run| run.status == RunStatus::Running && run.started_at.is_some()));
    assert_eq!(ids(claimed), [first[0], first[1], f, g], "two a tenant, oldest first");
    assert!(db.store.claim_runs("p1", 10, 2, 1, 2).await.unwrap().is_empty(), "both tenants at their limit");
    db.store.complete_run(first[0], RunOutcome::Succeeded, Counters::default()).await.unwrap();
    assert_eq!(ids(db.store.claim_runs("p1", 10, 2, 1, 2).await.unwrap()), [first[2]]);

    // A pipeline run in front: claimed first, and the runs behind it still within their limits.
    let (other, t3) = tenant(&db, "t3").await;
    let pipeline = NewRun {
        workspace_id: other,
        tenant_id: None,
        kind: OperationKind::Pipeline,
        target: Some(RunTarget { kind: "pipeline".into(), id: "1".into() }),
        context: serde_json::Map::new(),
        initiator: Initiator::System,
        retry_of: None,
    };
    let pipeline = db.store.start_run(&pipeline).await.unwrap().id();
    let x = start(&db, other, t3, "x").await;
    let y = start(&db, other, t3, "y").await;
    start(&db, other, t3, "z").await;
    assert_eq!(ids(db.store.claim_runs("p2", 10, 2, 1, 2).await.unwrap()), [pipeline, x, y]);
    db.drop_database().await;
}

/// Issue 17 §7: a worker's end of one run and its claim of the next share a transaction: the
/// runs are completed first, so the slots they held in their tenant's limit go to the claim.
async fn a_claim_first_saves_how_its_lanes_runs_ended(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (a, b, c) = (
        start(&db, workspace, t1, "a").await,
        start(&db, workspace, t1, "b").await,
        start(&db, workspace, t1, "c").await,
    );
    let claimed: Vec<RunId> =
        db.store.claim_runs("p", 10, 2, 1, 2).await.unwrap().iter().map(|run| run.id).collect();
    assert_eq!(claimed, [a, b]);
    let mut changes = db.store.events().subscribe();
    let finished = [
        Completion {
            id: a,
            outcome: RunOutcome::PartiallySucceeded,
            counters: Counters { total: 3, processed: 3, failed: 1 },
        },
        Completion {
            id: b,
            outcome: RunOutcome::Cancelled,
            counters: Counters { total: 5, processed: 2, failed: 0 },
        },
    ];
    let next = db.store.complete_and_claim(&finished, "p", 10, 0, 2, 1, 2).await.unwrap();
    assert_eq!(
        next.iter().map(|run| run.id).collect::<Vec<_>>(),
        [c],
        "both of t1's slots were free for the claim"
    );
    for (id, outcome, counters) in
        [(a, RunOutcome::PartiallySucceeded, (3, 3, 1)), (b, RunOutcome::Cancelled, (5, 2, 0))]
    {
        let run = db.store.operation_run(id).await.unwrap().unwrap();
        assert_eq!((run.status, run.outcome), (RunStatus::Completed, outcome));
        assert_eq!((run.counters.total, run.counters.processed, run.counters.failed), counters);
        assert!(run.completed_at.is_some());
        let change = changes.recv().await.unwrap();
        assert_eq!((change.run_id, change.status), (id, RunStatus::Completed), "each ending is published");
    }
    // An ending saved twice (or of a run already completed elsewhere) changes nothing.
    let before = db.store.operation_run(a).await.unwrap().unwrap();
    let again = [Completion { id: a, outcome: RunOutcome::Failed, counters: Counters::default() }];
    assert!(db.store.complete_and_claim(&again, "p", 0, 0, 2, 1, 2).await.unwrap().is_empty());
    let after = db.store.operation_run(a).await.unwrap().unwrap();
    assert_eq!((after.outcome, after.completed_at), (before.outcome, before.completed_at));
    db.drop_database().await;
}

/// Issue 17 §7: a claim may take runs for its process to hold ahead of its lanes. They are
/// running (claimed) from then on, so they count in their tenant's limit, and they come from the
/// oldest runs only: a claim for no free lane never looks further back.
async fn runs_held_ahead_keep_the_tenant_limit_and_come_from_the_oldest(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (_, t2) = tenant(&db, "t2").await;
    let a = start(&db, workspace, t1, "a").await;
    let b = start(&db, workspace, t1, "b").await;
    let _held_back = start(&db, workspace, t1, "c").await;
    let d = start(&db, workspace, t2, "d").await;
    let ids = |runs: Vec<tenantpilot_core::operations::OperationRun>| {
        runs.iter().map(|run| run.id).collect::<Vec<_>>()
    };
    let claimed = db.store.complete_and_claim(&[], "p", 1, 5, 2, 1, 2).await.unwrap();
    assert_eq!(ids(claimed), [a, b, d], "one for the lane, two held ahead; t1 at its limit of 2");
    for id in [a, b, d] {
        let run = db.store.operation_run(id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Running);
    }
    let e = start(&db, workspace, t2, "e").await;
    assert_eq!(ids(db.store.complete_and_claim(&[], "p", 0, 1, 2, 1, 2).await.unwrap()), [e]);
    db.drop_database().await;
}

/// Issue 17 §7: while an engine's lanes wait for work, a start that makes a run claims it for
/// one of them in its own transaction (started as it is created) and hands it over; a run
/// whose tenant is at its limit stays queued and the lane comes back unused.
async fn a_start_hands_its_run_to_an_offered_lane_within_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (deliver, mut handed) = tokio::sync::mpsc::unbounded_channel();
    db.store.offer_idle_lanes("p", 1, 1, deliver.clone());
    let a = start(&db, workspace, t1, "a").await;
    let Ok(Handed::Run(run)) = handed.try_recv() else { panic!("run {a} was not handed over") };
    assert_eq!((run.id, run.status), (a, RunStatus::Running));
    assert_eq!(run.started_at, Some(run.created_at), "claimed as it was made");
    // The one lane offered is taken: the next run waits in the queue.
    let b = start(&db, workspace, t1, "b").await;
    assert!(handed.try_recv().is_err());
    assert_eq!(db.store.operation_run(b).await.unwrap().unwrap().status, RunStatus::Queued);
    assert_eq!(db.store.withdraw_idle_lanes("p"), 1, "the lane taken is accounted for");
    // t1 already runs its limit of one: the start leaves its run queued and the lane unused.
    db.store.offer_idle_lanes("p", 1, 2, deliver);
    let c = start(&db, workspace, t1, "c").await;
    assert!(matches!(handed.try_recv(), Ok(Handed::Unused)));
    let run = db.store.operation_run(c).await.unwrap().unwrap();
    assert_eq!((run.status, run.started_at), (RunStatus::Queued, None));
    // A reuse makes no run. On PostgreSQL, where a start with a lane waiting reads and makes
    // its run in one statement, it took a lane and gives it back unused.
    assert_eq!(db.store.start_run(&fetch(workspace, t1, "c")).await.unwrap(), Started::Reused(c));
    let lanes_taken = match backend {
        Backend::Sqlite => {
            assert!(handed.try_recv().is_err(), "a reuse takes no lane");
            1
        }
        Backend::Postgres => {
            assert!(matches!(handed.try_recv(), Ok(Handed::Unused)));
            2
        }
    };
    assert_eq!(db.store.withdraw_idle_lanes("p"), lanes_taken);
    db.drop_database().await;
}

/// Issue 17 §7: starts racing to make the same runs while lanes wait (on PostgreSQL each reads,
/// claims and inserts in one statement) make one run per identity, each claimed for a lane it
/// was handed to or left queued, and each start is recorded, made or reused; every lane a start
/// took comes back, with its run or unused.
async fn racing_starts_for_idle_lanes_make_one_run_each_and_record_every_start(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (deliver, mut handed) = tokio::sync::mpsc::unbounded_channel();
    db.store.offer_idle_lanes("p", 100, 64, deliver);
    let created = start_each_at_once(&db, workspace, t1, 50, 4).await;
    assert_eq!(created.len(), 50, "one run per target");
    let taken = db.store.withdraw_idle_lanes("p");
    let mut handed_runs = HashSet::new();
    for _ in 0..taken {
        match handed.try_recv() {
            Ok(Handed::Run(run)) => {
                assert_eq!((run.status, run.started_at), (RunStatus::Running, Some(run.created_at)));
                assert!(created.contains(&run.id), "run {} was handed over but not made", run.id);
                handed_runs.insert(run.id);
            }
            Ok(Handed::Unused) => {}
            Err(error) => panic!("a lane taken did not come back: {error}"),
        }
    }
    assert!(!handed_runs.is_empty(), "runs made while lanes wait are handed over");
    for &id in &created {
        let run = db.store.operation_run(id).await.unwrap().unwrap();
        let expected = if handed_runs.contains(&id) { RunStatus::Running } else { RunStatus::Queued };
        assert_eq!(run.status, expected, "run {id}");
    }
    assert_starts_recorded(&db.store.tenant_audit(t1, 1000).await.unwrap(), &created, 150);
    db.drop_database().await;
}

/// `copies` concurrent `engine::start`s of each of `targets` targets of `tenant`; the runs made.
/// Each start made a run or reused one.
async fn start_each_at_once(
    db: &TestDatabase,
    workspace: WorkspaceId,
    tenant: TenantId,
    targets: usize,
    copies: usize,
) -> HashSet<RunId> {
    let starts = (0..targets * copies).map(|n| {
        let store = db.store.clone();
        let new = fetch(workspace, tenant, &(n % targets).to_string());
        tokio::spawn(async move { tenantpilot_core::engine::start(&store, &new).await.unwrap() })
    });
    let results: Vec<Started> = join_all(starts).await;
    let created: HashSet<RunId> =
        results.iter().filter(|s| matches!(s, Started::Created(_))).map(|s| s.id()).collect();
    let reused = results.iter().filter(|s| matches!(s, Started::Reused(_))).count();
    assert_eq!(created.len() + reused, targets * copies);
    created
}

/// Each run in `created` has one start entry naming it, and `reused` reuse entries name runs
/// made.
fn assert_starts_recorded(entries: &[AuditEntry], created: &HashSet<RunId>, reused: usize) {
    let of = |action: &str| -> Vec<RunId> {
        entries
            .iter()
            .filter(|entry| entry.kind == "operation" && entry.action == action)
            .map(|entry| RunId(entry.target_id.as_deref().unwrap().parse().unwrap()))
            .collect()
    };
    let started = of("start");
    assert_eq!(started.len(), created.len(), "one start entry per run made");
    assert_eq!(&started.into_iter().collect::<HashSet<_>>(), created, "each names its own run");
    let reuses = of("reuse");
    assert_eq!(reuses.len(), reused, "each reuse is recorded");
    assert!(reuses.iter().all(|id| created.contains(id)), "a reuse names the run it found");
}

/// Issue 17 §7: starts that claim their new runs for idle lanes, racing claims of the runs
/// already queued, keep the tenant's limit. On PostgreSQL such a start takes the claims' turn
/// before the statement that counts the tenant's running runs, whose snapshot must see every
/// claim committed before it: a statement's snapshot is taken as it starts, before any lock it
/// would take (https://www.postgresql.org/docs/15/transaction-iso.html#XACT-READ-COMMITTED).
async fn handovers_racing_claims_keep_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    for round in 0..5 {
        for item in 0..4 {
            start(&db, workspace, t1, &format!("queued-{round}-{item}")).await;
        }
        // Kept open: a handover the engine no longer takes would put its run back in the queue.
        let (deliver, _handed) = tokio::sync::mpsc::unbounded_channel();
        db.store.offer_idle_lanes("p", 1, 64, deliver);
        let claims = (0..4).map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move { store.complete_and_claim(&[], "c", 1, 0, 1, 1, 2).await.unwrap() })
        });
        let starts = (0..8).map(|item| {
            let (store, new) = (db.store.clone(), fetch(workspace, t1, &format!("new-{round}-{item}")));
            tokio::spawn(async move { store.start_run(&new).await.unwrap() })
        });
        tokio::join!(join_all(claims), join_all(starts));
        db.store.withdraw_idle_lanes("p");
        let running = RunQuery {
            status: Some(RunStatus::Running),
            tenant_id: Some(t1),
            ..RunQuery::new(RunScope::All, 100)
        };
        let running = db.store.list_runs(&running).await.unwrap();
        assert_eq!(running.len(), 1, "round {round}: one of t1's runs at a time, claimed or handed over");
        let done =
            Completion { id: running[0].id, outcome: RunOutcome::Succeeded, counters: Counters::default() };
        db.store.complete_and_claim(&[done], "c", 0, 0, 1, 1, 2).await.unwrap();
    }
    db.drop_database().await;
}

/// Issue 17 §7: on PostgreSQL a start for an idle lane makes its run in one statement, whose
/// snapshot is taken as it starts; it counts its tenant's running runs once it has the claims'
/// turn, in a query of a VOLATILE PL/pgSQL function, which takes a fresh snapshot
/// (https://www.postgresql.org/docs/15/xfunc-volatility.html). So a claim that commits while
/// the start waits for its turn counts.
#[tokio::test]
async fn a_handover_counts_the_claims_committed_while_it_waited_for_their_turn() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let queued = start(&db, workspace, t1, "queued").await;
    let Db::Postgres(pool) = db.store.db() else { unreachable!("a PostgreSQL test database") };
    // A claim in flight: it has the claims' turn and took t1's one slot, not yet committed.
    let mut claim = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CLAIM_LOCK).execute(&mut *claim).await.unwrap();
    sqlx::query(
        "UPDATE operation_runs SET status = 'running', started_at = $2, claimed_by = 'c' WHERE id = $1",
    )
    .bind(queued)
    .bind(Utc::now())
    .execute(&mut *claim)
    .await
    .unwrap();
    let (deliver, mut handed) = tokio::sync::mpsc::unbounded_channel();
    db.store.offer_idle_lanes("p", 1, 1, deliver);
    let (store, new) = (db.store.clone(), fetch(workspace, t1, "new"));
    let starting = tokio::spawn(async move { store.start_run(&new).await.unwrap() });
    // The start's statement waits for the claims' turn (its snapshot taken by then).
    let waits = "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND NOT l.granted \
                 AND a.query LIKE '%running_runs_in_claims_turn%' AND a.query NOT LIKE '%pg_locks%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sqlx::query_scalar::<_, i64>(waits).fetch_one(pool).await.unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "the start never waited for the claims' turn");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    claim.commit().await.unwrap();
    let made = starting.await.unwrap().id();
    assert!(matches!(handed.recv().await, Some(Handed::Unused)), "t1 is at its limit: the lane comes back");
    let run = db.store.operation_run(made).await.unwrap().unwrap();
    assert_eq!(
        (run.status, run.started_at),
        (RunStatus::Queued, None),
        "the claim committed meanwhile counts"
    );
    db.drop_database().await;
}

/// Issue 17 §4: on SQLite, what the group commit writes reaches the database file within
/// about a second, copied by the checkpointer beside the writer. SQLite would otherwise leave
/// it in the write-ahead log until the store's automatic checkpoint at 10,000 pages, in a
/// writer's commit (https://www.sqlite.org/wal.html#automatic_checkpoint).
#[tokio::test]
async fn sqlite_write_ahead_log_is_checkpointed_beside_the_writer() {
    tenantpilot_core::testing::within_deadline("sqlite_wal_checkpoint", async {
        let db = TestDatabase::new(Backend::Sqlite).await;
        let (workspace, t1) = tenant(&db, "t1").await;
        let file = db.sqlite_file().expect("a SQLite file").to_path_buf();
        let size = || std::fs::metadata(&file).expect("the database file").len();
        let before = size();
        for item in 0..300 {
            start(&db, workspace, t1, &format!("run-{item}")).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while size() <= before {
            assert!(std::time::Instant::now() < deadline, "the runs stayed in the write-ahead log");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        db.drop_database().await;
    })
    .await;
}

async fn cancel_and_heartbeat(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let running = start(&db, workspace, t1, "a").await;
    assert_eq!(db.store.claim_run("w", 2, 1, 2).await.unwrap().unwrap().id, running);
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
    assert!(db.store.complete_run(running, RunOutcome::Cancelled, progress).await.unwrap());
    assert!(!db.store.cancel_run(running).await.unwrap(), "nothing to cancel once completed");
    db.drop_database().await;
}

/// A pipeline run waits for the runs its steps start: with `pipeline_limit` of them running,
/// a claim passes over further pipeline runs and takes other work.
async fn pipeline_runs_leave_a_worker_for_the_runs_they_wait_for(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let pipeline = |n: &str| NewRun {
        workspace_id: workspace,
        tenant_id: None,
        kind: OperationKind::Pipeline,
        target: Some(RunTarget { kind: "pipeline".into(), id: n.into() }),
        context: serde_json::Map::new(),
        initiator: Initiator::System,
        retry_of: None,
    };
    let first = db.store.start_run(&pipeline("1")).await.unwrap().id();
    let second = db.store.start_run(&pipeline("2")).await.unwrap().id();
    let step = start(&db, workspace, t1, "a").await;
    assert_eq!(db.store.claim_run("w", 2, 1, 2).await.unwrap().unwrap().id, first);
    assert_eq!(
        db.store.claim_run("w", 2, 1, 2).await.unwrap().unwrap().id,
        step,
        "the second pipeline waits"
    );
    assert!(db.store.claim_run("w", 2, 1, 2).await.unwrap().is_none());
    assert_eq!(db.store.claim_run("w", 2, 2, 2).await.unwrap().unwrap().id, second);
    db.drop_database().await;
}

/// One workspace's pipelines cannot take every worker: past its own limit, a claim passes over
/// its pipeline runs and takes another workspace's. A pipeline run past its maximum duration is
/// asked to stop, and says why.
async fn pipelines_are_fair_across_workspaces_and_bounded_in_time(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (busy, _) = tenant(&db, "t1").await;
    let other_workspace = NewTenant { workspace_slug: "w2", slug: "t2", name: "T", external_tenant_id: None };
    let quiet =
        tenancy::create_tenant(&db.store, &Initiator::System, other_workspace).await.unwrap().0.workspace_id;
    assert_ne!(busy, quiet);
    let pipeline = |workspace: WorkspaceId, n: i64| NewRun {
        workspace_id: workspace,
        tenant_id: None,
        kind: OperationKind::Pipeline,
        target: Some(RunTarget::pipeline(PipelineId(n))),
        context: serde_json::Map::new(),
        initiator: Initiator::System,
        retry_of: None,
    };
    let mut flood = Vec::new();
    for n in 1..=3 {
        flood.push(db.store.start_run(&pipeline(busy, n)).await.unwrap().id());
    }
    let other = db.store.start_run(&pipeline(quiet, 9)).await.unwrap().id();
    let claim = || async { db.store.claim_run("w", 2, 10, 2).await.unwrap().map(|run| run.id) };
    assert_eq!(claim().await, Some(flood[0]));
    assert_eq!(claim().await, Some(flood[1]));
    assert_eq!(claim().await, Some(other), "the busy workspace's third waits; the other goes first");
    assert_eq!(claim().await, None);

    let failure = Failure {
        code: "ops.max_duration".into(),
        reason_code: "ops.max_duration".into(),
        message: "too long".into(),
        at: Utc::now(),
    };
    let none =
        db.store.cancel_overdue_runs(OperationKind::Pipeline, Utc::now() - Duration::hours(1), &failure);
    assert!(none.await.unwrap().is_empty(), "nothing has run that long");
    let mut overdue = db
        .store
        .cancel_overdue_runs(OperationKind::Pipeline, Utc::now() + Duration::seconds(1), &failure)
        .await
        .unwrap();
    overdue.sort();
    assert_eq!(overdue, [flood[0], flood[1], other]);
    assert!(db.store.heartbeat_run(other, Counters::default()).await.unwrap(), "the run hears the cancel");
    let run = db.store.operation_run(other).await.unwrap().unwrap();
    assert_eq!(run.failures.last().map(|f| f.code.as_str()), Some("ops.max_duration"));
    let again =
        db.store.cancel_overdue_runs(OperationKind::Pipeline, Utc::now() + Duration::seconds(1), &failure);
    assert!(again.await.unwrap().is_empty(), "asked once");
    db.drop_database().await;
}

async fn stale_runs_fail_and_keep_their_failures(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let id = start(&db, workspace, t1, "a").await;
    db.store.claim_run("w", 2, 1, 2).await.unwrap().unwrap();
    let earlier = Failure {
        code: "item".into(),
        reason_code: "throttled".into(),
        message: "429".into(),
        at: Utc::now(),
    };
    db.store.add_run_failure(id, &earlier).await.unwrap();
    // A heartbeat a minute old is not stale by a ten-minute rule.
    let never = |_: &_| false;
    assert!(db
        .store
        .reconcile_stale_runs(Utc::now() - Duration::minutes(10), never)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        db.store.reconcile_stale_runs(Utc::now() + Duration::seconds(1), never).await.unwrap(),
        [(id, Reconciled::Failed)]
    );
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
            while let Some(run) = store.claim_run(&format!("w{worker}"), 1000, 1, 2).await.unwrap() {
                claimed.push(run.id);
            }
            claimed
        })
    });
    let claimed: Vec<RunId> = join_all(workers).await.into_iter().flatten().collect();
    let unique: HashSet<RunId> = claimed.iter().copied().collect();
    assert_eq!((claimed.len(), unique.len()), (60, 60), "every run claimed exactly once");
    db.drop_database().await;
}

async fn stale_runs_that_may_retry_go_back_to_the_queue(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let id = start(&db, workspace, t1, "a").await;
    db.store.claim_run("w", 2, 1, 2).await.unwrap().unwrap();
    let first_attempt_only = |run: &tenantpilot_core::operations::OperationRun| run.attempt < 2;
    let later = Utc::now() + Duration::seconds(1);
    assert_eq!(
        db.store.reconcile_stale_runs(later, first_attempt_only).await.unwrap(),
        [(id, Reconciled::Requeued)]
    );
    let run = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!((run.status, run.attempt, run.heartbeat_at), (RunStatus::Queued, 2, None));
    // The identity is still taken by the requeued run.
    assert_eq!(db.store.start_run(&fetch(workspace, t1, "a")).await.unwrap(), Started::Reused(id));
    // Its second worker dies too: no third attempt.
    assert_eq!(db.store.claim_run("w2", 2, 1, 2).await.unwrap().unwrap().id, id);
    let later = Utc::now() + Duration::seconds(1);
    assert_eq!(
        db.store.reconcile_stale_runs(later, first_attempt_only).await.unwrap(),
        [(id, Reconciled::Failed)]
    );
    let run = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!((run.status, run.outcome, run.attempt), (RunStatus::Completed, RunOutcome::Failed, 2));
    db.drop_database().await;
}

async fn released_runs_are_claimed_again(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let id = start(&db, workspace, t1, "a").await;
    db.store.claim_run("leaving", 2, 1, 2).await.unwrap().unwrap();
    assert!(db.store.release_run(id).await.unwrap());
    assert!(!db.store.release_run(id).await.unwrap(), "only a running run is released");
    let run = db.store.claim_run("staying", 2, 1, 2).await.unwrap().unwrap();
    assert_eq!((run.id, run.attempt), (id, 1));
    db.drop_database().await;
}

async fn concurrent_claims_keep_the_tenant_limit(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    for item in 0..20 {
        start(&db, workspace, t1, &item.to_string()).await;
    }
    let claimers = (0..8).map(|worker| {
        let store = db.store.clone();
        tokio::spawn(async move { store.claim_run(&format!("w{worker}"), 2, 1, 2).await.unwrap().is_some() })
    });
    let claimed = join_all(claimers).await.into_iter().filter(|claimed| *claimed).count();
    assert_eq!(claimed, 2, "eight workers at once claim no more than the tenant's limit");
    db.drop_database().await;
}

async fn next_change(changes: &mut tokio::sync::broadcast::Receiver<RunChange>) -> RunChange {
    tokio::time::timeout(std::time::Duration::from_secs(5), changes.recv())
        .await
        .expect("a change within 5 s")
        .expect("no missed changes")
}

async fn every_change_is_published(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let mut changes = db.store.events().subscribe();
    let id = start(&db, workspace, t1, "a").await;
    // Each change carries the run's summary as stored.
    let summary = |run: tenantpilot_core::operations::OperationRun| RunChange::from(&run);
    let queued = next_change(&mut changes).await;
    assert_eq!(queued, summary(db.store.operation_run(id).await.unwrap().unwrap()));
    assert_eq!((queued.run_id, queued.tenant_id, queued.status), (id, Some(t1), RunStatus::Queued));
    // A reuse changes nothing, so it publishes nothing; the claim is next.
    start(&db, workspace, t1, "a").await;
    db.store.claim_run("w", 2, 1, 2).await.unwrap();
    let claimed = next_change(&mut changes).await;
    assert_eq!(claimed, summary(db.store.operation_run(id).await.unwrap().unwrap()));
    assert!(claimed.status == RunStatus::Running && claimed.started_at.is_some());
    let progress = Counters { total: 2, processed: 1, failed: 0 };
    db.store.heartbeat_run(id, progress).await.unwrap();
    assert_eq!(next_change(&mut changes).await.counters, progress);
    db.store.cancel_run(id).await.unwrap();
    assert_eq!(next_change(&mut changes).await.run_id, id);
    db.store.complete_run(id, RunOutcome::Cancelled, Counters::default()).await.unwrap();
    let done = next_change(&mut changes).await;
    assert_eq!((done.status, done.outcome), (RunStatus::Completed, RunOutcome::Cancelled));
    assert!(changes.try_recv().is_err(), "each change once, even on PostgreSQL where NOTIFY echoes");
    db.drop_database().await;
}

async fn completed_runs_are_pruned_after_retention(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let mut done = Vec::new();
    for item in 0..5 {
        let id = start(&db, workspace, t1, &item.to_string()).await;
        db.store.complete_run(id, RunOutcome::Succeeded, Counters::default()).await.unwrap();
        done.push(id);
    }
    let active = start(&db, workspace, t1, "active").await;
    assert_eq!(db.store.prune_completed_runs(Utc::now() - Duration::days(1), 100).await.unwrap(), 0);
    let cutoff = Utc::now() + Duration::seconds(1);
    assert_eq!(db.store.prune_completed_runs(cutoff, 3).await.unwrap(), 3, "one batch at a time");
    assert_eq!(db.store.prune_completed_runs(cutoff, 3).await.unwrap(), 2);
    for id in done {
        assert!(db.store.operation_run(id).await.unwrap().is_none());
    }
    assert!(db.store.operation_run(active).await.unwrap().is_some(), "active runs are never pruned");
    db.drop_database().await;
}

async fn monitoring_lists_only_entitled_runs_with_filters_and_cursor(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let (workspace, t1) = tenant(&db, "t1").await;
    let (_, t2) = tenant(&db, "t2").await;
    let member = db.store.create_user("m@x.test", "M", "hash", AccountKind::Member).await.unwrap();
    db.store.set_membership(t1, member.id, tenantpilot_core::Role::Readonly).await.unwrap();
    let mut mine = Vec::new();
    for item in 0..5 {
        mine.push(start(&db, workspace, t1, &item.to_string()).await);
    }
    let theirs = start(&db, workspace, t2, "x").await;
    db.store.complete_run(mine[1], RunOutcome::Failed, Counters::default()).await.unwrap();
    let workspace_level = db
        .store
        .start_run(&NewRun { tenant_id: None, target: None, ..fetch(workspace, t1, "w") })
        .await
        .unwrap()
        .id();
    let ids =
        |runs: Vec<tenantpilot_core::operations::OperationRun>| runs.iter().map(|r| r.id).collect::<Vec<_>>();

    let everything = ids(db.store.list_runs(&RunQuery::new(RunScope::All, 100)).await.unwrap());
    assert_eq!(everything.len(), 7);
    assert!(everything.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {everything:?}");

    let scope = RunScope::MemberOf { user_id: member.id, pipelines: Vec::new() };
    let visible = ids(db.store.list_runs(&RunQuery::new(scope.clone(), 100)).await.unwrap());
    assert!(!visible.contains(&theirs), "another tenant's run is not listed");
    assert!(visible.contains(&workspace_level), "workspace runs of the member's workspace are");
    assert_eq!(visible.len(), 6);

    let page1 = ids(db.store.list_runs(&RunQuery::new(scope.clone(), 4)).await.unwrap());
    let page2 = ids(db
        .store
        .list_runs(&RunQuery { before_id: page1.last().copied(), ..RunQuery::new(scope.clone(), 4) })
        .await
        .unwrap());
    assert_eq!((page1.len(), page2.len()), (4, 2));
    assert_eq!([page1, page2].concat(), visible, "pages join up without gaps or repeats");

    let failed = RunQuery { outcome: Some(RunOutcome::Failed), ..RunQuery::new(scope.clone(), 100) };
    assert_eq!(ids(db.store.list_runs(&failed).await.unwrap()), [mine[1]]);
    let queued_in_t1 = RunQuery {
        status: Some(RunStatus::Queued),
        tenant_id: Some(t1),
        ..RunQuery::new(scope.clone(), 100)
    };
    assert_eq!(ids(db.store.list_runs(&queued_in_t1).await.unwrap()).len(), 4);
    let in_t2 = RunQuery { tenant_id: Some(t2), ..RunQuery::new(scope.clone(), 100) };
    assert!(
        db.store.list_runs(&in_t2).await.unwrap().is_empty(),
        "filtering to a foreign tenant shows nothing"
    );
    let future =
        RunQuery { since: Some(Utc::now() + Duration::hours(1)), ..RunQuery::new(RunScope::All, 100) };
    assert!(db.store.list_runs(&future).await.unwrap().is_empty());
    let until_now = RunQuery {
        until: Some(Utc::now() + Duration::seconds(1)),
        kinds: Some(vec![OperationKind::Fetch]),
        ..RunQuery::new(RunScope::All, 100)
    };
    assert_eq!(db.store.list_runs(&until_now).await.unwrap().len(), 7);

    let their_run = db.store.operation_run(theirs).await.unwrap().unwrap();
    let my_run = db.store.operation_run(mine[0]).await.unwrap().unwrap();
    assert!(!db.store.member_sees_run(member.id, &their_run).await.unwrap());
    assert!(db.store.member_sees_run(member.id, &my_run).await.unwrap());
    db.drop_database().await;
}

/// Issue 16 §4: the demo workspace comes with a week of history, and Monitoring's chart shows
/// runs over time stacked by outcome: a bar per hour for 24 hours, per day of the viewer's zone
/// for 30 days.
async fn the_demo_week_fills_the_chart_of_runs_over_time(backend: Backend) {
    use tenantpilot_core::clock;
    use tenantpilot_core::operations::{self, ChartSpan, ListParams};
    use tenantpilot_core::seed;
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    seed::demo(store).await.unwrap();
    let now = Utc::now();
    seed::demo_history(store, now).await.unwrap();
    seed::demo_history(store, now).await.unwrap(); // once only
    let admin = store.user_by_email("admin@demo.test").await.unwrap().unwrap();

    let all = store.list_runs(&RunQuery::new(RunScope::All, 500)).await.unwrap();
    // Each of 7 days (today's as far as it has come): a pipeline run, three captures, a fetch;
    // and two restores.
    assert!((6 * 5 + 2..=7 * 5 + 2).contains(&all.len()), "{}", all.len());
    assert!(all.iter().all(|run| run.status == RunStatus::Completed && run.created_at < now));
    let reasons: HashSet<&str> =
        all.iter().flat_map(|run| &run.failures).map(|failure| failure.reason_code.as_str()).collect();
    assert_eq!(reasons, HashSet::from(["throttled", "permission_denied", "invalid_state"]));
    let partial = all.iter().filter(|run| run.outcome == RunOutcome::PartiallySucceeded).count();
    assert_eq!(partial, 1, "a partial restore");
    let scheduled = all.iter().filter(|run| run.initiator.label() == "schedule: Nightly capture").count();
    let captures = all.iter().filter(|run| run.kind == OperationKind::Capture).count();
    assert!(captures >= 18 && scheduled == captures, "the nightly captures are the schedule's");

    let params = ListParams::default();
    let zone = clock::zone("Pacific/Auckland").unwrap();
    let (_, month) =
        operations::dashboard(store, &admin, &params, ChartSpan::Month, zone, now).await.unwrap();
    assert_eq!(month.bars.len(), 30);
    let total: i64 = month.totals.iter().map(|(_, n)| n).sum();
    assert_eq!(total, all.len() as i64, "every run of the week in the 30 days");
    let failed = month.totals.iter().find(|(outcome, _)| *outcome == RunOutcome::Failed).unwrap().1;
    assert_eq!(failed, 2);
    // Each bar starts at a midnight in Auckland, a day after the one before.
    for pair in month.bars.windows(2) {
        assert_eq!(clock::wall_clock(pair[1].start, zone).get(11..), Some("00:00"));
        assert!(pair[1].start - pair[0].start >= Duration::hours(23));
    }
    let busy = month.bars.iter().filter(|bar| bar.counts.iter().any(|(_, n)| *n > 0)).count();
    assert!((6..=9).contains(&busy), "a week of days with runs (in Auckland's days): {busy}");

    let (_, day) = operations::dashboard(store, &admin, &params, ChartSpan::Day, zone, now).await.unwrap();
    assert_eq!(day.bars.len(), 24);
    assert!(day.bars.windows(2).all(|pair| pair[1].start - pair[0].start == Duration::hours(1)));
    let last_day = all.iter().filter(|run| run.created_at >= day.bars[0].start).count() as i64;
    assert_eq!(day.totals.iter().map(|(_, n)| n).sum::<i64>(), last_day);
    db.drop_database().await;
}
