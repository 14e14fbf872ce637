//! `make bench`: the operation engine's and Monitoring's numbers, on SQLite and PostgreSQL.
//! - starts per second, new runs and reused runs, with per-start p50/p99 (16 at once);
//! - Monitoring's first page (unfiltered and filtered) and a run's detail with 1,000,000 runs
//!   in the store;
//! - server-side rendering of the Monitoring page, through the real router;
//! - what a bearer token costs a request over a session cookie, through the real router;
//! - starts as scripts make them, through the router with a bearer token, 16 clients (new and
//!   reused runs), beside a plain authenticated GET as the reference;
//! - the activity logs (user actions, token activity) with 1,000,000 entries in each;
//! - 10,000 `GET /_/tenant/{id}?wait=` long-polls held at once: the server's memory per waiting
//!   request, and how soon after the job changes every one of them has its answer;
//! - a nightly schedule over every tenant of a 5,000-tenant workspace, without jitter: the time
//!   from the scheduler's look at its slot to every tenant's capture queued;
//! - planning a restore of 300 policies (its preview reads each policy's live assignments) from
//!   a provider simulator answering each read in 40 ms, as a real Graph round trip takes;
//! - the nightly backup window: 1,000 tenants of 30 policies each captured from the simulator
//!   answering every request in 100 ms, with the engine's settings and with the old ones;
//! - the live feed: 500 dashboards (SSE clients over HTTP) open during a 200-tenant capture,
//!   patching in place as the page does now and reloading as it did before: the server's CPU
//!   seconds per minute, change-to-delivery p50/p99, bytes per subscriber.
//!
//! `cargo bench --bench operations -- long-poll sqlite` (or `postgres`) runs the long-poll part,
//! `-- backup-window sqlite` the backup window and `-- live-feed sqlite` the live feed (`make
//! bench` runs the three on each backend after the rest, each in a process of its own: peak
//! memory is measured);
//! `-- restore-preview` the preview, `-- fan-out` the schedule fan-out and `-- http-starts` the
//! HTTP starts, on both backends.
//! Prints a table; nothing here asserts (speed is measured, not tested).

use axum::body::Body;
use axum::http::{header, HeaderName, Request};
use axum::Router;
use chrono::{Duration as Days, Utc};
use clap::Parser;
use http_body_util::BodyExt;
use std::future::Future;
use std::time::{Duration, Instant};
use tenantpilot_core::ids::{RunId, TenantId, WorkspaceId};
use tenantpilot_core::model::AccountKind;
use tenantpilot_core::model::Caller;
use tenantpilot_core::model::{Tenant, User};
use tenantpilot_core::operations::{self, ListParams};
use tenantpilot_core::operations::{Initiator, OperationKind, RunTarget};
use tenantpilot_core::provider::{ClientSettings, ProviderClient};
use tenantpilot_core::store::{Backend, Db, NewRun, Store};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::tokens::{AccountRole, Scope};
use tenantpilot_core::{accounts, seed};
use tenantpilot_core::{audit, engine, tenant_jobs, tokens};
use tenantpilot_server::config::Cli;
use tenantpilot_server::router;
use tenantpilot_server::sessions::SessionBackend;
use tower::ServiceExt;

/// The server binary's allocator, so the router in this process allocates as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STARTS: usize = 2_000;
const AT_ONCE: usize = 16;
const MILLION: i64 = 1_000_000;
const PASSWORD: &str = "benchmark-password-1";
/// Requests per way of authenticating, one at a time.
const AUTH_REQUESTS: usize = 2_000;
/// Calls per activity-log query, one at a time.
const LOG_CALLS: usize = 50;
/// The demo users the activity fill spreads its entries over (`seed::demo` makes them).
const DEMO_USERS: &str =
    "('admin@demo.test', 'owner@demo.test', 'manager@demo.test', 'operator@demo.test', 'readonly@demo.test')";

struct Sample {
    backend: &'static str,
    what: String,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Sample {
    fn at(&mut self, q: f64) -> Duration {
        self.latencies.sort();
        self.latencies[((self.latencies.len() as f64 - 1.0) * q).round() as usize]
    }

    fn print(&mut self) {
        let (p50, p99) = (self.at(0.50), self.at(0.99));
        let rate = self.latencies.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<10} {:<44} {:>6} {:>10.0}/s {:>10.2} ms {:>10.2} ms",
            self.backend,
            self.what,
            self.latencies.len(),
            rate,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
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

fn fetch_run(workspace_id: WorkspaceId, tenant_id: TenantId, target: String) -> NewRun {
    NewRun {
        workspace_id,
        tenant_id: Some(tenant_id),
        kind: OperationKind::Fetch,
        target: Some(RunTarget { kind: "backup_item".into(), id: target }),
        context: serde_json::Map::new(),
        initiator: Initiator::System,
        retry_of: None,
    }
}

/// Adds `count` completed runs spread over the demo tenants, created one a second back from now.
/// Adds `count` completed runs in one statement; their ids are the `count` up to the one returned
/// (PostgreSQL's may start past gaps: a start's insert that finds its run active uses an id).
async fn fill(store: &Store, tenants: &[TenantId], workspace_id: WorkspaceId, count: i64) -> i64 {
    let [a, b, c] = [tenants[0], tenants[1], tenants[2]];
    let newest = "SELECT MAX(id) FROM operation_runs";
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
            sqlx::query_scalar(newest).fetch_one(pool).await.expect("the newest run")
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
            sqlx::query_scalar(newest).fetch_one(pool).await.expect("the newest run")
        }
    }
}

/// A timestamp `i × 2.592 s` before now (1,000,000 of them span 30 days), as SQLite gets one from
/// sqlx for a `DateTime<Utc>`: RFC 3339 with `+00:00`, and no fraction when it is `.000`.
const SQLITE_AGO: &str =
    "replace(strftime('%Y-%m-%dT%H:%M:%f', 'now', '-' || (i * 2.592) || ' seconds'), '.000', '') \
    || '+00:00'";
const POSTGRES_AGO: &str = "now() - make_interval(secs => (i * 2.592)::float8)";

