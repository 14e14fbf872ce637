//! The demo workspace `make run` starts with: three tenants, one user per role, a platform admin.

use crate::store::Store;
use crate::tenancy::{self, NewTenant};
use crate::{accounts, password, CoreError, Role};

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
            NewTenant { workspace_slug: "demo", slug, name, external_tenant_id: None },
        )
        .await?;
    }
    let mut emails = Vec::new();
    accounts::create_user(store, "admin@demo.test", Some("Platform Admin"), &password, true).await?;
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
        accounts::create_user(store, &email, Some(name), &password, false).await?;
        for tenant in tenants {
            tenancy::set_member(store, tenant, &email, role).await?;
        }
        emails.push((email, role.label()));
    }
    Ok(Some(DemoAccounts { password, emails }))
}
