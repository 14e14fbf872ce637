//! The access rules behind the one guard. Planes: tenant (`/admin/t/{tenant}/…`, members only),
//! workspace (`/admin/…`, any signed-in user, seeing their own tenants) and platform
//! (`/system/…`, platform admins only). Whoever may not see a thing gets `NotFound`, exactly as
//! if it did not exist; a member who may see it but lacks the capability gets `Forbidden`.

use crate::model::{TenantMembership, User};
use crate::store::Store;
use crate::tokens::Scope;
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

/// What a token needs on a route: every scope of `all`, and one of `any` when it names some.
/// Each JSON route declares one (the server's api modules); a route without one takes no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequirement {
    pub all: &'static [Scope],
    pub any: &'static [Scope],
}

impl TokenRequirement {
    /// Every token call also needs `api`.
    const fn all_of(all: &'static [Scope]) -> TokenRequirement {
        TokenRequirement { all, any: &[] }
    }

    /// The assignment start routes and Monitoring.
    pub const OPERATIONS: TokenRequirement = Self::all_of(&[Scope::Api, Scope::Operations]);
    /// The tenant API and tenant settings.
    pub const TENANT_ADMIN: TokenRequirement = Self::all_of(&[Scope::Api, Scope::TenantAdmin]);
    pub const PIPELINE: TokenRequirement = Self::all_of(&[Scope::Api, Scope::Pipeline]);
    /// Pipeline status and logs are readable with the read-only Pipeline Logs scope as well.
    pub const PIPELINE_READ: TokenRequirement =
        TokenRequirement { all: &[Scope::Api], any: &[Scope::Pipeline, Scope::PipelineLogs] };
    pub const TOOL_REGISTRY: TokenRequirement = Self::all_of(&[Scope::Api, Scope::ToolRegistry]);
    pub const SECURITY_LOGS: TokenRequirement = Self::all_of(&[Scope::Api, Scope::SecurityLogs]);
    pub const METRICS: TokenRequirement = Self::all_of(&[Scope::Api, Scope::Metrics]);

    /// The scope that lets `held` in, as token activity records it (the most specific one), or
    /// the scope it lacks.
    pub fn admits(&self, held: &[Scope]) -> Result<Scope, Scope> {
        if let Some(missing) = self.all.iter().find(|scope| !held.contains(scope)) {
            return Err(*missing);
        }
        match self.any {
            [] => Ok(self.all.last().copied().unwrap_or(Scope::Api)),
            any => any.iter().find(|scope| held.contains(scope)).copied().ok_or(any[0]),
        }
    }

    /// The scope recorded for a request, whether or not it was let in.
    pub fn principal(&self) -> Scope {
        self.any.first().or(self.all.last()).copied().unwrap_or(Scope::Api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_reads_take_either_pipeline_scope() {
        let read = TokenRequirement::PIPELINE_READ;
        assert_eq!(read.admits(&[Scope::Api, Scope::PipelineLogs]), Ok(Scope::PipelineLogs));
        assert_eq!(read.admits(&[Scope::Api, Scope::Pipeline]), Ok(Scope::Pipeline));
        assert_eq!(read.admits(&[Scope::Api]), Err(Scope::Pipeline));
        assert_eq!(read.admits(&[Scope::Pipeline]), Err(Scope::Api));
        let run = TokenRequirement::PIPELINE;
        assert_eq!(run.admits(&[Scope::Api, Scope::PipelineLogs]), Err(Scope::Pipeline));
        assert_eq!(run.principal(), Scope::Pipeline);
    }
}
