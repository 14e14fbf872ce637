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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequirement {
    pub all: &'static [Scope],
    pub any: &'static [Scope],
}

impl TokenRequirement {
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

/// What a token needs on `path`, or `None` where tokens are not accepted at all (pages, server
/// functions): people use those with a session. Every token call also needs `api`.
pub fn token_scopes(path: &str) -> Option<TokenRequirement> {
    const fn all(all: &'static [Scope]) -> TokenRequirement {
        TokenRequirement { all, any: &[] }
    }
    const OPERATIONS: TokenRequirement = all(&[Scope::Api, Scope::Operations]);
    const TENANT_ADMIN: TokenRequirement = all(&[Scope::Api, Scope::TenantAdmin]);
    const PIPELINE: TokenRequirement = all(&[Scope::Api, Scope::Pipeline]);
    // Status and logs are readable with the read-only Pipeline Logs scope as well.
    const PIPELINE_READ: TokenRequirement =
        TokenRequirement { all: &[Scope::Api], any: &[Scope::Pipeline, Scope::PipelineLogs] };
    const REGISTRY: TokenRequirement = all(&[Scope::Api, Scope::ToolRegistry]);
    const SECURITY_LOGS: TokenRequirement = all(&[Scope::Api, Scope::SecurityLogs]);
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segments.as_slice() {
        ["admin", "monitoring", "operations", ..] | ["admin", "monitoring", "events"] => Some(OPERATIONS),
        ["admin", "t", _, "backup-items" | "backup-sets" | "restore-runs", ..] => Some(OPERATIONS),
        ["admin", "t", _, "provider-connection", ..] => Some(TENANT_ADMIN),
        ["_", "tenant", ..] => Some(TENANT_ADMIN),
        ["api", "v1", "pipeline", "status" | "logs"] => Some(PIPELINE_READ),
        ["api", "v1", "pipeline", ..] => Some(PIPELINE),
        ["api", "v1", "registry", ..] => Some(REGISTRY),
        ["api", "v1", "logs", ..] => Some(SECURITY_LOGS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_reach_json_routes_only_with_their_scopes() {
        let needs = |path: &str| token_scopes(path).map(|requirement| requirement.all);
        let operations = Some(&[Scope::Api, Scope::Operations][..]);
        assert_eq!(needs("/admin/monitoring/operations"), operations);
        assert_eq!(needs("/admin/monitoring/operations/5/cancel"), operations);
        assert_eq!(needs("/admin/t/contoso/backup-items/4/assignments/fetch"), operations);
        assert_eq!(needs("/admin/t/contoso/restore-runs"), operations);
        assert_eq!(
            needs("/admin/t/contoso/provider-connection"),
            Some(&[Scope::Api, Scope::TenantAdmin][..])
        );
        assert_eq!(needs("/_/tenant"), Some(&[Scope::Api, Scope::TenantAdmin][..]));
        assert_eq!(needs("/_/tenant/12"), Some(&[Scope::Api, Scope::TenantAdmin][..]));
        assert_eq!(needs("/api/v1/pipeline/run"), Some(&[Scope::Api, Scope::Pipeline][..]));
        assert_eq!(needs("/api/v1/registry/update"), Some(&[Scope::Api, Scope::ToolRegistry][..]));
        assert_eq!(needs("/api/v1/logs/user/tokens"), Some(&[Scope::Api, Scope::SecurityLogs][..]));
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

    #[test]
    fn pipeline_reads_take_either_pipeline_scope() {
        let read = token_scopes("/api/v1/pipeline/status").unwrap();
        assert_eq!(read.admits(&[Scope::Api, Scope::PipelineLogs]), Ok(Scope::PipelineLogs));
        assert_eq!(read.admits(&[Scope::Api, Scope::Pipeline]), Ok(Scope::Pipeline));
        assert_eq!(read.admits(&[Scope::Api]), Err(Scope::Pipeline));
        assert_eq!(read.admits(&[Scope::Pipeline]), Err(Scope::Api));
        let run = token_scopes("/api/v1/pipeline/run").unwrap();
        assert_eq!(run.admits(&[Scope::Api, Scope::PipelineLogs]), Err(Scope::Pipeline));
        assert_eq!(run.principal(), Scope::Pipeline);
    }
}
