//! `make bench`: the operation engine's and Monitoring's numbers, on SQLite and PostgreSQL.
//! - starts per second, new runs and reused runs, with per-start p50/p99 (16 at once);
//! - Monitoring's first page (unfiltered and filtered) and a run's detail with 1,000,000 runs
//!   in the store;
//! - server-side rendering of the Monitoring page, through the real router.
//!
//! Prints a table; nothing here asserts (speed is measured, not tested).

use axum::body::Body;
use axum::http::{header, Request};
use clap::Parser;
use http_body_util::BodyExt;
use std::future::Future;
use std::time::{Duration, Instant};
use tenantpilot_core::engine;
use tenantpilot_core::model::User;
use tenantpilot_core::monitoring::{self, ListParams};
use tenantpilot_core::operation::{Initiator, RunTarget};
use tenantpilot_core::store::{Backend, Db, NewRun, Store};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::{accounts, seed};
use tenantpilot_server::config::Cli;
use tenantpilot_server::router;
use tower::ServiceExt;

const STARTS: usize = 2_000;
const AT_ONCE: usize = 16;
const MILLION: i64 = 1_000_000;
const PASSWORD: &str = "benchmark-password-1";

struct Sample {
    backend: &'static str,
    what: String,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Sample {
    fn print(&mut self) {
        self.latencies.sort();
        let at = |q: f64| self.latencies[((self.latencies.len() as f64 - 1.0) * q).round() as usize];
        let rate = self.latencies.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<10} {:<44} {:>6} {:>10.0}/s {:>10.2} ms {:>10.2} ms",
            self.backend,
            self.what,
            self.latencies.len(),
            rate,
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3
        );
    }
}

/// Runs `count` calls of `call(n)`, `at_once` at a time, timing each.
async fn measure<F, Fut>(backend: &'static str, what: &str, count: usize, at_once: usize, call: F) -> Sample
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..at_once {
        let call = call.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            for n in (lane..count).step_by(at_once) {
                let one = Instant::now();
                call(n).await;
                latencies.push(one.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(count);
    while let Some(lane) = tasks.join_next().await {
        latencies.extend(lane.expect("a benchmark task panicked"));
    }
    Sample { backend, what: what.into(), latencies, elapsed: started.elapsed() }
}

fn fetch_run(workspace_id: i64, tenant_id: i64, target: String) -> NewRun {
    NewRun {
        workspace_id,
        tenant_id: Some(tenant_id),
        kind: "assignments.fetch".into(),
        target: Some(RunTarget { kind: "backup_item".into(), id: target }),
        context: serde_json::Map::new(),
        initiator: Initiator::System,
    }
}

/// Adds `count` completed runs spread over the demo tenants, created one a second back from now.
async fn fill(store: &Store, tenants: &[i64], workspace_id: i64, count: i64) {
    let [a, b, c] = [tenants[0], tenants[1], tenants[2]];
    match store.db() {
        Db::Sqlite(pool) => {
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 INSERT INTO operation_runs (workspace_id, tenant_id, kind, status, outcome, identity, target_kind, \
                 target_id, context, initiator, created_at, started_at, completed_at, total, processed) \
                 SELECT $2, CASE i % 3 WHEN 0 THEN $3 WHEN 1 THEN $4 ELSE $5 END, \
                 CASE i % 3 WHEN 0 THEN 'assignments.fetch' WHEN 1 THEN 'backup_set.capture' ELSE 'assignments.restore' END, \
                 'completed', CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'partially_succeeded' ELSE 'succeeded' END, \
                 'bench-' || i, 'backup_item', CAST(i AS TEXT), '{}', '{\"kind\":\"system\"}', \
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || i || ' seconds'), \
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || i || ' seconds'), \
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (i - 1) || ' seconds'), 5, 5 FROM n",
            )
            .bind(count)
            .bind(workspace_id)
            .bind(a)
            .bind(b)
            .bind(c)
            .execute(pool)
            .await
            .expect("fill SQLite");
            sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
        }
        Db::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO operation_runs (workspace_id, tenant_id, kind, status, outcome, identity, target_kind, \
                 target_id, context, initiator, created_at, started_at, completed_at, total, processed) \
                 SELECT $2, CASE i % 3 WHEN 0 THEN $3 WHEN 1 THEN $4 ELSE $5 END, \
                 CASE i % 3 WHEN 0 THEN 'assignments.fetch' WHEN 1 THEN 'backup_set.capture' ELSE 'assignments.restore' END, \
                 'completed', CASE i % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'partially_succeeded' ELSE 'succeeded' END, \
                 'bench-' || i, 'backup_item', i::text, '{}', '{\"kind\":\"system\"}', \
                 now() - make_interval(secs => i), now() - make_interval(secs => i), \
                 now() - make_interval(secs => i - 1), 5, 5 FROM generate_series(1, $1) AS i",
            )
            .bind(count)
            .bind(workspace_id)
            .bind(a)
            .bind(b)
            .bind(c)
            .execute(pool)
            .await
            .expect("fill PostgreSQL");
            sqlx::query("ANALYZE operation_runs").execute(pool).await.expect("analyze");
        }
    }
}

