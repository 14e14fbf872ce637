//! Workspaces and their tenants: creating them once (`ensure_*`) and finding them.

use super::{is_unique_violation, on_pool, Store};
use crate::ids::{TenantId, WorkspaceId};
use crate::model::{Tenant, Workspace, WorkspaceTenants};
use crate::CoreError;
use chrono::Utc;

pub(super) const TENANT_COLUMNS: &str =
    "id, workspace_id, slug, name, external_tenant_id, enabled, module_version, created_at";
/// The same columns qualified by the alias `t`, for joins.
pub(super) const TENANT_COLUMNS_T: &str =
    "t.id, t.workspace_id, t.slug, t.name, t.external_tenant_id, t.enabled, t.module_version, t.created_at";

/// What `ensure_*` did, so scripted set-up can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Existing,
}

/// How a new tenant starts: installed now, or registered for an install job to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSetup {
    Installed,
    Registered,
}

impl Store {
    /// Returns the workspace with `slug`, creating it when missing (idempotent set-up).
    #[tracing::instrument(skip_all)]
    pub async fn ensure_workspace(&self, slug: &str, name: &str) -> Result<(Workspace, Ensured), CoreError> {
        if let Some(existing) = self.workspace_by_slug(slug).await? {
            return Ok((existing, Ensured::Existing));
        }
        let sql = "INSERT INTO workspaces (slug, name, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (slug) DO NOTHING RETURNING id, slug, name, created_at";
        let row = on_pool!(self, pool => sqlx::query_as::<_, Workspace>(sql)
            .bind(slug).bind(name).bind(Utc::now()).fetch_optional(pool).await)?;
        match row {
            Some(row) => Ok((row, Ensured::Created)),
            // Lost a race with a concurrent creator: theirs is as good as ours.
            None => Ok((
                self.workspace_by_slug(slug)
                    .await?
                    .ok_or_else(|| CoreError::broken("a workspace vanished"))?,
                Ensured::Existing,
            )),
        }
    }

    /// The slug of the tenant's workspace.
    #[tracing::instrument(skip_all)]
    pub async fn workspace_of(&self, tenant: &Tenant) -> Result<String, CoreError> {
        let slug = on_pool!(self, pool => sqlx::query_scalar("SELECT slug FROM workspaces WHERE id = $1")
            .bind(tenant.workspace_id).fetch_one(pool).await)?;
        Ok(slug)
    }

    #[tracing::instrument(skip_all)]
    pub async fn workspace_by_slug(&self, slug: &str) -> Result<Option<Workspace>, CoreError> {
        let sql = "SELECT id, slug, name, created_at FROM workspaces WHERE slug = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, Workspace>(sql)
            .bind(slug).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Creates a tenant: installed at this build's version and enabled, or only registered
    /// (disabled, no version) for an install job to finish (`setup`). A slug that is taken is a conflict
    /// unless it names the same tenant in the same workspace, which makes scripted set-up
    /// idempotent.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_tenant(
        &self,
        workspace: &Workspace,
        slug: &str,
        name: &str,
        external_tenant_id: &str,
        setup: TenantSetup,
    ) -> Result<(Tenant, Ensured), CoreError> {
        let installed = setup == TenantSetup::Installed;
        if let Some(existing) = self.tenant_by_slug(slug).await? {
            return if existing.workspace_id == workspace.id {
                Ok((existing, Ensured::Existing))
            } else {
                Err(CoreError::conflict(format!("The tenant slug {slug} is taken")))
            };
        }
        let sql = format!(
            "INSERT INTO tenants (workspace_id, slug, name, external_tenant_id, enabled, module_version, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TENANT_COLUMNS}"
        );
        let version = installed.then(|| crate::tenant_jobs::running_version().to_string());
        let result = on_pool!(self, pool => sqlx::query_as::<_, Tenant>(&sql)
            .bind(workspace.id)
            .bind(slug)
            .bind(name)
            .bind(external_tenant_id)
            .bind(installed)
            .bind(version)
            .bind(Utc::now())
            .fetch_one(pool)
            .await);
        match result {
            Ok(row) => Ok((row, Ensured::Created)),
            // A concurrent creator of the same tenant won the race: theirs is as good as ours.
            Err(error) if is_unique_violation(&error) => match self.tenant_by_slug(slug).await? {
                Some(existing) if existing.workspace_id == workspace.id => Ok((existing, Ensured::Existing)),
                _ => Err(CoreError::conflict(format!("The tenant slug {slug} is taken"))),
            },
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>, CoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row =
            on_pool!(self, pool => sqlx::query_as::<_, Tenant>(&sql).bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, CoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, Tenant>(&sql)
            .bind(slug).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// The enabled tenants of workspace `id`, by id: what a workspace's scheduled capture takes.
    #[tracing::instrument(skip_all)]
    pub async fn enabled_tenants_of(&self, id: WorkspaceId) -> Result<Vec<Tenant>, CoreError> {
        let sql =
            format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE workspace_id = $1 AND enabled ORDER BY id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Tenant>(&sql).bind(id).fetch_all(pool).await)?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn workspace_by_id(&self, id: WorkspaceId) -> Result<Option<Workspace>, CoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Workspace>(
            "SELECT id, slug, name, created_at FROM workspaces WHERE id = $1").bind(id).fetch_optional(pool).await)?)
    }

    /// Every workspace with its tenants, for the platform plane.
    #[tracing::instrument(skip_all)]
    pub async fn workspaces_with_tenants(&self) -> Result<Vec<WorkspaceTenants>, CoreError> {
        let workspaces = on_pool!(self, pool => sqlx::query_as::<_, Workspace>(
            "SELECT id, slug, name, created_at FROM workspaces ORDER BY name").fetch_all(pool).await)?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name");
        let tenants: Vec<Tenant> = on_pool!(self, pool => sqlx::query_as::<_, Tenant>(&sql)
            .fetch_all(pool).await)?;
        Ok(workspaces
            .into_iter()
            .map(|workspace| {
                let tenants =
                    tenants.iter().filter(|tenant| tenant.workspace_id == workspace.id).cloned().collect();
                WorkspaceTenants { workspace, tenants }
            })
            .collect())
    }
}
