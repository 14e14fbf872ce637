//! The Monitoring routes of the assignment-operations contract, on SQLite and PostgreSQL: who
//! sees which runs, filters, cursor paging, bad parameters, and every body against the
//! contract's schemas.

use crate::common;
use tenantpilot_core::ids::RunId;

use axum::http::{header, Method, StatusCode};
use common::contract::{self, Contract};
use common::{Sender, TestApp};
use serde_json::{json, Value};
use tenantpilot_core::operations::{Counters, Failure, Initiator, OperationKind, RunOutcome, RunTarget};
use tenantpilot_core::store::{Backend, NewRun};

const CONTRACT: &str = contract::ASSIGNMENT_OPERATIONS;
const LIST: &str = "/admin/monitoring/operations";
const DETAIL: &str = "/admin/monitoring/operations/{operationRun}";

tenantpilot_core::test_on_both_backends!(
    lists_show_entitled_runs_newest_first,
    details_follow_the_same_entitlement,
    filters_and_cursor_paging,
    bad_parameters_name_the_parameter,
    events_reach_only_those_who_may_see_the_run,
    a_burst_reaches_a_stream_as_each_runs_latest_state,
    streams_end_at_sign_out_and_token_revocation,
    a_persons_oldest_stream_closes_past_the_cap,
    hidden_runs_and_who_cancels_them,
    an_internal_error_is_logged_once_and_told_to_no_one,
    a_retry_is_a_new_linked_run_for_who_may_start_it,
    bulk_actions_take_every_page_of_the_filter_within_the_cap,
    the_chart_stacks_runs_over_time_by_outcome,
    the_live_list_reloads_through_its_server_function,
);

/// Starts a run of `kind` in tenant `slug` and returns its id.
async fn run_in(app: &TestApp, slug: &str, target: &str) -> RunId {
    let tenant = app.db.store.tenant_by_slug(slug).await.unwrap().unwrap();
    let new = NewRun {
        workspace_id: tenant.workspace_id,
        tenant_id: Some(tenant.id),
        kind: OperationKind::Fetch,
        target: Some(RunTarget { kind: "backup_item".into(), id: target.into() }),
        context: json!({ "backupItemId": target }).as_object().unwrap().clone(),
        initiator: Initiator::System,
        retry_of: None,
    };
    app.db.store.start_run(&new).await.unwrap().id()
}

fn ids(body: &str) -> Vec<RunId> {
    serde_json::from_str::<Vec<Value>>(body)
        .unwrap()
        .iter()
        .map(|run| RunId(run["id"].as_i64().unwrap()))
        .collect()
}

async fn lists_show_entitled_runs_newest_first(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contract = Contract::load(CONTRACT);
    contract::self_check(&contract);
    let contoso = run_in(&app, "contoso", "1").await;
    let fabrikam = run_in(&app, "fabrikam", "2").await;
    let northwind = run_in(&app, "northwind", "3").await;

    let expectations: [(&str, Vec<RunId>); 4] = [
        ("admin@demo.test", vec![northwind, fabrikam, contoso]),
        ("owner@demo.test", vec![northwind, fabrikam, contoso]),
        ("operator@demo.test", vec![fabrikam, contoso]),
        ("readonly@demo.test", vec![contoso]),
    ];
    for (email, expected) in expectations {
        let cookie = app.sign_in(email).await;
        let reply = app.json(Method::GET, LIST, None, Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::OK, "{email}: {}", reply.body);
        contract.check("get", LIST, 200, &reply.body);
        assert_eq!(ids(&reply.body), expected, "{email}");
        assert!(reply.headers.get(header::LINK).is_none(), "one page only");
    }
    let signed_out = app.json(Method::GET, LIST, None, None).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    app.db.drop_database().await;
}

