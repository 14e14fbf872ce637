//! The access rules behind the one guard. Planes: tenant (`/admin/t/{tenant}/…`, members only),
//! workspace (`/admin/…`, any signed-in user, seeing their own tenants) and platform
//! (`/system/…`, platform admins only). Whoever may not see a thing gets `NotFound`, exactly as
//! if it did not exist; a member who may see it but lacks the capability gets `Forbidden`.

use crate::model::{TenantMembership, User};
use crate::store::Store;
use crate::token::Scope;
use crate::{Capability, CoreError};

/// The caller's membership in tenant `slug`, if it grants `capability`.
pub async fn tenant(
    store: &Store,
    user: &User,
    slug: &str,
    capability: Capability,
) -> Result<TenantMembership, CoreError> {
    let membership = store.membership(user.id, slug).await?.ok_or(CoreError::NotFound)?;
    if membership.can(capability) {
        Ok(membership)
    } else {
        Err(CoreError::forbidden(capability))
    }
}

/// Platform-plane access: platform admins only; everyone else sees nothing there.
pub fn platform(user: &User) -> Result<(), CoreError> {
    if user.is_platform_admin {
        Ok(())
    } else {
        Err(CoreError::NotFound)
    }
}

/// The scopes a token needs on `path`, or `None` where tokens are not accepted at all (pages,
/// server functions): people use those with a session. Every token call also needs `api`.
pub fn token_scopes(path: &str) -> Option<&'static [Scope]> {
    const OPERATIONS: &[Scope] = &[Scope::Api, Scope::Operations];
    const TENANT_ADMIN: &[Scope] = &[Scope::Api, Scope::TenantAdmin];
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["admin", "monitoring", "operations", ..] | ["admin", "monitoring", "events"] => Some(OPERATIONS),
        ["admin", "t", _, "backup-items" | "backup-sets" | "restore-runs", ..] => Some(OPERATIONS),
        ["admin", "t", _, "provider-connection", ..] => Some(TENANT_ADMIN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_reach_json_routes_only_with_their_scopes() {
        let operations = Some(&[Scope::Api, Scope::Operations][..]);
        assert_eq!(token_scopes("/admin/monitoring/operations"), operations);
        assert_eq!(token_scopes("/admin/monitoring/operations/5/cancel"), operations);
        assert_eq!(token_scopes("/admin/t/contoso/backup-items/4/assignments/fetch"), operations);
        assert_eq!(token_scopes("/admin/t/contoso/restore-runs"), operations);
        assert_eq!(
            token_scopes("/admin/t/contoso/provider-connection"),
            Some(&[Scope::Api, Scope::TenantAdmin][..])
        );
        for page in [
            "/admin",
            "/admin/t/contoso",
            "/admin/t/contoso/backups",
            "/admin/t/contoso/restores/1",
            "/admin/monitoring",
            "/admin/monitoring/runs/3",
            "/api/members",
            "/system",
            "/",
        ] {
            assert_eq!(token_scopes(page), None, "{page}");
        }
    }
}
