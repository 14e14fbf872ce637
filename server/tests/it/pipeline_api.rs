//! The pipeline contract (`/api/v1/…`) on SQLite and PostgreSQL, with the engine running and
//! real HTTP to the provider simulator and to a tool: runs doing real work, paused and stopped
//! pipelines, the scope × role × item-access matrix, registry merges with write-only secrets,
//! and the activity logs. Answers are held to the contract text's examples.

use crate::common;
use tenantpilot_core::ids::{PipelineId, TenantId, ToolId, UserId, WorkspaceId};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::get;
use common::pipeline_contract::{matches_an_example, PipelineContract};
use common::sim::Sim;
use common::{Reply, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tenantpilot_core::audit::{AuditAction, AuditKind};
use tenantpilot_core::engine::{EngineHandle, EngineSettings};
use tenantpilot_core::model::AccountKind;
use tenantpilot_core::model::Caller;
use tenantpilot_core::model::User;
use tenantpilot_core::operations::{Initiator, OperationRun, RunOutcome, RunStatus};
use tenantpilot_core::pipelines::PipelineInput;
use tenantpilot_core::provider::ClientSettings;
use tenantpilot_core::store::{Backend, NewToken, Store};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::tokens::{AccountRole, Scope};
use tenantpilot_core::{accounts, pipelines, tokens, tools, CoreError, Role};

tenantpilot_core::test_on_both_backends!(
    a_pipeline_runs_its_steps_through_the_engine,
    paused_pipelines_refuse_and_stop_finishes_the_current_step,
    scopes_roles_and_item_access_decide_every_answer,
    registry_update_merges_root_properties_and_hides_secrets,
    rights_on_tools_steps_and_secrets,
    activity_logs_filter_limit_and_order,
    activity_logs_show_only_the_readers_workspaces_and_tenants,
    pipeline_runs_are_seen_by_who_may_read_the_pipeline,
    a_pipeline_run_past_its_maximum_duration_is_cancelled,
);

const TOOL_SECRET: &str = "tool-secret-never-shown";

/// A tool on a loopback port: `/ok` answers two lines, `/fail` a 500; it keeps the
/// `Authorization` headers it was sent.
struct Hooks {
    url: String,
    authorizations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hooks {
    async fn start() -> Hooks {
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let app = axum::Router::new()
            .route(
                "/ok",
                get(move |headers: HeaderMap| async move {
                    let authorization =
                        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                    seen.lock().unwrap().push(authorization.to_string());
                    "deployed build 42\nall checks green\n"
                }),
            )
            .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Hooks { url, authorizations, task }
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct World {
    app: TestApp,
    engine: EngineHandle,
    sim: Sim,
    hooks: Hooks,
    contract: PipelineContract,
    owner: User,
    tool_id: ToolId,
}

impl World {
    /// The demo workspace with Olivia Owner a Power User, contoso on the simulator, and a tool.
    async fn new(backend: Backend) -> World {
        World::with_engine(backend, EngineSettings::for_tests()).await
    }

    async fn with_engine(backend: Backend, settings: EngineSettings) -> World {
        let common::world::World { app, sim, engine, .. } = common::world::World::builder(backend)
            .simulator()
            .engine_with(settings)
            .client(ClientSettings {
                request_timeout: Duration::from_secs(2),
                max_attempts: 2,
                max_retry_wait: Duration::from_millis(100),
                ..ClientSettings::default()
            })
            .build()
            .await;
        let (sim, engine) = (sim.unwrap(), engine.unwrap());
        let hooks = Hooks::start().await;
        sim.connect(&app.db.store, "contoso", 10).await;
        let store = &app.db.store;
        let owner = store.user_by_email("owner@demo.test").await.unwrap().unwrap();
        store.set_account_role(owner.id, AccountRole::PowerUser).await.unwrap();
        let owner = store.user_by_id(owner.id).await.unwrap().unwrap();
        let tool = json!({
            "name": "Deploy hooks", "tool_identifier": "http", "owner": "owner@demo.test", "account": "demo",
            "configuration": {"baseUrl": hooks.url},
            "secrets": {"apiToken": TOOL_SECRET},
            "access": [{"user": "manager@demo.test", "level": "read"}],
        });
        let tool = tools::create(store, &common::loopback(), None, tool.as_object().unwrap()).await.unwrap();
        World { app, engine, sim, hooks, contract: PipelineContract::load(), owner, tool_id: tool.id }
    }

    fn store(&self) -> &Store {
        &self.app.db.store
    }

    /// A pipeline owned by Olivia, readable by Max Manager.
    async fn pipeline(&self, name: &str, steps: Value) -> PipelineId {
        let input = PipelineInput {
            name: name.into(),
            description: "Made by a test".into(),
            account: Some("demo".into()),
            owner: Some("owner@demo.test".into()),
            access: serde_json::from_value(json!([{"user": "manager@demo.test", "level": "read"}])).unwrap(),
            steps: serde_json::from_value(steps).unwrap(),
        };
        pipelines::create(self.store(), None, &input).await.unwrap().id
    }

    async fn token(&self, email: &str, scopes: &[Scope]) -> String {
        let user = self.store().user_by_email(email).await.unwrap().unwrap();
        tokens::create(self.store(), &user, "script", scopes, None).await.unwrap().1
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|body| body.to_string());
        let reply: Reply = self.app.bearer_json(method.clone(), path, token, body.as_deref()).await;
        TestApp::check_documented(&method, path, &reply);
        let json =
            serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("{path} answered {}", reply.body));
        (reply.status, json)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// The pipeline's run `n` once its operation run has completed.
    async fn finished(&self, pipeline_id: PipelineId, n: i64) -> OperationRun {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(run) = self.store().pipeline_run(pipeline_id, n).await.unwrap() {
                let run = self.store().operation_run(run.operation_run_id).await.unwrap().unwrap();
                if run.status == RunStatus::Completed {
                    return run;
                }
                assert!(tokio::time::Instant::now() < deadline, "run {n} did not complete: {run:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn end(self) {
        self.engine.shutdown().await;
        drop(self.sim);
        self.app.db.drop_database().await;
    }
}

/// A contract error: the status and `{"status": "failed", "message": …}`, nothing else.
fn assert_failed(answer: &(StatusCode, Value), status: StatusCode, message_part: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let fields: Vec<&String> = answer.1.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["message", "status"], "{}", answer.1);
    assert_eq!(answer.1["status"], "failed");
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains(message_part), "`{message}` should contain `{message_part}`");
}

async fn a_pipeline_runs_its_steps_through_the_engine(backend: Backend) {
    let world = World::new(backend).await;
    let id = world
        .pipeline(
            "Nightly",
            json!([
                {"name": "Capture contoso", "kind": "backup_set.capture", "params": {"tenant": "contoso"}},
                {"name": "Deploy", "kind": "tool.http", "params": {"toolId": world.tool_id.to_string(), "path": "/ok"}},
            ]),
        )
        .await;
    let token = world.token("owner@demo.test", &[Scope::Api, Scope::Pipeline]).await;

    let run = world.post("/api/v1/pipeline/run", &token, json!({ "pipelineId": id.to_string() })).await;
    assert_eq!(run.0, StatusCode::OK, "{}", run.1);
    assert_eq!(
        run.1,
        json!({"status": "executed", "message": format!("Run pipeline request submitted successfully for ({id})"), "runCount": 1})
    );
    assert!(matches_an_example(&world.contract, "/api/v1/pipeline/run", &run.1));

    // One pipeline.run operation run, counting the steps; its capture step ran a real capture.
    let done = world.finished(id, 1).await;
    assert_eq!(
        (done.kind.as_str(), done.outcome),
        ("pipeline.run", RunOutcome::Succeeded),
        "{:?}",
        done.failures
    );
    assert_eq!((done.counters.total, done.counters.processed, done.counters.failed), (2, 2, 0));
    assert!(matches!(&done.initiator, Initiator::Token { user_id, .. } if *user_id == world.owner.id));
    let contoso = world.store().tenant_by_slug("contoso").await.unwrap().unwrap();
    let sets = world.store().backup_sets(contoso.id).await.unwrap();
    assert_eq!(sets.len(), 1, "the capture step made a backup set");
    let capture = world.store().operation_run(sets[0].operation_run_id.unwrap()).await.unwrap().unwrap();
    assert_eq!((capture.kind.as_str(), capture.outcome), ("backup_set.capture", RunOutcome::Succeeded));
    assert_eq!(capture.initiator, done.initiator, "a step acts for whoever started the run");
    // The tool got its secret, and only the tool did.
    assert_eq!(*world.hooks.authorizations.lock().unwrap(), [format!("Bearer {TOOL_SECRET}")]);

    let status =
        world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": id, "runCount": 1})).await;
    assert_eq!(
        status.1,
        json!({"status": "success", "message": "Pipeline: Nightly's Run 1 was successful."})
    );
    assert!(matches_an_example(&world.contract, "/api/v1/pipeline/status", &status.1));

    // Logs: newest first; "console output" keeps the run's console lines, the tool's answer among them.
    let (code, logs) = world.post("/api/v1/pipeline/logs", &token, json!({"pipelineId": id})).await;
    assert_eq!(code, StatusCode::OK, "{logs}");
    let logs = logs.as_array().unwrap().clone();
    let ids: Vec<i64> = logs.iter().map(|log| log["_id"].as_str().unwrap().parse().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    assert!(logs.iter().any(|log| log["type"] == "pipeline operations"));
    let (_, console) = world
        .post(
            "/api/v1/pipeline/logs",
            &token,
            json!({"pipelineId": id, "runCount": 1, "type": "console output"}),
        )
        .await;
    let console = console.as_array().unwrap();
    assert!(console.iter().all(|log| log["type"] == "console output" && log["run_count"] == 1));
    assert!(console.iter().any(|log| log["message"] == "deployed build 42"), "{console:?}");
    assert!(!serde_json::to_string(&logs).unwrap().contains(TOOL_SECRET));

    // Summary and the list: the full pipeline, as stored.
    let (code, summary) = world.post("/api/v1/pipeline/summary", &token, json!({"pipelineId": id})).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (summary["_id"].as_str(), summary["name"].as_str()),
        (Some(&*id.to_string()), Some("Nightly"))
    );
    assert_eq!((summary["runCount"].as_i64(), summary["state"].as_str()), (Some(1), Some("idle")));
    assert_eq!(summary["steps"].as_array().unwrap().len(), 2);
    assert_eq!(summary["currentRun"]["operationRunId"], done.id.0);
    let (code, list) = world.call(Method::GET, "/api/v1/pipeline/pipelines", &token, None).await;
    assert_eq!(code, StatusCode::OK, "{list}");
    assert!(list.as_array().unwrap().iter().any(|pipeline| pipeline == &summary));

    // Run 2; run 1's status stays readable; an unknown run is a bad runCount.
    let second = world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": id})).await;
    assert_eq!(second.1["runCount"], 2, "{}", second.1);
    world.finished(id, 2).await;
    let first = world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": id, "runCount": 1})).await;
    assert_eq!(first.1["message"], "Pipeline: Nightly's Run 1 was successful.");
    assert_failed(
        &world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": id, "runCount": 9})).await,
        StatusCode::BAD_REQUEST,
        "runCount",
    );
    world.end().await;
}

async fn paused_pipelines_refuse_and_stop_finishes_the_current_step(backend: Backend) {
    let world = World::new(backend).await;
    let token = world.token("owner@demo.test", &[Scope::Api, Scope::Pipeline]).await;
    let tool = world.tool_id.to_string();
    let fragile = world
        .pipeline(
            "Fragile",
            json!([
                {"name": "Call", "kind": "tool.http", "params": {"toolId": tool, "path": "/fail"}, "onFailure": "pause"},
                {"name": "Never", "kind": "wait", "params": {"seconds": 0}},
            ]),
        )
        .await;
    world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": fragile})).await;
    let failed = world.finished(fragile, 1).await;
    assert_eq!(
        (failed.outcome, failed.counters.processed, failed.counters.failed),
        (RunOutcome::Failed, 1, 1)
    );
    assert_eq!(failed.failures[0].reason_code, "unexpected_status");
    let status = world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": fragile})).await;
    assert_eq!(status.1["status"], "failed", "{}", status.1);

    // Paused: a run request starts nothing and says so, in the contract's words.
    let refused = world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": fragile})).await;
    assert_failed(&refused, StatusCode::CONFLICT, "");
    assert_eq!(
        refused.1["message"],
        format!("Pipeline {fragile} is currently in a paused state.  Will not start another job until this pending status is resolved.")
    );
    assert!(matches_an_example(&world.contract, "/api/v1/pipeline/run", &refused.1));
    let summary = world.post("/api/v1/pipeline/summary", &token, json!({"pipelineId": fragile})).await.1;
    assert_eq!((summary["state"].as_str(), summary["runCount"].as_i64()), (Some("paused"), Some(1)));
    assert!(world.store().pipeline_run(fragile, 2).await.unwrap().is_none(), "nothing started");

    let reset = world.post("/api/v1/pipeline/reset", &token, json!({"pipelineId": fragile})).await;
    assert_eq!(reset.1, json!({"status": "success", "message": "The pipeline run status has been reset."}));
    assert!(matches_an_example(&world.contract, "/api/v1/pipeline/reset", &reset.1));
    let summary = world.post("/api/v1/pipeline/summary", &token, json!({"pipelineId": fragile})).await.1;
    assert_eq!((summary["state"].as_str(), &summary["currentRun"]), (Some("idle"), &Value::Null));
    let idle = world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": fragile})).await;
    assert_eq!(idle.1["status"], "idle");
    assert_eq!(
        world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": fragile})).await.1["runCount"],
        2
    );
    world.finished(fragile, 2).await;

    // A tool saved before addresses were checked, pointing at the cloud metadata service: the
    // step is refused before any connection, naming the host.
    let sql = format!(
        "UPDATE tools SET configuration = '{{\"baseUrl\":\"http://169.254.169.254\"}}' WHERE id = {}",
        world.tool_id
    );
    match world.store().db() {
        tenantpilot_core::store::Db::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
        tenantpilot_core::store::Db::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(drop),
    }
    .unwrap();
    world.post("/api/v1/pipeline/reset", &token, json!({"pipelineId": fragile})).await;
    world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": fragile})).await;
    let refused = world.finished(fragile, 3).await;
    assert_eq!(refused.failures[0].reason_code, "egress_blocked", "{:?}", refused.failures);
    assert!(refused.failures[0].message.contains("169.254.169.254"), "{}", refused.failures[0].message);

    // Stop: the current step finishes, the rest are skipped, the run ends cancelled.
    let long = world
        .pipeline(
            "Long",
            json!([
                {"name": "Short wait", "kind": "wait", "params": {"seconds": 1}},
                {"name": "Long wait", "kind": "wait", "params": {"seconds": 60}},
                {"name": "Longer wait", "kind": "wait", "params": {"seconds": 60}},
            ]),
        )
        .await;
    assert_eq!(
        world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": long})).await.0,
        StatusCode::OK
    );
    let again = world.post("/api/v1/pipeline/run", &token, json!({"pipelineId": long})).await;
    assert_failed(&again, StatusCode::CONFLICT, "is currently running");
    // Into the first step, then stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while world
        .store()
        .pipeline_run(long, 1)
        .await
        .unwrap()
        .is_none_or(|run| run.status != RunStatus::Running)
    {
        assert!(tokio::time::Instant::now() < deadline, "the run did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stop = world.post("/api/v1/pipeline/stop", &token, json!({"pipelineId": long})).await;
    assert_eq!(stop.1, json!({"status": "success", "message": "The pipeline has been stopped."}));
    assert!(matches_an_example(&world.contract, "/api/v1/pipeline/stop", &stop.1));
    let stopped = world.finished(long, 1).await;
    assert_eq!(stopped.outcome, RunOutcome::Cancelled);
    assert_eq!(
        (stopped.counters.total, stopped.counters.processed),
        (3, 1),
        "step 1 finished, 2 and 3 skipped"
    );
    let status = world.post("/api/v1/pipeline/status", &token, json!({"pipelineId": long})).await;
    assert_eq!(status.1, json!({"status": "stopped", "message": "Pipeline: Long's Run 1 was stopped."}));
    let summary = world.post("/api/v1/pipeline/summary", &token, json!({"pipelineId": long})).await.1;
    assert_eq!(summary["state"], "stopped");
    let logs =
        world.post("/api/v1/pipeline/logs", &token, json!({"pipelineId": long, "runCount": 1})).await.1;
    assert!(
        logs.as_array().unwrap().iter().any(|log| log["message"].as_str().unwrap().contains("2 skipped")),
        "{logs}"
    );
    assert_failed(
        &world.post("/api/v1/pipeline/stop", &token, json!({"pipelineId": long})).await,
        StatusCode::CONFLICT,
        "is not running",
    );
    world.end().await;
}

async fn scopes_roles_and_item_access_decide_every_answer(backend: Backend) {
    let world = World::new(backend).await;
    let store = world.store();
    let id =
        world.pipeline("Guarded", json!([{"name": "Nap", "kind": "wait", "params": {"seconds": 0}}])).await;
    let tool = world.tool_id;
    // Rita becomes a Site Admin; someone from another workspace is a Power User there.
    let rita = store.user_by_email("readonly@demo.test").await.unwrap().unwrap();
    store.set_account_role(rita.id, AccountRole::SiteAdmin).await.unwrap();
    tenancy::create_tenant(
        store,
        &Initiator::System,
        NewTenant { workspace_slug: "other", slug: "globex", name: "Globex", external_tenant_id: None },
    )
    .await
    .unwrap();
    let outsider = accounts::create_user(
        store,
        "outsider@other.test",
        Some("Oda Outsider"),
        &world.app.password,
        AccountKind::Member,
    )
    .await
    .unwrap();
    tenancy::set_member(store, &Initiator::System, "globex", "outsider@other.test", Role::Owner)
        .await
        .unwrap();
    store.set_account_role(outsider.id, AccountRole::PowerUser).await.unwrap();

    let all = [Scope::Api, Scope::Pipeline, Scope::PipelineLogs, Scope::ToolRegistry];
    let owner = world.token("owner@demo.test", &all).await;
    let reader = world.token("manager@demo.test", &all).await; // on both access lists, read
    let stranger = world.token("operator@demo.test", &all).await; // same workspace, not listed
    let admin = world.token("readonly@demo.test", &all).await;
    let other = world.token("outsider@other.test", &all).await;
    let pipeline = json!({ "pipelineId": id });
    let tool_body = json!({ "toolId": tool });

    // Item access: not visible → 404 (as if it did not exist), read-only → 403 on changes.
    for (token, summary, run) in [
        (&owner, StatusCode::OK, StatusCode::OK),
        (&reader, StatusCode::OK, StatusCode::FORBIDDEN),
        (&stranger, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
        (&admin, StatusCode::OK, StatusCode::OK),
        (&other, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
    ] {
        let answer = world.post("/api/v1/pipeline/summary", token, pipeline.clone()).await;
        assert_eq!(answer.0, summary, "{}", answer.1);
        let answer = world.post("/api/v1/pipeline/run", token, pipeline.clone()).await;
        assert_eq!(answer.0, run, "{}", answer.1);
        if run == StatusCode::OK {
            let n = answer.1["runCount"].as_i64().unwrap();
            world.finished(id, n).await;
        } else {
            assert_failed(&answer, run, "");
        }
        assert_eq!(world.post("/api/v1/registry/summary", token, tool_body.clone()).await.0, summary);
        let rename = json!({ "toolId": tool, "tool": { "description": "touched" } });
        let expected = if run == StatusCode::OK { StatusCode::OK } else { run };
        assert_eq!(world.post("/api/v1/registry/update", token, rename).await.0, expected);
    }
    let unknown = world
        .post("/api/v1/pipeline/summary", &owner, json!({"pipelineId": "5fd56d90979ee048ee660624"}))
        .await;
    assert_failed(&unknown, StatusCode::NOT_FOUND, "Not found");
    // A reader may not change who has access.
    let share = json!({ "toolId": tool, "tool": { "access": [] } });
    assert_failed(&world.post("/api/v1/registry/update", &reader, share).await, StatusCode::FORBIDDEN, "");

    // "Power User Role" routes: Max Manager is a plain User.
    assert_failed(
        &world.call(Method::GET, "/api/v1/pipeline/pipelines", &reader, None).await,
        StatusCode::FORBIDDEN,
        "Power User",
    );
    assert_failed(
        &world.call(Method::GET, "/api/v1/registry/tools", &reader, None).await,
        StatusCode::FORBIDDEN,
        "Power User",
    );
    let listed = |answer: (StatusCode, Value)| -> Vec<String> {
        assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
        answer.1.as_array().unwrap().iter().map(|item| item["_id"].as_str().unwrap().to_string()).collect()
    };
    // The Site Admin sees the demo workspace's pipelines: this one and the seeded one.
    let seeded = world.store().pipelines_for(world.owner.id).await.unwrap().len();
    let all_listed = listed(world.call(Method::GET, "/api/v1/pipeline/pipelines", &admin, None).await);
    assert!(all_listed.contains(&id.to_string()) && all_listed.len() == seeded, "{all_listed:?}");
    assert_eq!(
        listed(world.call(Method::GET, "/api/v1/registry/tools", &admin, None).await),
        [tool.to_string()]
    );
    assert!(listed(world.call(Method::GET, "/api/v1/pipeline/pipelines", &other, None).await).is_empty());
    assert!(listed(world.call(Method::GET, "/api/v1/registry/tools", &other, None).await).is_empty());

    // Scopes: api plus the route's own; Pipeline Logs reads status and logs but runs nothing.
    let logs_only = world.token("owner@demo.test", &[Scope::Api, Scope::PipelineLogs]).await;
    assert_eq!(world.post("/api/v1/pipeline/status", &logs_only, pipeline.clone()).await.0, StatusCode::OK);
    assert_eq!(world.post("/api/v1/pipeline/logs", &logs_only, pipeline.clone()).await.0, StatusCode::OK);
    assert_failed(
        &world.post("/api/v1/pipeline/run", &logs_only, pipeline.clone()).await,
        StatusCode::FORBIDDEN,
        "Pipeline Access",
    );
    let registry_only = world.token("owner@demo.test", &[Scope::Api, Scope::ToolRegistry]).await;
    assert_failed(
        &world.post("/api/v1/pipeline/summary", &registry_only, pipeline.clone()).await,
        StatusCode::FORBIDDEN,
        "Pipeline Access",
    );
    let no_api = world.token("owner@demo.test", &[Scope::Pipeline, Scope::ToolRegistry]).await;
    assert_failed(
        &world.post("/api/v1/pipeline/summary", &no_api, pipeline.clone()).await,
        StatusCode::FORBIDDEN,
        "API Access",
    );
    let pipeline_only = world.token("owner@demo.test", &[Scope::Api, Scope::Pipeline]).await;
    assert_failed(
        &world.call(Method::GET, "/api/v1/registry/tools", &pipeline_only, None).await,
        StatusCode::FORBIDDEN,
        "Tool Registry",
    );

    // Unknown, expired and revoked tokens, and none at all: the same 401.
    let owner_user = &world.owner;
    let expired_plain = "tpat_expiredexpiredexpiredexpiredexpiredexpir";
    store
        .create_token(&NewToken {
            user_id: owner_user.id,
            name: "old",
            prefix: &expired_plain[..13],
            secret_hash: &tokens::hash_of(expired_plain),
            scopes: &all,
            expires_at: chrono::Utc::now() - chrono::Duration::minutes(1),
        })
        .await
        .unwrap();
    let revoked = world.token("owner@demo.test", &all).await;
    let revoked_id = store.tokens_of(owner_user.id).await.unwrap()[0].id;
    tokens::revoke(store, owner_user, revoked_id).await.unwrap();
    for token in ["tpat_unknownunknownunknownunknownunknownunkn", expired_plain, &revoked, "not-a-token"] {
        let answer = world.post("/api/v1/pipeline/summary", token, pipeline.clone()).await;
        assert_failed(&answer, StatusCode::UNAUTHORIZED, "token");
    }
    let anonymous = world.app.json(Method::GET, "/api/v1/pipeline/pipelines", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(serde_json::from_str::<Value>(&anonymous.body).unwrap()["status"], "failed");

    // Malformed bodies name the field; never a 500.
    for (body, field) in [
        ("", "body"),
        ("[1]", "body"),
        ("{\"pipelineId\": ", "body"),
        ("{}", "pipelineId"),
        ("{\"pipelineId\": true}", "pipelineId"),
        ("{\"pipelineId\": \"\"}", "pipelineId"),
        ("{\"pipelineId\": 1, \"runCount\": \"many\"}", "runCount"),
        ("{\"pipelineId\": 1, \"runCount\": -2}", "runCount"),
    ] {
        let reply = world.app.bearer_json(Method::POST, "/api/v1/pipeline/status", &owner, Some(body)).await;
        let answer = (reply.status, serde_json::from_str::<Value>(&reply.body).unwrap());
        assert_failed(&answer, StatusCode::BAD_REQUEST, &format!("{field}:"));
    }
    world.end().await;
}

async fn registry_update_merges_root_properties_and_hides_secrets(backend: Backend) {
    let world = World::new(backend).await;
    let token = world.token("owner@demo.test", &[Scope::Api, Scope::ToolRegistry]).await;
    let tool = world.tool_id;
    let (code, before) =
        world.post("/api/v1/registry/summary", &token, json!({ "toolId": tool.to_string() })).await;
    assert_eq!(code, StatusCode::OK, "{before}");
    assert_eq!(before["secrets"], json!({"apiToken": "********"}));

    // Only the given root properties change; _id and timestamps in the body are ignored; a
    // masked secret sent back keeps the secret.
    let patch = json!({
        "toolId": tool,
        "tool": {
            "_id": "5fd56d90979ee048ee660624", "createdAt": "2020-01-01T00:00:00Z",
            "name": "Updated Tool Name Via CLI",
            "secrets": {"apiToken": "********", "webhookKey": "k-123"}
        }
    });
    let (code, after) = world.post("/api/v1/registry/update", &token, patch).await;
    assert_eq!(code, StatusCode::OK, "{after}");
    assert_eq!(after["name"], "Updated Tool Name Via CLI");
    assert_eq!((&after["_id"], &after["createdAt"]), (&before["_id"], &before["createdAt"]));
    assert_eq!(
        (&after["description"], &after["configuration"]),
        (&before["description"], &before["configuration"])
    );
    assert_eq!(after["secrets"], json!({"apiToken": "********", "webhookKey": "********"}));
    let stored = world.store().tool(tool).await.unwrap().unwrap();
    assert_eq!(stored.draft.secrets.get("apiToken").map(String::as_str), Some(TOOL_SECRET));

    // The merged tool is validated; a refused update changes nothing.
    for (patch, message) in [
        (
            json!({"toolId": tool, "tool": {"configuration": {"baseUrl": "ftp://x"}}}),
            "tool.configuration.baseUrl:",
        ),
        (json!({"toolId": tool, "tool": {"name": ""}}), "tool.name:"),
        (json!({"toolId": tool, "tool": {"colour": "red"}}), "tool.colour:"),
        (json!({"toolId": tool, "tool": "rename"}), "tool:"),
        (json!({"toolId": tool}), "tool:"),
        (json!({"tool": {"name": "x"}}), "toolId:"),
    ] {
        assert_failed(
            &world.post("/api/v1/registry/update", &token, patch).await,
            StatusCode::BAD_REQUEST,
            message,
        );
    }
    let unchanged = world.post("/api/v1/registry/summary", &token, json!({ "toolId": tool })).await.1;
    assert_eq!(unchanged, after);
    let (_, listed) = world.call(Method::GET, "/api/v1/registry/tools", &token, None).await;
    assert_eq!(listed, json!([after]));
    let everything = serde_json::to_string(&listed).unwrap();
    assert!(!everything.contains(TOOL_SECRET) && !everything.contains("k-123"));
    world.end().await;
}

async fn rights_on_tools_steps_and_secrets(backend: Backend) {
    let world = World::new(backend).await;
    let store = world.store();
    let user = |email: &'static str| async move { store.user_by_email(email).await.unwrap().unwrap() };
    let (manager, operator) = (user("manager@demo.test").await, user("operator@demo.test").await);
    let tool = world.tool_id.to_string();
    let steps =
        |steps: Value| -> Vec<tenantpilot_core::pipelines::Step> { serde_json::from_value(steps).unwrap() };
    let input = |steps| PipelineInput {
        name: "Mine".into(),
        description: String::new(),
        account: Some("demo".into()),
        owner: None,
        access: Vec::new(),
        steps,
    };

    // Only Power Users and Site Admins create tools.
    let body = json!({ "name": "Mine", "tool_identifier": "http", "configuration": { "baseUrl": "https://ci.example.com" } });
    let refused =
        tools::create(store, &common::loopback(), Some(&Caller::person(&manager)), body.as_object().unwrap())
            .await
            .unwrap_err();
    assert_eq!(refused.status(), 403, "{refused:?}");

    // Saving a pipeline: write access to each tool it calls (Max only reads this one) and the
    // tenant capability of each operation (an operator does not restore).
    let calls_tool = input(steps(
        json!([{ "name": "Call", "kind": "tool.http", "params": { "toolId": tool, "path": "/ok" } }]),
    ));
    let refused = pipelines::create(store, Some(&Caller::person(&manager)), &calls_tool).await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::Forbidden { hint } if hint.contains("write access")),
        "{refused:?}"
    );
    let restores = input(steps(
        json!([{ "name": "Restore", "kind": "assignments.restore", "params": { "tenant": "contoso", "restoreRunId": 1 } }]),
    ));
    let refused = pipelines::create(store, Some(&Caller::person(&operator)), &restores).await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::Forbidden { hint } if hint.contains("tenant contoso")),
        "{refused:?}"
    );
    let captures = input(steps(
        json!([{ "name": "Capture", "kind": "backup_set.capture", "params": { "tenant": "contoso" } }]),
    ));
    pipelines::create(store, Some(&Caller::person(&operator)), &captures)
        .await
        .expect("an operator captures");
    let elsewhere = input(steps(
        json!([{ "name": "Capture", "kind": "backup_set.capture", "params": { "tenant": "northwind" } }]),
    ));
    let refused = pipelines::create(store, Some(&Caller::person(&operator)), &elsewhere).await.unwrap_err();
    assert!(
        matches!(&refused, CoreError::Invalid { field, .. } if field == "steps[0].params.tenant"),
        "{refused:?}"
    );

    // A reader of a tool is refused at run time too (the pipeline was saved by its owner).
    let pipeline = world
        .pipeline(
            "Calls the hooks",
            json!([{ "name": "Call", "kind": "tool.http", "params": { "toolId": tool, "path": "/ok" } }]),
        )
        .await;
    let owner = user("owner@demo.test").await;
    let shared = PipelineInput {
        name: "Calls the hooks".into(),
        description: String::new(),
        account: Some("demo".into()),
        owner: None,
        access: serde_json::from_value(json!([{ "user": "manager@demo.test", "level": "write" }])).unwrap(),
        steps: steps(
            json!([{ "name": "Call", "kind": "tool.http", "params": { "toolId": tool, "path": "/ok" } }]),
        ),
    };
    pipelines::update(store, &Caller::person(&owner), pipeline, &shared).await.unwrap();
    pipelines::run(store, &Caller::person(&manager), pipeline).await.unwrap();
    let run = world.finished(pipeline, 1).await;
    assert_eq!(run.failures[0].code, "pipeline.step.tool", "{:?}", run.failures);
    assert!(world.hooks.authorizations.lock().unwrap().is_empty(), "the tool was not called");

    // A Site Admin creates only where they belong, even naming an owner from elsewhere.
    tenancy::create_tenant(
        store,
        &Initiator::System,
        NewTenant { workspace_slug: "other", slug: "initech", name: "Initech", external_tenant_id: None },
    )
    .await
    .unwrap();
    accounts::create_user(store, "peter@other.test", None, &world.app.password, AccountKind::Member)
        .await
        .unwrap();
    tenancy::set_member(store, &Initiator::System, "initech", "peter@other.test", Role::Owner).await.unwrap();
    store.set_account_role(owner.id, AccountRole::SiteAdmin).await.unwrap();
    let owner = user("owner@demo.test").await;
    let placed = json!({ "name": "Theirs", "tool_identifier": "http", "owner": "peter@other.test", "account": "other",
        "configuration": { "baseUrl": "https://ci.example.com" } });
    let refused =
        tools::create(store, &common::loopback(), Some(&Caller::person(&owner)), placed.as_object().unwrap())
            .await
            .unwrap_err();
    assert!(matches!(&refused, CoreError::Invalid { field, .. } if field == "account"), "{refused:?}");

    // Secrets follow the tool's origin: moved elsewhere without them, they are dropped.
    let token = world.token("owner@demo.test", &[Scope::Api, Scope::ToolRegistry]).await;
    let moved = json!({ "toolId": tool, "tool": { "configuration": { "baseUrl": "https://elsewhere.example.com" } } });
    let (code, answer) = world.post("/api/v1/registry/update", &token, moved).await;
    assert_eq!(code, StatusCode::OK, "{answer}");
    assert_eq!(answer["droppedSecrets"], json!(["apiToken"]));
    assert_eq!(answer["secrets"], json!({}));
    assert!(world.store().tool(world.tool_id).await.unwrap().unwrap().draft.secrets.is_empty());
    world.end().await;
}

async fn activity_logs_filter_limit_and_order(backend: Backend) {
    let world = World::new(backend).await;
    let store = world.store();
    world.app.sign_in("owner@demo.test").await;
    let token = world.token("owner@demo.test", &[Scope::Api, Scope::SecurityLogs]).await;
    let input = PipelineInput {
        name: "Logged".into(),
        steps: serde_json::from_value(json!([{"name": "Nap", "kind": "wait", "params": {"seconds": 0}}]))
            .unwrap(),
        ..PipelineInput::default()
    };
    let pipeline = pipelines::create(store, Some(&Caller::person(&world.owner)), &input).await.unwrap();

    let (code, page) = world.call(Method::GET, "/api/v1/logs/user/actions", &token, None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(matches_an_example(&world.contract, "/api/v1/logs/user/actions", &page), "{page}");
    let data = page["data"].as_array().unwrap();
    assert_eq!(page["count"].as_u64(), Some(data.len() as u64));
    let times: Vec<&str> = data.iter().map(|entry| entry["createdAt"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
    let did = |kind: &str, action: &str| {
        data.iter()
            .filter(|entry| {
                entry["type"] == kind && entry["action"] == action && entry["user_email"] == "owner@demo.test"
            })
            .count()
    };
    assert_eq!((did("session", "sign_in"), did("token", "create"), did("pipeline", "create")), (1, 1, 1));
    let created = data.iter().find(|entry| entry["type"] == "pipeline").unwrap();
    assert_eq!(
        (created["target_id"].as_str(), created["account"].as_str()),
        (Some(&*pipeline.id.to_string()), Some("demo"))
    );

    // Filters: type, date (a day, UTC), count; a bad date or count is named.
    let (_, typed) = world.call(Method::GET, "/api/v1/logs/user/actions?type=pipeline", &token, None).await;
    let typed = typed["data"].as_array().unwrap();
    assert!(typed.iter().all(|entry| entry["type"] == "pipeline"), "{typed:?}");
    let by_owner = typed.iter().filter(|entry| entry["user_email"] == "owner@demo.test").count();
    assert_eq!(by_owner, 1, "one entry per action: {typed:?}");
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let (_, dated) =
        world.call(Method::GET, &format!("/api/v1/logs/user/actions?date={today}"), &token, None).await;
    assert_eq!(dated["count"], page["count"]);
    let (_, old) = world.call(Method::GET, "/api/v1/logs/user/actions?date=2020-01-01", &token, None).await;
    assert_eq!(old, json!({"count": 0, "data": []}));
    let (_, two) = world.call(Method::GET, "/api/v1/logs/user/actions?count=2", &token, None).await;
    assert_eq!(two["data"].as_array().unwrap().len(), 2);
    for (query, field) in [
        ("date=2026-13-01", "date:"),
        ("date=yesterday", "date:"),
        ("count=5000", "count:"),
        ("colour=red", "colour:"),
    ] {
        let answer =
            world.call(Method::GET, &format!("/api/v1/logs/user/actions?{query}"), &token, None).await;
        assert_failed(&answer, StatusCode::BAD_REQUEST, field);
    }

    // At most 1000 entries, whatever is asked.
    let demo = store.workspace_by_slug("demo").await.unwrap().unwrap().id;
    for n in 0..1005 {
        store
            .record_audit(&tenantpilot_core::audit::NewAuditEntry {
                workspace_id: Some(demo),
                tenant_id: None,
                actor: Initiator::user(&world.owner),
                kind: AuditKind::Pipeline,
                action: AuditAction::Update,
                target_id: pipeline.id.to_string(),
                details: serde_json::Map::from_iter([("n".to_string(), json!(n))]),
            })
            .await
            .unwrap();
    }
    let (_, capped) = world.call(Method::GET, "/api/v1/logs/user/actions", &token, None).await;
    assert_eq!((capped["count"].as_u64(), capped["data"].as_array().unwrap().len()), (Some(1000), 1000));

    // Token activity: one entry per token request, with the scope that let it in.
    let requests_so_far = 1 + 1 + 1 + 1 + 1 + 4 + 1; // every call above with this token
    let (_, activity) =
        world.call(Method::GET, "/api/v1/logs/user/tokens?scope=security_logs", &token, None).await;
    assert!(matches_an_example(&world.contract, "/api/v1/logs/user/tokens", &activity), "{activity}");
    let entries = activity["data"].as_array().unwrap();
    assert_eq!(entries.len(), requests_so_far + 1, "{activity}");
    assert_eq!(entries[0]["target"], "/api/v1/logs/user/tokens");
    assert!(entries.iter().all(|entry| entry["scope"] == "security_logs" && entry["account"] == "demo"));
    let (_, none) = world.call(Method::GET, "/api/v1/logs/user/tokens?scope=pipeline", &token, None).await;
    assert_eq!(none["count"], 0);

    // Power Users and Site Admins only; Security Logs scope needed; other workspaces see nothing of it.
    let plain_user = world.token("manager@demo.test", &[Scope::Api, Scope::SecurityLogs]).await;
    assert_failed(
        &world.call(Method::GET, "/api/v1/logs/user/actions", &plain_user, None).await,
        StatusCode::FORBIDDEN,
        "Power User",
    );
    let api_only = world.token("owner@demo.test", &[Scope::Api]).await;
    assert_failed(
        &world.call(Method::GET, "/api/v1/logs/user/tokens", &api_only, None).await,
        StatusCode::FORBIDDEN,
        "Security Logs",
    );
    tenancy::create_tenant(
        store,
        &Initiator::System,
        NewTenant { workspace_slug: "other", slug: "globex", name: "Globex", external_tenant_id: None },
    )
    .await
    .unwrap();
    let outsider =
        accounts::create_user(store, "outsider@other.test", None, &world.app.password, AccountKind::Member)
            .await
            .unwrap();
    tenancy::set_member(store, &Initiator::System, "globex", "outsider@other.test", Role::Owner)
        .await
        .unwrap();
    store.set_account_role(outsider.id, AccountRole::PowerUser).await.unwrap();
    let other = world.token("outsider@other.test", &[Scope::Api, Scope::SecurityLogs]).await;
    let (_, theirs) = world.call(Method::GET, "/api/v1/logs/user/actions", &other, None).await;
    let theirs = serde_json::to_string(&theirs).unwrap();
    assert!(!theirs.contains("owner@demo.test"), "{theirs}");
    assert!(theirs.contains("outsider@other.test"), "their own actions: {theirs}");
    world.end().await;
}

/// Issue 14 §5, the audit scoping matrix: two workspaces and Bea, a Power User in both (a member
/// of contoso in demo and of globex in other). A reader sees the entries of workspaces they
/// belong to, a tenant's entries only as its member, and, of what belongs to no workspace, only
/// their own; what someone did in another workspace stays there.
async fn activity_logs_show_only_the_readers_workspaces_and_tenants(backend: Backend) {
    let world = World::new(backend).await;
    let store = world.store();
    let system = Initiator::System;
    let globex =
        NewTenant { workspace_slug: "other", slug: "globex", name: "Globex", external_tenant_id: None };
    tenancy::create_tenant(store, &system, globex).await.unwrap();
    for (email, tenant) in
        [("bea@both.test", "contoso"), ("bea@both.test", "globex"), ("otto@other.test", "globex")]
    {
        if store.user_by_email(email).await.unwrap().is_none() {
            let user = accounts::create_user(store, email, None, &world.app.password, AccountKind::Member)
                .await
                .unwrap();
            store.set_account_role(user.id, AccountRole::PowerUser).await.unwrap();
        }
        tenancy::set_member(store, &system, tenant, email, Role::Operator).await.unwrap();
    }
    let bea = store.user_by_email("bea@both.test").await.unwrap().unwrap();
    let otto = store.user_by_email("otto@other.test").await.unwrap().unwrap();
    let workspace =
        |slug: &'static str| async move { store.workspace_by_slug(slug).await.unwrap().unwrap().id };
    let tenant = |slug: &'static str| async move { store.tenant_by_slug(slug).await.unwrap().unwrap().id };
    let (demo, other) = (workspace("demo").await, workspace("other").await);
    let (fabrikam, globex) = (tenant("fabrikam").await, tenant("globex").await);
    // One entry per cell, each marked by its target: who did it, where (a type no other entry of
    // this test has).
    let cells: [(&str, &User, Option<WorkspaceId>, Option<TenantId>); 6] = [
        ("owner-in-demo", &world.owner, Some(demo), None),
        ("owner-in-fabrikam", &world.owner, Some(demo), Some(fabrikam)),
        ("bea-in-other", &bea, Some(other), None),
        ("otto-in-globex", &otto, Some(other), Some(globex)),
        ("bea-personal", &bea, None, None),
        ("owner-personal", &world.owner, None, None),
    ];
    for (target, actor, workspace_id, tenant_id) in cells {
        store
            .record_audit(&tenantpilot_core::audit::NewAuditEntry {
                workspace_id,
                tenant_id,
                actor: Initiator::user(actor),
                kind: AuditKind::RestoreRun,
                action: AuditAction::Update,
                target_id: target.into(),
                details: serde_json::Map::new(),
            })
            .await
            .unwrap();
    }
    let by_ref = &world;
    let seen = |email: &'static str| async move {
        let token = by_ref.token(email, &[Scope::Api, Scope::SecurityLogs]).await;
        let (code, page) =
            by_ref.call(Method::GET, "/api/v1/logs/user/actions?type=restore_run", &token, None).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        let mut targets: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target_id"].as_str().unwrap().to_string())
            .collect();
        targets.sort();
        targets
    };
    // Olivia (Site Admin of demo, member of every demo tenant): demo's entries, her own; not
    // Bea's action in the other workspace although they share demo.
    assert_eq!(seen("owner@demo.test").await, ["owner-in-demo", "owner-in-fabrikam", "owner-personal"]);
    // Bea: both workspaces, but not fabrikam (not her tenant), and not Olivia's personal entry.
    assert_eq!(
        seen("bea@both.test").await,
        ["bea-in-other", "bea-personal", "otto-in-globex", "owner-in-demo"]
    );
    // Otto: his workspace only.
    assert_eq!(seen("otto@other.test").await, ["bea-in-other", "otto-in-globex"]);

    // Token activity belongs to the token's person: each sees their own requests only.
    let activity = |email: &'static str| async move {
        let token = by_ref.token(email, &[Scope::Api, Scope::SecurityLogs]).await;
        let (_, page) = by_ref.call(Method::GET, "/api/v1/logs/user/tokens", &token, None).await;
        let owners: Vec<UserId> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["user_id"].as_str().unwrap().parse().unwrap())
            .collect();
        owners
    };
    let bea_saw = activity("bea@both.test").await;
    assert!(!bea_saw.is_empty() && bea_saw.iter().all(|id| *id == bea.id), "{bea_saw:?}");
    let owner_saw = activity("owner@demo.test").await;
    assert!(!owner_saw.is_empty() && owner_saw.iter().all(|id| *id == world.owner.id), "{owner_saw:?}");
    world.end().await;
}

/// Issue 14 §5: a pipeline's runs, and their failures, are for whoever may read the pipeline,
/// not the whole workspace: listed, shown and pushed to them alone (and to platform admins).
async fn pipeline_runs_are_seen_by_who_may_read_the_pipeline(backend: Backend) {
    use tenantpilot_core::operations::{self, Entitlement, ListParams};
    let world = World::new(backend).await;
    let store = world.store();
    let id =
        world.pipeline("Private", json!([{"name": "Nap", "kind": "wait", "params": {"seconds": 0}}])).await;
    let started = pipelines::run(store, &Caller::person(&world.owner), id).await.unwrap();
    let run = world.finished(id, started.run_count).await;
    let user = |email: &'static str| async move { store.user_by_email(email).await.unwrap().unwrap() };
    // Max has read access; Oscar is a member of the workspace's tenants without it.
    for (email, sees) in [
        ("manager@demo.test", true),
        ("operator@demo.test", false),
        ("admin@demo.test", true),
        ("owner@demo.test", true),
    ] {
        let person = user(email).await;
        let shown = operations::run(store, &person, run.id).await;
        assert_eq!(shown.is_ok(), sees, "{email}: {shown:?}");
        if !sees {
            assert_eq!(shown, Err(CoreError::NotFound), "as if it did not exist");
        }
        let listed = operations::list(store, &person, &ListParams::default()).await.unwrap();
        assert_eq!(listed.runs.iter().any(|listed| listed.id == run.id), sees, "{email}");
        let pushed = Entitlement::load(store, &person).await.unwrap();
        assert_eq!(pushed.sees(&tenantpilot_core::store::RunChange::from(&run)), sees, "{email}");
    }
    world.end().await;
}

/// Issue 14 §5: a pipeline run has a maximum duration (6 h by default; 1 s here), after which the
/// engine cancels it and says why in its failures.
async fn a_pipeline_run_past_its_maximum_duration_is_cancelled(backend: Backend) {
    let settings = EngineSettings {
        pipeline_max_duration: Duration::from_secs(1),
        // The check rides on the reconciler, which looks every third of this.
        stale_after: Duration::from_millis(1500),
        ..EngineSettings::for_tests()
    };
    let world = World::with_engine(backend, settings).await;
    let store = world.store();
    let id = world
        .pipeline("Slow", json!([{"name": "Long nap", "kind": "wait", "params": {"seconds": 60}}]))
        .await;
    let started = pipelines::run(store, &Caller::person(&world.owner), id).await.unwrap();
    let run = world.finished(id, started.run_count).await;
    assert_eq!(run.outcome, RunOutcome::Cancelled, "{run:?}");
    let failure = run.failures.iter().find(|failure| failure.code == "ops.max_duration").expect("says why");
    assert!(failure.message.contains("TENANTPILOT_PIPELINE_MAX_MINUTES"), "{}", failure.message);
    world.end().await;
}
