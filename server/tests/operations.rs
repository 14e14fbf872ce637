//! The three operations end to end on SQLite and PostgreSQL, against the provider simulator
//! over real HTTP: capture, fetch and restore change what they should, provider faults fail
//! runs with the right reason code, some failing items make a partial outcome, and a cancel
//! stops a run between items.

mod common;

use common::sim::Sim;
use std::collections::BTreeMap;
use std::time::Duration;
use tenantpilot_core::backup::{AssignedGroup, RestoreRequest};
use tenantpilot_core::engine::{operations, EngineHandle, EngineSettings};
use tenantpilot_core::model::{TenantMembership, User};
use tenantpilot_core::operation::{Initiator, OperationRun, RunOutcome, RunStatus};
use tenantpilot_core::provider::{ClientSettings, ProviderClient};
use tenantpilot_core::store::{Backend, Store};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::{monitoring, seed};
use tenantpilot_server::provider_sim::Fault;

tenantpilot_core::test_on_both_backends!(
    capture_fetch_and_restore_change_what_they_should,
    provider_faults_fail_runs_with_their_reason_code,
    cancelling_a_capture_stops_it_between_policies,
);

fn client() -> ProviderClient {
    ProviderClient::new(ClientSettings {
        request_timeout: Duration::from_secs(2),
        max_retries: 2,
        max_retry_wait: Duration::from_millis(200),
    })
}

fn fast() -> EngineSettings {
    EngineSettings {
        heartbeat: Duration::from_millis(100),
        progress_every: Duration::from_millis(20),
        idle_poll: Duration::from_millis(100),
        shutdown_grace: Duration::from_millis(300),
        ..EngineSettings::default()
    }
}

struct World {
    db: TestDatabase,
    sim: Sim,
    engine: EngineHandle,
    owner: User,
    member: TenantMembership,
}

