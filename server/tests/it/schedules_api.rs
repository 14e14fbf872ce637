//! The schedules' JSON twins, on SQLite and PostgreSQL: who may create, see, change and run a
//! schedule, the mistakes named by field, pausing, "Run now", and every answer as documented.

use crate::common;

use axum::http::{Method, StatusCode};
use common::{Reply, TestApp};
use serde_json::{json, Value};
use tenantpilot_core::ids::RunId;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::store::Backend;

tenantpilot_core::test_on_both_backends!(schedules_are_made_seen_changed_and_run_by_who_may);

const SCHEDULES: &str = "/admin/schedules";

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    cookie: &str,
) -> (Reply, Value) {
    let body = body.map(|body| body.to_string());
    let reply = app.json(method.clone(), path, body.as_deref(), Some(cookie)).await;
    TestApp::check_documented(&method, path, &reply);
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply, json)
}

async fn schedules_are_made_seen_changed_and_run_by_who_may(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    let reader = app.sign_in("readonly@demo.test").await;
    let stranger = app.sign_in("operator@demo.test").await; // not a member of northwind

    // Mistakes name their field, and nothing is made.
    let nightly =
        json!({ "name": "Nightly", "cron": "30 2 * * *", "timeZone": "Europe/Berlin", "tenant": "contoso" });
    for (change, field) in [
        (json!({ "cron": "30 2 * *" }), "cron"),
        (json!({ "timeZone": "Europe/Atlantis" }), "time_zone"),
        (json!({ "name": " " }), "name"),
        (json!({ "jitterMinutes": 721 }), "jitterMinutes"),
        (json!({ "workspace": "demo" }), "target"),
        (json!({ "colour": "red" }), "body"),
    ] {
        let mut body = nightly.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        let (refused, error) = call(&app, Method::POST, SCHEDULES, Some(body.clone()), &owner).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}: {}", refused.body);
        assert_eq!(error["field"], field, "{body}");
    }
    let (reply, _) = call(&app, Method::POST, SCHEDULES, Some(nightly.clone()), &reader).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "a reader may not capture: {}", reply.body);
    let fan_out = json!({ "name": "Everyone", "cron": "0 1 * * *", "timeZone": "UTC", "workspace": "demo" });
    let (reply, _) = call(&app, Method::POST, SCHEDULES, Some(fan_out), &reader).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "a fan-out takes a Site Admin: {}", reply.body);
    assert!(app.db.store.all_schedules().await.unwrap().is_empty());

    let (created, schedule) = call(&app, Method::POST, SCHEDULES, Some(nightly), &owner).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(schedule["targetLabel"], "Capture of Contoso Ltd");
    assert_eq!(schedule["nextFireTimes"].as_array().unwrap().len(), 5);
    let path = format!("{SCHEDULES}/{}", schedule["id"]);

    // Members of the tenant see it; others find nothing.
    let (seen, list) = call(&app, Method::GET, SCHEDULES, None, &reader).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let northwind =
        json!({ "name": "Northwind", "cron": "0 3 * * *", "timeZone": "UTC", "tenant": "northwind" });
    let (_, theirs) = call(&app, Method::POST, SCHEDULES, Some(northwind), &owner).await;
    let theirs = format!("{SCHEDULES}/{}", theirs["id"]);
    assert_eq!(call(&app, Method::GET, &theirs, None, &stranger).await.0.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Method::GET, SCHEDULES, None, &stranger).await.1.as_array().unwrap().len(), 1);

    // Changing it takes what starting it takes.
    let pause = json!({ "paused": true });
    assert_eq!(
        call(&app, Method::PATCH, &path, Some(pause.clone()), &reader).await.0.status,
        StatusCode::FORBIDDEN
    );
    let (paused, view) = call(&app, Method::PATCH, &path, Some(pause), &owner).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!((view["paused"].as_bool(), view["nextFireTimes"].as_array().unwrap().len()), (Some(true), 0));
    let (_, view) =
        call(&app, Method::PATCH, &path, Some(json!({ "paused": false, "cron": "0 4 * * 1" })), &owner).await;
    assert_eq!((view["paused"].as_bool(), view["cron"].as_str()), (Some(false), Some("0 4 * * 1")));

    // Run now: as the person who asked.
    let (started, body) = call(&app, Method::POST, &format!("{path}/trigger"), None, &owner).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let run =
        app.db.store.operation_run(RunId(body["operationRunId"].as_i64().unwrap())).await.unwrap().unwrap();
    let olivia = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    assert_eq!(run.initiator, Initiator::user(&olivia));
    assert_eq!(
        call(&app, Method::POST, &format!("{path}/trigger"), None, &reader).await.0.status,
        StatusCode::FORBIDDEN
    );

    // The same address is the Schedules page for a browser (asking for HTML, without a token):
    // the schedule with its next fire times on its clock and, through the browser's zone cookie,
    // the viewer's.
    let browser_zone = format!("{owner}; {}=America/New_York", tenantpilot_app::BROWSER_ZONE_COOKIE);
    let page = app.get(SCHEDULES, Some(&browser_zone)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers[axum::http::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(page.body.contains("Every schedule you may see") && page.body.contains("Capture of Contoso Ltd"));
    // Mondays 04:00 in Berlin (CET or CEST), and the same instants in New York (EST or EDT).
    assert!(page.body.contains("Mon ") && page.body.contains(" 04:00 CE"), "{}", page.body);
    assert!(page.body.contains(" EST") || page.body.contains(" EDT"), "the viewer's zone: {}", page.body);
    assert_eq!(app.get(SCHEDULES, None).await.status, StatusCode::FOUND, "signed out: to sign-in");

    assert_eq!(call(&app, Method::DELETE, &path, None, &reader).await.0.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, Method::DELETE, &path, None, &owner).await.0.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, &path, None, &owner).await.0.status, StatusCode::NOT_FOUND);
    app.db.drop_database().await;
}