/// Adds `count` user actions and `count` token-activity entries, spread over the last 30 days and
/// over the demo users: a mix of types (personal ones, token and session, have no workspace) and
/// of scopes. Token ids are made up: the logs do not join tokens.
async fn fill_activity(store: &Store, tenants: &[TenantId], workspace_id: WorkspaceId, count: i64) {
    let [a, b, c] = [tenants[0], tenants[1], tenants[2]];
    let (numbers, users, actor, ago, joined) = match store.db() {
        Db::Sqlite(_) => (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1), ",
            "u(k, id, email, name) AS (SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, email, display_name \
             FROM users WHERE email IN ",
            "json_object('kind', 'user', 'id', u.id, 'name', u.name)",
            SQLITE_AGO,
            "FROM n CROSS JOIN u WHERE u.k = ",
        ),
        Db::Postgres(_) => (
            "WITH ",
            "u(k, id, email, name) AS (SELECT ROW_NUMBER() OVER (ORDER BY id) - 1, id, email, display_name \
             FROM users WHERE email IN ",
            "json_build_object('kind', 'user', 'id', u.id, 'name', u.name)::text",
            POSTGRES_AGO,
            "FROM generate_series(1, $1) AS i JOIN u ON u.k = ",
        ),
    };
    let actions = format!(
        "{numbers}{users}{DEMO_USERS}) \
         INSERT INTO audit_entries (workspace_id, tenant_id, user_id, user_email, actor, type, action, target_id, \
         details, created_at) \
         SELECT CASE WHEN i % 5 < 3 THEN $2 END, \
         CASE WHEN i % 5 = 0 THEN CASE (i / 5) % 3 WHEN 0 THEN $3 WHEN 1 THEN $4 ELSE $5 END END, \
         u.id, u.email, {actor}, \
         CASE i % 5 WHEN 0 THEN 'operation' WHEN 1 THEN 'pipeline' WHEN 2 THEN 'tool' WHEN 3 THEN 'token' \
         ELSE 'session' END, \
         CASE i % 5 WHEN 0 THEN CASE (i / 5) % 3 WHEN 0 THEN 'start' WHEN 1 THEN 'reuse' ELSE 'cancel' END \
         WHEN 1 THEN CASE (i / 5) % 3 WHEN 0 THEN 'run' WHEN 1 THEN 'stop' ELSE 'update' END \
         WHEN 2 THEN CASE (i / 5) % 3 WHEN 0 THEN 'create' WHEN 1 THEN 'update' ELSE 'delete' END \
         WHEN 3 THEN CASE (i / 5) % 2 WHEN 0 THEN 'create' ELSE 'revoke' END ELSE 'sign_in' END, \
         CASE WHEN i % 5 < 4 THEN CAST(1 + i % 997 AS TEXT) END, '{{}}', {ago} \
         {joined}(i / 5) % 5"
    );
    let activity = format!(
        "{numbers}{users}{DEMO_USERS}) \
         INSERT INTO token_activity (token_id, user_id, scope, target, created_at) \
         SELECT 1000 + u.k, u.id, \
         CASE i % 4 WHEN 0 THEN 'api' WHEN 1 THEN 'pipeline' WHEN 2 THEN 'operations' ELSE 'security_logs' END, \
         CASE i % 4 WHEN 0 THEN '/api/v1/pipeline/status' WHEN 1 THEN '/api/v1/pipeline/run' \
         WHEN 2 THEN '/admin/monitoring/operations' ELSE '/api/v1/logs/user/actions' END, {ago} \
         {joined}(i / 4) % 5"
    );
    match store.db() {
        Db::Sqlite(pool) => {
            let query = sqlx::query(&actions).bind(count).bind(workspace_id).bind(a).bind(b).bind(c);
            query.execute(pool).await.expect("fill SQLite user actions");
            sqlx::query(&activity).bind(count).execute(pool).await.expect("fill SQLite token activity");
            sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
        }
        Db::Postgres(pool) => {
            let query = sqlx::query(&actions).bind(count).bind(workspace_id).bind(a).bind(b).bind(c);
            query.execute(pool).await.expect("fill PostgreSQL user actions");
            sqlx::query(&activity).bind(count).execute(pool).await.expect("fill PostgreSQL token activity");
            sqlx::query("ANALYZE audit_entries").execute(pool).await.expect("analyze");
            sqlx::query("ANALYZE token_activity").execute(pool).await.expect("analyze");
        }
    }
}

/// `count` GETs of `path` through the router, one at a time, signed in with `credential` (a
/// `Cookie` or an `Authorization` header), each answered 200 and read to the end.
async fn requests(
    backend: &'static str,
    what: &str,
    app: &Router,
    credential: (HeaderName, String),
    path: &'static str,
    count: usize,
) -> Sample {
    let app = app.clone();
    let call = move |_| {
        let (app, (name, value)) = (app.clone(), credential.clone());
        async move {
            let request = Request::get(path)
                .header(header::HOST, "localhost")
                .header(header::ACCEPT, "application/json")
                .header(name, value)
                .body(Body::empty())
                .unwrap();
            answered(app, request, 200).await;
        }
    };
    measure(backend, what, count, 1, call).await
}

/// Sends `request` through the router and reads its answer to the end, which must be `status`.
async fn answered(app: Router, request: Request<Body>, status: u16) {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let reply = app.oneshot(request).await.unwrap();
    assert_eq!(reply.status(), status, "{method} {uri}");
    reply.into_body().collect().await.unwrap();
}

/// The router as the server builds it from `args`, on `store`.
async fn app_of(store: &Store, args: &[&str]) -> Router {
    let serve = Cli::parse_from(args).serve;
    router::build(
        store.clone(),
        ProviderClient::new(ClientSettings::default()),
        SessionBackend::open(store).await.unwrap(),
        &serve,
        router::leptos_options(&serve),
    )
}

async fn user(store: &Store, email: &str) -> User {
    store.user_by_email(email).await.unwrap().expect("demo user")
}

