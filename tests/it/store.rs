//! The store suite: every test runs on SQLite and on PostgreSQL.

use chrono::{Duration, Utc};
use tenantpilot_core::egress::EgressPolicy;
use tenantpilot_core::ids::RunId;
use tenantpilot_core::model::AccountKind;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::provider::{self, NewConnection, NewCredential};
use tenantpilot_core::store::{Backend, Db, Ensured, MembershipChange};
use tenantpilot_core::store::{Store, TOKEN_CACHE_TTL};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_core::tokens::{self, Scope};
use tenantpilot_core::{access, accounts, seed, throttle, Capability, CoreError, Role};

tenantpilot_core::test_on_both_backends!(
    users_are_unique_by_lowercased_email,
    tenants_are_idempotent_and_slugs_unique,
    memberships_roles_and_last_owner,
    access_rules,
    sign_in_checks_password_and_throttles,
    demo_seed_runs_once,
    concurrent_membership_changes_keep_an_owner,
    a_database_error_names_its_query_to_the_log_only,
    a_revoked_token_stops_here_at_once_and_elsewhere_within_the_cache_ttl,
);

async fn users_are_unique_by_lowercased_email(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let ann = accounts::create_user(store, "Ann@Example.com", None, "a long password", AccountKind::Member)
        .await
        .unwrap();
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!(ann.display_name, "ann");
    let again =
        accounts::create_user(store, "ANN@example.com", None, "a long password", AccountKind::Member).await;
    assert!(matches!(again, Err(CoreError::Conflict { .. })), "{again:?}");
    let short = accounts::create_user(store, "bob@example.com", None, "short", AccountKind::Member).await;
    assert!(matches!(short, Err(CoreError::Invalid { ref field, .. }) if field == "password"));
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    assert_eq!(store.user_by_email("ann@example.com").await.unwrap(), Some(ann.clone()));

    // The time zone Ann reads times in: an IANA name, or none (her browser's).
    let wrong = accounts::set_time_zone(store, &ann, "Europe/Atlantis").await;
    assert!(matches!(wrong, Err(CoreError::Invalid { ref field, .. }) if field == "time_zone"), "{wrong:?}");
    accounts::set_time_zone(store, &ann, " Asia/Tokyo ").await.unwrap();
    let ann = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(ann.time_zone.as_deref(), Some("Asia/Tokyo"));
    assert_eq!(
        tenantpilot_core::clock::viewer_zone(ann.time_zone.as_deref(), Some("Europe/Berlin")).name(),
        "Asia/Tokyo"
    );
    accounts::set_time_zone(store, &ann, "").await.unwrap();
    let ann = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(ann.time_zone, None);
    assert_eq!(
        tenantpilot_core::clock::viewer_zone(ann.time_zone.as_deref(), Some("Europe/Berlin")).name(),
        "Europe/Berlin"
    );
    assert_eq!(
        tenantpilot_core::clock::viewer_zone(ann.time_zone.as_deref(), Some("not a zone")).name(),
        "UTC"
    );
    db.drop_database().await;
}

async fn tenants_are_idempotent_and_slugs_unique(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let new =
        |workspace_slug, slug| NewTenant { workspace_slug, slug, name: "Contoso", external_tenant_id: None };
    let (created, how) =
        tenancy::create_tenant(store, &Initiator::System, new("acme", "contoso")).await.unwrap();
    assert_eq!(how, Ensured::Created);
    assert_eq!(created.external_tenant_id, "contoso");
    let (again, how) =
        tenancy::create_tenant(store, &Initiator::System, new("acme", "contoso")).await.unwrap();
    assert_eq!((again.id, how), (created.id, Ensured::Existing));
    let elsewhere = tenancy::create_tenant(store, &Initiator::System, new("other", "contoso")).await;
    assert!(matches!(elsewhere, Err(CoreError::Conflict { .. })), "{elsewhere:?}");
    let bad = tenancy::create_tenant(store, &Initiator::System, new("acme", "Not A Slug")).await;
    assert!(matches!(bad, Err(CoreError::Invalid { ref field, .. }) if field == "slug"));
    let all = store.workspaces_with_tenants().await.unwrap();
    let acme = all.iter().find(|w| w.workspace.slug == "acme").unwrap();
    assert_eq!(acme.workspace.name, "Acme");
    assert_eq!(acme.tenants.len(), 1);
    // "other" was created before its tenant was refused; it stays, empty.
    assert!(all.iter().any(|w| w.workspace.slug == "other" && w.tenants.is_empty()));
    db.drop_database().await;
}

