//! The router over real HTTP requests (in process), on SQLite and PostgreSQL: sign-in, sessions,
//! the 404/403 matrix of every plane and role, the same-origin check, and bad input.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{Sender, TestApp, ORIGIN};
use tenantpilot_core::store::Backend;
use tenantpilot_core::Role;
use tenantpilot_server::router;
use tower::ServiceExt;

tenantpilot_core::test_on_both_backends!(
    sign_in_rotates_the_session_and_sign_out_ends_it,
    wrong_password_is_refused_alike,
    signed_out_visitors_go_to_sign_in_and_back,
    plane_and_role_matrix,
    not_found_cannot_tell_non_member_from_unknown,
    cross_site_posts_change_nothing,
    bad_input_gets_clear_errors,
    health_and_readiness,
    sessions_end_at_their_absolute_limit,
    https_public_url_makes_cookies_secure,
    pages_carry_a_nonce_policy_and_nothing_is_cached,
    a_burst_of_guesses_gets_at_most_ten_password_checks,
    forwarded_addresses_count_only_from_trusted_proxies,
    pages_finish_while_other_routers_are_built,
    forms_without_javascript_come_back_with_their_outcome,
);

/// A sign-in as a script sends it, from `peer`, with extra headers.
fn sign_in_from(peer: &str, form: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/api/login")
        .header(header::HOST, "localhost")
        .header(header::ORIGIN, ORIGIN)
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::from(form.to_string())).unwrap();
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    request
}