async fn bench(backend: Backend, name: &'static str) {
    let db = TestDatabase::new(backend).await;
    let store = db.store.clone();
    seed::demo(&store).await.unwrap();
    accounts::create_user(&store, "bench@demo.test", Some("Bench"), PASSWORD, AccountKind::PlatformAdmin)
        .await
        .unwrap();
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

    // The router in process, as the server runs it, and a browser session of the bench user.
    let app = app_of(&store, &["tenantpilot"]).await;
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

    // What a bearer token costs a request over a session cookie: the token's SHA-256, its lookup
    // and a token-activity row, against the session's load.
    let bencher = user(&store, "bench@demo.test").await;
    let (_, token) =
        tokens::create(&store, &bencher, "bench", &[Scope::Api, Scope::Operations], None).await.unwrap();
    let operations = "/admin/monitoring/operations?limit=1";
    let session = (header::COOKIE, cookie.clone());
    let mut by_session =
        requests(name, "GET operations?limit=1, session cookie", &app, session, operations, AUTH_REQUESTS)
            .await;
    let bearer = (header::AUTHORIZATION, format!("Bearer {token}"));
    let mut by_token =
        requests(name, "GET operations?limit=1, bearer token", &app, bearer, operations, AUTH_REQUESTS).await;
    by_session.print();
    by_token.print();
    let ms = |sample: &mut Sample, q: f64| sample.at(q).as_secs_f64() * 1e3;
    println!(
        "{name:<10} (bearer token over session cookie: p50 {:+.2} ms, p99 {:+.2} ms)",
        ms(&mut by_token, 0.50) - ms(&mut by_session, 0.50),
        ms(&mut by_token, 0.99) - ms(&mut by_session, 0.99)
    );

    http_starts(name, &store, &app, contoso).await;

    let filling = Instant::now();
    let ids: Vec<TenantId> = tenants.iter().map(|tenant| tenant.id).collect();
    let newest = fill(&store, &ids, workspace, MILLION).await;
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
                    let page = operations::list(&store, &viewer, &ListParams::default()).await.unwrap();
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
                operations::list(&store, &owner, &params).await.unwrap();
            }
        }
    };
    measure(name, "Monitoring first page, 1M runs (tenant+outcome)", 200, 4, filtered).await.print();
    let detail = {
        let (store, owner) = (store.clone(), owner.clone());
        move |n: usize| {
            let (store, owner) = (store.clone(), owner.clone());
            async move {
                let id = RunId(newest - (n as i64 * 4_999) % MILLION);
                operations::run(&store, &owner, id).await.unwrap();
            }
        }
    };
    measure(name, "Monitoring run detail, 1M runs", 1_000, 4, detail).await.print();

    // The page as a browser gets it: session, guard, queries and HTML, through the router.
    let render = {
        let app = app.clone();
        move |_| {
            let (app, cookie) = (app.clone(), cookie.clone());
            async move {
                let request = Request::get("/admin/monitoring")
                    .header(header::HOST, "localhost")
                    .header(header::ACCEPT, "text/html")
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap();
                answered(app, request, 200).await;
            }
        }
    };
    measure(name, "Monitoring page SSR, 1M runs (platform admin)", 100, 2, render).await.print();

    // The activity logs as a Power User (a member, so what they may read is worked out) reads them.
    let filling = Instant::now();
    fill_activity(&store, &ids, workspace, MILLION).await;
    println!(
        "{name:<10} (filled {MILLION} user actions and {MILLION} token-activity entries in {:.1} s)",
        filling.elapsed().as_secs_f64()
    );
    store.set_account_role(owner.id, AccountRole::PowerUser).await.unwrap();
    let owner = user(&store, "owner@demo.test").await;
    let one_day = format!("date={}&count=100", (Utc::now() - Days::days(3)).format("%Y-%m-%d"));
    let queries: [(bool, &str, Option<String>, usize); 6] = [
        (true, "user actions, 1M: last 7 days", None, 1000),
        (true, "user actions, 1M: type=pipeline", Some("type=pipeline".into()), 1000),
        (true, "user actions, 1M: one date, count=100", Some(one_day.clone()), 100),
        (false, "token activity, 1M: last 7 days", None, 1000),
        (false, "token activity, 1M: scope=pipeline", Some("scope=pipeline".into()), 1000),
        (false, "token activity, 1M: one date, count=100", Some(one_day), 100),
    ];
    for (actions, what, raw, rows) in queries {
        let call = {
            let (store, owner) = (store.clone(), owner.clone());
            move |_| {
                let (store, owner, raw) = (store.clone(), owner.clone(), raw.clone());
                async move {
                    let count = if actions {
                        audit::user_actions(&store, &owner, raw.as_deref()).await.unwrap().count
                    } else {
                        audit::token_activity(&store, &owner, raw.as_deref()).await.unwrap().count
                    };
                    assert_eq!(count, rows, "{what}");
                }
            }
        };
        measure(name, what, LOG_CALLS, 1, call).await.print();
    }
    let (_, token) =
        tokens::create(&store, &owner, "bench", &[Scope::Api, Scope::SecurityLogs], None).await.unwrap();
    let bearer = (header::AUTHORIZATION, format!("Bearer {token}"));
    let logs = "/api/v1/logs/user/actions";
    requests(name, "GET /api/v1/logs/user/actions, 1M (bearer)", &app, bearer, logs, LOG_CALLS).await.print();
    db.drop_database().await;
}

/// Starts through the router per kind (new, reused), and plain GETs beside them.
const HTTP_STARTS: usize = 10_000;

/// Starts as a script makes them: `POST …/assignments/fetch` through the router with a bearer
/// token (hash and lookup, token-activity row, membership and capability, start and its audit
/// entry), `AT_ONCE` clients; and a plain authenticated GET in the same way, as the reference.
async fn http_starts(name: &'static str, store: &Store, app: &Router, contoso: TenantId) {
    let owner = user(store, "owner@demo.test").await;
    let (_, token) =
        tokens::create(store, &owner, "bench", &[Scope::Api, Scope::Operations], None).await.unwrap();
    let set = store.backup_set_for_run(contoso, RunId(1), "HTTP bench").await.unwrap();
    let insert = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
        INSERT INTO backup_items (backup_set_id, tenant_id, policy_id, policy_name, policy_type, body, settings, \
        scope_tags, assignments, assignments_count) \
        SELECT $2, $3, 'http-bench-' || i, 'Bench policy', 'settingsCatalogPolicy', '{}', '[]', '[]', '[]', 0 FROM n";
    let ids = "SELECT id FROM backup_items WHERE backup_set_id = $1 ORDER BY id";
    let items: Vec<i64> = match store.db() {
        Db::Sqlite(pool) => {
            let count = HTTP_STARTS as i64;
            sqlx::query(insert).bind(count).bind(set.id).bind(contoso).execute(pool).await.unwrap();
            sqlx::query_scalar(ids).bind(set.id).fetch_all(pool).await.unwrap()
        }
        Db::Postgres(pool) => {
            let count = HTTP_STARTS as i32;
            sqlx::query(insert).bind(count).bind(set.id).bind(contoso).execute(pool).await.unwrap();
            sqlx::query_scalar(ids).bind(set.id).fetch_all(pool).await.unwrap()
        }
    };
    let items = std::sync::Arc::new(items);
    let call = |method: &'static str, path_of: fn(i64) -> String, expected: u16| {
        let (app, items, bearer) = (app.clone(), items.clone(), format!("Bearer {token}"));
        move |n: usize| {
            let (app, path, bearer) = (app.clone(), path_of(items[n % items.len()]), bearer.clone());
            async move {
                let request = Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::HOST, "localhost")
                    .header(header::ACCEPT, "application/json")
                    .header(header::AUTHORIZATION, bearer)
                    .body(Body::empty())
                    .unwrap();
                answered(app, request, expected).await;
            }
        }
    };
    let fetch = |item: i64| format!("/admin/t/contoso/backup-items/{item}/assignments/fetch");
    let read = |item: i64| format!("/admin/t/contoso/backup-items/{item}");
    let mut get =
        measure(name, "HTTP GET backup item (token)", HTTP_STARTS, AT_ONCE, call("GET", read, 200)).await;
    get.print();
    let mut new =
        measure(name, "HTTP start, new run (token)", HTTP_STARTS, AT_ONCE, call("POST", fetch, 202)).await;
    new.print();
    // Every item now has an active run (no engine here): each start reuses one.
    let mut reused =
        measure(name, "HTTP start, reused run (token)", HTTP_STARTS, AT_ONCE, call("POST", fetch, 202)).await;
    reused.print();
    let rate = |sample: &Sample| sample.latencies.len() as f64 / sample.elapsed.as_secs_f64();
    println!(
        "{name:<10} (HTTP starts per GET: new {:.2}, reused {:.2})",
        rate(&new) / rate(&get),
        rate(&reused) / rate(&get)
    );
}

