//! Schedules firing, on SQLite and PostgreSQL: each slot once however many processes look, the
//! latest missed slot caught up or skipped, the owner's rights checked at each firing, and a
//! workspace fan-out spread over its jitter window.

use chrono::{DateTime, Duration, DurationRound, Utc};
use tenantpilot_core::accounts;
use tenantpilot_core::ids::TenantId;
use tenantpilot_core::model::{AccountKind, User};
use tenantpilot_core::operations::{Initiator, OperationKind};
use tenantpilot_core::schedules::{self, Missed, ScheduleId, ScheduleTarget, SlotOutcome};
use tenantpilot_core::store::{Backend, NewRun, NewSchedule, RunQuery, RunScope, Store};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::tokens::AccountRole;
use tenantpilot_core::Role;

tenantpilot_core::test_on_both_backends!(
    each_slot_runs_once_whichever_process_finds_it,
    the_latest_missed_slot_is_caught_up_or_skipped,
    a_slot_whose_owner_lost_the_right_is_skipped_with_the_reason,
    a_workspace_fan_out_spreads_over_its_jitter_window,
    a_berlin_night_slot_fires_once_a_day_across_the_clock_changes,
);

const PASSWORD: &str = "a long enough password";

async fn tenant(store: &Store, workspace: &str, slug: &str) -> tenantpilot_core::model::Tenant {
    let new = NewTenant { workspace_slug: workspace, slug, name: slug, external_tenant_id: None };
    tenancy::create_tenant(store, &Initiator::System, new).await.unwrap().0
}

async fn member(store: &Store, email: &str, tenant: &str, role: Role) -> User {
    let user = match store.user_by_email(email).await.unwrap() {
        Some(user) => user,
        None => accounts::create_user(store, email, None, PASSWORD, AccountKind::Member).await.unwrap(),
    };
    tenancy::set_member(store, &Initiator::System, tenant, email, role).await.unwrap();
    user
}

async fn schedule(
    store: &Store,
    name: &str,
    cron: &str,
    target: ScheduleTarget,
    owner: &User,
    missed: Missed,
) -> ScheduleId {
    let workspace = match target {
        ScheduleTarget::TenantCapture { tenant } => {
            store.tenant_by_id(tenant).await.unwrap().unwrap().workspace_id
        }
        ScheduleTarget::WorkspaceCapture { workspace } => workspace,
        ScheduleTarget::Pipeline { .. } => unreachable!("not in these tests"),
    };
    let new = NewSchedule {
        workspace_id: workspace,
        name,
        cron,
        time_zone: "UTC",
        target,
        jitter_minutes: 0,
        missed,
        owner_id: owner.id,
    };
    store.create_schedule(&new).await.unwrap()
}

/// The next whole hour: slots of the tests' schedules lie after the schedules were created.
fn next_hour() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap() + Duration::hours(1)
}