impl World {
    async fn new(backend: Backend) -> World {
        let db = TestDatabase::new(backend).await;
        seed::demo(&db.store).await.unwrap();
        let sim = Sim::start().await;
        let owner = db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
        let member = db.store.membership(owner.id, "contoso").await.unwrap().unwrap();
        let engine = EngineHandle::spawn(db.store.clone(), operations::all(client(), None), fast(), "test");
        World { db, sim, engine, owner, member }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    fn initiator(&self) -> Initiator {
        Initiator::user(&self.owner)
    }

    async fn capture(&self) -> OperationRun {
        let started = operations::start_capture(self.store(), &self.member, self.initiator()).await.unwrap();
        self.completed(started.id()).await
    }

    async fn completed(&self, id: i64) -> OperationRun {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let run = self.store().operation_run(id).await.unwrap().unwrap();
            if run.status == RunStatus::Completed {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run did not complete: {run:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn end(self) {
        self.engine.shutdown().await;
        self.db.drop_database().await;
    }
}

fn group(id: &str, name: &str) -> AssignedGroup {
    AssignedGroup { group_id: id.into(), group_name: Some(name.into()) }
}

async fn capture_fetch_and_restore_change_what_they_should(backend: Backend) {
    let world = World::new(backend).await;
    let tenant_id = world.member.tenant.id;
    world.sim.connect(world.store(), "contoso", 2).await;

    // Capture: six policies, listed over three pages, with group names resolved.
    let capture = world.capture().await;
    assert_eq!(capture.outcome, RunOutcome::Succeeded, "{:?}", capture.failures);
    assert_eq!((capture.counters.total, capture.counters.processed, capture.counters.failed), (6, 6, 0));
    let sets = world.store().backup_sets(tenant_id).await.unwrap();
    assert_eq!((sets.len(), sets[0].item_count, sets[0].operation_run_id), (1, 6, Some(capture.id)));
    let items = world.store().backup_items(tenant_id, Some(sets[0].id)).await.unwrap();
    let bitlocker = items.iter().find(|item| item.policy_id == "pol-bitlocker").unwrap();
    assert_eq!(
        bitlocker.assignments,
        vec![group("grp-all-staff", "All staff"), group("grp-executives", "Executives")]
    );
    assert_eq!(bitlocker.policy_type, "deviceConfiguration");

    // Fetch: the item takes the policy's assignments as they are now.
    let mut tenant = world.sim.tenant("contoso").await;
    tenant.policies[1].assignments = vec!["grp-finance".into()];
    world.sim.put_tenant("contoso", &tenant).await;
    let started =
        operations::start_fetch(world.store(), &world.member, bitlocker.id, world.initiator()).await.unwrap();
    let fetch = world.completed(started.id()).await;
    assert_eq!(fetch.outcome, RunOutcome::Succeeded, "{:?}", fetch.failures);
    assert_eq!((fetch.counters.total, fetch.counters.processed), (1, 1));
    let fetched = world.store().backup_item(tenant_id, bitlocker.id).await.unwrap().unwrap();
    assert_eq!(fetched.assignments, vec![group("grp-finance", "Finance")]);
    assert!(fetched.assignments_fetched_at > bitlocker.assignments_fetched_at);

    // Someone removes every assignment, and the Engineering group is deleted.
    let mut tenant = world.sim.tenant("contoso").await;
    for policy in &mut tenant.policies {
        policy.assignments.clear();
    }
    tenant.groups.retain(|group| group.id != "grp-engineering");
    world.sim.put_tenant("contoso", &tenant).await;

    // Preview: Executives maps to Pilot devices; Engineering has nowhere to go.
    let request = RestoreRequest {
        backup_set_id: sets[0].id,
        item_ids: None,
        group_mapping: BTreeMap::from([("grp-executives".to_string(), "grp-pilot".to_string())]),
    };
    let client = client();
    let restore =
        operations::create_restore_run(world.store(), &client, &world.member, &world.initiator(), &request)
            .await
            .unwrap();
    assert_eq!(restore.item_ids.len(), 6);
    assert_eq!(restore.preview.unmapped_groups, vec![group("grp-engineering", "Engineering")]);
    let edge = restore.preview.items.iter().find(|item| item.policy_id == "pol-edge").unwrap();
    assert_eq!(edge.assign, vec![group("grp-pilot", "Pilot devices")]);
    assert_eq!(
        world.sim.tenant("contoso").await.policies[0].assignments,
        Vec::<String>::new(),
        "a preview changes nothing"
    );

    // Execute, with the provider refusing one policy: the rest are restored.
    let refuse = Fault { path: Some("pol-defender/assign".into()), status: Some(403), ..Fault::default() };
    world.sim.faults("contoso", &[refuse]).await;
    let started =
        operations::start_restore(world.store(), &world.member, restore.id, world.initiator()).await.unwrap();
    let run = world.completed(started.id()).await;
    assert_eq!(run.outcome, RunOutcome::PartiallySucceeded);
    assert_eq!((run.counters.total, run.counters.processed, run.counters.failed), (6, 6, 1));
    assert_eq!(run.failures.len(), 1);
    assert_eq!(
        (run.failures[0].code.as_str(), run.failures[0].reason_code.as_str()),
        ("assignments.restore.item", "permission_denied")
    );
    assert!(run.failures[0].message.starts_with("Defender antivirus: "), "{}", run.failures[0].message);
    let assigned: BTreeMap<String, Vec<String>> =
        world.sim.tenant("contoso").await.policies.into_iter().map(|p| (p.id, p.assignments)).collect();
    assert_eq!(assigned["pol-windows-baseline"], vec!["grp-all-staff"]);
    assert_eq!(assigned["pol-bitlocker"], vec!["grp-finance"], "as last fetched");
    assert_eq!(assigned["pol-ios-compliance"], vec!["grp-finance", "grp-pilot"]);
    assert_eq!(assigned["pol-edge"], vec!["grp-pilot"]);
    assert_eq!(assigned["pol-defender"], Vec::<String>::new(), "refused");
    let linked = world.store().restore_run(tenant_id, restore.id).await.unwrap().unwrap();
    assert_eq!(linked.operation_run_id, Some(run.id));

    let audit = world.store().tenant_audit(tenant_id, 50).await.unwrap();
    let executed: Vec<_> = audit
        .iter()
        .filter(|entry| (entry.kind.as_str(), entry.action.as_str()) == ("restore_run", "execute"))
        .collect();
    assert_eq!(executed.len(), 1, "one entry per execution");
    let planned = audit
        .iter()
        .filter(|entry| (entry.kind.as_str(), entry.action.as_str()) == ("restore_run", "create"));
    assert_eq!(planned.count(), 1, "one entry for planning it");
    assert_eq!(executed[0].actor, world.initiator());
    assert_eq!(executed[0].details["outcome"], "partially_succeeded");
    assert_eq!(executed[0].details["failed"], 1);
    assert!(audit.iter().any(|entry| entry.kind == "provider_connection"));
    let secret_logged =
        audit.iter().any(|entry| serde_json::to_string(entry).unwrap().contains(common::sim::SECRET));
    assert!(!secret_logged, "the client secret is never in the audit trail");
    world.end().await;
}

async fn provider_faults_fail_runs_with_their_reason_code(backend: Backend) {
    let world = World::new(backend).await;
    let not_connected = world.capture().await;
    assert_eq!(not_connected.outcome, RunOutcome::Failed);
    assert_eq!(not_connected.failures[0].code, "provider.not_connected");
    assert_eq!(not_connected.failures[0].reason_code, "invalid_state");

    world.sim.connect(world.store(), "contoso", 50).await;
    let cases = [
        (Fault { path: Some("Policies".into()), status: Some(403), ..Fault::default() }, "permission_denied"),
        (
            Fault {
                path: Some("Policies".into()),
                status: Some(429),
                retry_after_secs: Some(0),
                ..Fault::default()
            },
            "throttled",
        ),
        (
            Fault { path: Some("/oauth2".into()), status: Some(401), ..Fault::default() },
            "authentication_failed",
        ),
        (
            Fault { path: Some("Policies".into()), status: Some(503), ..Fault::default() },
            "dependency_unreachable",
        ),
        (Fault { path: Some("Policies".into()), drop: true, ..Fault::default() }, "dependency_unreachable"),
        (Fault { path: Some("/groups".into()), status: Some(500), ..Fault::default() }, "unknown_error"),
    ];
    for (fault, reason) in cases {
        world.sim.faults("contoso", std::slice::from_ref(&fault)).await;
        let run = world.capture().await;
        assert_eq!(run.outcome, RunOutcome::Failed, "{fault:?}");
        assert_eq!(run.failures.last().unwrap().reason_code, reason, "{fault:?}: {:?}", run.failures);
    }

    // One policy's assignments cannot be read: the others are captured.
    let one = Fault { path: Some("pol-edge/assignments".into()), status: Some(500), ..Fault::default() };
    world.sim.faults("contoso", &[one]).await;
    let partial = world.capture().await;
    assert_eq!(partial.outcome, RunOutcome::PartiallySucceeded);
    assert_eq!((partial.counters.total, partial.counters.failed), (6, 1));
    assert_eq!(partial.failures[0].code, "backup_set.capture.item");
    let sets = world.store().backup_sets(world.member.tenant.id).await.unwrap();
    assert_eq!(sets[0].item_count, 5);
    world.end().await;
}

async fn cancelling_a_capture_stops_it_between_policies(backend: Backend) {
    let world = World::new(backend).await;
    world.sim.connect(world.store(), "contoso", 50).await;
    let slow = Fault { path: Some("/assignments".into()), latency_ms: 300, ..Fault::default() };
    world.sim.faults("contoso", &[slow]).await;
    let id = operations::start_capture(world.store(), &world.member, world.initiator()).await.unwrap().id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while world.store().operation_run(id).await.unwrap().unwrap().counters.processed < 1 {
        assert!(tokio::time::Instant::now() < deadline, "the capture never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    monitoring::cancel(world.store(), &world.owner, &world.initiator(), id).await.unwrap();
    let run = world.completed(id).await;
    assert_eq!(run.outcome, RunOutcome::Cancelled);
    assert!(run.counters.processed < 6, "stopped before the last policy: {:?}", run.counters);
    let readonly = world.store().user_by_email("readonly@demo.test").await.unwrap().unwrap();
    let refused =
        monitoring::cancel(world.store(), &readonly, &Initiator::user(&readonly), id).await.unwrap_err();
    assert_eq!(refused.status(), 403, "a reader may see the run but not cancel it");
    world.end().await;
}
