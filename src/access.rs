//! The access rules behind the one guard. Planes: tenant (`/admin/t/{tenant}/…`, members only),
//! workspace (`/admin/…`, any signed-in user, seeing their own tenants) and platform
//! (`/system/…`, platform admins only). Whoever may not see a thing gets `NotFound`, exactly as
//! if it did not exist; a member who may see it but lacks the capability gets `Forbidden`.

use crate::model::{TenantMembership, User};
use crate::store::Store;
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