/// Issue 16 §1: each fire time runs at most once across all processes. Two schedulers fire
/// every minute of 200 minutes at once (as two replicas would): 200 slots, each taken once.
async fn each_slot_runs_once_whichever_process_finds_it(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let contoso = tenant(&db.store, "w", "contoso").await;
    let owner = member(&db.store, "owner@x.test", "contoso", Role::Owner).await;
    let every_minute = ScheduleTarget::TenantCapture { tenant: contoso.id };
    let id = schedule(&db.store, "Minutely", "* * * * *", every_minute, &owner, Missed::CatchUp).await;
    let start = next_hour();
    let mut fired = 0;
    for minute in 0..200 {
        // Clock readings carry fractions of a second; slots are whole minutes all the same.
        let now = start + Duration::minutes(minute) + Duration::milliseconds(3_000 + minute * 37);
        let (one, other) =
            tokio::join!(schedules::fire_due(&db.store, now), schedules::fire_due(&db.store, now));
        fired += one.unwrap().len() + other.unwrap().len();
    }
    assert_eq!(fired, 200);
    let slots = db.store.schedule_slots(id, 500).await.unwrap();
    assert_eq!(slots.len(), 200);
    assert!(slots.iter().all(|slot| slot.outcome == "started" && slot.run_id.is_some()), "{:?}", slots[0]);
    assert_eq!(slots[0].slot_at, start + Duration::minutes(199));
    // The run is the schedule's, for its owner.
    let run = db.store.operation_run(slots[0].run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!(run.kind, OperationKind::Capture);
    assert_eq!(run.initiator, Initiator::Schedule { id: id.0, name: "Minutely".into(), owner_id: owner.id });
    assert_eq!(run.initiator.label(), "schedule: Minutely");

    // Monitoring filters by the schedule: its run, and no other.
    let by_hand = NewRun {
        workspace_id: contoso.workspace_id,
        tenant_id: Some(contoso.id),
        kind: OperationKind::Fetch,
        target: None,
        context: serde_json::Map::new(),
        initiator: Initiator::user(&owner),
        retry_of: None,
    };
    db.store.start_run(&by_hand).await.unwrap();
    let of_schedule = RunQuery { schedule: Some(id.0), ..RunQuery::new(RunScope::All, 10) };
    let listed = db.store.list_runs(&of_schedule).await.unwrap();
    assert_eq!(listed.iter().map(|run| run.id).collect::<Vec<_>>(), [run.id]);
    db.drop_database().await;
}

/// After a downtime only the most recent missed slot is considered: run once, late, or recorded
/// as skipped, as the schedule says; the slots before it are not run.
async fn the_latest_missed_slot_is_caught_up_or_skipped(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let contoso = tenant(&db.store, "w", "contoso").await;
    let fabrikam = tenant(&db.store, "w", "fabrikam").await;
    let owner = member(&db.store, "owner@x.test", "contoso", Role::Owner).await;
    member(&db.store, "owner@x.test", "fabrikam", Role::Owner).await;
    let hourly = "0 * * * *";
    let caught = schedule(
        &db.store,
        "Catch up",
        hourly,
        ScheduleTarget::TenantCapture { tenant: contoso.id },
        &owner,
        Missed::CatchUp,
    )
    .await;
    let skipped = schedule(
        &db.store,
        "Skip",
        hourly,
        ScheduleTarget::TenantCapture { tenant: fabrikam.id },
        &owner,
        Missed::Skip,
    )
    .await;
    // Down for three days: the first look is 40 minutes after the latest slot.
    let latest = next_hour() + Duration::days(3);
    let now = latest + Duration::minutes(40);
    schedules::fire_due(&db.store, now).await.unwrap();
    schedules::fire_due(&db.store, now + Duration::minutes(1)).await.unwrap();
    let caught_up = db.store.schedule_slots(caught, 10).await.unwrap();
    assert_eq!(caught_up.len(), 1, "only the latest slot: {caught_up:?}");
    assert_eq!((caught_up[0].slot_at, caught_up[0].outcome.as_str()), (latest, "started"));
    let skipped = db.store.schedule_slots(skipped, 10).await.unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!((skipped[0].slot_at, skipped[0].outcome.as_str()), (latest, "skipped"));
    assert!(skipped[0].reason.as_deref().unwrap().contains("Missed"), "{:?}", skipped[0].reason);
    let runs = db.store.list_runs(&RunQuery::new(RunScope::All, 10)).await.unwrap();
    assert_eq!(runs.len(), 1, "the skipped slot started nothing");
    assert_eq!(runs[0].tenant_id, Some(contoso.id));

    // Paused over a slot, then resumed: the slot from before the resume is not run late.
    schedules::set_paused(&db.store, &Initiator::System, caught, true).await.unwrap();
    schedules::fire_due(&db.store, latest + Duration::hours(1) + Duration::minutes(5)).await.unwrap();
    schedules::set_paused(&db.store, &Initiator::System, caught, false).await.unwrap();
    let resumed = db.store.schedule(caught).await.unwrap().unwrap().updated_at;
    let fired = schedules::fire_due(&db.store, resumed).await.unwrap();
    assert!(
        fired.iter().all(|fired| fired.schedule != caught),
        "the hour's slot came before the resume: {fired:?}"
    );
    let next = resumed.duration_trunc(Duration::hours(1)).unwrap() + Duration::hours(1);
    let fired = schedules::fire_due(&db.store, next + Duration::seconds(5)).await.unwrap();
    let caught_fired: Vec<_> =
        fired.iter().filter(|fired| fired.schedule == caught).map(|fired| fired.slot).collect();
    assert_eq!(caught_fired, [next], "the first slot after it runs");
    db.drop_database().await;
}

/// A firing acts for the schedule's owner, with the rights they have then: an owner demoted to
/// reader gets the slot recorded as skipped, saying why; restored, the next slot runs.
async fn a_slot_whose_owner_lost_the_right_is_skipped_with_the_reason(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let contoso = tenant(&db.store, "w", "contoso").await;
    let owner = member(&db.store, "ann@x.test", "contoso", Role::Owner).await;
    let id = schedule(
        &db.store,
        "Nightly",
        "0 * * * *",
        ScheduleTarget::TenantCapture { tenant: contoso.id },
        &owner,
        Missed::CatchUp,
    )
    .await;
    member(&db.store, "bob@x.test", "contoso", Role::Owner).await;
    member(&db.store, "ann@x.test", "contoso", Role::Readonly).await;
    let first = next_hour();
    let fired = schedules::fire_due(&db.store, first + Duration::seconds(5)).await.unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].outcome, SlotOutcome::Skipped);
    assert!(
        fired[0].reason.as_deref().unwrap().contains("may no longer capture backups of contoso"),
        "{fired:?}"
    );
    member(&db.store, "ann@x.test", "contoso", Role::Operator).await;
    let fired =
        schedules::fire_due(&db.store, first + Duration::hours(1) + Duration::seconds(5)).await.unwrap();
    assert_eq!(fired[0].outcome, SlotOutcome::Started, "{fired:?}");
    assert_eq!(db.store.schedule_slots(id, 10).await.unwrap().len(), 2);
    db.drop_database().await;
}