/// Issue 14 §4: the attempt is counted before the password is checked, in one statement, so 40
/// guesses sent at once for one account get at most 10 password checks, from however many
/// addresses; the rest are refused at once with 429 and `Retry-After`.
async fn a_burst_of_guesses_gets_at_most_ten_password_checks(backend: Backend) {
    let app = TestApp::new(backend).await;
    let form = "email=owner@demo.test&password=a-wrong-guess";
    let guesses = (0..40).map(|n| app.reply(sign_in_from(&format!("203.0.113.{n}:40000"), form, &[])));
    let replies = futures_util::future::join_all(guesses).await;
    let checked = replies.iter().filter(|reply| reply.status == StatusCode::UNAUTHORIZED).count();
    let refused: Vec<_> =
        replies.iter().filter(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(checked + refused.len(), 40, "only checks and refusals");
    assert!(checked <= 10, "{checked} password checks");
    for reply in &refused {
        let retry_after: u64 = reply.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
        assert!(reply.body.contains(r#""error":"too_many_attempts""#), "{}", reply.body);
    }
    // Until the window ends, even the right password is refused for this account.
    let right = format!("email=owner@demo.test&password={}", app.password);
    let reply = app.reply(sign_in_from("198.51.100.1:40000", &right, &[])).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    app.db.drop_database().await;
}

/// The throttle key of every address a sign-in was counted under.
async fn throttled_addresses(app: &TestApp) -> Vec<String> {
    use tenantpilot_core::store::Db;
    let sql = "SELECT key FROM login_throttle WHERE key LIKE 'ip:%' ORDER BY key";
    let keys: Vec<String> = match app.db.store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    };
    keys
}

/// Issue 14 §4: `X-Forwarded-For` / `Forwarded` name the client only when the peer is a trusted
/// proxy; from anyone else they are ignored (a client cannot choose the address it is counted
/// under).
async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    let app = TestApp::with_flags(backend, &["--trusted-proxies", "10.0.0.0/8"]).await;
    let form = "email=nobody@demo.test&password=wrong";
    let xff = [("x-forwarded-for", "198.51.100.7, 10.9.9.9")];
    let through_proxy = app.reply(sign_in_from("10.0.0.2:5000", form, &xff)).await;
    assert_eq!(through_proxy.status, StatusCode::UNAUTHORIZED);
    let spoofed = app.reply(sign_in_from("203.0.113.50:5000", form, &[("x-forwarded-for", "1.2.3.4")])).await;
    assert_eq!(spoofed.status, StatusCode::UNAUTHORIZED);
    let forwarded = [("forwarded", "for=\"[2001:db8::7]:1234\";proto=https")];
    app.reply(sign_in_from("10.0.0.3:5000", form, &forwarded)).await;
    assert_eq!(
        throttled_addresses(&app).await,
        ["ip:198.51.100.7", "ip:2001:db8::7", "ip:203.0.113.50"],
        "the forwarded client behind a trusted proxy; the peer itself otherwise"
    );
    app.db.drop_database().await;
}

async fn sign_in_rotates_the_session_and_sign_out_ends_it(backend: Backend) {
    let app = TestApp::new(backend).await;
    let login_page = app.get("/login", None).await;
    assert_eq!(login_page.status, StatusCode::OK);
    assert!(login_page.body.contains("name=\"password\""));

    let form = format!("email=owner@demo.test&password={}", app.password);
    let first = app.call(Method::POST, "/api/login").form(&form).send().await;
    let set_cookie = first.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http without a public https URL: {set_cookie}");
    let first = first.session_cookie().unwrap();

    // Signing in again from that session gets a new id; the old one is dead.
    let again = app.call(Method::POST, "/api/login").form(&form).cookie(&first).send().await;
    let second = again.session_cookie().expect("a new session id");
    assert_ne!(first, second);
    assert_eq!(app.get("/admin", Some(&first)).await.status, StatusCode::FOUND);

    let home = app.get("/admin", Some(&second)).await;
    assert_eq!(home.status, StatusCode::OK);
    for name in ["Contoso Ltd", "Fabrikam Inc", "Northwind Traders", "Olivia Owner"] {
        assert!(home.body.contains(name), "{name} missing from the workspace home");
    }

    let out = app.call(Method::POST, "/api/logout").form("").cookie(&second).send().await;
    assert_eq!((out.status, out.location()), (StatusCode::FOUND, "/login"));
    let after = app.get("/admin", Some(&second)).await;
    assert_eq!(after.status, StatusCode::FOUND);
    assert!(after.location().starts_with("/login"));
    app.db.drop_database().await;
}

async fn wrong_password_is_refused_alike(backend: Backend) {
    let app = TestApp::new(backend).await;
    for email in ["owner@demo.test", "nobody@demo.test"] {
        let form = format!("email={email}&password=wrong-password");
        let script = app.call(Method::POST, "/api/login").form(&form).by(Sender::Script).send().await;
        assert_eq!(script.status, StatusCode::UNAUTHORIZED, "{}", script.body);
        assert_eq!(
            script.body,
            r#"{"error":"bad_credentials","message":"That e-mail and password do not match an account"}"#
        );
        assert!(script.session_cookie().is_none());
        // A plain form post goes back to the form, the error carried in the URL for the page.
        let browser = app.call(Method::POST, "/api/login").form(&form).send().await;
        assert_eq!(browser.status, StatusCode::FOUND);
        assert!(
            browser.location().starts_with("http://localhost/login?")
                && browser.location().contains("__err=")
        );
        let page = app.get(browser.location().trim_start_matches(ORIGIN), None).await;
        assert!(page.body.contains("do not match an account"), "the form shows the error with JS off");
    }
    app.db.drop_database().await;
}

/// A form posted without JavaScript returns to its page, which says how it went: the server adds
/// `__done` (and, for a run's start, the run id as `__out`) to the address, dropping what an
/// earlier post left there; a failure keeps only its own `__path` + `__err`.
async fn forms_without_javascript_come_back_with_their_outcome(backend: Backend) {
    let app = TestApp::new(backend).await;
    let owner = app.sign_in("owner@demo.test").await;
    let members = "/admin/t/fabrikam/members?sort=name&__done=%2Fapi%2Fremove_member";
    let form = "tenant=fabrikam&email=readonly@demo.test&role=operator";
    let added =
        app.call(Method::POST, "/api/add_member").form(form).cookie(&owner).on_page(members).send().await;
    assert_eq!(added.status, StatusCode::FOUND, "{}", added.body);
    assert_eq!(
        added.location(),
        format!("{ORIGIN}/admin/t/fabrikam/members?sort=name&__done=%2Fapi%2Fadd_member")
    );
    let page = app.get(added.location().trim_start_matches(ORIGIN), Some(&owner)).await;
    assert!(page.body.contains("Member saved."), "{}", page.body);
    assert!(!page.body.contains("Member removed."));

    let form = "tenant=fabrikam&email=not-an-address&role=operator";
    let refused = app.call(Method::POST, "/api/add_member").form(form).cookie(&owner);
    let refused = refused.on_page(added.location().trim_start_matches(ORIGIN)).send().await;
    let location = refused.location();
    assert!(!location.contains("__done") && location.matches("__err=").count() == 1, "{location}");
    let page = app.get(location.trim_start_matches(ORIGIN), Some(&owner)).await;
    assert!(!page.body.contains("Member saved."));
    assert!(page.body.contains("role=\"alert\""), "the error shows instead");

    let started = app.call(Method::POST, "/api/start_capture").form("tenant=fabrikam").cookie(&owner);
    let started = started.on_page("/admin/t/fabrikam/backups").send().await;
    let (_, run) = started.location().rsplit_once("__out=").expect("the run id in the address");
    let run: i64 = run.parse().expect("a run id");
    let page = app.get(started.location().trim_start_matches(ORIGIN), Some(&owner)).await;
    assert!(page.body.contains("Capture backup queued."));
    assert!(page.body.contains(&format!("href=\"/admin/monitoring/runs/{run}\"")));
    app.db.drop_database().await;
}

async fn signed_out_visitors_go_to_sign_in_and_back(backend: Backend) {
    let app = TestApp::new(backend).await;
    let reply = app.get("/admin/t/contoso/members", None).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location(), "/login?next=/admin/t/contoso/members");
    let form = format!("email=owner@demo.test&password={}&next=/admin/t/contoso/members", app.password);
    let signed_in = app.call(Method::POST, "/api/login").form(&form).send().await;
    assert_eq!(signed_in.location(), "/admin/t/contoso/members");
    // Never off-site.
    let form = format!("email=owner@demo.test&password={}&next=//evil.example/x", app.password);
    let signed_in = app.call(Method::POST, "/api/login").form(&form).send().await;
    assert_eq!(signed_in.location(), "/admin");
    app.db.drop_database().await;
}