async fn user(store: &Store, email: &str) -> User {
    store.user_by_email(email).await.unwrap().expect("demo user")
}

async fn bench(backend: Backend, name: &'static str) {
    let db = TestDatabase::new(backend).await;
    let store = db.store.clone();
    seed::demo(&store).await.unwrap();
    accounts::create_user(&store, "bench@demo.test", Some("Bench"), PASSWORD, true).await.unwrap();
    let mut tenants = Vec::new();
    for slug in ["contoso", "fabrikam", "northwind"] {
        tenants.push(store.tenant_by_slug(slug).await.unwrap().unwrap());
    }
    let (workspace, contoso) = (tenants[0].workspace_id, tenants[0].id);

    let new = {
        let store = store.clone();
        move |n: usize| {
            let store = store.clone();
            async move {
                engine::start(&store, &fetch_run(workspace, contoso, format!("new-{n}"))).await.unwrap();
            }
        }
    };
    measure(name, "start: new run (created, audited)", STARTS, AT_ONCE, new).await.print();
    let reused = {
        let store = store.clone();
        move |_| {
            let store = store.clone();
            async move {
                engine::start(&store, &fetch_run(workspace, contoso, "same".into())).await.unwrap();
            }
        }
    };
    measure(name, "start: reused run (active one found, audited)", STARTS, AT_ONCE, reused).await.print();

    let filling = Instant::now();
    let ids: Vec<i64> = tenants.iter().map(|tenant| tenant.id).collect();
    fill(&store, &ids, workspace, MILLION).await;
    println!("{name:<10} (filled {MILLION} runs in {:.1} s)", filling.elapsed().as_secs_f64());

    for (email, who) in [
        ("owner@demo.test", "member of 3"),
        ("readonly@demo.test", "member of 1"),
        ("admin@demo.test", "platform admin"),
    ] {
        let viewer = user(&store, email).await;
        let list = {
            let (store, viewer) = (store.clone(), viewer.clone());
            move |_| {
                let (store, viewer) = (store.clone(), viewer.clone());
                async move {
                    let page = monitoring::list(&store, &viewer, &ListParams::default()).await.unwrap();
                    assert_eq!(page.runs.len(), 50);
                }
            }
        };
        measure(name, &format!("Monitoring first page, 1M runs ({who})"), 200, 4, list).await.print();
    }
    let owner = user(&store, "owner@demo.test").await;
    let filtered = {
        let (store, owner) = (store.clone(), owner.clone());
        move |_| {
            let (store, owner) = (store.clone(), owner.clone());
            async move {
                let params = ListParams {
                    tenant: Some("fabrikam".into()),
                    outcome: Some("failed".into()),
                    ..ListParams::default()
                };
                monitoring::list(&store, &owner, &params).await.unwrap();
            }
        }
    };
    measure(name, "Monitoring first page, 1M runs (tenant+outcome)", 200, 4, filtered).await.print();
    let detail = {
        let (store, owner) = (store.clone(), owner.clone());
        move |n: usize| {
            let (store, owner) = (store.clone(), owner.clone());
            async move {
                let id = 1 + (n as i64 * 4_999) % MILLION;
                monitoring::run(&store, &owner, id).await.unwrap();
            }
        }
    };
    measure(name, "Monitoring run detail, 1M runs", 1_000, 4, detail).await.print();

    // The page as a browser gets it: session, guard, queries and HTML, through the router.
    let serve = Cli::parse_from(["tenantpilot"]).serve;
    let app = router::build(store.clone(), &serve, router::leptos_options(&serve)).await.unwrap();
    let form = format!("email=bench%40demo.test&password={PASSWORD}&next=");
    let login = Request::post("/api/login")
        .header(header::HOST, "localhost")
        .header(header::ORIGIN, "http://localhost")
        .header(header::ACCEPT, "text/html")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let reply = app.clone().oneshot(login).await.unwrap();
    let cookie = reply.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let render = move |_| {
        let (app, cookie) = (app.clone(), cookie.clone());
        async move {
            let request = Request::get("/admin/monitoring")
                .header(header::HOST, "localhost")
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap();
            let reply = app.oneshot(request).await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.into_body().collect().await.unwrap();
        }
    };
    measure(name, "Monitoring page SSR, 1M runs (platform admin)", 100, 2, render).await.print();
    db.drop_database().await;
}

#[tokio::main]
async fn main() {
    println!(
        "TenantPilot benchmarks: {} cores, {} starts at {AT_ONCE} at once; latencies per call",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        STARTS
    );
    println!("{:<10} {:<44} {:>6} {:>12} {:>13} {:>13}", "backend", "what", "n", "rate", "p50", "p99");
    bench(Backend::Sqlite, "sqlite").await;
    bench(Backend::Postgres, "postgres").await;
}