async fn details_follow_the_same_entitlement(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contract = Contract::load(CONTRACT);
    let fabrikam = run_in(&app, "fabrikam", "2").await;
    let failure = Failure {
        code: "assignments.fetch".into(),
        reason_code: "throttled".into(),
        message: "The provider is throttling requests.".into(),
        at: chrono::Utc::now(),
    };
    app.db.store.claim_run("w", 2, 1, 1).await.unwrap();
    app.db.store.add_run_failure(fabrikam, &failure).await.unwrap();
    app.db.store.complete_run(fabrikam, RunOutcome::Failed, Counters::default()).await.unwrap();

    let path = format!("{LIST}/{fabrikam}");
    let operator = app.sign_in("operator@demo.test").await;
    let reply = app.json(Method::GET, &path, None, Some(&operator)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    contract.check("get", DETAIL, 200, &reply.body);
    let detail: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (detail["id"].as_i64().map(RunId), detail["status"].as_str(), detail["outcome"].as_str()),
        (Some(fabrikam), Some("completed"), Some("failed"))
    );
    assert_eq!(
        detail["failures"][0],
        json!({ "code": "assignments.fetch", "reasonCode": "throttled", "message": "The provider is throttling requests." })
    );
    assert_eq!(detail["context"], json!({ "backupItemId": "2" }));
    assert!(detail["startedAt"].is_string() && detail["completedAt"].is_string());

    // Not a member of fabrikam; an id that does not exist; not a number: all the same 404.
    let reader = app.sign_in("readonly@demo.test").await;
    let hidden = app.json(Method::GET, &path, None, Some(&reader)).await;
    let missing = app.json(Method::GET, &format!("{LIST}/999999"), None, Some(&reader)).await;
    let garbage = app.json(Method::GET, &format!("{LIST}/abc"), None, Some(&reader)).await;
    for reply in [&hidden, &missing, &garbage] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.body, hidden.body);
    }
    let admin = app.sign_in("admin@demo.test").await;
    assert_eq!(app.json(Method::GET, &path, None, Some(&admin)).await.status, StatusCode::OK);
    app.db.drop_database().await;
}

async fn filters_and_cursor_paging(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contract = Contract::load(CONTRACT);
    let mut contoso = Vec::new();
    for n in 0..5 {
        contoso.push(run_in(&app, "contoso", &n.to_string()).await);
    }
    let fabrikam = run_in(&app, "fabrikam", "x").await;
    app.db.store.complete_run(contoso[0], RunOutcome::Succeeded, Counters::default()).await.unwrap();
    let owner = app.sign_in("owner@demo.test").await;
    let get = |path: String| {
        let app = &app;
        let owner = owner.clone();
        async move { app.json(Method::GET, &path, None, Some(&owner)).await }
    };

    let only_fabrikam = get(format!("{LIST}?tenant=fabrikam")).await;
    assert_eq!(ids(&only_fabrikam.body), [fabrikam]);
    let succeeded = get(format!("{LIST}?outcome=succeeded&type=assignments.fetch")).await;
    assert_eq!(ids(&succeeded.body), [contoso[0]]);
    let queued = get(format!("{LIST}?status=queued&tenant=contoso")).await;
    assert_eq!(ids(&queued.body).len(), 4);
    assert!(ids(&get(format!("{LIST}?tenant=nowhere")).await.body).is_empty());
    // A type this version does not know filters everything out, as an unknown tenant does.
    let unknown = get(format!("{LIST}?type=no.such.type")).await;
    assert_eq!(unknown.status, StatusCode::OK, "{}", unknown.body);
    assert!(ids(&unknown.body).is_empty());
    let window = get(format!("{LIST}?since=2020-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")).await;
    assert_eq!(ids(&window.body).len(), 6);

    // Three pages of two, following the Link header.
    let mut seen = Vec::new();
    let mut next = Some(format!("{LIST}?limit=2&tenant=contoso"));
    while let Some(path) = next.take() {
        let page = get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        contract.check("get", LIST, 200, &page.body);
        seen.extend(ids(&page.body));
        next = page.headers.get(header::LINK).map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            assert!(link.contains("tenant=contoso"), "filters carry over: {link}");
            link.trim_start_matches('<').split('>').next().unwrap().to_string()
        });
    }
    let mut newest_first = contoso.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    app.db.drop_database().await;
}