const WAITERS: usize = 10_000;

/// Resident memory of this process, in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Token-activity rows committed so far.
async fn token_activity_rows(store: &Store) -> i64 {
    let count = "SELECT COUNT(*) FROM token_activity";
    match store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(count).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(count).fetch_one(pool).await,
    }
    .expect("count token activity")
}

/// `WAITERS` long-polls on one active job through the real router (in process, so the memory
/// measured is the server's alone), then one change that must wake them all.
async fn long_poll(backend: Backend, name: &'static str) {
    let db = TestDatabase::new(backend).await;
    let store = db.store.clone();
    seed::demo(&store).await.unwrap();
    let admin = user(&store, "admin@demo.test").await;
    let (_, token) =
        tokens::create(&store, &admin, "bench", &[Scope::Api, Scope::TenantAdmin], None).await.unwrap();
    let app = app_of(&store, &["tenantpilot", "--tenant-job-max-wait-ms", "600000"]).await;
    let request = |method: &str, path: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header("X-Okapi-Tenant", "longpoll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    // No engine runs here, so the install job stays active for as long as the bench needs.
    let body = format!("{{\"module_to\":\"{}\"}}", tenantpilot_core::tenant_jobs::module_id());
    let created = app.clone().oneshot(request("POST", "/_/tenant", &body)).await.unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()[header::LOCATION].to_str().unwrap().to_string();
    let job_id: RunId = location.rsplit('/').next().unwrap().parse().unwrap();

    let (before, activity_before) = (rss_kib(), token_activity_rows(&store).await);
    let parking = Instant::now();
    let mut waiting = tokio::task::JoinSet::new();
    for _ in 0..WAITERS {
        let (app, request) = (app.clone(), request("GET", &format!("{location}?wait=300000"), ""));
        waiting.spawn(async move {
            let reply = app.oneshot(request).await.unwrap();
            let answered = Instant::now();
            assert_eq!(reply.status(), 200);
            reply.into_body().collect().await.unwrap();
            answered
        });
    }
    // Parked: subscribed to changes and past the first read, so the change below is news to each;
    // and held, as a long-poll is: each request's token-activity row committed (its answer would
    // otherwise wait for the commits of those let in after it, which is admission, not fan-out).
    while tenant_jobs::parked_waits() < WAITERS
        || token_activity_rows(&store).await < activity_before + WAITERS as i64
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let parked_in = parking.elapsed();
    let held = rss_kib();
    perf_control("enable");
    let changed = Instant::now();
    store.add_run_message(job_id, "Data step 0.5.0: bench").await.unwrap();
    let mut latencies = Vec::with_capacity(WAITERS);
    while let Some(answered) = waiting.join_next().await {
        latencies.push(answered.unwrap() - changed);
    }
    perf_control("disable");
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<10} {WAITERS} ?wait long-polls held: parked in {:.1} s; server memory +{:.1} MiB ({:.1} KiB each); \
         after one change all answered: p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms",
        parked_in.as_secs_f64(),
        held.saturating_sub(before) as f64 / 1024.0,
        held.saturating_sub(before) as f64 / WAITERS as f64,
        at(0.50),
        at(0.99),
        at(1.0),
    );
    db.drop_database().await;
}

/// Profiles only what follows under `perf record --delay=-1 --control fifo:FIFO` with
/// `PERF_CTL_FIFO=FIFO` set (the README's long-poll profile): `enable` or `disable`.
fn perf_control(command: &str) {
    if let Ok(fifo) = std::env::var("PERF_CTL_FIFO") {
        std::fs::write(fifo, format!("{command}\n")).expect("perf's control fifo");
    }
}

/// `-- long-poll sqlite|postgres` runs only the long-poll part on one backend, in a process of
/// its own: memory measured after the other parts (or the other backend) would mostly be the
/// allocator handing back what they freed.
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "long-poll") {
        match args.get(at + 1).map(String::as_str) {
            Some("postgres") => long_poll(Backend::Postgres, "postgres").await,
            _ => long_poll(Backend::Sqlite, "sqlite").await,
        }
        return;
    }
    if args.iter().any(|arg| arg == "restore-preview") {
        restore_preview().await;
        return;
    }
    if args.iter().any(|arg| arg == "http-starts") {
        for (backend, name) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            let db = TestDatabase::new(backend).await;
            seed::demo(&db.store).await.unwrap();
            let contoso = db.store.tenant_by_slug("contoso").await.unwrap().unwrap().id;
            let app = app_of(&db.store, &["tenantpilot"]).await;
            http_starts(name, &db.store, &app, contoso).await;
            db.drop_database().await;
        }
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "backup-window") {
        match args.get(at + 1).map(String::as_str) {
            Some("postgres") => backup_windows(Backend::Postgres, "postgres").await,
            _ => backup_windows(Backend::Sqlite, "sqlite").await,
        }
        return;
    }
    if let Some(at) = args.iter().position(|arg| arg == "live-feed") {
        // Under the dashboards' reloads some answers were 500: their cause goes to stderr
        // (errors only, unless RUST_LOG says otherwise).
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
        match args.get(at + 1).map(String::as_str) {
            Some("postgres") => live_feeds(Backend::Postgres, "postgres").await,
            _ => live_feeds(Backend::Sqlite, "sqlite").await,
        }
        return;
    }
    if args.iter().any(|arg| arg == "fan-out") {
        fan_out(Backend::Sqlite, "sqlite").await;
        fan_out(Backend::Postgres, "postgres").await;
        return;
    }
    println!(
        "TenantPilot benchmarks: {} cores, {} starts at {AT_ONCE} at once; latencies per call",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        STARTS,
    );
    println!("{:<10} {:<44} {:>6} {:>12} {:>13} {:>13}", "backend", "what", "n", "rate", "p50", "p99");
    bench(Backend::Sqlite, "sqlite").await;
    bench(Backend::Postgres, "postgres").await;
    fan_out(Backend::Sqlite, "sqlite").await;
    fan_out(Backend::Postgres, "postgres").await;
    restore_preview().await;
}

