//! Records as the UI and the JSON routes see them. They compile to wasm: no database types here.

use crate::ids::{TenantId, UserId, WorkspaceId};
use crate::operations::Initiator;
use crate::tokens::AccountRole;
use crate::{Capability, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who is acting: the signed-in person, and how what they do is recorded (as themselves, or as
/// one of their tokens). The guard makes it once per request; use cases that act take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: User,
    pub initiator: Initiator,
}

impl Caller {
    /// The person acting as themselves (a session, the command line, a test).
    pub fn person(user: &User) -> Caller {
        Caller { user: user.clone(), initiator: Initiator::user(user) }
    }

    /// How an act of `caller` is recorded; none is the system (the command line, the seed).
    pub fn initiator_of(caller: Option<&Caller>) -> Initiator {
        caller.map_or(Initiator::System, |caller| caller.initiator.clone())
    }
}

/// What a new account may reach: its tenants' planes only, or the platform as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Member,
    PlatformAdmin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    /// Site Admin, Power User or User: what the account may do outside tenants (API routes).
    pub account_role: AccountRole,
    pub created_at: DateTime<Utc>,
    /// The IANA time zone the account reads times in; none: the browser's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct Workspace {
    pub id: WorkspaceId,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
pub struct Tenant {
    pub id: TenantId,
    pub workspace_id: WorkspaceId,
    pub slug: String,
    pub name: String,
    pub external_tenant_id: String,
    pub enabled: bool,
    /// The module version the tenant's data is at; `None` until an install has finished.
    pub module_version: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Tenant {
    /// The module version the tenant's data is at, once an install has finished.
    pub fn installed_version(&self) -> Option<semver::Version> {
        self.module_version.as_deref().and_then(|version| semver::Version::parse(version).ok())
    }
}

/// A tenant as one member sees it: the tenant, the member's role and what that role allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantMembership {
    pub tenant: Tenant,
    pub workspace_name: String,
    pub role: Role,
}

impl TenantMembership {
    pub fn can(&self, capability: Capability) -> bool {
        self.role.has(capability)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

/// A workspace with its tenants, for the platform plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceTenants {
    pub workspace: Workspace,
    pub tenants: Vec<Tenant>,
}