async fn bad_parameters_name_the_parameter(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    for (query, parameter) in [
        ("status=done", "status"),
        ("outcome=great", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=%ZZ", "limit"),
        ("schedule=nightly", "schedule"),
        ("status=queued&status=running", "query"),
    ] {
        let reply = app.json(Method::GET, &format!("{LIST}?{query}"), None, Some(&owner)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
        let error: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            (error["error"].as_str(), error["field"].as_str()),
            (Some("invalid"), Some(parameter)),
            "{query}"
        );
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    app.db.drop_database().await;
}

/// The next `run` event's data on an open event stream, skipping keep-alive comments.
async fn next_run_event(body: &mut axum::body::Body) -> Value {
    use http_body_util::BodyExt;
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("the stream stays open")
            .unwrap();
        let Ok(data) = frame.into_data() else { continue };
        text.push_str(std::str::from_utf8(&data).unwrap());
        if let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|line| line.strip_prefix("data: ")) {
                assert!(event.contains("event: run"), "{event}");
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

async fn events_reach_only_those_who_may_see_the_run(backend: Backend) {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let app = TestApp::new(backend).await;
    let reader = app.sign_in("readonly@demo.test").await;
    let request = Request::get("/admin/monitoring/events")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &reader)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();

    // The reader is in contoso only: fabrikam's run is not for them.
    run_in(&app, "fabrikam", "1").await;
    let contoso = run_in(&app, "contoso", "2").await;
    let event = next_run_event(&mut body).await;
    assert_eq!(
        (event["runId"].as_i64().map(RunId), event["status"].as_str()),
        (Some(contoso), Some("queued"))
    );
    app.db.store.complete_run(contoso, RunOutcome::Succeeded, Counters::default()).await.unwrap();
    let event = next_run_event(&mut body).await;
    assert_eq!(
        (event["runId"].as_i64().map(RunId), event["outcome"].as_str()),
        (Some(contoso), Some("succeeded"))
    );

    let signed_out = app.json(Method::GET, "/admin/monitoring/events", None, None).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    app.db.drop_database().await;
}

/// Issue 17 §3: a pushed change carries the run's summary (type, status, outcome, counters,
/// times), so a page shows it without reading the run again; under a burst a stream gets each
/// run's latest state at most every 250 ms, not every intermediate change.
async fn a_burst_reaches_a_stream_as_each_runs_latest_state(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    let mut stream = open_stream(&app, &owner).await;
    let id = run_in(&app, "contoso", "1").await;
    let queued = next_run_event(&mut stream).await;
    assert_eq!(queued["runId"].as_i64().map(RunId), Some(id));
    assert_eq!(
        (&queued["type"], &queued["status"], &queued["outcome"]),
        (&json!("assignments.fetch"), &json!("queued"), &json!("pending"))
    );
    assert_eq!(queued["counters"], json!({ "total": 0, "processed": 0, "failed": 0 }));
    assert!(queued["createdAt"].is_string() && queued["startedAt"].is_null(), "{queued}");

    // A claim, 40 progress saves and the completion, as fast as the store takes them.
    const STEPS: i64 = 40;
    let burst = std::time::Instant::now();
    assert_eq!(app.db.store.claim_run("test", 10, 10, 10).await.unwrap().map(|run| run.id), Some(id));
    for processed in 1..=STEPS {
        let counters = Counters { total: STEPS, processed, failed: 0 };
        app.db.store.heartbeat_run(id, counters).await.unwrap();
    }
    let done = Counters { total: STEPS, processed: STEPS, failed: 0 };
    app.db.store.complete_run(id, RunOutcome::Succeeded, done).await.unwrap();
    let took = burst.elapsed();
    let mut events = Vec::new();
    while events.last().is_none_or(|event: &Value| event["status"] != "completed") {
        events.push(next_run_event(&mut stream).await);
    }
    // One at the burst's start, then one per 250 ms window it spanned, the last one closing it.
    let most = took.as_millis() as usize / 250 + 2;
    assert!(
        events.len() <= most,
        "{} events for {} changes in {took:?}: {events:?}",
        events.len(),
        STEPS + 2
    );
    let last = events.last().unwrap();
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["counters"], json!({ "total": STEPS, "processed": STEPS, "failed": 0 }));
    assert!(last["startedAt"].is_string() && last["completedAt"].is_string(), "{last}");
    app.db.drop_database().await;
}

/// Opens the event stream with `credential` (a cookie, or `Bearer …`).
async fn open_stream(app: &TestApp, credential: &str) -> axum::body::Body {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let (name, value) = match credential.strip_prefix("Bearer ") {
        Some(_) => (header::AUTHORIZATION, credential),
        None => (header::COOKIE, credential),
    };
    let request = Request::get("/admin/monitoring/events")
        .header(header::HOST, "localhost")
        .header(name, value)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body()
}

/// Reads a stream until the server ends it (within `secs`); returns the `closed` event's reason.
async fn closing_reason(body: &mut axum::body::Body, secs: u64) -> Option<String> {
    use http_body_util::BodyExt;
    let mut text = String::new();
    let deadline = std::time::Duration::from_secs(secs);
    loop {
        let frame = tokio::time::timeout(deadline, body.frame()).await.expect("the stream ends in time");
        match frame {
            Some(frame) => {
                if let Ok(data) = frame.unwrap().into_data() {
                    text.push_str(std::str::from_utf8(&data).unwrap());
                }
            }
            None => break,
        }
    }
    let closed = text.split("\n\n").find(|event| event.contains("event: closed"))?;
    let data = closed.lines().find_map(|line| line.strip_prefix("data: "))?;
    serde_json::from_str::<Value>(data).ok()?["reason"].as_str().map(str::to_string)
}

/// Issue 14 §4: a live stream re-checks its session or token when it refreshes what its person
/// may see, and ends once they are signed out or the token is revoked.
async fn streams_end_at_sign_out_and_token_revocation(backend: Backend) {
    use tenantpilot_core::tokens::Scope;
    let app = TestApp::with_flags(backend, &["--live-recheck-secs", "1"]).await;
    let cookie = app.sign_in("owner@demo.test").await;
    let mut stream = open_stream(&app, &cookie).await;
    // Still signed in: read for 2.5 s (the stream re-checks twice meanwhile), nothing is said
    // and the stream stays open; a change then still arrives.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(2500), {
        use http_body_util::BodyExt;
        stream.frame()
    });
    assert!(quiet.await.is_err(), "no event and no end while signed in");
    run_in(&app, "contoso", "1").await;
    assert_eq!(next_run_event(&mut stream).await["status"], "queued");
    let out = app.call(Method::POST, "/api/logout").form("").cookie(&cookie).send().await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert_eq!(closing_reason(&mut stream, 5).await.as_deref(), Some("signed_out"));

    let owner = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let (token, secret) = tenantpilot_core::tokens::create(
        &app.db.store,
        &owner,
        "watcher",
        &[Scope::Api, Scope::Operations],
        None,
    )
    .await
    .unwrap();
    let mut stream = open_stream(&app, &format!("Bearer {secret}")).await;
    tenantpilot_core::tokens::revoke(&app.db.store, &owner, token.id).await.unwrap();
    assert_eq!(closing_reason(&mut stream, 5).await.as_deref(), Some("signed_out"));
    app.db.drop_database().await;
}