/// A fan-out over 1,000 tenants with a 2-hour jitter window: no tenant starts before its offset,
/// every tenant has started by the end of the window, each once (one run per tenant for the
/// slot, within the per-tenant limit), spread across the window rather than at the slot.
async fn a_workspace_fan_out_spreads_over_its_jitter_window(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let mut tenants = Vec::new();
    for n in 0..1000 {
        tenants.push(tenant(store, "big", &format!("t{n:04}")).await.id);
    }
    let admin = member(store, "site@x.test", "t0000", Role::Readonly).await;
    store.set_account_role(admin.id, AccountRole::SiteAdmin).await.unwrap();
    let workspace = store.tenant_by_id(tenants[0]).await.unwrap().unwrap().workspace_id;
    let target = ScheduleTarget::WorkspaceCapture { workspace };
    let new = NewSchedule {
        workspace_id: workspace,
        name: "Every tenant nightly",
        cron: "0 2 * * *",
        time_zone: "UTC",
        target,
        jitter_minutes: 120,
        missed: Missed::CatchUp,
        owner_id: admin.id,
    };
    let id = store.create_schedule(&new).await.unwrap();
    let slot =
        (Utc::now() + Duration::days(1)).duration_trunc(Duration::days(1)).unwrap() + Duration::hours(2);
    let mut started: Vec<(TenantId, Duration)> = Vec::new();
    for minutes in [0, 30, 60, 90, 119, 120] {
        let now = slot + Duration::minutes(minutes) + Duration::seconds(1);
        for fired in schedules::fire_due(store, now).await.unwrap() {
            assert_eq!(fired.outcome, SlotOutcome::Started, "{fired:?}");
            let tenant = TenantId(fired.part);
            let offset = schedules::jitter_offset(id, tenant, 120);
            assert!(slot + offset <= now, "{tenant} started before its offset");
            started.push((tenant, offset));
        }
    }
    assert_eq!(started.len(), 1000, "every tenant once");
    let early = started.iter().filter(|(_, offset)| *offset < Duration::minutes(60)).count();
    assert!((350..=650).contains(&early), "spread across the window: {early} in its first hour");
    let runs = store.list_runs(&RunQuery::new(RunScope::All, 2000)).await.unwrap();
    assert_eq!(runs.len(), 1000, "one capture per tenant");
    let workspace_name = store.workspace_by_id(workspace).await.unwrap().unwrap().name;
    let shown = schedules::view(store, store.schedule(id).await.unwrap().unwrap(), Utc::now()).await.unwrap();
    assert_eq!(shown.target_label, format!("Capture of every tenant of {workspace_name}"));
    db.drop_database().await;
}

/// 02:30 Europe/Berlin, looked at every 10 minutes across both clock changes of 2027 (the EU
/// rule, Directive 2000/84/EC: the last Sundays of March and October, 01:00 UTC — 28 March and
/// 31 October 2027). As Vixie cron documents for cron(8): a time the clocks skip runs when they
/// resume, a time they repeat runs once. So three nights, three slots, each once.
async fn a_berlin_night_slot_fires_once_a_day_across_the_clock_changes(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let contoso = tenant(&db.store, "w", "contoso").await;
    let owner = member(&db.store, "owner@x.test", "contoso", Role::Owner).await;
    let new = NewSchedule {
        workspace_id: contoso.workspace_id,
        name: "Berlin nights",
        cron: "30 2 * * *",
        time_zone: "Europe/Berlin",
        target: ScheduleTarget::TenantCapture { tenant: contoso.id },
        jitter_minutes: 0,
        missed: Missed::CatchUp,
        owner_id: owner.id,
    };
    let id = db.store.create_schedule(&new).await.unwrap();
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
    for (from, expected) in [
        ("2027-03-27T00:00:00Z", ["2027-03-27T01:30:00Z", "2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"]),
        ("2027-10-30T00:00:00Z", ["2027-10-30T00:30:00Z", "2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"]),
    ] {
        let start = at(from);
        for step in 0..(3 * 24 * 6) {
            schedules::fire_due(&db.store, start + Duration::minutes(10 * step)).await.unwrap();
        }
        let mut slots: Vec<DateTime<Utc>> = db
            .store
            .schedule_slots(id, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|slot| slot.slot_at)
            .filter(|slot| *slot >= start && *slot < start + Duration::days(3))
            .collect();
        slots.sort();
        assert_eq!(slots, expected.map(at), "from {from}");
    }
    db.drop_database().await;
}