const FAN_OUT_TENANTS: i64 = 5_000;

/// A schedule capturing every tenant of a `FAN_OUT_TENANTS`-tenant workspace, without jitter:
/// how long its slot takes from the scheduler's look (every 15 s) to every capture queued.
async fn fan_out(backend: Backend, name: &str) {
    use tenantpilot_core::schedules;
    use tenantpilot_core::store::{RunQuery, RunScope};
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    seed::demo(store).await.unwrap();
    let owner = user(store, "owner@demo.test").await;
    let workspace = store.workspace_by_slug("demo").await.unwrap().unwrap().id;
    let more = FAN_OUT_TENANTS - store.enabled_tenants_of(workspace).await.unwrap().len() as i64;
    let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
               INSERT INTO tenants (workspace_id, slug, name, external_tenant_id, created_at) \
               SELECT $2, 'bench-' || i, 'Bench ' || i, 'bench-' || i, $3 FROM n";
    match store.db() {
        Db::Sqlite(pool) => {
            sqlx::query(sql).bind(more).bind(workspace).bind(Utc::now()).execute(pool).await.unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query(sql).bind(more as i32).bind(workspace).bind(Utc::now()).execute(pool).await.unwrap();
        }
    }
    let slot = nightly_capture(store, workspace, &owner).await;
    let started = Instant::now();
    let fired = schedules::fire_due(store, slot + Days::seconds(1)).await.unwrap();
    let elapsed = started.elapsed();
    let queued = store.count_runs(&RunQuery::new(RunScope::All, 1), i64::MAX).await.unwrap();
    println!(
        "{name:<10} fan-out of {FAN_OUT_TENANTS} tenants, no jitter: slot to {queued} captures queued in {:.2} s \
         ({:.0} runs/s; {} slot parts), after a scheduler look every 15 s",
        elapsed.as_secs_f64(),
        fired.len() as f64 / elapsed.as_secs_f64(),
        fired.len()
    );
    db.drop_database().await;
}

/// A schedule capturing every tenant of `workspace` at 02:00 UTC without jitter, owned by
/// `owner`; returns its next slot (tomorrow's), for the caller to fire.
async fn nightly_capture(store: &Store, workspace: WorkspaceId, owner: &User) -> chrono::DateTime<Utc> {
    use tenantpilot_core::schedules::{Missed, ScheduleTarget};
    let new = tenantpilot_core::store::NewSchedule {
        workspace_id: workspace,
        name: "Every tenant nightly",
        cron: "0 2 * * *",
        time_zone: "UTC",
        target: ScheduleTarget::WorkspaceCapture { workspace },
        jitter_minutes: 0,
        missed: Missed::CatchUp,
        owner_id: owner.id,
    };
    store.create_schedule(&new).await.unwrap();
    (Utc::now() + Days::days(1)).date_naive().and_hms_opt(2, 0, 0).unwrap().and_utc()
}

/// The nightly backup window: tenants, policies each, and the provider's answer time.
const WINDOW_TENANTS: usize = 1_000;
const WINDOW_POLICIES: usize = 30;
const WINDOW_LATENCY_MS: u64 = 100;
/// Tenants the old settings capture, to project their window from (all 1,000 would take 25 min).
const OLD_SETTINGS_TENANTS: usize = 40;

/// How one window went.
struct Window {
    tenants: usize,
    elapsed: Duration,
    peak_rss_kib: u64,
    requests: u64,
}

/// The demo workspace with `tenants` more tenants of `WINDOW_POLICIES` policies each, connected
/// to a provider simulator (started here) that answers every request after `WINDOW_LATENCY_MS`;
/// the workspace's own tenants sit out. Returns the simulator's address.
async fn simulated_fleet(store: &Store, tenants: usize) -> String {
    use serde_json::json;
    use tenantpilot_server::provider_sim::{self, Fault};

    seed::demo(store).await.unwrap();
    let workspace = store.workspace_by_slug("demo").await.unwrap().unwrap();
    for tenant in store.enabled_tenants_of(workspace.id).await.unwrap() {
        store.disable_tenant(tenant.id).await.unwrap();
    }
    let url = simulator().await;
    let http = reqwest::Client::new();
    let sample = provider_sim::sample_tenant("window-app", "window-secret");
    let mut simulated = sample.clone();
    simulated.policies = (0..WINDOW_POLICIES)
        .map(|n| {
            let mut policy = sample.policies[n % sample.policies.len()].clone();
            policy.body["id"] = json!(format!("{}-{n}", policy.id()));
            policy
        })
        .collect();
    simulated.faults = vec![Fault { latency_ms: WINDOW_LATENCY_MS, ..Fault::default() }];
    for n in 0..tenants {
        let slug = format!("window-{n}");
        http.put(format!("{url}/_sim/tenants/{slug}")).json(&simulated).send().await.unwrap();
        let new = tenantpilot_core::tenancy::NewTenant {
            workspace_slug: "demo",
            slug: &slug,
            name: &format!("Window {n}"),
            external_tenant_id: None,
        };
        let (tenant, _) =
            tenantpilot_core::tenancy::create_tenant(store, &Initiator::System, new).await.unwrap();
        connect_simulated(store, &url, &tenant, "window-app", "window-secret").await;
    }
    url
}