/// Issue 14 §4: one person holds at most so many streams (here 2); opening another closes their
/// oldest, telling it why, and leaves other people's alone.
async fn a_persons_oldest_stream_closes_past_the_cap(backend: Backend) {
    let app = TestApp::with_flags(backend, &["--live-streams-per-user", "2"]).await;
    let owner = app.sign_in("owner@demo.test").await;
    let reader = app.sign_in("readonly@demo.test").await;
    let mut oldest = open_stream(&app, &owner).await;
    let mut theirs = open_stream(&app, &reader).await;
    let mut second = open_stream(&app, &owner).await;
    let mut third = open_stream(&app, &owner).await;
    assert_eq!(closing_reason(&mut oldest, 5).await.as_deref(), Some("superseded"));
    run_in(&app, "contoso", "1").await;
    for stream in [&mut second, &mut third, &mut theirs] {
        assert_eq!(next_run_event(stream).await["status"], "queued", "the others stay open");
    }
    app.db.drop_database().await;
}

/// Issue 14 §5: a disabled tenant's runs are hidden from its members (not from platform
/// admins); a tenant's lifecycle runs are cancelled by platform admins only.
async fn hidden_runs_and_who_cancels_them(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    let admin = app.sign_in("admin@demo.test").await;
    let contoso = app.db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let lifecycle = NewRun {
        workspace_id: contoso.workspace_id,
        tenant_id: Some(contoso.id),
        kind: OperationKind::TenantUpgrade,
        target: None,
        context: serde_json::Map::new(),
        initiator: Initiator::System,
        retry_of: None,
    };
    let upgrade = app.db.store.start_run(&lifecycle).await.unwrap().id();
    let cancel = format!("{LIST}/{upgrade}/cancel");
    let refused = app.json(Method::POST, &cancel, None, Some(&owner)).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a tenant owner does not cancel an upgrade: {}",
        refused.body
    );
    let cancelled = app.json(Method::POST, &cancel, None, Some(&admin)).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);

    let fetch = run_in(&app, "contoso", "7").await;
    let detail = format!("{LIST}/{fetch}");
    assert_eq!(app.json(Method::GET, &detail, None, Some(&owner)).await.status, StatusCode::OK);
    app.db.store.disable_tenant(contoso.id).await.unwrap();
    assert_eq!(app.json(Method::GET, &detail, None, Some(&owner)).await.status, StatusCode::NOT_FOUND);
    let listed = app.json(Method::GET, LIST, None, Some(&owner)).await;
    assert!(!ids(&listed.body).contains(&fetch), "{}", listed.body);
    assert_eq!(app.json(Method::GET, &detail, None, Some(&admin)).await.status, StatusCode::OK);
    let everything = app.json(Method::GET, LIST, None, Some(&admin)).await;
    assert!(ids(&everything.body).contains(&fetch));
    app.db.drop_database().await;
}

