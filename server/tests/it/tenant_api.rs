//! The tenant API v2 contract (`/_/tenant`) on SQLite and PostgreSQL: install, upgrade,
//! disable and purge doing real work on the tenant's data, Location and long-poll, one job per
//! tenant under concurrent POSTs, an upgrade failing midway, and a table of bad inputs that
//! each get their documented status and change nothing.

use crate::common;
use tenantpilot_core::ids::{RunId, TenantId};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::sim::Sim;
use common::{Reply, Sender, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantpilot_core::engine::{operations, EngineHandle, EngineSettings};
use tenantpilot_core::operations::{Initiator, RunOutcome, RunStatus};
use tenantpilot_core::provider::ClientSettings;
use tenantpilot_core::store::{Backend, CapturedPolicy, Db, Store};
use tenantpilot_core::tenant_jobs::module_id;
use tenantpilot_core::tokens::{self, Scope};
use tokio::task::JoinHandle;

tenantpilot_core::test_on_both_backends!(
    install_upgrade_disable_and_purge_through_the_contract,
    load_sample_connects_the_simulator_and_captures_a_backup_set,
    the_lifecycle_page_runs_the_same_jobs,
    disable_cancels_active_runs_and_hides_the_tenant,
    wait_answers_on_a_change_or_after_the_wait,
    concurrent_posts_for_one_tenant_make_one_job,
    an_upgrade_failing_midway_keeps_the_last_good_version,
    bad_inputs_get_their_status_and_change_nothing,
);

struct World {
    app: TestApp,
    engine: Option<EngineHandle>,
    /// The simulator installs take sample data from, if the test asked for one.
    sim: Option<Sim>,
    /// admin@demo.test's token with the Tenant Admin scope.
    token: String,
}

impl World {
    /// The server alone: jobs are queued and nobody works them.
    async fn new(backend: Backend) -> World {
        World::from(common::world::World::builder(backend)).await
    }

    /// The server and an engine working the jobs.
    async fn with_engine(backend: Backend) -> World {
        World::from(common::world::World::builder(backend).engine()).await
    }

    async fn from(builder: common::world::WorldBuilder) -> World {
        let common::world::World { app, sim, engine, .. } = builder.build().await;
        let token = token(&app.db.store, "admin@demo.test", &[Scope::Api, Scope::TenantAdmin]).await;
        World { app, engine, sim, token }
    }

    fn store(&self) -> &Store {
        &self.app.db.store
    }

    async fn call(&self, method: Method, path: &str, tenant: Option<&str>, body: Option<&str>) -> Reply {
        send(&self.app, method, path, Some(&self.token), tenant, body).await
    }

    async fn post(&self, tenant: &str, body: Value) -> Reply {
        self.call(Method::POST, "/_/tenant", Some(tenant), Some(&body.to_string())).await
    }

    /// The job at `location`, once complete.
    async fn completed(&self, tenant: &str, location: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.call(Method::GET, &format!("{location}?wait=2000"), Some(tenant), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let job: Value = serde_json::from_str(&reply.body).unwrap();
            if job["complete"] == true {
                return job;
            }
            assert!(Instant::now() < deadline, "job did not complete: {job}");
        }
    }

    async fn end(self) {
        if let Some(engine) = self.engine {
            engine.shutdown().await;
        }
        self.app.db.drop_database().await;
    }
}

async fn token(store: &Store, email: &str, scopes: &[Scope]) -> String {
    let user = store.user_by_email(email).await.unwrap().unwrap();
    tokens::create(store, &user, "orchestrator", scopes, None).await.unwrap().1
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    tenant: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method.clone()).uri(path).header(header::HOST, "localhost");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(tenant) = tenant {
        request = request.header("X-Okapi-Tenant", tenant);
    }
    let request = match body {
        Some(body) => {
            request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string()))
        }
        None => request.body(Body::empty()),
    };
    let reply = app.reply(request.unwrap()).await;
    TestApp::check_documented(&method, path, &reply);
    reply
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.body))
}

/// A job exactly as the contract's schema has it.
fn assert_job(job: &Value, tenant: &str) {
    let fields: Vec<&str> = job.as_object().unwrap().keys().map(String::as_str).collect();
    for field in &fields {
        assert!(
            ["id", "tenant", "tenantAttributes", "complete", "error", "messages"].contains(field),
            "unexpected field {field} in {job}"
        );
    }
    assert!(job["id"].is_string() && job["complete"].is_boolean() && job["messages"].is_array(), "{job}");
    assert_eq!(job["tenant"], tenant);
}

async fn tenant_row(store: &Store, slug: &str) -> Option<(bool, Option<String>)> {
    store.tenant_by_slug(slug).await.unwrap().map(|tenant| (tenant.enabled, tenant.module_version))
}

