//! Setting a tenant's provider connection: the one use case behind the CLI and the settings page.

use super::{ConnectionInfo, Group, ProviderClient, ProviderConnection, ProviderError, Secret};
use crate::audit::{action, kind, NewAuditEntry};
use crate::model::Tenant;
use crate::operation::Initiator;
use crate::store::Store;
use crate::CoreError;

const URL_MAX: usize = 2048;
const CLIENT_ID_MAX: usize = 200;
const SECRET_MAX: usize = 1024;

/// A connection as entered. An empty secret keeps the one stored (forms never show it again).
pub struct NewConnection<'a> {
    pub base_url: &'a str,
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

fn url(field: &str, value: &str) -> Result<String, CoreError> {
    let value = value.trim().trim_end_matches('/');
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !host.contains('@')
    });
    if !host_ok || value.len() > URL_MAX || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CoreError::invalid(
            field,
            "Enter an http:// or https:// URL, like https://graph.example.com/v1.0",
        ));
    }
    Ok(value.to_string())
}

/// Validates and stores the connection of `tenant`, and records who set it (never the secret).
pub async fn connect(
    store: &Store,
    actor: &Initiator,
    tenant: &Tenant,
    new: NewConnection<'_>,
) -> Result<ConnectionInfo, CoreError> {
    let base_url = url("base_url", new.base_url)?;
    let token_url = url("token_url", new.token_url)?;
    let client_id = new.client_id.trim();
    if client_id.is_empty() || client_id.len() > CLIENT_ID_MAX || client_id.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "client_id",
            format!("Enter the app's client id (1–{CLIENT_ID_MAX} characters)"),
        ));
    }
    let secret = new.client_secret.trim_end_matches(['\r', '\n']);
    if secret.len() > SECRET_MAX {
        return Err(CoreError::invalid("client_secret", "That client secret is too long"));
    }
    let client_secret = if secret.is_empty() {
        store.provider_connection(tenant.id).await?.map(|existing| existing.client_secret).ok_or_else(
            || CoreError::invalid("client_secret", "Enter the client secret of the app registration"),
        )?
    } else {
        Secret::new(secret.to_string())
    };
    let connection =
        ProviderConnection { base_url, token_url, client_id: client_id.to_string(), client_secret };
    store.set_provider_connection(tenant.id, &connection).await?;
    let mut details = serde_json::Map::new();
    details.insert("baseUrl".into(), connection.base_url.clone().into());
    details.insert("clientId".into(), connection.client_id.clone().into());
    details.insert("secretChanged".into(), (!secret.is_empty()).into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(tenant.workspace_id),
            tenant_id: Some(tenant.id),
            actor: actor.clone(),
            kind: kind::PROVIDER_CONNECTION,
            action: action::UPDATE,
            target_id: tenant.id.to_string(),
            details,
        })
        .await?;
    store.provider_connection_info(tenant.id).await?.ok_or(CoreError::Internal)
}

/// The tenant's groups as its provider lists them now, through its stored connection: what a
/// restore plan maps onto, and how a connection is checked. A provider failure is the
/// provider's error, with its reason code.
pub async fn current_groups(
    store: &Store,
    client: &ProviderClient,
    tenant_id: i64,
) -> Result<Vec<Group>, CoreError> {
    let connection = store.provider_connection(tenant_id).await?.ok_or_else(|| {
        CoreError::conflict("This tenant has no provider connection. Set one in the tenant's settings first.")
    })?;
    let provider = |error: ProviderError| CoreError::Provider {
        reason_code: error.reason.as_str().into(),
        message: error.message,
    };
    let session = client.connect(&connection).await.map_err(provider)?;
    session.groups().await.map_err(provider)
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(url("u", " https://graph.example/v1.0/ ").unwrap(), "https://graph.example/v1.0");
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
}