/// A database failure behind a JSON route: the client gets the contract's 500 body and nothing
/// of the cause; the log gets one line, with the cause and the store query it came from.
async fn an_internal_error_is_logged_once_and_told_to_no_one(backend: Backend) {
    use std::sync::{Arc, Mutex};
    use tenantpilot_core::store::Db;
    use tracing::instrument::WithSubscriber;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    match app.db.store.db() {
        Db::Sqlite(pool) => sqlx::query("DROP TABLE operation_runs").execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query("DROP TABLE operation_runs CASCADE").execute(pool).await.map(drop),
    }
    .unwrap();
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let reply = app.json(Method::GET, LIST, None, Some(&owner)).with_subscriber(subscriber).await;

    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.body);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        body,
        json!({ "error": "internal", "message": "Something went wrong on our side. Please try again." })
    );
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|line| line.contains("internal error")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("in store query `"), "{log}");
    assert!(!lines[0].contains("Something went wrong"), "the log says what, not the apology: {log}");
    assert!(lines[0].contains("operation_runs"), "{log}");
    app.db.drop_database().await;
}

/// Issue 16 §2: a failed, partially succeeded or cancelled run is retried as a new run of the
/// same type, target and context, linked both ways, by whoever may start it; a retry while a
/// run of the same identity is active reuses that run, as starts do.
async fn a_retry_is_a_new_linked_run_for_who_may_start_it(backend: Backend) {
    let app = TestApp::new(backend).await;
    let retry_path = |id: RunId| format!("{LIST}/{id}/retry");
    let failed = run_in(&app, "contoso", "7").await;
    let (owner, reader) = (app.sign_in("owner@demo.test").await, app.sign_in("readonly@demo.test").await);
    let stranger = app.sign_in("operator@demo.test").await;
    let northwind = run_in(&app, "northwind", "8").await;
    app.db.store.complete_run(northwind, RunOutcome::Failed, Counters::default()).await.unwrap();

    // Still queued: nothing to retry yet.
    let early = app.json(Method::POST, &retry_path(failed), None, Some(&owner)).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    app.db.store.complete_run(failed, RunOutcome::Failed, Counters::default()).await.unwrap();

    // A reader sees the run but may not start it; a non-member of the tenant does not see it.
    let refused = app.json(Method::POST, &retry_path(failed), None, Some(&reader)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let unseen = app.json(Method::POST, &retry_path(northwind), None, Some(&stranger)).await;
    assert_eq!(unseen.status, StatusCode::NOT_FOUND, "{}", unseen.body);

    let retried = app.json(Method::POST, &retry_path(failed), None, Some(&owner)).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    TestApp::check_documented(&Method::POST, &retry_path(failed), &retried);
    let retry =
        RunId(serde_json::from_str::<Value>(&retried.body).unwrap()["operationRunId"].as_i64().unwrap());
    assert_ne!(retry, failed);
    let (original, new) = (
        app.db.store.operation_run(failed).await.unwrap().unwrap(),
        app.db.store.operation_run(retry).await.unwrap().unwrap(),
    );
    assert_eq!((new.kind, &new.target, &new.context), (original.kind, &original.target, &original.context));
    assert_eq!(new.retry_of, Some(failed));
    assert_eq!(app.db.store.retries_of(failed).await.unwrap(), [retry]);
    let owner_user = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    assert_eq!(new.initiator, Initiator::user(&owner_user), "the retry is the retrier's");

    // The retry is still queued: retrying the original again reuses it, and links nothing new.
    let again = app.json(Method::POST, &retry_path(failed), None, Some(&owner)).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(serde_json::from_str::<Value>(&again.body).unwrap()["operationRunId"], retry.0);
    assert_eq!(app.db.store.retries_of(failed).await.unwrap(), [retry]);

    // A run that succeeded is not retried.
    app.db.store.complete_run(retry, RunOutcome::Succeeded, Counters::default()).await.unwrap();
    let done = app.json(Method::POST, &retry_path(retry), None, Some(&owner)).await;
    assert_eq!(done.status, StatusCode::CONFLICT, "{}", done.body);
    assert!(done.body.contains("succeeded"), "{}", done.body);

    // Both runs' details link them, in the context (the contract's open object), as documented.
    for (id, link, value) in [(failed, "retriedBy", json!([retry.0])), (retry, "retryOf", json!(failed.0))] {
        let path = format!("{LIST}/{id}");
        let detail = app.json(Method::GET, &path, None, Some(&owner)).await;
        TestApp::check_documented(&Method::GET, &path, &detail);
        Contract::load(CONTRACT).check(
            "get",
            "/admin/monitoring/operations/{operationRun}",
            200,
            &detail.body,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&detail.body).unwrap()["context"][link],
            value,
            "{}",
            detail.body
        );
    }

    // Both run pages link the two runs.
    let original_page = app.get(&format!("/admin/monitoring/runs/{failed}"), Some(&owner)).await;
    assert!(original_page.body.contains(&format!("Retried by run #{retry}")), "{}", original_page.body);
    let retry_page = app.get(&format!("/admin/monitoring/runs/{retry}"), Some(&owner)).await;
    assert!(retry_page.body.contains(&format!("Retry of run #{failed}")), "{}", retry_page.body);
    app.db.drop_database().await;
}

