//! Setting a tenant's provider connection (the one use case behind the CLI, the settings page
//! and its JSON twin) and checking what it may do.

use super::graph::paths;
use super::token::{ClientCertificate, Credential, ProviderConnection, Secret};
use super::{
    AccessCheck, ConnectionCheck, ConnectionInfo, PolicyFamily, ProviderClient, ProviderError,
    CONFIGURATION_READ, DEFAULT_BASE_URL, GROUP_READ, RBAC_READ,
};
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::egress::{EgressPolicy, Schemes};
use crate::ids::TenantId;
use crate::model::Tenant;
use crate::operations::Initiator;
use crate::store::Store;
use crate::{validate, CoreError};

const URL_MAX: usize = 2048;
const CLIENT_ID_MAX: usize = 200;
const SECRET_MAX: usize = 1024;
const CERTIFICATE_MAX: usize = 64 * 1024;

/// The credential as entered. Forms never show a stored one again, so "keep" is the default.
pub enum NewCredential<'a> {
    Keep,
    Secret(&'a str),
    /// PEM text with the certificate and its private key.
    Certificate(&'a str),
}

impl<'a> NewCredential<'a> {
    /// The credential a form or body gives: a secret, a certificate, or neither (keep).
    pub fn from_fields(secret: &'a str, certificate: &'a str) -> Result<NewCredential<'a>, CoreError> {
        match (secret.is_empty(), certificate.trim().is_empty()) {
            (true, true) => Ok(NewCredential::Keep),
            (false, true) => Ok(NewCredential::Secret(secret)),
            (true, false) => Ok(NewCredential::Certificate(certificate.trim())),
            (false, false) => Err(CoreError::invalid(
                "client_certificate",
                "Enter a client secret or a certificate, not both",
            )),
        }
    }
}

/// A connection as entered: an empty base URL is Graph's beta, an empty scope the rule's.
pub struct NewConnection<'a> {
    pub base_url: &'a str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub credential: NewCredential<'a>,
}

fn url(field: &str, value: &str) -> Result<String, CoreError> {
    let value = value.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(value).ok().filter(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| !host.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
    });
    if parsed.is_none() || value.len() > URL_MAX || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CoreError::invalid(
            field,
            "Enter an http:// or https:// URL, like https://graph.microsoft.com/beta",
        ));
    }
    Ok(value.to_string())
}

/// The API base: Graph's beta unless another is given, and never `/v1.0`, which has no
/// settings catalog.
fn base_url(value: &str) -> Result<String, CoreError> {
    if value.trim().is_empty() {
        return Ok(DEFAULT_BASE_URL.to_string());
    }
    let base = url("base_url", value)?;
    let path = reqwest::Url::parse(&base).map(|url| url.path().to_ascii_lowercase()).unwrap_or_default();
    if path.trim_end_matches('/').ends_with("/v1.0") {
        return Err(CoreError::invalid(
            "base_url",
            "Settings-catalog policies (deviceManagement/configurationPolicies) exist only in Graph's beta API: \
             use the /beta base, like https://graph.microsoft.com/beta",
        ));
    }
    Ok(base)
}

fn scope(value: &str) -> Result<Option<String>, CoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > URL_MAX
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
        || !value.ends_with("/.default")
    {
        return Err(CoreError::invalid(
            "scope",
            "A client-credentials scope is one resource followed by /.default, like https://graph.microsoft.com/.default",
        ));
    }
    Ok(Some(value.to_string()))
}

