//! Two real `tenantpilot serve` processes on one PostgreSQL database: runs started through
//! either are each executed exactly once between them, and a change made through one reaches a
//! Monitoring subscriber of the other (LISTEN/NOTIFY). Two real `tenantpilot worker` processes
//! fire each slot of a schedule exactly once between them.

use crate::common;

use common::sim::{Sim, CLIENT_ID, SECRET};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tenantpilot_core::engine::operations;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::provider::PolicyFamily;
use tenantpilot_core::store::{Backend, CapturedPolicy, Db};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::{provider, seed};
use tenantpilot_server::provider_sim::{sample_tenant, SimPolicy};

const RUNS: usize = 1000;
const TENANTS: [&str; 3] = ["contoso", "fabrikam", "northwind"];

struct Server {
    base: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(database_url: &str, secret_key: &str) -> Server {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
            .arg("serve")
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("TENANTPILOT_WORKERS", "2")
            .env("TENANTPILOT_EGRESS_ALLOW", "127.0.0.1")
            .env("TENANTPILOT_SECRET_KEY", secret_key)
            .env("TENANTPILOT_TENANT_CONCURRENCY", "4")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start tenantpilot");
        let server = Server { base: format!("http://127.0.0.1:{port}"), child };
        for _ in 0..300 {
            if reqwest::get(format!("{}/readyz", server.base)).await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("tenantpilot on port {port} did not become ready");
    }

    /// Signs in; returns the session cookie.
    async fn sign_in(&self, http: &reqwest::Client, password: &str) -> String {
        let reply = http
            .post(format!("{}/api/login", self.base))
            .header("Origin", &self.base)
            .header("Accept", "text/html")
            .form(&[("email", "owner@demo.test"), ("password", password), ("next", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 302);
        let cookie = reply.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    }
}

/// Starts a fetch of `item` through the server at `base`; returns the run's id.
async fn fetch(http: reqwest::Client, base: String, cookie: String, tenant: &str, item: i64) -> i64 {
    let reply = http
        .post(format!("{base}/admin/t/{tenant}/backup-items/{item}/assignments/fetch"))
        .header("Origin", &base)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);
    reply.json::<serde_json::Value>().await.unwrap()["operationRunId"].as_i64().unwrap()
}

/// The next `run` event's data on an open event stream.
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String) -> serde_json::Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) {
                return serde_json::from_str(data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_the_work_and_the_news() {
    let db = TestDatabase::new(Backend::Postgres).await;
    let store = &db.store;
    let password = seed::demo(store).await.unwrap().unwrap().password;
    let sim = Sim::start().await;
    let owner = store.user_by_email("owner@demo.test").await.unwrap().unwrap();

    // RUNS policies across the tenants, each captured as a backup item to fetch.
    let mut items: Vec<(&str, i64)> = Vec::new();
    for (n, slug) in TENANTS.iter().enumerate() {
        let count = RUNS / TENANTS.len() + usize::from(n < RUNS % TENANTS.len());
        let mut tenant = sample_tenant(CLIENT_ID, SECRET);
        tenant.page_size = 100;
        tenant.policies = (0..count)
            .map(|i| SimPolicy {
                family: PolicyFamily::DeviceConfiguration,
                body: serde_json::json!({ "@odata.type": "#microsoft.graph.windows10GeneralConfiguration",
                    "id": format!("pol-{i}"), "displayName": format!("Policy {i}") }),
                settings: vec![],
                assignments: vec![serde_json::json!({ "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "grp-finance" })],
            })
            .collect();
        sim.put_tenant(slug, &tenant).await;
        let member = store.membership(owner.id, slug).await.unwrap().unwrap();
        let connection = sim.connection(slug, SECRET);
        let new = provider::NewConnection {
            base_url: &connection.base_url,
            token_url: &connection.token_url,
            client_id: CLIENT_ID,
            scope: "",
            credential: provider::NewCredential::Secret(SECRET),
        };
        provider::connect(store, &common::loopback(), &Initiator::System, &member.tenant, new).await.unwrap();
        let capture = operations::start_capture(store, &member, Initiator::System).await.unwrap().id();
        let set = store.backup_set_for_run(member.tenant.id, capture, "Load").await.unwrap();
        for policy in &tenant.policies {
            let captured = CapturedPolicy {
                policy_id: policy.id(),
                policy_name: policy.body["displayName"].as_str().unwrap(),
                policy_type: policy.family.policy_type(),
                body: &policy.body,
                settings: &serde_json::Value::Null,
                scope_tags: &[],
                assignments: &[],
            };
            store.put_backup_item(&set, &captured).await.unwrap();
        }
        store.cancel_run(capture).await.unwrap();
        for item in store.backup_items(member.tenant.id, Some(set.id)).await.unwrap() {
            items.push((slug, item.id));
        }
    }
    assert_eq!(items.len(), RUNS);

    let url = format!("{}?options[search_path]={}", db.url, db.schema.as_deref().unwrap());
    let servers = [Server::start(&url, &db.secret_key).await, Server::start(&url, &db.secret_key).await];
    // Sign-in answers with a redirect; its cookie is what we want, not where it points.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookies = [servers[0].sign_in(&http, &password).await, servers[1].sign_in(&http, &password).await];

    // A Monitoring subscriber of the first server hears a run started through the second.
    let mut stream = http
        .get(format!("{}/admin/monitoring/events", servers[0].base))
        .header("Cookie", &cookies[0])
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    let (slug, item) = items[0];
    let first = fetch(http.clone(), servers[1].base.clone(), cookies[1].clone(), slug, item).await;
    let event = next_event(&mut stream, &mut buffer).await;
    assert_eq!(event["runId"].as_i64(), Some(first), "heard across processes: {event}");

    // The rest, started through both servers at once.
    let mut starts = tokio::task::JoinSet::new();
    for (n, (slug, item)) in items.iter().copied().enumerate().skip(1) {
        starts.spawn(fetch(http.clone(), servers[n % 2].base.clone(), cookies[n % 2].clone(), slug, item));
        if starts.len() >= 32 {
            starts.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(started) = starts.join_next().await {
        started.unwrap();
    }

    let Db::Postgres(pool) = store.db() else { unreachable!("a PostgreSQL test") };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM operation_runs WHERE kind = 'assignments.fetch' AND status = 'completed'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if done == RUNS as i64 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{done} of {RUNS} runs completed in time");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (succeeded, first_attempts, workers): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE outcome = 'succeeded'), COUNT(*) FILTER (WHERE attempt = 1), \
         COUNT(DISTINCT split_part(claimed_by, '/', 1)) FROM operation_runs WHERE kind = 'assignments.fetch'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((succeeded, first_attempts), (RUNS as i64, RUNS as i64));
    assert_eq!(workers, 2, "both servers took work");
    // Exactly once: each execution makes two Graph calls (the assignments, the one group's
    // name); each server asks for a token once per tenant and keeps it.
    let mut calls = 0;
    for slug in TENANTS {
        let tenant = sim.tenant(slug).await;
        assert!(tenant.token_requests <= 2, "{slug}: one token per server, not per run");
        calls += tenant.requests - tenant.token_requests;
    }
    assert_eq!(calls, 2 * RUNS as u64, "no run was executed twice");
    drop(servers);
    db.drop_database().await;
}

/// Slots the two schedulers play through: a `* * * * *` schedule on scheduler clocks running
/// `RATE` times faster than the wall clock, so a slot comes every 250 ms.
const SLOTS: usize = 200;
const RATE: u32 = 240;

/// A `tenantpilot worker` process (engine and scheduler, no HTTP), logging as JSON to `log`.
struct Scheduler {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Scheduler {
    fn start(database_url: &str, secret_key: &str, clock: &str, n: usize) -> Scheduler {
        let log = std::env::temp_dir().join(format!("tenantpilot-scheduler-{}-{n}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
            .arg("worker")
            .env("DATABASE_URL", database_url)
            .env("TENANTPILOT_SECRET_KEY", secret_key)
            .env("TENANTPILOT_WORKERS", "2")
            .env("TENANTPILOT_SCHEDULER_CLOCK", clock)
            .env("TENANTPILOT_SCHEDULE_TICK_MS", "25")
            .env("TENANTPILOT_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,tenantpilot_core::schedules=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start tenantpilot worker");
        Scheduler { child, log }
    }

    /// The slots this process's log says it started a run for.
    fn fired(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["message"] == "a schedule's slot started a run")
            .map(|event| event["slot"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Issue 16: "Two real server processes on one PostgreSQL fire each slot exactly once over 200
/// slots (a test clock or a seconds-level cron)". Each of 200 consecutive slots is recorded
/// started, none skipped or missed, and exactly one of the two processes' logs names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_fire_each_slot_once() {
    use chrono::{Duration as Minutes, Utc};
    use tenantpilot_core::model::Caller;
    use tenantpilot_core::schedules::{self, ScheduleInput};
    let db = TestDatabase::new(Backend::Postgres).await;
    let store = &db.store;
    seed::demo(store).await.unwrap();
    let owner = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let caller = Caller { initiator: Initiator::user(&owner), user: owner };
    let input = ScheduleInput {
        name: "Every minute".into(),
        cron: "* * * * *".into(),
        time_zone: "UTC".into(),
        tenant: Some("contoso".into()),
        ..ScheduleInput::default()
    };
    let schedule = schedules::create(store, &caller, &input).await.unwrap();

    let clock = format!("{}*{RATE}", Utc::now().to_rfc3339());
    let url = format!("{}?options[search_path]={}", db.url, db.schema.as_deref().unwrap());
    let schedulers = [
        Scheduler::start(&url, &db.secret_key, &clock, 0),
        Scheduler::start(&url, &db.secret_key, &clock, 1),
    ];

    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let slots = loop {
        let mut slots = store.schedule_slots(schedule.id, 10 * SLOTS as i64).await.unwrap();
        slots.retain(|slot| slot.outcome != "claimed");
        if slots.len() > SLOTS {
            break slots;
        }
        assert!(tokio::time::Instant::now() < deadline, "{} of {SLOTS} slots in time", slots.len());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // A slot is recorded before its process logs it: give the last lines a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut slots: Vec<_> = slots.into_iter().rev().take(SLOTS).collect();
    slots.sort_by_key(|slot| slot.slot_at);
    let first = slots[0].slot_at;
    for (n, slot) in slots.iter().enumerate() {
        assert_eq!(slot.slot_at, first + Minutes::minutes(n as i64), "slot {n}: none missed");
        assert_eq!((slot.outcome.as_str(), slot.run_id.is_some()), ("started", true), "slot {n}: {slot:?}");
    }
    let fired: Vec<Vec<String>> = schedulers.iter().map(Scheduler::fired).collect();
    assert!(fired.iter().all(|theirs| !theirs.is_empty()), "both processes fired slots");
    for slot in &slots {
        let named = slot.slot_at.to_string();
        let times = fired.iter().flatten().filter(|fired| **fired == named).count();
        assert_eq!(times, 1, "slot {named} fired once between the two processes");
    }
    drop(schedulers);
    db.drop_database().await;
}
