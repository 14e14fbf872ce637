//! The demo workspace `make run` starts with: three tenants, one user per role, a platform admin,
//! Olivia Owner as the workspace's Site Admin, and a pipeline to run.

use crate::egress::EgressPolicy;
use crate::model::Tenant;
use crate::model::{AccountKind, Caller};
use crate::operations::Initiator;
use crate::pipelines::PipelineInput;
use crate::provider::{self, ConnectionInfo, NewConnection, NewCredential};
use crate::store::Store;
use crate::tenancy::{self, NewTenant};
use crate::tokens::AccountRole;
use crate::{accounts, password, pipelines, CoreError, Role};
use chrono::{DateTime, Duration, Utc};

pub struct DemoAccounts {
    pub password: String,
    pub emails: Vec<(String, &'static str)>,
}

const TENANTS: [(&str, &str); 3] =
    [("contoso", "Contoso Ltd"), ("fabrikam", "Fabrikam Inc"), ("northwind", "Northwind Traders")];

/// Seeds the demo data into an empty database; returns `None` when there are users already.
/// The password is generated here, on the first run, and shown only in what this returns.
pub async fn demo(store: &Store) -> Result<Option<DemoAccounts>, CoreError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = password::generate();
    for (slug, name) in TENANTS {
        tenancy::create_tenant(
            store,
            &Initiator::System,
            NewTenant { workspace_slug: "demo", slug, name, external_tenant_id: None },
        )
        .await?;
    }
    let mut emails = Vec::new();
    accounts::create_user(
        store,
        "admin@demo.test",
        Some("Platform Admin"),
        &password,
        AccountKind::PlatformAdmin,
    )
    .await?;
    emails.push(("admin@demo.test".to_string(), "platform admin"));
    // Each role's user is a member of a different number of tenants, so the switcher has work.
    let members: [(Role, &str, &[&str]); 4] = [
        (Role::Owner, "Olivia Owner", &["contoso", "fabrikam", "northwind"]),
        (Role::Manager, "Max Manager", &["contoso", "fabrikam", "northwind"]),
        (Role::Operator, "Oscar Operator", &["contoso", "fabrikam"]),
        (Role::Readonly, "Rita Reader", &["contoso"]),
    ];
    for (role, name, tenants) in members {
        let email = format!("{}@demo.test", role.as_str());
        accounts::create_user(store, &email, Some(name), &password, AccountKind::Member).await?;
        for tenant in tenants {
            tenancy::set_member(store, &Initiator::System, tenant, &email, role).await?;
        }
        emails.push((email, role.label()));
    }
    let owner = store
        .user_by_email("owner@demo.test")
        .await?
        .ok_or_else(|| CoreError::broken("the demo owner is missing"))?;
    store.set_account_role(owner.id, AccountRole::SiteAdmin).await?;
    let nightly = serde_json::json!({
        "name": "Nightly backup",
        "description": "Captures Contoso and Fabrikam, a pause apart.",
        "account": "demo",
        "owner": "owner@demo.test",
        "access": [{"role": "user", "level": "read"}],
        "steps": [
            {"name": "Capture Contoso", "kind": "backup_set.capture", "params": {"tenant": "contoso"}},
            {"name": "Let the provider breathe", "kind": "wait", "params": {"seconds": 3}},
            {"name": "Capture Fabrikam", "kind": "backup_set.capture", "params": {"tenant": "fabrikam"}}
        ]
    });
    let nightly: PipelineInput = serde_json::from_value(nightly).map_err(CoreError::internal)?;
    pipelines::create(store, None, &nightly).await?;
    Ok(Some(DemoAccounts { password, emails }))
}

/// Connects each demo tenant that has no provider connection yet to the provider simulator at
/// `simulator_url` (started with `--demo`, which accepts the credentials a tenant first presents),
/// and again one connected there by an older version (whose simulator had a base per tenant,
/// not Graph's one `/beta`). Returns the slugs it connected.
pub async fn connect_demo_provider(
    store: &Store,
    simulator_url: &str,
) -> Result<Vec<&'static str>, CoreError> {
    let root = simulator_url.trim_end_matches('/');
    let mut connected = Vec::new();
    for (slug, _) in TENANTS {
        let Some(tenant) = store.tenant_by_slug(slug).await? else { continue };
        let current = store.provider_connection_info(tenant.id).await?;
        let outdated = |base: &str| base.starts_with(&format!("{root}/")) && base != format!("{root}/beta");
        if current.is_some_and(|info| !outdated(&info.base_url)) {
            continue;
        }
        connect_to_simulator(store, &Initiator::System, &tenant, simulator_url).await?;
        connected.push(slug);
    }
    Ok(connected)
}