/// The credential to store. A stored one is kept only while the token URL keeps its origin: a
/// secret goes to a new place only when it is given again.
async fn credential(
    store: &Store,
    tenant: &Tenant,
    token_url: &str,
    new: &NewCredential<'_>,
) -> Result<Credential, CoreError> {
    match new {
        NewCredential::Keep => {
            let existing = store.provider_connection(tenant.id).await?.ok_or_else(|| {
                CoreError::invalid(
                    "client_secret",
                    "Enter the client secret of the app registration, or its certificate",
                )
            })?;
            if validate::origin(&existing.token_url) != validate::origin(token_url) {
                return Err(CoreError::invalid(
                    "client_secret",
                    "The token URL moved to another origin: enter the secret (or certificate) again, so it is not \
                     sent to the new place without you",
                ));
            }
            Ok(existing.credential)
        }
        NewCredential::Secret(secret) => {
            let secret = secret.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                return Err(CoreError::invalid(
                    "client_secret",
                    "Enter the client secret of the app registration",
                ));
            }
            if secret.len() > SECRET_MAX {
                return Err(CoreError::invalid("client_secret", "That client secret is too long"));
            }
            Ok(Credential::Secret(Secret::new(secret.to_string())))
        }
        NewCredential::Certificate(pem) => {
            if pem.len() > CERTIFICATE_MAX {
                return Err(CoreError::invalid(
                    "client_certificate",
                    "That is too long for a certificate and its key",
                ));
            }
            ClientCertificate::from_pem(pem)
                .map(Credential::Certificate)
                .map_err(|message| CoreError::invalid("client_certificate", message))
        }
    }
}

/// Validates and stores the connection of `tenant`, and records who set it (never the secret
/// or the key). Both URLs must be ones `egress` lets TenantPilot call, over https unless the
/// allow list names their host.
pub async fn connect(
    store: &Store,
    egress: &EgressPolicy,
    actor: &Initiator,
    tenant: &Tenant,
    new: NewConnection<'_>,
) -> Result<ConnectionInfo, CoreError> {
    let base_url = base_url(new.base_url)?;
    let token_url = url("token_url", new.token_url)?;
    egress.check_saved("base_url", &base_url, Schemes::HttpsOnly)?;
    egress.check_saved("token_url", &token_url, Schemes::HttpsOnly)?;
    let client_id = new.client_id.trim();
    if client_id.is_empty() || client_id.len() > CLIENT_ID_MAX || client_id.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "client_id",
            format!("Enter the app's client id (1–{CLIENT_ID_MAX} characters)"),
        ));
    }
    let scope = scope(new.scope)?;
    let credential = credential(store, tenant, &token_url, &new.credential).await?;
    let connection =
        ProviderConnection { base_url, token_url, client_id: client_id.to_string(), scope, credential };
    store.set_provider_connection(tenant.id, &connection).await?;
    let mut details = serde_json::Map::new();
    details.insert("baseUrl".into(), connection.base_url.clone().into());
    details.insert("clientId".into(), connection.client_id.clone().into());
    details.insert("scope".into(), connection.scope().into());
    let credential_kind = match &connection.credential {
        Credential::Secret(_) => "secret",
        Credential::Certificate(_) => "certificate",
    };
    details.insert("credential".into(), credential_kind.into());
    details.insert("credentialChanged".into(), (!matches!(new.credential, NewCredential::Keep)).into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(tenant.workspace_id),
            tenant_id: Some(tenant.id),
            actor: actor.clone(),
            kind: AuditKind::ProviderConnection,
            action: AuditAction::Update,
            target_id: tenant.id.to_string(),
            details,
        })
        .await?;
    store
        .provider_connection_info(tenant.id)
        .await?
        .ok_or_else(|| CoreError::broken("the connection just saved is missing"))
}

/// A provider failure met while answering a request.
pub fn provider_error(error: ProviderError) -> CoreError {
    let message = if error.interrupted {
        "The provider is throttling requests and asks to wait longer than a page can; try again in a minute."
            .into()
    } else {
        error.message
    };
    CoreError::Provider { reason_code: error.reason.as_str().into(), message }
}

/// How long a request someone waits on waits out throttling, all waits together.
const REQUEST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

async fn stored_connection(store: &Store, tenant_id: TenantId) -> Result<ProviderConnection, CoreError> {
    store.provider_connection(tenant_id).await?.ok_or_else(|| {
        CoreError::conflict("This tenant has no provider connection. Set one in the tenant's settings first.")
    })
}

