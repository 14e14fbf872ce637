//! A tenant's provider, Microsoft Graph (beta) behind the Microsoft identity platform: the
//! policy families TenantPilot reads and writes there, a connection as people see it, and the
//! reason codes failures map to. The HTTP client needs the `server` feature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(feature = "server")]
mod budget;
#[cfg(feature = "server")]
mod client;
#[cfg(feature = "server")]
mod connect;
#[cfg(feature = "server")]
pub mod graph;
#[cfg(feature = "server")]
mod token;

#[cfg(feature = "server")]
pub use budget::BudgetLimits;
#[cfg(feature = "server")]
pub use client::{
    ClientSettings, Interrupted, PauseReason, Pauses, ProviderClient, ProviderError, ProviderSession,
    WaitAtMost,
};
#[cfg(feature = "server")]
pub use connect::{check_connection, connect, provider_error, request_session, NewConnection, NewCredential};
#[cfg(feature = "server")]
pub use token::{default_scope, ClientCertificate, Credential, ProviderConnection, Secret, TokenFacts};

/// The API base a new connection gets: settings-catalog policies exist only in Graph's beta.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/beta";

/// Why a provider call failed, as runs and admins see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Throttled,
    PermissionDenied,
    AuthenticationFailed,
    DependencyUnreachable,
    InvalidState,
    UnknownError,
    /// The destination is not a public address and the allow list does not name it.
    EgressBlocked,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 7] = [
        ReasonCode::Throttled,
        ReasonCode::PermissionDenied,
        ReasonCode::AuthenticationFailed,
        ReasonCode::DependencyUnreachable,
        ReasonCode::InvalidState,
        ReasonCode::UnknownError,
        ReasonCode::EgressBlocked,
    ];

    /// What the reason means, for people.
    pub fn summary(self) -> &'static str {
        match self {
            ReasonCode::Throttled => "The provider is throttling requests; try again later.",
            ReasonCode::AuthenticationFailed => "The provider did not accept TenantPilot's credentials.",
            ReasonCode::PermissionDenied => "TenantPilot's app registration lacks a permission this needs.",
            ReasonCode::InvalidState => "The provider refused the request for the current state of the item.",
            ReasonCode::DependencyUnreachable => "The provider is unavailable.",
            ReasonCode::UnknownError => "The provider failed unexpectedly.",
            ReasonCode::EgressBlocked => {
                "TenantPilot calls only public addresses, unless TENANTPILOT_EGRESS_ALLOW names the destination."
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Throttled => "throttled",
            ReasonCode::PermissionDenied => "permission_denied",
            ReasonCode::AuthenticationFailed => "authentication_failed",
            ReasonCode::DependencyUnreachable => "dependency_unreachable",
            ReasonCode::InvalidState => "invalid_state",
            ReasonCode::UnknownError => "unknown_error",
            ReasonCode::EgressBlocked => "egress_blocked",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Graph permission that reads Intune device configuration (all four policy families and
/// assignment filters), and the one that also writes it.
pub const CONFIGURATION_READ: &str = "DeviceManagementConfiguration.Read.All";
pub const CONFIGURATION_WRITE: &str = "DeviceManagementConfiguration.ReadWrite.All";
/// Role scope tags are Intune RBAC objects.
pub const RBAC_READ: &str = "DeviceManagementRBAC.Read.All";
/// Group names (and finding a group by name in another tenant).
pub const GROUP_READ: &str = "Group.Read.All";

/// A family of Intune policies: one Graph collection, captured as its own `policyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PolicyFamily {
    /// Settings catalog: `deviceManagement/configurationPolicies`, settings in a relationship.
    #[serde(rename = "configurationPolicy")]
    SettingsCatalog,
    /// Device configuration profiles (templates): settings in the body.
    #[serde(rename = "deviceConfiguration")]
    DeviceConfiguration,
    /// Compliance policies, with their scheduled actions.
    #[serde(rename = "deviceCompliancePolicy")]
    Compliance,
    /// Administrative templates: settings are definition values.
    #[serde(rename = "groupPolicyConfiguration")]
    AdministrativeTemplate,
}

impl PolicyFamily {
    pub const ALL: [PolicyFamily; 4] = [
        PolicyFamily::SettingsCatalog,
        PolicyFamily::DeviceConfiguration,
        PolicyFamily::Compliance,
        PolicyFamily::AdministrativeTemplate,
    ];

    /// The `policyType` of its backup items.
    pub fn policy_type(self) -> &'static str {
        match self {
            PolicyFamily::SettingsCatalog => "configurationPolicy",
            PolicyFamily::DeviceConfiguration => "deviceConfiguration",
            PolicyFamily::Compliance => "deviceCompliancePolicy",
            PolicyFamily::AdministrativeTemplate => "groupPolicyConfiguration",
        }
    }

    pub fn from_policy_type(policy_type: &str) -> Option<PolicyFamily> {
        PolicyFamily::ALL.into_iter().find(|family| family.policy_type() == policy_type)
    }

    pub fn label(self) -> &'static str {
        match self {
            PolicyFamily::SettingsCatalog => "Settings catalog",
            PolicyFamily::DeviceConfiguration => "Device configuration",
            PolicyFamily::Compliance => "Compliance policy",
            PolicyFamily::AdministrativeTemplate => "Administrative template",
        }
    }

    /// Its collection, relative to the API base.
    pub fn collection(self) -> &'static str {
        match self {
            PolicyFamily::SettingsCatalog => "/deviceManagement/configurationPolicies",
            PolicyFamily::DeviceConfiguration => "/deviceManagement/deviceConfigurations",
            PolicyFamily::Compliance => "/deviceManagement/deviceCompliancePolicies",
            PolicyFamily::AdministrativeTemplate => "/deviceManagement/groupPolicyConfigurations",
        }
    }

    /// The property holding a policy's name: the settings catalog says `name`.
    pub fn name_property(self) -> &'static str {
        match self {
            PolicyFamily::SettingsCatalog => "name",
            _ => "displayName",
        }
    }
}

impl fmt::Display for PolicyFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A group, assignment filter or scope tag of a tenant: its id and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Named {
    pub id: String,
    pub display_name: String,
}

/// How TenantPilot proves itself to the identity platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Secret,
    Certificate,
}

/// A tenant's provider connection as people see it: the secret and the private key are
/// write-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    /// The scope asked for when it is not the rule's (`{scheme}://{host}/.default` of the base).
    pub scope: Option<String>,
    /// The scope token requests carry.
    pub effective_scope: String,
    pub credential: CredentialKind,
    /// With a certificate: its SHA-1 thumbprint in hex, as the Entra admin center shows it.
    pub certificate_thumbprint: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Whether the app registration may read one kind of object, as "Check connection" found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessCheck {
    /// What was read, e.g. "Settings catalog".
    pub area: String,
    /// The Graph path read, relative to the API base.
    pub path: String,
    pub readable: bool,
    /// The application permission that grants it.
    pub permission: String,
    /// Why not, in the provider's words.
    pub message: Option<String>,
}

/// What "Check connection" proves: a token, whose tenant and expiry, and what it may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionCheck {
    pub checked_at: DateTime<Utc>,
    /// The directory (tenant) id the token was issued in, from its `tid` claim.
    pub token_tenant: Option<String>,
    pub token_expires_at: DateTime<Utc>,
    /// The application permissions the token carries (its `roles` claim).
    pub roles: Vec<String>,
    pub checks: Vec<AccessCheck>,
}

impl ConnectionCheck {
    pub fn all_readable(&self) -> bool {
        self.checks.iter().all(|check| check.readable)
    }
}
