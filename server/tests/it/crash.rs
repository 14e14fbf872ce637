//! A `tenantpilot worker` process killed mid-run, on SQLite and PostgreSQL: another worker
//! process's reconciler notices the silence, puts the (retry-safe) capture back in the queue,
//! and runs it to the end; the run never stays `running`.

use crate::common;
use tenantpilot_core::ids::RunId;

use common::sim::Sim;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tenantpilot_core::engine::operations;
use tenantpilot_core::operations::{Initiator, OperationRun, RunOutcome, RunStatus};
use tenantpilot_core::seed;
use tenantpilot_core::store::{Backend, Store};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_server::provider_sim::Fault;

tenantpilot_core::test_on_both_backends!(a_killed_workers_run_is_taken_over);

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(database_url: &str, secret_key: &str) -> Worker {
    let child = Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
        .arg("worker")
        .env("DATABASE_URL", database_url)
        .env("TENANTPILOT_WORKERS", "1")
        // One policy at a time, so the kill lands between policies.
        .env("TENANTPILOT_PROVIDER_CONCURRENCY", "1")
        .env("TENANTPILOT_EGRESS_ALLOW", "127.0.0.1")
        .env("TENANTPILOT_SECRET_KEY", secret_key)
        .env("TENANTPILOT_STALE_AFTER_SECS", "5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start tenantpilot worker");
    Worker(child)
}

async fn until(store: &Store, id: RunId, what: &str, done: impl Fn(&OperationRun) -> bool) -> OperationRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run = store.operation_run(id).await.unwrap().unwrap();
        if done(&run) {
            return run;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {what}: {run:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_killed_workers_run_is_taken_over(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    seed::demo(&db.store).await.unwrap();
    let sim = Sim::start().await;
    sim.connect(&db.store, "contoso", 50).await;
    // Slow enough that the kill lands between policies.
    sim.faults(
        "contoso",
        &[Fault { path: Some("/assignments".into()), latency_ms: 400, ..Fault::default() }],
    )
    .await;
    let url = match &db.schema {
        Some(schema) => format!("{}?options[search_path]={schema}", db.url),
        None => db.url.clone(),
    };
    let owner = db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let member = db.store.membership(owner.id, "contoso").await.unwrap().unwrap();
    let id = operations::start_capture(&db.store, &member, Initiator::user(&owner)).await.unwrap().id();

    let mut first = worker(&url, &db.secret_key);
    until(&db.store, id, "got going", |run| run.status == RunStatus::Running && run.counters.processed >= 1)
        .await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let orphaned = db.store.operation_run(id).await.unwrap().unwrap();
    assert_eq!(orphaned.status, RunStatus::Running, "nobody has noticed yet");

    let _second = worker(&url, &db.secret_key);
    let run = until(&db.store, id, "completed", |run| run.status == RunStatus::Completed).await;
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{:?}", run.failures);
    assert_eq!(run.attempt, 2, "run again from the start by the second worker");
    let sets = db.store.backup_sets(member.tenant.id).await.unwrap();
    assert_eq!((sets.len(), sets[0].item_count), (1, 7), "the second attempt filled the same set");
    db.drop_database().await;
}