/// Egress to the simulator only.
fn loopback() -> tenantpilot_core::egress::EgressPolicy {
    tenantpilot_core::egress::EgressPolicy::parse("127.0.0.1").unwrap()
}

/// A provider simulator on a port of its own, in this process, without tenants; its address.
async fn simulator() -> String {
    use tenantpilot_server::provider_sim;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(provider_sim::serve(listener, provider_sim::Fixtures::Empty, std::future::pending()));
    url
}

/// Connects `tenant` to its namesake at the simulator at `url`, with a client secret.
async fn connect_simulated(store: &Store, url: &str, tenant: &Tenant, client_id: &str, secret: &str) {
    use tenantpilot_core::provider::{NewConnection, NewCredential};
    let connection = NewConnection {
        base_url: &format!("{url}/beta"),
        token_url: &format!("{url}/{}/oauth2/v2.0/token", tenant.slug),
        client_id,
        scope: "",
        credential: NewCredential::Secret(secret),
    };
    tenantpilot_core::provider::connect(store, &loopback(), &Initiator::System, tenant, connection)
        .await
        .unwrap();
}

/// Waits until no run is queued or running.
async fn until_idle(store: &Store) {
    loop {
        let active: i64 = store.active_runs().await.unwrap().iter().map(|(_, _, count)| count).sum();
        if active == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every tenant of a workspace captured from the provider simulator over HTTP, each request
/// answered after `WINDOW_LATENCY_MS`, by an engine of `workers` lanes reading `at_once`
/// requests at a time per capture: from the schedule's slot to the last capture completed.
async fn backup_window(backend: Backend, tenants: usize, workers: usize, at_once: usize) -> Window {
    use tenantpilot_core::engine::{operations, EngineHandle, EngineSettings};
    use tenantpilot_core::operations::RunOutcome;
    use tenantpilot_core::schedules;
    use tenantpilot_core::store::{RunQuery, RunScope};

    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let url = simulated_fleet(store, tenants).await;
    let http = reqwest::Client::new();
    // The demo workspace's Site Admin owns the schedule.
    let owner = user(store, "owner@demo.test").await;
    let workspace = store.workspace_by_slug("demo").await.unwrap().unwrap();
    let slot = nightly_capture(store, workspace.id, &owner).await;
    let client = ProviderClient::new(ClientSettings {
        egress: loopback(),
        requests_at_once: at_once,
        ..ClientSettings::default()
    });
    let settings = EngineSettings { workers, ..EngineSettings::default() };
    let requests_before = sim_requests(&http, &url, tenants).await;

    let rss_before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_before));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    schedules::fire_due(store, slot + Days::seconds(1)).await.unwrap();
    let engine = EngineHandle::spawn(store.clone(), operations::all(client, None), settings, "bench");
    let captures = RunQuery::new(RunScope::All, 1);
    until_idle(store).await;
    let elapsed = started.elapsed();
    sampling.abort();
    engine.shutdown().await;
    let outcomes = store.count_runs_by_outcome(&captures).await.unwrap();
    let succeeded =
        outcomes.iter().find(|(outcome, _)| *outcome == RunOutcome::Succeeded).map_or(0, |(_, n)| *n);
    assert_eq!(succeeded as usize, tenants, "every capture succeeds: {outcomes:?}");
    let requests = sim_requests(&http, &url, tenants).await - requests_before;
    db.drop_database().await;
    Window { tenants, elapsed, peak_rss_kib: peak.load(std::sync::atomic::Ordering::Relaxed), requests }
}

/// Graph requests the simulated tenants have answered so far.
async fn sim_requests(http: &reqwest::Client, url: &str, tenants: usize) -> u64 {
    let mut requests = 0;
    for n in 0..tenants {
        let tenant: serde_json::Value =
            http.get(format!("{url}/_sim/tenants/window-{n}")).send().await.unwrap().json().await.unwrap();
        requests += tenant["requests"].as_u64().unwrap_or(0);
    }
    requests
}

/// `make bench`'s backup window, at the engine's settings and at the settings before issue 17
/// (4 workers, one request at a time), on one backend.
async fn backup_windows(backend: Backend, name: &str) {
    let defaults = tenantpilot_core::engine::EngineSettings::default().workers;
    let at_once = ClientSettings::default().requests_at_once;
    let now = backup_window(backend, WINDOW_TENANTS, defaults, at_once).await;
    let old = backup_window(backend, OLD_SETTINGS_TENANTS, 4, 1).await;
    let per_second = |window: &Window| window.tenants as f64 / window.elapsed.as_secs_f64();
    for (label, window) in
        [(format!("{defaults} workers, {at_once} at once"), &now), ("4 workers, 1 at once".into(), &old)]
    {
        println!(
            "{name:<10} backup window, {} tenants x {WINDOW_POLICIES} policies at {WINDOW_LATENCY_MS} ms ({label}): \
             {:.1} s, {:.2} tenants/s, {} Graph requests, peak RSS {:.0} MiB",
            window.tenants,
            window.elapsed.as_secs_f64(),
            per_second(window),
            window.requests,
            window.peak_rss_kib as f64 / 1024.0,
        );
    }
    println!(
        "{name:<10} (the old settings' window for {WINDOW_TENANTS} tenants, projected: {:.1} min; now {:.1} min)",
        WINDOW_TENANTS as f64 / per_second(&old) / 60.0,
        now.elapsed.as_secs_f64() / 60.0
    );
}

/// The live feed: tenants captured while dashboards hold their streams open.
const FEED_TENANTS: usize = 200;
const FEED_SUBSCRIBERS: usize = 500;
/// How the page before reloaded: this long after the first change of a burst.
const OLD_SETTLE: Duration = Duration::from_millis(300);
/// How the page reloads now, when a run enters it: at most this often.
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// What a dashboard does with a pushed change.
#[derive(Clone, Copy, PartialEq)]
enum Dashboard {
    /// Nothing: the stream alone, what the server's fan-out costs.
    Listening,
    /// The page before: reloads its list 300 ms after any change.
    Refetching,
    /// The page now: patches known runs in place, reloads (at most once a second) when a new
    /// run appears.
    Patching,
}

/// A run's state as a change carries it: what a delivery is matched to its publication by.
type Shown = (i64, String, String, i64, i64, i64);

fn shown(change: &serde_json::Value) -> Option<Shown> {
    let counters = &change["counters"];
    Some((
        change["runId"].as_i64()?,
        change["status"].as_str()?.to_string(),
        change["outcome"].as_str()?.to_string(),
        counters["total"].as_i64()?,
        counters["processed"].as_i64()?,
        counters["failed"].as_i64()?,
    ))
}

