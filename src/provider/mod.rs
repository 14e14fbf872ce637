//! A tenant's provider (a Graph-style API): what TenantPilot reads and writes there, and the
//! reason codes its failures map to. The HTTP client needs the `server` feature.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(feature = "server")]
mod client;
#[cfg(feature = "server")]
mod connect;
#[cfg(feature = "server")]
pub use client::{
    ClientSettings, ProviderClient, ProviderConnection, ProviderError, ProviderSession, Secret,
};
#[cfg(feature = "server")]
pub use connect::{connect, current_groups, NewConnection};

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
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 6] = [
        ReasonCode::Throttled,
        ReasonCode::PermissionDenied,
        ReasonCode::AuthenticationFailed,
        ReasonCode::DependencyUnreachable,
        ReasonCode::InvalidState,
        ReasonCode::UnknownError,
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
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub id: String,
    pub display_name: String,
    /// The Graph type without its namespace, e.g. `deviceConfiguration`.
    pub policy_type: String,
    pub settings: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub display_name: String,
}

/// A tenant's provider connection as people see it: the secret is write-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub updated_at: DateTime<Utc>,
}