/// Issue 16 §3: a bulk action takes exactly the runs the filter shows the caller, every page of
/// it; runs they may see but not act on are skipped and counted; past 1,000 runs it is refused;
/// one audit entry records the filter and the counts.
async fn bulk_actions_take_every_page_of_the_filter_within_the_cap(backend: Backend) {
    let app = TestApp::new(backend).await;
    const BULK: &str = "/admin/monitoring/operations/bulk";
    let bulk = |cookie: String, body: Value| {
        let app = &app;
        async move {
            let reply = app.json(Method::POST, BULK, Some(&body.to_string()), Some(&cookie)).await;
            TestApp::check_documented(&Method::POST, BULK, &reply);
            reply
        }
    };
    let counts = |reply: &common::Reply| {
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        (
            body["matched"].as_i64().unwrap(),
            body["acted"].as_i64().unwrap(),
            body["skipped"].as_i64().unwrap(),
        )
    };
    let mut contoso = Vec::new();
    for target in ["c0", "c1", "c2"] {
        contoso.push(run_in(&app, "contoso", target).await);
    }
    let fabrikam = run_in(&app, "fabrikam", "f0").await;
    let (owner, reader) = (app.sign_in("owner@demo.test").await, app.sign_in("readonly@demo.test").await);

    // A reader sees contoso's runs but may not cancel them: each is skipped, none changes.
    let filter = json!({ "tenant": "contoso", "limit": "1" });
    let skipped = bulk(reader.clone(), json!({ "action": "cancel", "filter": filter })).await;
    assert_eq!(skipped.status, StatusCode::OK, "{}", skipped.body);
    assert_eq!(counts(&skipped), (3, 0, 3));
    // The owner cancels all three (the page size and cursor of the list do not narrow it).
    let cancelled = bulk(owner.clone(), json!({ "action": "cancel", "filter": filter })).await;
    assert_eq!(counts(&cancelled), (3, 3, 0), "{}", cancelled.body);
    for id in &contoso {
        let run = app.db.store.operation_run(*id).await.unwrap().unwrap();
        assert_eq!(run.outcome, RunOutcome::Cancelled);
    }
    let untouched = app.db.store.operation_run(fabrikam).await.unwrap().unwrap();
    assert!(untouched.status.is_active(), "another tenant's run is not in the filter");
    // Retrying the cancelled ones starts three linked runs.
    let retried = bulk(owner.clone(), json!({ "action": "retry", "filter": { "tenant": "contoso" } })).await;
    assert_eq!(counts(&retried), (3, 3, 0), "{}", retried.body);
    for id in &contoso {
        assert_eq!(app.db.store.retries_of(*id).await.unwrap().len(), 1);
    }
    let tenant = app.db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let audit = app.db.store.tenant_audit(tenant.id, 50).await.unwrap();
    let entries: Vec<_> = audit.iter().filter(|entry| entry.action == "bulk").collect();
    assert_eq!(entries.len(), 3, "one entry per bulk action");
    assert_eq!(entries[0].details["action"], "retry");
    assert_eq!(entries[0].details["filter"]["tenant"], "contoso");
    assert_eq!(
        (entries[0].details["matched"].as_i64(), entries[0].details["acted"].as_i64()),
        (Some(3), Some(3))
    );

    // Mistakes name what was wrong.
    for (body, field) in [
        (json!({ "action": "delete" }), "body"),
        (json!({ "action": "cancel", "filter": { "colour": "red" } }), "filter.colour"),
        (json!({ "action": "cancel", "filter": { "status": "sleeping" } }), "status"),
    ] {
        let refused = bulk(owner.clone(), body.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.body);
        assert_eq!(serde_json::from_str::<Value>(&refused.body).unwrap()["field"], field, "{body}");
    }

    // Past the cap nothing is done, and the answer asks for a narrower filter.
    for n in 0..1001 {
        run_in(&app, "northwind", &format!("n{n}")).await;
    }
    let too_many =
        bulk(owner.clone(), json!({ "action": "cancel", "filter": { "tenant": "northwind" } })).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST, "{}", too_many.body);
    assert!(too_many.body.contains("narrow the filter"), "{}", too_many.body);
    let northwind = app.db.store.tenant_by_slug("northwind").await.unwrap().unwrap();
    let still_queued = app.db.store.runs_with_target("backup_item", "n0", 5).await.unwrap();
    assert!(still_queued.iter().all(|run| run.status.is_active() && run.tenant_id == Some(northwind.id)));
    app.db.drop_database().await;
}