/// Connects `tenant` to its own tenant of the provider simulator at `simulator_url`, with fresh
/// credentials (a `--demo` simulator trusts the first it is shown, and fills the tenant with
/// sample policies and groups). As with Graph, the API base is shared (`/beta`) and the token
/// URL names the tenant. The simulator's URL is the operator's setting, so saving it is not
/// held to the egress policy; calling it is (`make run` allows it with
/// `TENANTPILOT_EGRESS_ALLOW`).
pub async fn connect_to_simulator(
    store: &Store,
    actor: &Initiator,
    tenant: &Tenant,
    simulator_url: &str,
) -> Result<ConnectionInfo, CoreError> {
    let root = simulator_url.trim_end_matches('/');
    let slug = &tenant.slug;
    let secret = password::generate();
    let new = NewConnection {
        base_url: &format!("{root}/beta"),
        token_url: &format!("{root}/{slug}/oauth2/v2.0/token"),
        client_id: "tenantpilot-demo",
        scope: "",
        credential: NewCredential::Secret(&secret),
    };
    let operator_set = reqwest::Url::parse(root)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .and_then(|host| EgressPolicy::parse(&host).ok())
        .unwrap_or_default();
    provider::connect(store, &operator_set, actor, tenant, new).await
}

/// A week of history for the demo workspace, so a newcomer's Monitoring is not empty: nightly
/// captures by the "Nightly capture" schedule (which it creates: every tenant at 02:00 UTC,
/// spread over 30 minutes), fetches and restores by people, a few failures with the reason codes
/// Graph gives (throttling, a missing permission), a partial restore, and pipeline runs. Does
/// nothing when the workspace has schedules already.
pub async fn demo_history(store: &Store, now: DateTime<Utc>) -> Result<(), CoreError> {
    use crate::engine::operations::tenant_run;
    use crate::operations::{Counters, Failure, OperationKind, RunOutcome, RunTarget};
    use crate::schedules::{self, ScheduleInput};
    use crate::store::{NewRun, PastRun};
    if !store.all_schedules().await?.is_empty() {
        return Ok(());
    }
    let user = |email: &'static str| async move {
        store
            .user_by_email(email)
            .await?
            .ok_or_else(|| CoreError::broken(format!("demo user {email} is missing")))
    };
    let (owner, manager) = (user("owner@demo.test").await?, user("manager@demo.test").await?);
    let input = ScheduleInput {
        name: "Nightly capture".into(),
        cron: "0 2 * * *".into(),
        time_zone: "UTC".into(),
        workspace: Some("demo".into()),
        jitter_minutes: Some(30),
        ..ScheduleInput::default()
    };
    let schedule = schedules::create(store, &Caller::person(&owner), &input).await?;
    let nightly = schedules::initiator(&schedule);
    let mut tenants = Vec::new();
    for (slug, _) in TENANTS {
        tenants.push(
            store.tenant_by_slug(slug).await?.ok_or_else(|| CoreError::broken("a demo tenant is missing"))?,
        );
    }
    let pipeline = pipelines::list(store, &owner).await?.into_iter().next();
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let failure = |code: &str, reason: &str, message: &str, at: DateTime<Utc>| Failure {
        code: code.into(),
        reason_code: reason.into(),
        message: message.into(),
        at,
    };
    // Today's runs too, those whose time has come.
    let record = |new: NewRun, past: PastRun| async move {
        if past.created_at + past.took < now {
            store.record_past_run(&new, &past).await?;
        }
        Ok::<(), CoreError>(())
    };
    for back in (0..7).rev() {
        let day = midnight - Duration::days(back);
        // The pipeline at 01:00, then each tenant's nightly capture at its place in the window.
        if let Some(pipeline) = &pipeline {
            let mut context = serde_json::Map::new();
            context.insert("pipelineId".into(), pipeline.id.0.into());
            let run = NewRun {
                workspace_id: tenants[0].workspace_id,
                tenant_id: None,
                kind: OperationKind::Pipeline,
                target: Some(RunTarget::pipeline(pipeline.id)),
                context,
                initiator: Initiator::user(&owner),
                retry_of: None,
            };
            let past = PastRun {
                outcome: RunOutcome::Succeeded,
                counters: Counters { total: 3, processed: 3, failed: 0 },
                failures: vec![],
                created_at: day + Duration::hours(1),
                took: Duration::seconds(48),
            };
            record(run, past).await?;
        }
        for (n, tenant) in tenants.iter().enumerate() {
            let at = day + Duration::hours(2) + schedules::jitter_offset(schedule.id, tenant.id, 30);
            let policies = 12 + 5 * n as i64;
            let past = match (back, tenant.slug.as_str()) {
                (5, "fabrikam") => PastRun {
                    outcome: RunOutcome::Failed,
                    counters: Counters { total: policies, processed: 4, failed: 1 },
                    failures: vec![failure(
                        "backup_set.capture",
                        "throttled",
                        "Graph answered 429 Too Many Requests for deviceManagement/deviceConfigurations; \
                         gave up after 5 tries over 2 min (Retry-After: 30).",
                        at + Duration::minutes(2),
                    )],
                    created_at: at,
                    took: Duration::minutes(2),
                },
                (2, "northwind") => PastRun {
                    outcome: RunOutcome::Failed,
                    counters: Counters { total: 0, processed: 0, failed: 1 },
                    failures: vec![failure(
                        "backup_set.capture",
                        "permission_denied",
                        "Graph answered 403 Forbidden: the app registration lacks \
                         DeviceManagementConfiguration.Read.All.",
                        at + Duration::seconds(3),
                    )],
                    created_at: at,
                    took: Duration::seconds(3),
                },
                _ => PastRun {
                    outcome: RunOutcome::Succeeded,
                    counters: Counters { total: policies, processed: policies, failed: 0 },
                    failures: vec![],
                    created_at: at,
                    took: Duration::seconds(20 + 4 * policies),
                },
            };
            let context = serde_json::json!({ "tenant": tenant.slug });
            record(tenant_run(tenant, OperationKind::Capture, None, context, nightly.clone()), past).await?;
        }
        // Someone looks at a policy's assignments in the morning.
        let contoso = &tenants[0];
        let fetch_at = day + Duration::hours(9) + Duration::minutes(15);
        let context = serde_json::json!({ "tenant": contoso.slug, "backupItemId": back });
        let target = RunTarget { kind: "backup_item".into(), id: format!("{back}") };
        let past = PastRun {
            outcome: RunOutcome::Succeeded,
            counters: Counters { total: 1, processed: 1, failed: 0 },
            failures: vec![],
            created_at: fetch_at,
            took: Duration::seconds(2),
        };
        record(
            tenant_run(contoso, OperationKind::Fetch, Some(target), context, Initiator::user(&owner)),
            past,
        )
        .await?;
    }
    // Two restores: one of Contoso where two groups had gone (partly succeeded), one of Fabrikam.
    for (tenant, back, outcome, failed) in
        [(&tenants[0], 4, RunOutcome::PartiallySucceeded, 2), (&tenants[1], 1, RunOutcome::Succeeded, 0)]
    {
        let at = midnight - Duration::days(back) + Duration::hours(14) + Duration::minutes(5);
        let failures = (0..failed)
            .map(|n| {
                failure(
                    "assignments.restore",
                    "invalid_state",
                    &format!("Graph answered 400 Bad Request: the group grp-sales-{n} no longer exists."),
                    at + Duration::seconds(20 + n),
                )
            })
            .collect();
        let context = serde_json::json!({ "tenant": tenant.slug, "itemCount": 6 });
        let past = PastRun {
            outcome,
            counters: Counters { total: 6, processed: 6, failed },
            failures,
            created_at: at,
            took: Duration::seconds(31),
        };
        let target = RunTarget { kind: "restore_run".into(), id: format!("demo-{back}") };
        record(
            tenant_run(tenant, OperationKind::Restore, Some(target), context, Initiator::user(&manager)),
            past,
        )
        .await?;
    }
    Ok(())
}
