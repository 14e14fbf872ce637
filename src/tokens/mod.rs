//! Personal access tokens and account roles: the types the UI and the JSON routes see (here,
//! wasm-safe) and, on the server, creating, checking and revoking tokens (`service`). A token
//! carries scopes; what it may do is its scopes intersected with what its user may do.

#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub use service::*;

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token may be used for (the pipeline contract's scopes, plus TenantPilot's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Needed for any call with a token.
    Api,
    Pipeline,
    PipelineLogs,
    ToolRegistry,
    SecurityLogs,
    /// The assignment start routes and Monitoring.
    Operations,
    /// The tenant lifecycle API.
    TenantAdmin,
    /// `GET /metrics` (a platform admin's token): the process's numbers for Prometheus.
    Metrics,
}

text_enum!(Scope, "scope", lenient {
    Api = "api",
    Pipeline = "pipeline",
    PipelineLogs = "pipeline_logs",
    ToolRegistry = "tool_registry",
    SecurityLogs = "security_logs",
    Operations = "operations",
    TenantAdmin = "tenant_admin",
    Metrics = "metrics",
});

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Api => "API Access",
            Scope::Pipeline => "Pipeline Access",
            Scope::PipelineLogs => "Pipeline Logs (Read Only)",
            Scope::ToolRegistry => "Tool Registry Access",
            Scope::SecurityLogs => "Security Logs (Read Only)",
            Scope::Operations => "Operations",
            Scope::TenantAdmin => "Tenant Admin",
            Scope::Metrics => "Metrics (Read Only)",
        }
    }
}

/// A user's role across the whole account (workspace), apart from their tenant roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    #[default]
    User,
    PowerUser,
    SiteAdmin,
}

text_enum!(AccountRole, "account role", lenient {
    SiteAdmin = "site_admin",
    PowerUser = "power_user",
    User = "user",
});

impl AccountRole {
    pub fn label(self) -> &'static str {
        match self {
            AccountRole::SiteAdmin => "Site Admin",
            AccountRole::PowerUser => "Power User",
            AccountRole::User => "User",
        }
    }

    /// Routes marked "Power User Role" in the contract: Power Users and Site Admins.
    pub fn is_power_user(self) -> bool {
        self >= AccountRole::PowerUser
    }
}

/// Tokens live 30 days unless asked otherwise, and a year at most.
pub const DEFAULT_DAYS: i64 = 30;
pub const MAX_DAYS: i64 = 365;
/// Every token starts with this, so scanners and people can tell what it is.
pub const TOKEN_PREFIX: &str = "tpat_";

/// A token as its owner sees it after creation: never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    /// The token's first characters, e.g. `tpat_3kf9x2ab`.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Scopes typed as a list, e.g. `api,operations` (the CLI's and forms' spelling).
pub fn parse_scopes(field: &str, text: &str) -> Result<Vec<Scope>, crate::CoreError> {
    let mut scopes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        scopes.push(part.parse::<Scope>().map_err(|message| crate::CoreError::invalid(field, message))?);
    }
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(crate::CoreError::invalid(
            field,
            "Choose at least one scope (api is needed for any call)",
        ));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_roles_read_as_people_write_them() {
        assert_eq!(parse_scopes("s", "api, Operations,api").unwrap(), vec![Scope::Api, Scope::Operations]);
        assert!(parse_scopes("s", "api,root").unwrap_err().to_string().contains("unknown scope `root`"));
        assert!(parse_scopes("s", " , ").is_err());
        assert_eq!("site-admin".parse::<AccountRole>(), Ok(AccountRole::SiteAdmin));
        assert_eq!("power_user".parse::<AccountRole>(), Ok(AccountRole::PowerUser));
        assert!("admin".parse::<AccountRole>().is_err());
        assert!(AccountRole::SiteAdmin.is_power_user() && !AccountRole::User.is_power_user());
        for scope in Scope::ALL {
            assert_eq!(serde_json::to_string(&scope).unwrap(), format!("\"{scope}\""));
        }
    }
}