/// Issue 16 §4: the chart shows runs over time stacked by outcome, drawn as SVG by the server
/// (so it shows with JavaScript off): a bar per hour for 24 hours, per day for 30 days; an
/// outcome with no runs gets no segment (a sliver would read as "some"). Time filters picked on
/// the viewer's wall clock (`datetime-local`) go to the same list with RFC 3339 in the address.
async fn the_chart_stacks_runs_over_time_by_outcome(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    let bars = |body: &str| body.matches("class=\"bar outcome-").count();
    let empty = app.get("/admin/monitoring", Some(&owner)).await.body;
    assert!(
        empty.contains("Runs over the last 24 hours") && empty.contains("class=\"runs-over-time\""),
        "{empty}"
    );
    assert_eq!(bars(&empty), 0, "no runs, no bars");
    let failed = run_in(&app, "contoso", "1").await;
    app.db.store.complete_run(failed, RunOutcome::Failed, Counters::default()).await.unwrap();
    run_in(&app, "contoso", "2").await;
    for (path, title) in [("/admin/monitoring", "24 hours"), ("/admin/monitoring?chart=30d", "30 days")] {
        let page = app.get(path, Some(&owner)).await.body;
        assert!(page.contains(&format!("Runs over the last {title}")), "{page}");
        assert_eq!(bars(&page), 2, "one bar, failed stacked on pending: {page}");
        assert!(
            page.contains("class=\"bar outcome-failed\"") && page.contains("class=\"bar outcome-pending\"")
        );
        assert!(page.contains(": 1 pending, 1 failed</title>"), "{page}");
    }
    let wrong = app.get("/admin/monitoring?chart=week", Some(&owner)).await;
    assert!(wrong.body.contains("chart"), "a bad span is named: {}", wrong.body);

    // 14:00 on 30 November in Berlin (CET, UTC+1), as a datetime-local field sends it.
    let berlin = format!("{owner}; {}=Europe/Berlin", tenantpilot_app::BROWSER_ZONE_COOKIE);
    let picked = app.get("/admin/monitoring?since=2026-11-30T14:00&tenant=contoso", Some(&berlin)).await;
    assert_eq!(picked.status, StatusCode::FOUND, "{}", picked.body);
    assert_eq!(picked.location(), "/admin/monitoring?tenant=contoso&since=2026-11-30T13%3A00%3A00Z");
    let page = app.get(picked.location(), Some(&berlin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"2026-11-30T14:00\""), "the field shows Berlin's wall clock");
    app.db.drop_database().await;
}

/// The Monitoring island reloads its list by posting its filters to the `monitoring` server
/// function as a form would (`params[type]=…`, what `monitoring_arguments` writes) and reading
/// the JSON answer: the same view the page was rendered with, filtered alike.
async fn the_live_list_reloads_through_its_server_function(backend: Backend) {
    let app = TestApp::new(backend).await;
    let contoso = run_in(&app, "contoso", "1").await;
    run_in(&app, "fabrikam", "2").await;
    let owner = app.sign_in("owner@demo.test").await;
    let reload = app.call(Method::POST, "/api/monitoring").by(Sender::Script).cookie(&owner);
    let reply =
        reload.form("params%5Btenant%5D=contoso&params%5Btype%5D=assignments.fetch&chart=30d").send().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let view: Value = serde_json::from_str(&reply.body).unwrap();
    let runs: Vec<i64> =
        view["runs"].as_array().unwrap().iter().map(|run| run["id"].as_i64().unwrap()).collect();
    assert_eq!(runs, vec![contoso.0]);
    app.db.drop_database().await;
}
