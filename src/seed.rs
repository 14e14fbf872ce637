//! The demo workspace `make run` starts with: three tenants, one user per role, a platform admin,
//! Olivia Owner as the workspace's Site Admin, and a pipeline to run.

use crate::egress::EgressPolicy;
use crate::model::AccountKind;
use crate::model::Tenant;
use crate::operations::Initiator;
use crate::pipelines::PipelineInput;
use crate::provider::{self, ConnectionInfo, NewConnection, NewCredential};
use crate::store::Store;
use crate::tenancy::{self, NewTenant};
use crate::tokens::AccountRole;
use crate::{accounts, password, pipelines, CoreError, Role};

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