async fn memberships_roles_and_last_owner(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let tenant = tenancy::create_tenant(
        store,
        &Initiator::System,
        NewTenant { workspace_slug: "w", slug: "t1", name: "T1", external_tenant_id: None },
    )
    .await
    .unwrap()
    .0;
    for email in ["o@x.io", "m@x.io"] {
        accounts::create_user(store, email, None, "a long password", AccountKind::Member).await.unwrap();
    }
    assert_eq!(
        tenancy::set_member(store, &Initiator::System, "t1", "o@x.io", Role::Owner).await.unwrap(),
        MembershipChange::Added
    );
    assert_eq!(
        tenancy::set_member(store, &Initiator::System, "t1", "o@x.io", Role::Owner).await.unwrap(),
        MembershipChange::Unchanged
    );
    assert_eq!(
        tenancy::set_member(store, &Initiator::System, "t1", "m@x.io", Role::Owner).await.unwrap(),
        MembershipChange::Added
    );
    assert_eq!(
        tenancy::set_member(store, &Initiator::System, "t1", "m@x.io", Role::Manager).await.unwrap(),
        MembershipChange::RoleChanged { from: Role::Owner }
    );
    // o is now the only owner: neither demoted nor removed.
    let owner = store.user_by_email("o@x.io").await.unwrap().unwrap();
    let refused = store.set_membership(tenant.id, owner.id, Role::Readonly).await;
    assert!(matches!(refused, Err(CoreError::Conflict { .. })), "{refused:?}");
    let refused = store.remove_membership(tenant.id, owner.id).await;
    assert!(matches!(refused, Err(CoreError::Conflict { .. })), "{refused:?}");
    let members = store.members(tenant.id).await.unwrap();
    let roles: Vec<_> = members.iter().map(|m| (m.email.as_str(), m.role)).collect();
    assert_eq!(roles, [("m@x.io", Role::Manager), ("o@x.io", Role::Owner)]);
    let manager = store.user_by_email("m@x.io").await.unwrap().unwrap();
    assert_eq!(store.member_role(tenant.id, manager.id).await.unwrap(), Some(Role::Manager));
    assert!(store.remove_membership(tenant.id, manager.id).await.unwrap());
    assert!(!store.remove_membership(tenant.id, manager.id).await.unwrap());
    assert_eq!(store.member_role(tenant.id, manager.id).await.unwrap(), None);
    let unknown = tenancy::set_member(store, &Initiator::System, "t1", "nobody@x.io", Role::Owner).await;
    assert!(matches!(unknown, Err(CoreError::Invalid { ref field, .. }) if field == "email"));
    assert_eq!(
        tenancy::set_member(store, &Initiator::System, "nope", "o@x.io", Role::Owner).await,
        Err(CoreError::NotFound)
    );
    db.drop_database().await;
}

async fn access_rules(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    seed::demo(store).await.unwrap().unwrap();
    let user = |email: &'static str| async move { store.user_by_email(email).await.unwrap().unwrap() };
    let reader = user("readonly@demo.test").await;
    let admin = user("admin@demo.test").await;
    let membership = access::tenant(store, &reader, "contoso", Capability::CoreView).await.unwrap();
    assert_eq!(membership.role, Role::Readonly);
    assert_eq!(membership.workspace_name, "Demo");
    let forbidden = access::tenant(store, &reader, "contoso", Capability::MembersManage).await;
    assert!(matches!(forbidden, Err(CoreError::Forbidden { .. })));
    // Not a member, unknown tenant, platform admin without membership: all the same NotFound.
    assert_eq!(
        access::tenant(store, &reader, "fabrikam", Capability::CoreView).await,
        Err(CoreError::NotFound)
    );
    assert_eq!(
        access::tenant(store, &reader, "no-such", Capability::CoreView).await,
        Err(CoreError::NotFound)
    );
    assert_eq!(
        access::tenant(store, &admin, "contoso", Capability::CoreView).await,
        Err(CoreError::NotFound)
    );
    assert_eq!(access::platform(&reader), Err(CoreError::NotFound));
    assert_eq!(access::platform(&admin), Ok(()));
    let names: Vec<_> = store
        .memberships_of(user("operator@demo.test").await.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.tenant.slug)
        .collect();
    assert_eq!(names, ["contoso", "fabrikam"]);
    db.drop_database().await;
}

