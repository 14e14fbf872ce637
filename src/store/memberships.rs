//! Tenant memberships: who belongs to which tenant, with what role.

use super::tenants::TENANT_COLUMNS_T;
use super::{on_pool, Backend, Store};
use crate::ids::{TenantId, UserId};
use crate::model::{Member, Tenant, TenantMembership};
use crate::{CoreError, Role};
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    tenant: Tenant,
    workspace_name: String,
    role: Role,
}

impl TryFrom<MembershipRow> for TenantMembership {
    type Error = CoreError;
    fn try_from(row: MembershipRow) -> Result<Self, CoreError> {
        Ok(TenantMembership { tenant: row.tenant, workspace_name: row.workspace_name, role: row.role })
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: UserId,
    email: String,
    display_name: String,
    role: Role,
    created_at: DateTime<Utc>,
}

/// What `set_membership` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    Added,
    RoleChanged { from: Role },
    Unchanged,
}

const LAST_OWNER: &str = "A tenant needs at least one owner. Make someone else owner first.";

impl Store {
    /// The enabled tenants `user_id` is a member of, with the role in each.
    #[tracing::instrument(skip_all)]
    pub async fn memberships_of(&self, user_id: UserId) -> Result<Vec<TenantMembership>, CoreError> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS_T}, w.name AS workspace_name, m.role FROM memberships m \
             JOIN tenants t ON t.id = m.tenant_id JOIN workspaces w ON w.id = t.workspace_id \
             WHERE m.user_id = $1 AND t.enabled ORDER BY t.name"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, MembershipRow>(&sql)
            .bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The user's membership in the enabled tenant `slug`, if any.
    #[tracing::instrument(skip_all)]
    pub async fn membership(
        &self,
        user_id: UserId,
        slug: &str,
    ) -> Result<Option<TenantMembership>, CoreError> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS_T}, w.name AS workspace_name, m.role FROM memberships m \
             JOIN tenants t ON t.id = m.tenant_id JOIN workspaces w ON w.id = t.workspace_id \
             WHERE m.user_id = $1 AND t.slug = $2 AND t.enabled"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, MembershipRow>(&sql)
            .bind(user_id).bind(slug).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// The role of `user_id` in the tenant, if they are a member.
    #[tracing::instrument(skip_all)]
    pub async fn member_role(&self, tenant_id: TenantId, user_id: UserId) -> Result<Option<Role>, CoreError> {
        let role: Option<Role> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant_id).bind(user_id).fetch_optional(pool).await)?;
        Ok(role)
    }

    #[tracing::instrument(skip_all)]
    pub async fn members(&self, tenant_id: TenantId) -> Result<Vec<Member>, CoreError> {
        let sql = "SELECT u.id AS user_id, u.email, u.display_name, m.role, m.created_at \
                   FROM memberships m JOIN users u ON u.id = m.user_id \
                   WHERE m.tenant_id = $1 ORDER BY u.email";
        let rows = on_pool!(self, pool => sqlx::query_as::<_, MemberRow>(sql)
            .bind(tenant_id).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|row| {
                Ok(Member {
                    user_id: row.user_id,
                    email: row.email,
                    display_name: row.display_name,
                    role: row.role,
                    added_at: row.created_at,
                })
            })
            .collect()
    }

    /// Adds `user_id` to the tenant with `role`, or changes the role of an existing member.
    /// Refuses to demote the tenant's last owner.
    #[tracing::instrument(skip_all)]
    pub async fn set_membership(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
    ) -> Result<MembershipChange, CoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(lock_tenant_sql(self.backend())).bind(tenant_id).execute(&mut *tx).await?;
            let current: Option<Role> = sqlx::query_scalar(
                "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id).bind(user_id).fetch_optional(&mut *tx).await?;
            let change = match current {
                None => {
                    sqlx::query("INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(tenant_id).bind(user_id).bind(role).bind(Utc::now())
                        .execute(&mut *tx).await?;
                    MembershipChange::Added
                }
                Some(from) if from == role => MembershipChange::Unchanged,
                Some(from) => {
                    if from == Role::Owner && sqlx::query_scalar::<_, i64>(COUNT_OWNERS).bind(tenant_id).fetch_one(&mut *tx).await? <= 1 {
                        return Err(CoreError::conflict(LAST_OWNER));
                    }
                    sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant_id).bind(user_id).bind(role)
                        .execute(&mut *tx).await?;
                    MembershipChange::RoleChanged { from }
                }
            };
            tx.commit().await?;
            Ok(change)
        })
    }

    /// Removes a member; false when they were not one. Refuses to remove the last owner.
    #[tracing::instrument(skip_all)]
    pub async fn remove_membership(&self, tenant_id: TenantId, user_id: UserId) -> Result<bool, CoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(lock_tenant_sql(self.backend())).bind(tenant_id).execute(&mut *tx).await?;
            let current: Option<Role> = sqlx::query_scalar(
                "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id).bind(user_id).fetch_optional(&mut *tx).await?;
            let Some(role) = current else {
                return Ok(false);
            };
            if role == Role::Owner && sqlx::query_scalar::<_, i64>(COUNT_OWNERS).bind(tenant_id).fetch_one(&mut *tx).await? <= 1 {
                return Err(CoreError::conflict(LAST_OWNER));
            }
            sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id).bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        })
    }
}

/// Serialises membership changes of one tenant so two owners cannot demote each other at
/// once: PostgreSQL locks the tenant row; SQLite takes its single write lock up front, so the
/// owner count read after it cannot go stale (and a deferred lock upgrade cannot deadlock).
fn lock_tenant_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "UPDATE tenants SET id = id WHERE id = $1",
    }
}

const COUNT_OWNERS: &str = "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'";
