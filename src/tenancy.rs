//! Workspaces, tenants and memberships: the use cases the UI, the JSON routes and the CLI share.

use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::ids::UserId;
use crate::model::{Tenant, TenantMembership};
use crate::operations::Initiator;
use crate::store::{Ensured, MembershipChange, Store, TenantSetup};
use crate::{validate, CoreError, Role};

pub const DEFAULT_WORKSPACE: &str = "default";

pub struct NewTenant<'a> {
    pub workspace_slug: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    /// The tenant's id at its provider; the slug when not given.
    pub external_tenant_id: Option<&'a str>,
}

/// Creates a tenant (and its workspace when missing), installed at this build's version and
/// enabled. Idempotent for the same slug and workspace.
pub async fn create_tenant(
    store: &Store,
    actor: &Initiator,
    new: NewTenant<'_>,
) -> Result<(Tenant, Ensured), CoreError> {
    create(store, actor, new, TenantSetup::Installed).await
}

/// Registers a tenant for an install job to finish: created disabled and without a version.
/// An existing tenant is returned as it is.
pub async fn register_tenant(
    store: &Store,
    actor: &Initiator,
    new: NewTenant<'_>,
) -> Result<(Tenant, Ensured), CoreError> {
    create(store, actor, new, TenantSetup::Registered).await
}

async fn create(
    store: &Store,
    actor: &Initiator,
    new: NewTenant<'_>,
    setup: TenantSetup,
) -> Result<(Tenant, Ensured), CoreError> {
    let workspace_slug = validate::slug("workspace", new.workspace_slug)?;
    let slug = validate::slug("slug", new.slug)?;
    let name = validate::name("name", new.name)?;
    let external = match new.external_tenant_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => validate::name("external_tenant_id", id)?,
        None => slug.clone(),
    };
    let (workspace, _) = store.ensure_workspace(&workspace_slug, &title_case(&workspace_slug)).await?;
    let (tenant, ensured) = store.ensure_tenant(&workspace, &slug, &name, &external, setup).await?;
    if ensured == Ensured::Created {
        audit(
            store,
            actor,
            &tenant,
            AuditKind::Tenant,
            AuditAction::Create,
            tenant.id,
            serde_json::json!({ "slug": slug }),
        )
        .await?;
    }
    Ok((tenant, ensured))
}

async fn audit(
    store: &Store,
    actor: &Initiator,
    tenant: &Tenant,
    kind: AuditKind,
    verb: AuditAction,
    target_id: impl std::fmt::Display,
    details: serde_json::Value,
) -> Result<(), CoreError> {
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(tenant.workspace_id),
            tenant_id: Some(tenant.id),
            actor: actor.clone(),
            kind,
            action: verb,
            target_id: target_id.to_string(),
            details: details.as_object().cloned().unwrap_or_default(),
        })
        .await
}

/// Adds the user with `email` to the tenant, or changes their role there.
pub async fn set_member(
    store: &Store,
    actor: &Initiator,
    tenant_slug: &str,
    email: &str,
    role: Role,
) -> Result<MembershipChange, CoreError> {
    let tenant = store.tenant_by_slug(tenant_slug).await?.ok_or(CoreError::NotFound)?;
    let email = validate::email(email)?;
    let user = store.user_by_email(&email).await?.ok_or_else(|| {
        CoreError::invalid("email", format!("No account uses {email}. Create the user first."))
    })?;
    let change = store.set_membership(tenant.id, user.id, role).await?;
    let verb = match change {
        MembershipChange::Added => AuditAction::Create,
        MembershipChange::RoleChanged { .. } => AuditAction::Update,
        MembershipChange::Unchanged => return Ok(change),
    };
    audit(
        store,
        actor,
        &tenant,
        AuditKind::Member,
        verb,
        user.id,
        serde_json::json!({ "role": role.as_str() }),
    )
    .await?;
    Ok(change)
}

/// Changes a member's role, as done by a member of `actor` standing (already authorised).
pub async fn change_role(
    store: &Store,
    by: &Initiator,
    actor: &TenantMembership,
    user_id: UserId,
    role: Role,
) -> Result<MembershipChange, CoreError> {
    // Only an existing member's role changes here; adding someone is `set_member`'s job.
    if store.member_role(actor.tenant.id, user_id).await?.is_none() {
        return Err(CoreError::NotFound);
    }
    let change = store.set_membership(actor.tenant.id, user_id, role).await?;
    if change != MembershipChange::Unchanged {
        let details = serde_json::json!({ "role": role.as_str() });
        audit(store, by, &actor.tenant, AuditKind::Member, AuditAction::Update, user_id, details).await?;
    }
    Ok(change)
}

pub async fn remove_member(
    store: &Store,
    by: &Initiator,
    actor: &TenantMembership,
    user_id: UserId,
) -> Result<(), CoreError> {
    if store.remove_membership(actor.tenant.id, user_id).await? {
        audit(
            store,
            by,
            &actor.tenant,
            AuditKind::Member,
            AuditAction::Delete,
            user_id,
            serde_json::json!({}),
        )
        .await
    } else {
        Err(CoreError::NotFound)
    }
}

/// "north-europe" → "North Europe", a readable default name for a workspace made from a slug.
pub fn title_case(slug: &str) -> String {
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