/// A session with `tenant_id`'s provider for a request someone waits on: throttling is waited
/// out only briefly.
pub async fn request_session(
    store: &Store,
    client: &ProviderClient,
    tenant_id: TenantId,
) -> Result<super::ProviderSession, CoreError> {
    let connection = stored_connection(store, tenant_id).await?;
    client.connect(&connection, Some(super::WaitAtMost::new(REQUEST_PATIENCE))).await.map_err(provider_error)
}

/// Signs in with the tenant's stored connection and reads one entry of everything TenantPilot
/// reads: which policy families, filters, scope tags and groups the app registration may see,
/// and for each it may not, the permission it lacks.
pub async fn check_connection(
    store: &Store,
    client: &ProviderClient,
    tenant_id: TenantId,
) -> Result<ConnectionCheck, CoreError> {
    let check = probe_everything(store, client, tenant_id).await;
    // The page shows the last check (also without JavaScript); a failed one clears it.
    store.set_connection_check(tenant_id, check.as_ref().ok()).await?;
    check
}

async fn probe_everything(
    store: &Store,
    client: &ProviderClient,
    tenant_id: TenantId,
) -> Result<ConnectionCheck, CoreError> {
    let connection = stored_connection(store, tenant_id).await?;
    // A fresh token: a cached one would not prove the credential still works.
    let session = client
        .connect_anew(&connection, Some(super::WaitAtMost::new(REQUEST_PATIENCE)))
        .await
        .map_err(provider_error)?;
    let facts = session.token_facts().await.map_err(provider_error)?;
    let mut probes: Vec<(String, String, &str)> = PolicyFamily::ALL
        .iter()
        .map(|family| (family.label().to_string(), paths::probe(*family), CONFIGURATION_READ))
        .collect();
    probes.push(("Assignment filters".into(), paths::assignment_filters(), CONFIGURATION_READ));
    probes.push(("Scope tags".into(), paths::scope_tags(), RBAC_READ));
    probes.push(("Groups".into(), paths::groups_probe(), GROUP_READ));
    let mut checks = Vec::with_capacity(probes.len());
    for (area, path, permission) in probes {
        let result = session.probe(&path).await;
        checks.push(AccessCheck {
            area,
            path: path.split('?').next().unwrap_or_default().to_string(),
            readable: result.is_ok(),
            permission: permission.to_string(),
            message: result.err().map(|error| error.message),
        });
    }
    Ok(ConnectionCheck {
        checked_at: chrono::Utc::now(),
        token_tenant: facts.tenant,
        token_expires_at: facts.expires_at,
        roles: facts.roles,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::{base_url, scope, url};

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(url("u", " https://graph.example/beta/ ").unwrap(), "https://graph.example/beta");
        assert_eq!(url("u", "http://127.0.0.1:3100/contoso").unwrap(), "http://127.0.0.1:3100/contoso");
        for bad in [
            "",
            "graph.example",
            "ftp://x",
            "https://",
            "https://user@host",
            "http://a b",
            "javascript:alert(1)",
        ] {
            assert!(url("u", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_base_defaults_to_graph_beta_and_refuses_v1() {
        assert_eq!(base_url("").unwrap(), "https://graph.microsoft.com/beta");
        assert_eq!(base_url("https://graph.microsoft.us/beta").unwrap(), "https://graph.microsoft.us/beta");
        for v1 in ["https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/V1.0/"] {
            let error = base_url(v1).unwrap_err().to_string();
            assert!(error.contains("settings-catalog") || error.contains("Settings-catalog"), "{error}");
            assert!(error.contains("/beta"), "{error}");
        }
    }

    #[test]
    fn a_scope_override_must_end_in_default() {
        assert_eq!(scope(" ").unwrap(), None);
        assert_eq!(
            scope("https://graph.microsoft.us/.default").unwrap().as_deref(),
            Some("https://graph.microsoft.us/.default")
        );
        for bad in ["https://graph.microsoft.com/beta", "User.Read", "a b/.default"] {
            assert!(scope(bad).is_err(), "{bad}");
        }
    }
}