fn messages_of(job: &Value) -> Vec<&str> {
    job["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect()
}

async fn load_sample_connects_the_simulator_and_captures_a_backup_set(backend: Backend) {
    let world = World::from(common::world::World::builder(backend).engine().sample_simulator()).await;
    let sim = world.sim.as_ref().unwrap();
    let store = world.store();
    let current = module_id();
    let sample = json!([{ "key": "loadSample", "value": "true" }]);

    let reply = world.post("adventure", json!({ "module_to": current, "parameters": sample })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let done = world.completed("adventure", reply.location()).await;
    assert!(done.get("error").is_none(), "{done}");
    let messages = messages_of(&done);
    assert!(messages.iter().any(|m| m.contains(&format!("sample provider at {}", sim.url))), "{messages:?}");
    // What the simulator holds for the tenant is what the backup set holds.
    let policies = sim.tenant("adventure").await.policies.len();
    assert!(policies > 0);
    assert!(
        messages.iter().any(|m| m.contains(&format!("Loaded {policies} sample policies"))),
        "{messages:?}"
    );
    let adventure = store.tenant_by_slug("adventure").await.unwrap().unwrap();
    assert!(adventure.enabled);
    let sets = store.backup_sets(adventure.id).await.unwrap();
    assert_eq!(sets.iter().map(|set| set.item_count).collect::<Vec<_>>(), [policies as i64]);
    let connection = store.provider_connection_info(adventure.id).await.unwrap().unwrap();
    assert!(connection.base_url.starts_with(&sim.url), "{}", connection.base_url);

    // A tenant with a provider of its own gets no sample data, and is not enabled by the job.
    let contoso = store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let own = tenantpilot_core::provider::NewConnection {
        base_url: "https://graph.example.com/beta",
        token_url: "https://login.example.com/contoso/oauth2/v2.0/token",
        client_id: "contoso-app",
        scope: "",
        credential: tenantpilot_core::provider::NewCredential::Secret("contoso-secret"),
    };
    tenantpilot_core::provider::connect(store, &common::loopback(), &Initiator::System, &contoso, own)
        .await
        .unwrap();
    assert_eq!(world.post("contoso", json!({ "module_from": current })).await.status, StatusCode::NO_CONTENT);
    let reply = world.post("contoso", json!({ "module_to": current, "parameters": sample })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let refused = world.completed("contoso", reply.location()).await;
    let error = refused["error"].as_str().unwrap_or_else(|| panic!("expected an error: {refused}"));
    assert!(error.contains("https://graph.example.com/beta"), "{error}");
    assert_eq!(messages_of(&refused).last(), Some(&error));
    assert!(!store.tenant_by_slug("contoso").await.unwrap().unwrap().enabled);
    assert!(store.backup_sets(contoso.id).await.unwrap().is_empty());
    world.end().await;

    // Without a sample provider the job says how to configure one.
    let world = World::with_engine(backend).await;
    let reply = world.post("adventure", json!({ "module_to": current, "parameters": sample })).await;
    let refused = world.completed("adventure", reply.location()).await;
    assert!(refused["error"].as_str().unwrap_or_default().contains("--sample-provider-url"), "{refused}");
    assert!(!world.store().tenant_by_slug("adventure").await.unwrap().unwrap().enabled);
    world.end().await;
}

/// A `?wait=20000` request for the job at `location`, held by the server once this returns;
/// the task ends with when the answer came, and the answer.
async fn held_wait(world: &Arc<World>, tenant: &'static str, location: &str) -> JoinHandle<(Instant, Reply)> {
    let (world, path) = (world.clone(), format!("{location}?wait=20000"));
    let waiting = tokio::spawn(async move {
        let reply = world.call(Method::GET, &path, Some(tenant), None).await;
        (Instant::now(), reply)
    });
    // The gauge counts every test's requests: give ours the time to be one of them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(tenantpilot_core::tenant_jobs::parked_waits() >= 1, "the request is held");
    waiting
}

/// Replicas share one PostgreSQL database: a request held by one answers when the job changes
/// through another (LISTEN/NOTIFY), as quickly as for a change of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_wakes_on_another_replicas_change() {
    let world = Arc::new(World::new(Backend::Postgres).await);
    let reply = world.post("wingtip", json!({ "module_to": module_id() })).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let location = reply.location().to_string();
    let id: RunId = json_of(&reply)["id"].as_str().unwrap().parse().unwrap();
    // The other replica: a store of its own (its own pool and notification connection).
    let db = &world.app.db;
    let other = Store::connect_postgres_schema(&db.url, db.schema.as_deref().unwrap()).await.unwrap();

    let waiting = held_wait(&world, "wingtip", &location).await;
    let changed_at = Instant::now();
    other.add_run_message(id, "Written by the other replica").await.unwrap();
    let (answered_at, reply) = waiting.await.unwrap();
    assert!(
        answered_at - changed_at < Duration::from_secs(2),
        "answered {:?} after",
        answered_at - changed_at
    );
    assert_eq!(json_of(&reply)["messages"], json!(["Written by the other replica"]));
    other.close().await;
    Arc::into_inner(world).expect("the request is done").end().await;
}

/// The platform's lifecycle page and its server functions: the same jobs as the contract's.
async fn the_lifecycle_page_runs_the_same_jobs(backend: Backend) {
    let world = World::with_engine(backend).await;
    let app = &world.app;
    let admin = app.sign_in("admin@demo.test").await;
    let submit = |form: String| {
        let admin = admin.clone();
        async move {
            app.call(Method::POST, "/api/submit_tenant_job")
                .form(&form)
                .cookie(&admin)
                .by(Sender::Script)
                .send()
                .await
        }
    };
    let page = app.get("/system/tenants/fabrikam", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Enabled") && page.body.contains(&module_id()), "{}", page.body);
    assert!(page.body.contains("No jobs yet."));

    // Disable: done at once, the page says so and lists the job.
    let disabled = submit("slug=fabrikam&action=disable".into()).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert!(disabled.body.contains("Tenant disabled"), "{}", disabled.body);
    assert_eq!(tenant_row(world.store(), "fabrikam").await.map(|(enabled, _)| enabled), Some(false));
    let page = app.get("/system/tenants/fabrikam", Some(&admin)).await;
    assert!(
        page.body.contains("Disabled") && page.body.contains("Disabled tenant fabrikam"),
        "{}",
        page.body
    );

    // Install again with the reference data: a job in the background, then enabled.
    let installed = submit("slug=fabrikam&action=install&load_reference=true".into()).await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.body);
    let run: Value = serde_json::from_str(&installed.body).unwrap();
    let location = format!("/_/tenant/{}", run["run"]);
    let job = world.completed("fabrikam", &location).await;
    assert_eq!(job["tenantAttributes"]["parameters"], json!([{ "key": "loadReference", "value": "true" }]));
    assert_eq!(tenant_row(world.store(), "fabrikam").await.map(|(enabled, _)| enabled), Some(true));

    // Purge needs the slug typed; a wrong one changes nothing.
    let fabrikam = world.store().tenant_by_slug("fabrikam").await.unwrap().unwrap();
    let refused = submit("slug=fabrikam&action=purge&confirm=fabrikan".into()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Type the tenant's slug, fabrikam"), "{}", refused.body);
    assert!(world.store().tenant_by_slug("fabrikam").await.unwrap().is_some());
    let unknown = submit("slug=fabrikam&action=explode".into()).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let purged = submit("slug=fabrikam&action=purge&confirm=fabrikam".into()).await;
    assert!(purged.body.contains("Tenant purged"), "{}", purged.body);
    assert!(rows_of_tenant(world.store(), fabrikam.id).await.iter().all(|(_, rows)| *rows == 0));
    // The page outlives the tenant: its jobs stay, and it can be installed afresh.
    let page = app.get("/system/tenants/fabrikam", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("This tenant was purged") && page.body.contains("Purged tenant fabrikam"));
    assert!(page.body.contains("Install mod-tenantpilot") && !page.body.contains(">Disable<"));
    world.end().await;
}

async fn install_upgrade_disable_and_purge_through_the_contract(backend: Backend) {
    let world = World::with_engine(backend).await;
    let current = module_id();
    let version = current.trim_start_matches("mod-tenantpilot-").to_string();

    let body = json!({ "module_to": current, "parameters": [{ "key": "loadReference", "value": "true" }] });
    let reply = world.post("litware", body.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let job = json_of(&reply);
    assert_job(&job, "litware");
    assert_eq!(job["tenantAttributes"], body);
    assert_eq!(reply.location(), format!("/_/tenant/{}", job["id"].as_str().unwrap()));
    let done = world.completed("litware", reply.location()).await;
    assert_eq!(done["id"], job["id"]);
    assert!(done.get("error").is_none(), "{done}");
    let messages: Vec<&str> =
        done["messages"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("reference data entries")), "{messages:?}");
    assert!(messages.last().unwrap().contains(&format!("enabled at {current}")), "{messages:?}");
    assert_eq!(tenant_row(world.store(), "litware").await, Some((true, Some(version.clone()))));
    let litware = world.store().tenant_by_slug("litware").await.unwrap().unwrap();
    let reference: i64 =
        world.store().reference_data_counts(litware.id).await.unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(reference as usize, operations::reference_catalog().len());
    // The job is an operation run, in Monitoring like any other.
    let run =
        world.store().operation_run(job["id"].as_str().unwrap().parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        (run.kind.as_str(), run.outcome, run.tenant_id),
        ("tenant.install", RunOutcome::Succeeded, Some(litware.id))
    );

    // Already there: nothing to do.
    assert_eq!(world.post("litware", json!({ "module_to": current })).await.status, StatusCode::NO_CONTENT);
    let same = json!({ "module_from": current, "module_to": current });
    assert_eq!(world.post("litware", same).await.status, StatusCode::NO_CONTENT);
    // An upgrade from a version the tenant is not at is the caller's mistake.
    let wrong =
        world.post("litware", json!({ "module_from": "mod-tenantpilot-0.3.0", "module_to": current })).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains(&format!("at {current}, not at mod-tenantpilot-0.3.0")), "{}", wrong.body);

    // Data for the purge to find: a member, a backup set with an item, a provider connection.
    let store = world.store();
    tenantpilot_core::tenancy::set_member(
        store,
        &Initiator::System,
        "litware",
        "operator@demo.test",
        tenantpilot_core::Role::Operator,
    )
    .await
    .unwrap();
    put_item(store, litware.id, "{\"enabled\":true}").await;

    // Disable: done during the request; the data stays.
    let disable = world.post("litware", json!({ "module_from": current })).await;
    assert_eq!(disable.status, StatusCode::NO_CONTENT, "{}", disable.body);
    assert!(disable.body.is_empty());
    assert_eq!(tenant_row(store, "litware").await, Some((false, Some(version.clone()))));
    assert!(rows_of_tenant(store, litware.id).await.iter().map(|(_, n)| n).sum::<i64>() > 1);
    // Disabled twice: nothing to do.
    assert_eq!(world.post("litware", json!({ "module_from": current })).await.status, StatusCode::NO_CONTENT);

    // Re-enable, then purge: no row of the tenant is left, table by table; the audit stays.
    let reinstall = world.post("litware", json!({ "module_to": current })).await;
    assert_eq!(reinstall.status, StatusCode::CREATED);
    world.completed("litware", reinstall.location()).await;
    assert_eq!(tenant_row(store, "litware").await, Some((true, Some(version.clone()))));
    let purge = world.post("litware", json!({ "module_from": current, "purge": true })).await;
    assert_eq!(purge.status, StatusCode::NO_CONTENT, "{}", purge.body);
    assert_eq!(tenant_row(store, "litware").await, None);
    for (table, rows) in rows_of_tenant(store, litware.id).await {
        assert_eq!(rows, 0, "{table} still has rows of the purged tenant");
    }
    let purges: i64 = count(
        store,
        &format!("SELECT COUNT(*) FROM audit_entries WHERE tenant_id = {} AND action = 'purge'", litware.id),
    )
    .await;
    assert_eq!(purges, 1);
    // The lifecycle jobs stay, detached, and still answer by the tenant's slug.
    let first = world.call(Method::GET, reply.location(), Some("litware"), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // Gone means unknown: upgrading or disabling it again is refused.
    let gone = world.post("litware", json!({ "module_from": current })).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    assert!(gone.body.contains("no tenant litware"), "{}", gone.body);

    // DELETE: a completed job goes; then it is not found.
    let deleted = world.call(Method::DELETE, reply.location(), Some("litware"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(
        world.call(Method::GET, reply.location(), Some("litware"), None).await.status,
        StatusCode::NOT_FOUND
    );
    world.end().await;
}

/// Puts one backup item with `settings` (stored as given) into a new backup set of the tenant.
async fn put_item(store: &Store, tenant_id: TenantId, settings: &str) {
    let set = store.backup_set_for_run(tenant_id, RunId(900_000 + tenant_id.0), "Test set").await.unwrap();
    let policy = CapturedPolicy {
        policy_id: "pol-1",
        policy_name: "Baseline",
        policy_type: "deviceConfiguration",
        body: &json!({ "id": "pol-1", "displayName": "Baseline" }),
        settings: &json!({}),
        scope_tags: &[],
        assignments: &[],
    };
    store.put_backup_item(&set, &policy).await.unwrap();
    execute(
        store,
        &format!(
            "UPDATE backup_items SET settings = '{}' WHERE backup_set_id = {}",
            settings.replace('\'', "''"),
            set.id
        ),
    )
    .await;
}

async fn execute(store: &Store, sql: &str) {
    match store.db() {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .unwrap();
}

async fn count(store: &Store, sql: &str) -> i64 {
    match store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .unwrap()
}

/// Rows naming `tenant_id` in every table with a `tenant_id` column (found from the schema, so
/// a table added later is checked too), audit entries aside, and the tenant's own row.
async fn rows_of_tenant(store: &Store, tenant_id: TenantId) -> Vec<(String, i64)> {
    let tables: Vec<String> = match store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.columns \
             WHERE column_name = 'tenant_id' AND table_schema = current_schema() ORDER BY table_name",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    assert!(tables.len() >= 7, "{tables:?}");
    let mut rows = Vec::new();
    for table in tables.into_iter().filter(|table| table != "audit_entries") {
        let n = count(store, &format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = {tenant_id}")).await;
        rows.push((table, n));
    }
    rows.push((
        "tenants".into(),
        count(store, &format!("SELECT COUNT(*) FROM tenants WHERE id = {tenant_id}")).await,
    ));
    rows
}

async fn disable_cancels_active_runs_and_hides_the_tenant(backend: Backend) {
    // No workers: the capture stays queued, and the disable still finishes during its request.
    let world = World::new(backend).await;
    let store = world.store();
    let owner = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let member = store.membership(owner.id, "contoso").await.unwrap().unwrap();
    let capture = operations::start_capture(store, &member, Initiator::user(&owner)).await.unwrap().id();
    let sets_before =
        count(store, &format!("SELECT COUNT(*) FROM backup_sets WHERE tenant_id = {}", member.tenant.id))
            .await;
    let cookie = world.app.sign_in("owner@demo.test").await;
    assert_eq!(world.app.get("/admin/t/contoso", Some(&cookie)).await.status, StatusCode::OK);

    let reply = world.post("contoso", json!({ "module_from": module_id() })).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let run = store.operation_run(capture).await.unwrap().unwrap();
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, RunOutcome::Cancelled));
    assert_eq!(world.app.get("/admin/t/contoso", Some(&cookie)).await.status, StatusCode::NOT_FOUND);
    let operations_token = token(store, "owner@demo.test", &[Scope::Api, Scope::Operations]).await;
    let api =
        send(&world.app, Method::GET, "/admin/t/contoso/backup-sets", Some(&operations_token), None, None)
            .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    // No new runs start through the routes either.
    let start = send(
        &world.app,
        Method::POST,
        "/admin/t/contoso/backup-sets/capture",
        Some(&operations_token),
        None,
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::NOT_FOUND);
    let sets_after =
        count(store, &format!("SELECT COUNT(*) FROM backup_sets WHERE tenant_id = {}", member.tenant.id))
            .await;
    assert_eq!(sets_after, sets_before, "disabling keeps the data");
    // The disable job is a completed run with its messages.
    let jobs = tenantpilot_core::tenant_jobs::history(store, "contoso", 10).await.unwrap();
    assert_eq!(jobs[0].run.kind.as_str(), "tenant.disable");
    assert!(
        jobs[0].job.complete && jobs[0].job.messages[0].contains("cancelled 1 active operations"),
        "{:?}",
        jobs[0].job
    );
    world.end().await;
}

async fn wait_answers_on_a_change_or_after_the_wait(backend: Backend) {
    let world = World::new(backend).await;
    let reply = world.post("wingtip", json!({ "module_to": module_id() })).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let location = reply.location().to_string();
    let id: RunId = json_of(&reply)["id"].as_str().unwrap().parse().unwrap();

    // Nothing changes: the answer comes after about the wait.
    let started = Instant::now();
    let waited = world.call(Method::GET, &format!("{location}?wait=400"), Some("wingtip"), None).await;
    let elapsed = started.elapsed();
    assert_eq!(waited.status, StatusCode::OK);
    assert!(elapsed >= Duration::from_millis(390) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(json_of(&waited)["complete"], false);
    // No wait: at once.
    let started = Instant::now();
    world.call(Method::GET, &location, Some("wingtip"), None).await;
    assert!(started.elapsed() < Duration::from_millis(390));

    // A message arrives while a request waits: it answers right after, with the message.
    let world = Arc::new(world);
    let waiting = held_wait(&world, "wingtip", &location).await;
    let changed_at = Instant::now();
    world.store().add_run_message(id, "Data step 9.9.9: testing").await.unwrap();
    let (answered_at, reply) = waiting.await.unwrap();
    let latency = answered_at - changed_at;
    assert!(latency < Duration::from_secs(2), "answered {latency:?} after the change");
    assert_eq!(json_of(&reply)["messages"], json!(["Data step 9.9.9: testing"]));

    // Many held at once: every one gets the change, at once.
    let path = format!("{location}?wait=20000");
    let many: Vec<_> = (0..50)
        .map(|_| {
            let (world, path) = (world.clone(), path.clone());
            tokio::spawn(async move { world.call(Method::GET, &path, Some("wingtip"), None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let changed_at = Instant::now();
    world.store().add_run_message(id, "Data step 9.9.9: done").await.unwrap();
    for waiting in many {
        let job = json_of(&waiting.await.unwrap());
        assert_eq!(job["messages"], json!(["Data step 9.9.9: testing", "Data step 9.9.9: done"]));
    }
    // One that missed the change would wait out its 20 s.
    assert!(changed_at.elapsed() < Duration::from_secs(2), "all answered {:?} after", changed_at.elapsed());

    // The engine finishing the job wakes a waiting request too.
    let waiting = held_wait(&world, "wingtip", &location).await;
    let engine = EngineHandle::spawn(
        world.store().clone(),
        operations::all(common::client(ClientSettings::default()), None),
        EngineSettings {
            idle_poll: Duration::from_millis(50),
            shutdown_grace: Duration::from_millis(300),
            ..EngineSettings::default()
        },
        "late",
    );
    let mut job = json_of(&waiting.await.unwrap().1);
    while job["complete"] != true {
        job = world.completed("wingtip", &format!("/_/tenant/{id}")).await;
    }
    assert!(job.get("error").is_none(), "{job}");
    engine.shutdown().await;
    let world = Arc::into_inner(world).unwrap();
    world.end().await;
}

async fn concurrent_posts_for_one_tenant_make_one_job(backend: Backend) {
    let world = Arc::new(World::new(backend).await);
    let mut posts = Vec::new();
    for _ in 0..8 {
        let world = world.clone();
        posts.push(tokio::spawn(
            async move { world.post("tailspin", json!({ "module_to": module_id() })).await },
        ));
    }
    let mut ids = Vec::new();
    for post in posts {
        let reply = post.await.unwrap();
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(json_of(&reply)["id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // A different job for the same tenant while this one is active gets this one too.
    let purge = world.post("tailspin", json!({ "module_from": module_id(), "purge": true })).await;
    assert_eq!(purge.status, StatusCode::CREATED, "{}", purge.body);
    assert_eq!(json_of(&purge)["id"].as_str().unwrap(), ids[0]);
    let jobs = count(world.store(), "SELECT COUNT(*) FROM operation_runs WHERE kind LIKE 'tenant.%'").await;
    assert_eq!(jobs, 1);
    // Still running: it cannot be deleted.
    let delete = world.call(Method::DELETE, &format!("/_/tenant/{}", ids[0]), Some("tailspin"), None).await;
    assert_eq!(delete.status, StatusCode::BAD_REQUEST);
    assert!(delete.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    Arc::into_inner(world).unwrap().end().await;
}

async fn an_upgrade_failing_midway_keeps_the_last_good_version(backend: Backend) {
    let world = World::with_engine(backend).await;
    let install = world
        .post("adatum", json!({ "module_to": "mod-tenantpilot-0.3.0", "parameters": [{ "key": "loadReference", "value": "true" }] }))
        .await;
    assert_eq!(install.status, StatusCode::CREATED, "{}", install.body);
    world.completed("adatum", install.location()).await;
    let tenant = world.store().tenant_by_slug("adatum").await.unwrap().unwrap();
    assert_eq!(tenant.module_version.as_deref(), Some("0.3.0"));
    put_item(world.store(), tenant.id, "{not json").await;

    let upgrade = world
        .post("adatum", json!({ "module_from": "mod-tenantpilot-0.3.0", "module_to": module_id() }))
        .await;
    assert_eq!(upgrade.status, StatusCode::CREATED, "{}", upgrade.body);
    let job = world.completed("adatum", upgrade.location()).await;
    let error = job["error"].as_str().unwrap_or_default();
    assert!(error.contains("Data step 0.5.0 failed") && error.contains("Baseline"), "{job}");
    let messages = job["messages"].as_array().unwrap();
    assert!(messages.iter().any(|m| m.as_str().unwrap().contains("Tenant data is at 0.4.0")), "{job}");
    assert_eq!(tenant_row(world.store(), "adatum").await, Some((true, Some("0.4.0".into()))));

    // Repaired, the upgrade from the last good version goes through.
    execute(
        world.store(),
        &format!("UPDATE backup_items SET settings = '{{}}' WHERE tenant_id = {}", tenant.id),
    )
    .await;
    let retry = world
        .post("adatum", json!({ "module_from": "mod-tenantpilot-0.4.0", "module_to": module_id() }))
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    let job = world.completed("adatum", retry.location()).await;
    assert!(job.get("error").is_none(), "{job}");
    let version = module_id().trim_start_matches("mod-tenantpilot-").to_string();
    assert_eq!(tenant_row(world.store(), "adatum").await, Some((true, Some(version))));
    world.end().await;
}

/// A bad request: what it is, method, path, token, tenant header, body, status, and a part of
/// the answer.
type Case<'a> = (&'a str, Method, String, Option<&'a str>, Option<&'a str>, Option<String>, u16, &'a str);

/// What a bad request may not change: every row count and every tenant's state.
async fn snapshot(store: &Store) -> Vec<String> {
    let mut state = Vec::new();
    for table in [
        "workspaces",
        "tenants",
        "memberships",
        "operation_runs",
        "operation_run_messages",
        "audit_entries",
        "tenant_reference_data",
    ] {
        state.push(format!("{table}: {}", count(store, &format!("SELECT COUNT(*) FROM {table}")).await));
    }
    for tenant in store.workspaces_with_tenants().await.unwrap().into_iter().flat_map(|w| w.tenants) {
        state.push(format!("{} {} {:?}", tenant.slug, tenant.enabled, tenant.module_version));
    }
    state
}

async fn bad_inputs_get_their_status_and_change_nothing(backend: Backend) {
    let world = World::new(backend).await;
    let store = world.store();
    // One job (active: no workers) to aim GET and DELETE at.
    let job = world.post("proseware", json!({ "module_to": module_id() })).await;
    assert_eq!(job.status, StatusCode::CREATED, "{}", job.body);
    let job_path = job.location().to_string();
    let readonly = token(store, "admin@demo.test", &[Scope::Api, Scope::Operations]).await;
    let member = token(store, "owner@demo.test", &[Scope::Api, Scope::TenantAdmin]).await;
    let before = snapshot(store).await;

    let to = module_id();
    let newer = "mod-tenantpilot-99.0.0";
    // (what, method, path, token, tenant header, body, status, a part of the answer)
    let admin = Some(world.token.as_str());
    let cases: Vec<Case> = vec![
        ("get: no token", Method::GET, job_path.clone(), None, Some("proseware"), None, 401, "Authentication required"),
        ("unknown token", Method::POST, "/_/tenant".into(), Some("tp_nonsense"), Some("contoso"), Some(json!({"module_to": to}).to_string()), 401, ""),
        ("scope missing", Method::POST, "/_/tenant".into(), Some(&readonly), Some("contoso"), Some(json!({"module_to": to}).to_string()), 403, "Tenant Admin"),
        ("not a platform admin", Method::POST, "/_/tenant".into(), Some(&member), Some("contoso"), Some(json!({"module_to": to}).to_string()), 404, "Not found"),
        ("no tenant header", Method::POST, "/_/tenant".into(), admin, None, Some(json!({"module_to": to}).to_string()), 400, "X-Okapi-Tenant header is required"),
        ("empty tenant header", Method::POST, "/_/tenant".into(), admin, Some(""), Some(json!({"module_to": to}).to_string()), 400, "required"),
        ("tenant header not a slug", Method::POST, "/_/tenant".into(), admin, Some("Contoso Ltd"), Some(json!({"module_to": to}).to_string()), 400, "not a tenant slug"),
        ("malformed JSON", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some("{\"module_to\": ".into()), 400, "not valid JSON"),
        ("empty body", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(String::new()), 400, "not valid JSON"),
        ("an array", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some("[]".into()), 422, "must be a JSON object"),
        ("a string", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some("\"install\"".into()), 422, "must be a JSON object"),
        ("neither module", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some("{}".into()), 422, "module_from or module_to is required"),
        ("only purge", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"purge": true}).to_string()), 422, "module_from or module_to is required"),
        ("module_to a number", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": 5}).to_string()), 422, "module_to must be a module id string"),
        ("module_from an object", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_from": {}}).to_string()), 422, "module_from must be"),
        ("no version", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": "mod-tenantpilot"}).to_string()), 422, "<name>-<semver>"),
        ("two-part version", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": "mod-tenantpilot-1.0"}).to_string()), 422, "<name>-<semver>"),
        ("leading zero", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": "mod-tenantpilot-01.0.0"}).to_string()), 422, "<name>-<semver>"),
        ("another module", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": "mod-sample-1.3.1"}).to_string()), 422, "this application is mod-tenantpilot"),
        ("newer than running", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": newer}).to_string()), 422, "newer than the running version"),
        ("downgrade", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_from": to, "module_to": "mod-tenantpilot-0.3.0"}).to_string()), 422, "downgrades are not supported"),
        ("purge a string", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_from": to, "purge": "yes"}).to_string()), 422, "purge must be true or false"),
        ("purge on install", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "purge": true}).to_string()), 422, "applies only when disabling"),
        ("unknown field", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "moduleTo": to}).to_string()), 422, "moduleTo is not a field"),
        ("parameters an object", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": {"loadReference": "true"}}).to_string()), 422, "parameters must be an array"),
        ("parameter item a string", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": ["loadReference"]}).to_string()), 422, "parameters[0] must be an object"),
        ("parameter unknown item key", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadReference", "value": "true", "note": "x"}]}).to_string()), 422, "parameters[0].note is not allowed"),
        ("parameter without value", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadReference"}]}).to_string()), 422, "parameters[0].value is required"),
        ("parameter value a boolean", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadReference", "value": true}]}).to_string()), 422, "parameters[0].value must be a string"),
        ("unknown parameter", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadRefernce", "value": "true"}]}).to_string()), 422, "is not a parameter"),
        ("loadSample not a boolean", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadSample", "value": "yes"}]}).to_string()), 422, "of loadSample must be"),
        ("flag not a boolean", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadReference", "value": "yes"}]}).to_string()), 422, "of loadReference must be"),
        ("duplicate parameter", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "loadReference", "value": "true"}, {"key": "loadReference", "value": "false"}]}).to_string()), 422, "given twice"),
        ("bad workspace", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "workspace", "value": "North Europe"}]}).to_string()), 422, "of workspace"),
        ("parameters on disable", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_from": to, "parameters": [{"key": "loadReference", "value": "true"}]}).to_string()), 422, "apply only to an install"),
        ("upgrade an unknown tenant", Method::POST, "/_/tenant".into(), admin, Some("nobody"), Some(json!({"module_from": to, "module_to": to}).to_string()), 400, "no tenant nobody"),
        ("disable an unknown tenant", Method::POST, "/_/tenant".into(), admin, Some("nobody"), Some(json!({"module_from": to}).to_string()), 400, "no tenant nobody"),
        ("disable from the wrong version", Method::POST, "/_/tenant".into(), admin, Some("fabrikam"), Some(json!({"module_from": "mod-tenantpilot-0.3.0"}).to_string()), 400, "not at mod-tenantpilot-0.3.0"),
        ("install in another workspace", Method::POST, "/_/tenant".into(), admin, Some("contoso"), Some(json!({"module_to": to, "parameters": [{"key": "workspace", "value": "elsewhere"}]}).to_string()), 400, "belongs to workspace"),
        ("get: no tenant header", Method::GET, job_path.clone(), admin, None, None, 400, "header is required"),
        ("get: another tenant's job", Method::GET, job_path.clone(), admin, Some("fabrikam"), None, 404, "Not found"),
        ("get: unknown job", Method::GET, "/_/tenant/999999".into(), admin, Some("contoso"), None, 404, "Not found"),
        ("get: not an id", Method::GET, "/_/tenant/53bd40c8-a420-4ddb-b829-4496ff5e5be4".into(), admin, Some("contoso"), None, 404, "Not found"),
        ("get: a run that is no job", Method::GET, "/_/tenant/1".into(), admin, Some("contoso"), None, 404, "Not found"),
        ("get: wait negative", Method::GET, format!("{job_path}?wait=-5"), admin, Some("proseware"), None, 400, "whole number of milliseconds"),
        ("get: wait a word", Method::GET, format!("{job_path}?wait=later"), admin, Some("proseware"), None, 400, "whole number of milliseconds"),
        ("get: wait a fraction", Method::GET, format!("{job_path}?wait=0.5"), admin, Some("proseware"), None, 400, "whole number of milliseconds"),
        ("get: not a platform admin", Method::GET, job_path.clone(), Some(&member), Some("proseware"), None, 404, "Not found"),
        ("delete: still running", Method::DELETE, job_path.clone(), admin, Some("proseware"), None, 400, "still running"),
        ("delete: another tenant's", Method::DELETE, job_path.clone(), admin, Some("fabrikam"), None, 404, "Not found"),
        ("delete: unknown", Method::DELETE, "/_/tenant/999999".into(), admin, Some("contoso"), None, 404, "Not found"),
        ("delete: unknown token", Method::DELETE, job_path.clone(), Some("tp_nonsense"), Some("proseware"), None, 401, ""),
    ];
    assert!(cases.len() >= 30);
    for (what, method, path, token, tenant, body, status, part) in cases {
        let reply = send(&world.app, method, &path, token, tenant, body.as_deref()).await;
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
        let content_type =
            reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if status == 422 {
            assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
            let errors = json_of(&reply);
            let list = errors["errors"].as_array().unwrap();
            assert_eq!(errors["total_records"], list.len(), "{what}");
            for error in list {
                assert!(
                    error["message"].is_string() && error["type"].is_string() && error["code"].is_string(),
                    "{what}: {error}"
                );
                assert!(
                    error["parameters"][0]["key"].is_string() && error["parameters"][0]["value"].is_string(),
                    "{what}: {error}"
                );
            }
        } else {
            assert!(content_type.starts_with("text/plain"), "{what}: {content_type} {}", reply.body);
        }
        assert!(reply.body.contains(part), "{what}: `{}` should contain `{part}`", reply.body);
        assert_eq!(snapshot(store).await, before, "{what} changed the database");
    }
    world.end().await;
}