/// What the subscribers saw.
#[derive(Default)]
struct Deliveries {
    /// Change (its publication) to delivery, ms.
    latencies: Vec<f64>,
    bytes: u64,
    events: u64,
    reloads: u64,
    /// Reloads answered with anything but 200.
    failed_reloads: u64,
    /// Deliveries whose publication the bench missed (its own subscription lagged).
    unmatched: u64,
}

/// CPU seconds used so far by the threads that serve: the server's runtime (`tp-server`) and
/// SQLite's connection threads. The clients and the simulator run on the bench's own runtime.
fn server_cpu_secs() -> f64 {
    // Linux counts thread time in clock ticks of 1/100 s (USER_HZ).
    const TICKS_PER_SEC: f64 = 100.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = &stat[open + 1..close];
        if !(name.starts_with("tp-server") || name.starts_with("sqlx-sqlite")) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        ticks += fields.get(11).and_then(|utime| utime.parse::<u64>().ok()).unwrap_or(0);
        ticks += fields.get(12).and_then(|stime| stime.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / TICKS_PER_SEC
}

/// One subscriber: its stream read to the end, each delivery timed against its publication,
/// and the page's reloads as `dashboard` makes them (`POST /api/monitoring`, the list's data, as
/// the Monitoring island asks for it).
async fn subscriber(
    http: reqwest::Client,
    base: String,
    cookie: String,
    dashboard: Dashboard,
    published: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<Shown, Instant>>>,
    seen: std::sync::Arc<std::sync::Mutex<Deliveries>>,
) {
    let mut reply =
        http.get(format!("{base}/admin/monitoring/events")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(reply.status(), 200, "a live stream opens");
    let (reload_tx, mut reload_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    // The page's reloads, one at a time, as its timers ask for them; over when the reader is.
    {
        let (http, base, cookie, seen) = (http.clone(), base.clone(), cookie.clone(), seen.clone());
        tokio::spawn(async move {
            let mut last = Instant::now() - RELOAD_EVERY;
            while reload_rx.recv().await.is_some() {
                let wait = match dashboard {
                    Dashboard::Refetching => OLD_SETTLE,
                    Dashboard::Listening | Dashboard::Patching => RELOAD_EVERY.saturating_sub(last.elapsed()),
                };
                tokio::time::sleep(wait).await;
                while reload_rx.try_recv().is_ok() {}
                last = Instant::now();
                let sent = http
                    .post(format!("{base}/api/monitoring"))
                    .header("cookie", &cookie)
                    .header("origin", &base)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("")
                    .send()
                    .await;
                // The server stops before the last dashboards do.
                let Ok(reply) = sent else { return };
                let status = reply.status();
                let body = reply.text().await.unwrap_or_default();
                let mut seen = seen.lock().unwrap();
                if status == 200 {
                    seen.reloads += 1;
                } else {
                    // Counted and told, not fatal: one dashboard's failure must not end its reloads.
                    seen.failed_reloads += 1;
                    if seen.failed_reloads <= 3 {
                        eprintln!(
                            "a reload answered {status}: {}",
                            body.chars().take(300).collect::<String>()
                        );
                    }
                }
            }
        });
    }
    let (mut known, mut text) = (std::collections::HashSet::new(), String::new());
    while let Ok(Some(chunk)) = reply.chunk().await {
        let at = Instant::now();
        text.push_str(&String::from_utf8_lossy(&chunk));
        let mut delivered = Vec::new();
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) else { continue };
            if !event.contains("event: run") {
                continue;
            }
            let change: serde_json::Value = serde_json::from_str(data).unwrap();
            let Some(state) = shown(&change) else { continue };
            let reload = match dashboard {
                Dashboard::Listening => false,
                Dashboard::Refetching => true,
                Dashboard::Patching => known.insert(state.0),
            };
            if reload {
                let _ = reload_tx.send(());
            }
            delivered.push(state);
        }
        let latencies: Vec<Option<f64>> = {
            let published = published.lock().unwrap();
            delivered
                .iter()
                .map(|state| published.get(state).map(|when| at.duration_since(*when).as_secs_f64() * 1e3))
                .collect()
        };
        let mut seen = seen.lock().unwrap();
        seen.bytes += chunk.len() as u64;
        seen.events += latencies.len() as u64;
        seen.unmatched += latencies.iter().filter(|latency| latency.is_none()).count() as u64;
        seen.latencies.extend(latencies.into_iter().flatten());
    }
}

/// `FEED_TENANTS` tenants captured from the simulator while `FEED_SUBSCRIBERS` dashboards hold
/// their live streams open over HTTP: the server (its own runtime, so its CPU time is its own)
/// serves the streams, the dashboards' reloads and the engine; the subscribers and the
/// simulator run on the bench's runtime.
async fn live_feed(backend: Backend, dashboard: Dashboard) -> (Duration, f64, Deliveries) {
    use std::sync::{Arc, Mutex};
    use tenantpilot_core::engine::{operations, EngineHandle, EngineSettings};
    use tenantpilot_core::schedules;
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tp-server")
        .enable_all()
        .build()
        .unwrap();
    let db = server.spawn(TestDatabase::new(backend)).await.unwrap();
    let store = db.store.clone();
    simulated_fleet(&store, FEED_TENANTS).await;
    let owner = user(&store, "owner@demo.test").await;
    let workspace = store.workspace_by_slug("demo").await.unwrap().unwrap();
    let slot = nightly_capture(&store, workspace.id, &owner).await;
    let streams = FEED_SUBSCRIBERS.to_string();
    let app = {
        let store = store.clone();
        server
            .spawn(async move { app_of(&store, &["tenantpilot", "--live-streams-per-user", &streams]).await })
    }
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    {
        let app = app.clone();
        server.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, service).await.unwrap();
        });
    }
    // Every dashboard is a platform admin's, who sees every run.
    accounts::create_user(&store, "bench@demo.test", Some("Bench"), PASSWORD, AccountKind::PlatformAdmin)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(FEED_SUBSCRIBERS * 2)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{base}/api/login"))
        .header("origin", &base)
        .header("accept", "text/html")
        .form(&[("email", "bench@demo.test"), ("password", PASSWORD), ("next", "")])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();

    let published = Arc::new(Mutex::new(std::collections::HashMap::new()));
    let recording = {
        let (published, mut changes) = (published.clone(), store.events().subscribe());
        tokio::spawn(async move {
            while let Ok(change) = changes.recv().await {
                let value = serde_json::to_value(change).unwrap();
                let state = shown(&value).unwrap();
                published.lock().unwrap().entry(state).or_insert_with(Instant::now);
            }
        })
    };
    let seen = Arc::new(Mutex::new(Deliveries::default()));
    let mut subscribers = tokio::task::JoinSet::new();
    for _ in 0..FEED_SUBSCRIBERS {
        let (http, base, cookie) = (http.clone(), base.clone(), cookie.clone());
        subscribers.spawn(subscriber(http, base, cookie, dashboard, published.clone(), seen.clone()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (cpu_before, started) = (server_cpu_secs(), Instant::now());
    let client = ProviderClient::new(ClientSettings { egress: loopback(), ..ClientSettings::default() });
    let engine = {
        let _inside = server.enter();
        EngineHandle::spawn(store.clone(), operations::all(client, None), EngineSettings::default(), "bench")
    };
    {
        let store = store.clone();
        server
            .spawn(async move { schedules::fire_due(&store, slot + Days::seconds(1)).await.unwrap() })
            .await
            .unwrap();
    }
    until_idle(&store).await;
    // The last changes' deliveries, and the reloads they ask for.
    tokio::time::sleep(RELOAD_EVERY + Duration::from_millis(500)).await;
    let (elapsed, cpu) = (started.elapsed(), server_cpu_secs() - cpu_before);
    subscribers.abort_all();
    while subscribers.join_next().await.is_some() {}
    recording.abort();
    server.spawn(engine.shutdown()).await.unwrap();
    server.spawn(db.drop_database()).await.unwrap();
    server.shutdown_background();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (elapsed, cpu, seen)
}

/// `-- live-feed sqlite|postgres`: the live feed to streams alone, to dashboards as they are
/// now (a capture starts a fetch run per policy, so new runs keep arriving and the list
/// reloads about once a second), and to dashboards as they were (reloading on every change).
async fn live_feeds(backend: Backend, name: &str) {
    for (dashboard, label) in [
        (Dashboard::Listening, "streams only"),
        (Dashboard::Patching, "patching in place, reloads <= 1/s"),
        (Dashboard::Refetching, "before: reload 300 ms after a change"),
    ] {
        let (elapsed, cpu, mut seen) = live_feed(backend, dashboard).await;
        seen.latencies.sort_by(f64::total_cmp);
        let at = |q: f64| {
            seen.latencies.get(((seen.latencies.len().max(1) - 1) as f64 * q).round() as usize).copied()
        };
        let minutes = elapsed.as_secs_f64() / 60.0;
        println!(
            "{name:<10} live feed, {FEED_SUBSCRIBERS} dashboards, {FEED_TENANTS}-tenant capture ({label}): {:.1} s, \
             server CPU {:.1} s/min, change to delivery p50 {:.0} ms p99 {:.0} ms, {:.0} KiB and {:.0} events \
             per subscriber, {:.0} reloads/s ({} failed){}",
            elapsed.as_secs_f64(),
            cpu / minutes,
            at(0.50).unwrap_or(f64::NAN),
            at(0.99).unwrap_or(f64::NAN),
            seen.bytes as f64 / 1024.0 / FEED_SUBSCRIBERS as f64,
            seen.events as f64 / FEED_SUBSCRIBERS as f64,
            seen.reloads as f64 / elapsed.as_secs_f64(),
            seen.failed_reloads,
            if seen.unmatched > 0 { format!(" ({} deliveries unmatched)", seen.unmatched) } else { String::new() },
        );
    }
}

const PREVIEW_POLICIES: usize = 300;

/// Plans a restore of `PREVIEW_POLICIES` policies against the simulator over real HTTP.
async fn restore_preview() {
    use serde_json::json;
    use tenantpilot_core::backups::{Assignment, RestoreRequest};
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::provider::PolicyFamily;
    use tenantpilot_core::store::CapturedPolicy;
    use tenantpilot_server::provider_sim::{self, Fault, SimPolicy};

    let db = TestDatabase::new(Backend::Sqlite).await;
    let store = &db.store;
    seed::demo(store).await.unwrap();
    let url = simulator().await;
    let mut tenant = provider_sim::sample_tenant("bench-app", "bench-secret");
    let target = json!({ "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "grp-finance" });
    tenant.policies = (0..PREVIEW_POLICIES)
        .map(|n| SimPolicy {
            family: PolicyFamily::SettingsCatalog,
            body: json!({ "id": format!("p{n}"), "name": format!("Policy {n}"), "platforms": "windows10", "technologies": "mdm" }),
            settings: vec![],
            assignments: vec![target.clone()],
        })
        .collect();
    tenant.faults = vec![Fault { path: Some("/assignments".into()), latency_ms: 40, ..Fault::default() }];
    reqwest::Client::new().put(format!("{url}/_sim/tenants/contoso")).json(&tenant).send().await.unwrap();
    let owner = user(store, "owner@demo.test").await;
    let member = store.membership(owner.id, "contoso").await.unwrap().unwrap();
    connect_simulated(store, &url, &member.tenant, "bench-app", "bench-secret").await;
    let set = store.backup_set_for_run(member.tenant.id, RunId(1), "Bench").await.unwrap();
    let assignments = [Assignment { target, group_name: Some("Finance".into()), filter_name: None }];
    for policy in &tenant.policies {
        let captured = CapturedPolicy {
            policy_id: policy.id(),
            policy_name: policy.body["name"].as_str().unwrap(),
            policy_type: policy.family.policy_type(),
            body: &policy.body,
            settings: &serde_json::Value::Array(vec![]),
            scope_tags: &[],
            assignments: &assignments,
        };
        store.put_backup_item(&set, &captured).await.unwrap();
    }
    let client = ProviderClient::new(ClientSettings { egress: loopback(), ..ClientSettings::default() });
    let request = RestoreRequest { backup_set_id: set.id, ..RestoreRequest::default() };
    let started = Instant::now();
    let restore = operations::create_restore_run(store, &client, &member, &Caller::person(&owner), &request)
        .await
        .unwrap();
    assert_eq!(restore.preview.items.len(), PREVIEW_POLICIES);
    println!(
        "{:<10} restore preview of {PREVIEW_POLICIES} policies, 40 ms a Graph read: {:.1} s ({:.0} ms a policy)",
        "sqlite",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / PREVIEW_POLICIES as f64
    );
    db.drop_database().await;
}
