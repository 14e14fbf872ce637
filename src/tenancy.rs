//! Workspaces, tenants and memberships: the use cases the UI, the JSON routes and the CLI share.

use crate::model::{Tenant, TenantMembership};
use crate::store::{Ensured, MembershipChange, Store};
use crate::{validate, CoreError, Role};

pub const DEFAULT_WORKSPACE: &str = "default";

pub struct NewTenant<'a> {
    pub workspace_slug: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    /// The tenant's id at its provider; the slug when not given.
    pub external_tenant_id: Option<&'a str>,
}

/// Creates a tenant (and its workspace when missing). Idempotent for the same slug and workspace.
pub async fn create_tenant(store: &Store, new: NewTenant<'_>) -> Result<(Tenant, Ensured), CoreError> {
    let workspace_slug = validate::slug("workspace", new.workspace_slug)?;
    let slug = validate::slug("slug", new.slug)?;
    let name = validate::name("name", new.name)?;
    let external = match new.external_tenant_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => validate::name("external_tenant_id", id)?,
        None => slug.clone(),
    };
    let (workspace, _) = store.ensure_workspace(&workspace_slug, &title_case(&workspace_slug)).await?;
    store.ensure_tenant(&workspace, &slug, &name, &external).await
}

/// Adds the user with `email` to the tenant, or changes their role there.
pub async fn set_member(
    store: &Store,
    tenant_slug: &str,
    email: &str,
    role: Role,
) -> Result<MembershipChange, CoreError> {
    let tenant = store.tenant_by_slug(tenant_slug).await?.ok_or(CoreError::NotFound)?;
    let email = validate::email(email)?;
    let user = store.user_by_email(&email).await?.ok_or_else(|| {
        CoreError::invalid("email", format!("No account uses {email}. Create the user first."))
    })?;
    store.set_membership(tenant.id, user.id, role).await
}

/// Changes a member's role, as done by a member of `actor` standing (already authorised).
pub async fn change_role(
    store: &Store,
    actor: &TenantMembership,
    user_id: i64,
    role: Role,
) -> Result<MembershipChange, CoreError> {
    // Only an existing member's role changes here; adding someone is `set_member`'s job.
    if store.member_role(actor.tenant.id, user_id).await?.is_none() {
        return Err(CoreError::NotFound);
    }
    store.set_membership(actor.tenant.id, user_id, role).await
}

pub async fn remove_member(store: &Store, actor: &TenantMembership, user_id: i64) -> Result<(), CoreError> {
    if store.remove_membership(actor.tenant.id, user_id).await? {
        Ok(())
    } else {
        Err(CoreError::NotFound)
    }
}

/// "north-europe" → "North Europe", a readable default name for a workspace made from a slug.
fn title_case(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn title_case() {
        assert_eq!(super::title_case("north-europe"), "North Europe");
        assert_eq!(super::title_case("default"), "Default");
    }
}