async fn sign_in_checks_password_and_throttles(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    accounts::create_user(store, "ann@x.io", None, "the right password", AccountKind::Member).await.unwrap();
    let ok = accounts::authenticate(store, "ANN@x.io", "the right password", "10.0.0.1").await.unwrap();
    assert_eq!(ok.email, "ann@x.io");
    // Wrong password and unknown account fail alike.
    assert_eq!(
        accounts::authenticate(store, "ann@x.io", "wrong", "10.0.0.1").await,
        Err(CoreError::BadCredentials)
    );
    assert_eq!(
        accounts::authenticate(store, "zed@x.io", "wrong", "10.0.0.1").await,
        Err(CoreError::BadCredentials)
    );
    // One attempt on ann's account so far (the sign-in forgave the one before it). Count the
    // rest of the window directly, in parallel, as a burst of guesses would: each attempt is
    // counted in one statement, so exactly the allowed number gets through.
    let keys = throttle::keys("ann@x.io", "10.0.0.2");
    let burst = (0..40).map(|_| throttle::admit(store, &keys, Utc::now()));
    let answers = futures_util::future::join_all(burst).await;
    let admitted = answers.iter().filter(|answer| answer.is_ok()).count() as i64;
    assert_eq!(admitted, throttle::ACCOUNT.refuse_after.unwrap() - 1, "{answers:?}");
    // Now refused: even the right password, from any address, until the window ends.
    let refused = accounts::authenticate(store, "ann@x.io", "the right password", "10.9.9.9").await;
    assert!(
        matches!(refused, Err(CoreError::TooManyAttempts { retry_after_secs }) if retry_after_secs > 800),
        "{refused:?}"
    );
    // Once the window is over, an attempt starts a fresh one.
    let later = Utc::now() + Duration::minutes(16);
    assert_eq!(throttle::admit(store, &keys, later).await.unwrap().as_secs(), 0);
    // An address is slowed, never refused: one shared address cannot lock everyone out.
    let address = throttle::keys("someone@x.io", "10.0.0.3");
    for n in 1..=150 {
        let keys = [throttle::keys(&format!("user{n}@x.io"), "10.0.0.3")[0].clone(), address[1].clone()];
        let delay = throttle::admit(store, &keys, Utc::now()).await.unwrap();
        assert_eq!(delay, throttle::slowdown(n, &throttle::ADDRESS));
    }
    // Rows of windows that began more than a day ago are pruned.
    assert_eq!(throttle::prune(store, Utc::now()).await.unwrap(), 0);
    let pruned = throttle::prune(store, Utc::now() + throttle::KEEP + Duration::minutes(1)).await.unwrap();
    assert!(pruned >= 150, "{pruned}");
    db.drop_database().await;
}

async fn demo_seed_runs_once(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let first = seed::demo(&db.store).await.unwrap().expect("seeded");
    assert_eq!(first.emails.len(), 5);
    assert_eq!(first.password.len(), 20);
    assert!(seed::demo(&db.store).await.unwrap().is_none());
    let workspaces = db.store.workspaces_with_tenants().await.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0].tenants.len(), 3);
    let owner =
        accounts::authenticate(&db.store, "owner@demo.test", &first.password, "127.0.0.1").await.unwrap();
    assert_eq!(db.store.memberships_of(owner.id).await.unwrap().len(), 3);

    // The demo tenants connect to the simulator's one Graph base; one connected by an older
    // version (a base of its own) is connected again, any other connection is left alone.
    let sim = "http://127.0.0.1:3100";
    let contoso = db.store.tenant_by_slug("contoso").await.unwrap().unwrap();
    let older = NewConnection {
        base_url: &format!("{sim}/contoso/beta"),
        token_url: &format!("{sim}/contoso/oauth2/v2.0/token"),
        client_id: "tenantpilot-demo",
        scope: "",
        credential: NewCredential::Secret("s"),
    };
    let egress = EgressPolicy::public_only();
    provider::connect(
        &db.store,
        &EgressPolicy::parse("127.0.0.1").unwrap(),
        &Initiator::System,
        &contoso,
        older,
    )
    .await
    .unwrap();
    let fabrikam = db.store.tenant_by_slug("fabrikam").await.unwrap().unwrap();
    let real = NewConnection {
        base_url: "",
        token_url: "https://login.microsoftonline.com/fabrikam/oauth2/v2.0/token",
        client_id: "app",
        scope: "",
        credential: NewCredential::Secret("s"),
    };
    provider::connect(&db.store, &egress, &Initiator::System, &fabrikam, real).await.unwrap();
    assert_eq!(seed::connect_demo_provider(&db.store, sim).await.unwrap(), ["contoso", "northwind"]);
    let store = &db.store;
    let base =
        |tenant_id| async move { store.provider_connection_info(tenant_id).await.unwrap().unwrap().base_url };
    assert_eq!(base(contoso.id).await, format!("{sim}/beta"));
    assert_eq!(base(fabrikam.id).await, "https://graph.microsoft.com/beta");
    assert!(
        seed::connect_demo_provider(&db.store, sim).await.unwrap().is_empty(),
        "once connected, left alone"
    );
    db.drop_database().await;
}