/// Leptos walks the app's routes with a process-wide flag raised that holds back, for good, any
/// page data first asked for meanwhile (leptos_server's `SuppressResourceLoad`). A router built
/// while another serves pages (tests and replicas share a process) must not walk them again, or
/// a page being rendered then never finishes.
async fn pages_finish_while_other_routers_are_built(backend: Backend) {
    let app = TestApp::new(backend).await;
    let cookie = app.sign_in("owner@demo.test").await;
    let rendering = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let builder = tokio::spawn({
        let (store, rendering) = (app.db.store.clone(), rendering.clone());
        async move {
            while rendering.load(std::sync::atomic::Ordering::Relaxed) {
                drop(common::router_over(&store, &[]).await);
            }
        }
    });
    for page in ["/admin", "/admin/monitoring", "/admin/t/contoso", "/admin/pipelines"].repeat(10) {
        let reply = tokio::time::timeout(std::time::Duration::from_secs(20), app.get(page, Some(&cookie)))
            .await
            .unwrap_or_else(|_| panic!("{page} never finished"));
        assert_eq!(reply.status, StatusCode::OK, "{page}");
    }
    rendering.store(false, std::sync::atomic::Ordering::Relaxed);
    builder.await.unwrap();
    app.db.drop_database().await;
}

/// Every plane × every demo role, on pages and server functions.
async fn plane_and_role_matrix(backend: Backend) {
    let app = TestApp::new(backend).await;
    const OK: u16 = 200;
    const FORBIDDEN: u16 = 403;
    const NOT_FOUND: u16 = 404;
    // (route, [owner, manager, operator, readonly, platform admin])
    // The demo pipeline (1) is readable by every account role of its workspace; Olivia Owner is
    // the workspace's Site Admin; the platform admin belongs to no workspace.
    let pages: [(&str, [u16; 5]); 24] = [
        ("/admin", [OK, OK, OK, OK, OK]),
        ("/admin/t/contoso", [OK, OK, OK, OK, NOT_FOUND]),
        ("/admin/t/northwind", [OK, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        ("/admin/t/no-such-tenant", [NOT_FOUND; 5]),
        ("/admin/t/contoso/members", [OK, OK, OK, FORBIDDEN, NOT_FOUND]),
        ("/admin/t/northwind/members", [OK, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        ("/system", [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        ("/system/tenants/contoso", [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        ("/system/tenants/no-such-tenant", [NOT_FOUND; 5]),
        ("/admin/t/contoso/backups", [OK, OK, OK, OK, NOT_FOUND]),
        ("/admin/t/northwind/backups", [OK, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        ("/admin/t/contoso/settings", [OK, OK, OK, OK, NOT_FOUND]),
        ("/admin/t/contoso/restores/999", [NOT_FOUND; 5]),
        ("/admin/t/contoso/restores/x", [NOT_FOUND; 5]),
        ("/admin/t/contoso/backups/items/999", [NOT_FOUND; 5]),
        ("/admin/t/contoso/backups/items/x", [NOT_FOUND; 5]),
        ("/admin/monitoring", [OK; 5]),
        ("/admin/monitoring/runs/999", [NOT_FOUND; 5]),
        ("/admin/tokens", [OK; 5]),
        ("/admin/pipelines", [OK; 5]),
        ("/admin/pipelines/1", [OK, OK, OK, OK, NOT_FOUND]),
        ("/admin/pipelines/999", [NOT_FOUND; 5]),
        ("/admin/registry", [OK; 5]),
        ("/admin/audit", [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN]),
    ];
    let functions: [(&str, &str, [u16; 5]); 18] = [
        ("/api/tenant_overview", "tenant=contoso", [OK, OK, OK, OK, NOT_FOUND]),
        ("/api/members", "tenant=contoso", [OK, OK, OK, FORBIDDEN, NOT_FOUND]),
        ("/api/members", "tenant=northwind", [OK, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND]),
        (
            "/api/add_member",
            "tenant=contoso&email=readonly@demo.test&role=readonly",
            [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND],
        ),
        ("/api/platform_overview", "", [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        ("/api/tenant_jobs", "slug=contoso", [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, OK]),
        // Even the platform admin purges nothing without typing the slug.
        (
            "/api/submit_tenant_job",
            "slug=contoso&action=purge&confirm=contos",
            [NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, 400],
        ),
        ("/api/start_capture", "tenant=contoso", [OK, OK, OK, FORBIDDEN, NOT_FOUND]),
        ("/api/start_fetch", "tenant=contoso&item_id=999", [NOT_FOUND, NOT_FOUND, NOT_FOUND, FORBIDDEN, NOT_FOUND]),
        (
            "/api/save_connection",
            "tenant=contoso&base_url=http://127.0.0.1:9/v1&token_url=http://127.0.0.1:9/t&client_id=c&client_secret=s",
            [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND],
        ),
        // The owner just saved a connection to nowhere: checking it is the provider's failure.
        ("/api/check_connection", "tenant=contoso", [502, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND]),
        ("/api/backup_item", "tenant=contoso&id=999", [NOT_FOUND; 5]),
        (
            "/api/remap_restore",
            "tenant=contoso&restore_id=999",
            [NOT_FOUND, NOT_FOUND, FORBIDDEN, FORBIDDEN, NOT_FOUND],
        ),
        ("/api/cancel_run", "id=999", [NOT_FOUND; 5]),
        ("/api/monitoring", "", [OK; 5]),
        ("/api/pipeline_detail", "id=1", [OK, OK, OK, OK, NOT_FOUND]),
        ("/api/run_pipeline", "id=1", [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND]),
        ("/api/audit_log", "", [OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN]),
    ];
    let users = ["owner", "manager", "operator", "readonly", "admin"];
    for (column, user) in users.iter().enumerate() {
        let cookie = app.sign_in(&format!("{user}@demo.test")).await;
        for (path, expected) in &pages {
            let reply = app.get(path, Some(&cookie)).await;
            assert_eq!(reply.status.as_u16(), expected[column], "{user} GET {path}");
            match expected[column] {
                FORBIDDEN => {
                    assert!(reply.body.contains("Access denied") && reply.body.contains("Requires the"))
                }
                NOT_FOUND => assert!(reply.body.contains("Page not found")),
                _ => {}
            }
        }
        for (path, form, expected) in &functions {
            let reply =
                app.call(Method::POST, path).form(form).cookie(&cookie).by(Sender::Script).send().await;
            assert_eq!(reply.status.as_u16(), expected[column], "{user} POST {path} {form}: {}", reply.body);
        }
        let signed_out =
            app.call(Method::POST, "/api/members").form("tenant=contoso").by(Sender::Script).send().await;
        assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    }
    // Only Power Users and Site Admins create tools: others see the button, disabled, saying so.
    let reader = app.sign_in("readonly@demo.test").await;
    let registry = app.get("/admin/registry", Some(&reader)).await.body;
    assert!(registry.contains(r#"title="Requires the Power User or Site Admin account role""#), "{registry}");
    let cookie = app.sign_in("owner@demo.test").await;
    assert!(!app.get("/admin/registry", Some(&cookie)).await.body.contains(r#"class="gated""#));
    // The audit page lists the sign-ins above, filtered through the URL; a bad day is named.
    let sign_ins = app.get("/admin/audit?type=session", Some(&cookie)).await;
    assert_eq!(sign_ins.status, StatusCode::OK);
    // A sign-in belongs to no workspace: each person sees their own, not their colleagues'.
    assert!(sign_ins.body.contains("owner@demo.test"), "{}", sign_ins.body);
    for user in users.iter().filter(|user| **user != "owner") {
        assert!(!sign_ins.body.contains(&format!("{user}@demo.test")), "{user} signed in: {}", sign_ins.body);
    }
    assert!(sign_ins.body.contains("sign_in") && !sign_ins.body.contains(">run<"));
    let runs = app.get("/admin/audit?type=pipeline", Some(&cookie)).await;
    assert!(runs.body.contains(">run<") && !runs.body.contains("sign_in"), "{}", runs.body);
    let bad_day = app.get("/admin/audit?date=someday", Some(&cookie)).await;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);
    assert!(bad_day.body.contains("is not a date like"), "{}", bad_day.body);
    app.db.drop_database().await;
}

async fn not_found_cannot_tell_non_member_from_unknown(backend: Backend) {
    let app = TestApp::new(backend).await;
    let cookie = app.sign_in("operator@demo.test").await;
    let not_member = app.get("/admin/t/northwind/members", Some(&cookie)).await;
    let unknown = app.get("/admin/t/zzzzzzzzz/members", Some(&cookie)).await;
    assert_eq!(not_member.status, StatusCode::NOT_FOUND);
    assert_eq!(
        without_nonce(&not_member.body.replace("northwind", "zzzzzzzzz")),
        without_nonce(&unknown.body)
    );
    let as_script =
        |form| app.call(Method::POST, "/api/members").form(form).cookie(&cookie).by(Sender::Script).send();
    assert_eq!(as_script("tenant=northwind").await.body, as_script("tenant=zzzzzzzzz").await.body);
    app.db.drop_database().await;
}

/// Each page carries a fresh script nonce; everything else must match.
fn without_nonce(body: &str) -> String {
    let nonce = body.split("nonce=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a nonce");
    body.replace(nonce, "NONCE")
}

async fn cross_site_posts_change_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let form = format!("email=owner@demo.test&password={}", app.password);
    let login = app.call(Method::POST, "/api/login").form(&form).by(Sender::CrossSite).send().await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(login.session_cookie().is_none());

    let cookie = app.sign_in("owner@demo.test").await;
    let add = "tenant=northwind&email=readonly@demo.test&role=owner";
    let refused = app
        .call(Method::POST, "/api/add_member")
        .form(add)
        .cookie(&cookie)
        .by(Sender::CrossSite)
        .send()
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let tenant = app.db.store.tenant_by_slug("northwind").await.unwrap().unwrap();
    let members = app.db.store.members(tenant.id).await.unwrap();
    assert!(!members.iter().any(|m| m.email == "readonly@demo.test"), "nothing changed");
    // Only a personal access token exempts a request from the origin check (the guard then
    // answers for the token): any other Authorization header exempts nothing, with the session
    // cookie or without it.
    let cross_site = |authorization: &'static str, cookie: Option<&str>| {
        let mut request = Request::post("/api/add_member")
            .header(header::HOST, "localhost")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::AUTHORIZATION, authorization)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(add)).unwrap()
    };
    for authorization in ["Basic b3duZXI6cHc=", "Bearer not-a-tpat-token", "bearer tpat_lowercase"] {
        for cookie in [Some(cookie.as_str()), None] {
            let response = app.router.clone().oneshot(cross_site(authorization, cookie)).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{authorization} {cookie:?}");
        }
    }
    let token = app.router.clone().oneshot(cross_site("Bearer tpat_not-a-real-one", None)).await.unwrap();
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED, "a token passes the origin check, then the guard");
    // A script (no Origin, Referer or Sec-Fetch-Site) with a header that is no token: the guard
    // refuses it, and never with the session it also sent.
    let script = Request::post("/api/add_member")
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, "Bearer not-a-tpat-token")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(add))
        .unwrap();
    assert_eq!(app.router.clone().oneshot(script).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let members = app.db.store.members(tenant.id).await.unwrap();
    assert!(!members.iter().any(|m| m.email == "readonly@demo.test"), "still nothing changed");
    // The same request from our own origin does change it.
    let done =
        app.call(Method::POST, "/api/add_member").form(add).cookie(&cookie).by(Sender::Script).send().await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let members = app.db.store.members(tenant.id).await.unwrap();
    assert!(members.iter().any(|m| m.email == "readonly@demo.test" && m.role == Role::Owner));
    app.db.drop_database().await;
}

async fn bad_input_gets_clear_errors(backend: Backend) {
    let app = TestApp::new(backend).await;
    let cookie = app.sign_in("owner@demo.test").await;
    for (form, needle) in [
        ("tenant=contoso&user_id=abc&role=owner", "malformed"),
        ("tenant=contoso&user_id=1&role=emperor", "malformed"),
        ("tenant=contoso", "malformed"),
    ] {
        let reply = app
            .call(Method::POST, "/api/change_member_role")
            .form(form)
            .cookie(&cookie)
            .by(Sender::Script)
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{form}: {}", reply.body);
        assert!(reply.body.contains(needle), "{form}: {}", reply.body);
    }
    let reply = app
        .call(Method::POST, "/api/add_member")
        .form("tenant=contoso&email=not-an-email&role=owner")
        .cookie(&cookie)
        .by(Sender::Script)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("Enter an e-mail address"), "{}", reply.body);

    // Only members' roles change here, and a tenant keeps an owner.
    let owner = app.db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let admin = app.db.store.user_by_email("admin@demo.test").await.unwrap().unwrap();
    let form = format!("tenant=contoso&user_id={}&role=owner", admin.id);
    let reply = app
        .call(Method::POST, "/api/change_member_role")
        .form(&form)
        .cookie(&cookie)
        .by(Sender::Script)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let form = format!("tenant=contoso&user_id={}", owner.id);
    let reply = app
        .call(Method::POST, "/api/remove_member")
        .form(&form)
        .cookie(&cookie)
        .by(Sender::Script)
        .send()
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(reply.body.contains("at least one owner"), "{}", reply.body);

    let huge = format!("tenant=contoso&email={}", "a".repeat(router::MAX_BODY_BYTES + 1));
    let reply =
        app.call(Method::POST, "/api/add_member").form(&huge).cookie(&cookie).by(Sender::Script).send().await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    let reply = app.get("/no/such/page", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("Page not found"));
    app.db.drop_database().await;
}

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::new(backend).await;
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(health.body.contains("\"status\":\"ok\""));
    assert!(health.headers.contains_key("x-request-id"));
    let ready = app.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (StatusCode::OK, "{\"status\":\"ready\"}"));
    app.db.store.close().await;
    let down = app.get("/readyz", None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    app.db.drop_database().await;
}

async fn sessions_end_at_their_absolute_limit(backend: Backend) {
    // A limit of zero hours: every session is already past it on its next request.
    let app = TestApp::with_flags(backend, &["--session-max-hours", "0"]).await;
    let cookie = app.sign_in("owner@demo.test").await;
    let reply = app.get("/admin", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.location(), "/login?next=/admin");
    app.db.drop_database().await;
}

async fn https_public_url_makes_cookies_secure(backend: Backend) {
    let app = TestApp::with_flags(backend, &["--public-url", "https://ops.example.com/"]).await;
    // Our origin is now the public URL's, whatever the Host header says.
    let form = format!("email=owner@demo.test&password={}", app.password);
    let refused = app.call(Method::POST, "/api/login").form(&form).send().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "http://localhost is not https://ops.example.com");
    let request = Request::post("/api/login")
        .header(header::HOST, "ops.example.com")
        .header(header::ORIGIN, "https://ops.example.com")
        .header(header::ACCEPT, "text/html")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, form.len())
        .body(Body::from(form))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = response.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000; includeSubDomains");
    app.db.drop_database().await;
}

/// The nonce in a page's Content-Security-Policy header.
fn nonce_of(reply: &common::Reply) -> String {
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "'strict-dynamic' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap().to_string()
}

async fn pages_carry_a_nonce_policy_and_nothing_is_cached(backend: Backend) {
    let app = TestApp::new(backend).await;
    assert!(
        app.get("/healthz", None).await.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
        "not without https"
    );
    let login = app.get("/login", None).await;
    let nonce = nonce_of(&login);
    assert!(nonce.len() >= 16);
    // Every script on the page carries the response's nonce; the next response has another.
    let scripts = login.body.matches("<script").count();
    assert!(
        scripts > 0 && login.body.matches(&format!("nonce=\"{nonce}\"")).count() >= scripts,
        "{}",
        login.body
    );
    assert_ne!(nonce_of(&app.get("/login", None).await), nonce);
    assert!(!login.body.contains(" style="), "no inline style for the policy to refuse");

    let cookie = app.sign_in("owner@demo.test").await;
    for page in ["/admin", "/admin/t/contoso/backups", "/admin/monitoring", "/admin/tokens", "/no-such-page"]
    {
        let reply = app.get(page, Some(&cookie)).await;
        nonce_of(&reply);
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store", "{page}");
        assert!(!reply.body.contains(" style="), "{page} has an inline style");
    }
    let json = app.json(Method::GET, "/admin/monitoring/operations", None, Some(&cookie)).await;
    assert_eq!(json.headers[header::CACHE_CONTROL], "no-store");
    app.db.drop_database().await;
}