/// Two owners demoting each other at the same moment must not leave the tenant ownerless.
async fn concurrent_membership_changes_keep_an_owner(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    let store = &db.store;
    let tenant = tenancy::create_tenant(
        store,
        &Initiator::System,
        NewTenant { workspace_slug: "w", slug: "t1", name: "T1", external_tenant_id: None },
    )
    .await
    .unwrap()
    .0;
    let mut ids = Vec::new();
    for email in ["a@x.io", "b@x.io"] {
        ids.push(
            accounts::create_user(store, email, None, "a long password", AccountKind::Member)
                .await
                .unwrap()
                .id,
        );
        tenancy::set_member(store, &Initiator::System, "t1", email, Role::Owner).await.unwrap();
    }
    for _ in 0..10 {
        let (a, b) = tokio::join!(
            store.set_membership(tenant.id, ids[0], Role::Readonly),
            store.set_membership(tenant.id, ids[1], Role::Readonly)
        );
        assert!(a.is_ok() != b.is_ok(), "exactly one demotion wins: {a:?} {b:?}");
        let owners = store.members(tenant.id).await.unwrap().iter().filter(|m| m.role == Role::Owner).count();
        assert_eq!(owners, 1);
        for id in &ids {
            store.set_membership(tenant.id, *id, Role::Owner).await.unwrap();
        }
    }
    db.drop_database().await;
}

/// A database error keeps its source and the store method it came from, for the one log line
/// the response writes; the client is told nothing of it.
async fn a_database_error_names_its_query_to_the_log_only(backend: Backend) {
    use tracing::instrument::WithSubscriber;
    let db = TestDatabase::new(backend).await;
    match db.store.db() {
        Db::Sqlite(pool) => sqlx::query("DROP TABLE operation_run_messages").execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query("DROP TABLE operation_run_messages").execute(pool).await.map(drop),
    }
    .unwrap();
    let error =
        db.store.run_messages(RunId(1)).with_subscriber(tracing_subscriber::registry()).await.unwrap_err();
    assert!(matches!(error, CoreError::Internal { source: Some(_) }), "{error:?}");
    assert!(error.detail().contains("in store query `runs_messages`"), "{}", error.detail());
    assert!(error.detail().contains("operation_run_messages"), "{}", error.detail());
    assert_eq!(error.to_string(), "Something went wrong on our side. Please try again.");
    assert_eq!(serde_json::to_value(&error).unwrap(), serde_json::json!({ "error": "internal" }));
    db.drop_database().await;
}

/// Issue 17 §4: a token and its owner are read once a moment (`TOKEN_CACHE_TTL`), not on every
/// call. Revoking it in the process that checks it stops it at once; another process (a
/// replica on the same database) stops it within the TTL.
async fn a_revoked_token_stops_here_at_once_and_elsewhere_within_the_cache_ttl(backend: Backend) {
    let db = TestDatabase::new(backend).await;
    seed::demo(&db.store).await.unwrap();
    let owner = db.store.user_by_email("owner@demo.test").await.unwrap().unwrap();
    let replica = match &db.schema {
        Some(schema) => Store::connect_postgres_schema(&db.url, schema).await.unwrap(),
        None => Store::connect(&db.url).await.unwrap(),
    };
    let (token, plain) = tokens::create(&db.store, &owner, "script", &[Scope::Api], None).await.unwrap();
    let (_, here) = tokens::authenticate(&db.store, &plain).await.unwrap();
    let (_, there) = tokens::authenticate(&replica, &plain).await.unwrap();
    assert_eq!((here.id, there.id), (token.id, token.id));

    tokens::revoke(&db.store, &owner, token.id).await.unwrap();
    assert!(matches!(tokens::authenticate(&db.store, &plain).await, Err(CoreError::Unauthenticated)));
    // The replica read it a moment ago: for at most the TTL it still answers from that read.
    tokio::time::sleep(TOKEN_CACHE_TTL).await;
    assert!(matches!(tokens::authenticate(&replica, &plain).await, Err(CoreError::Unauthenticated)));
    replica.close().await;
    db.drop_database().await;
}
