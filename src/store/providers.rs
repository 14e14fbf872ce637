//! Each tenant's provider connection. The credential (a client secret, or a certificate with
//! its private key) is stored so the workers can use it; it leaves the store only inside a
//! [`ProviderConnection`], whose secrets never print.

use super::{on_pool, Store};
use crate::ids::TenantId;
use crate::keyring::Purpose;
use crate::provider::{
    default_scope, ClientCertificate, ConnectionCheck, ConnectionInfo, Credential, CredentialKind,
    ProviderConnection, Secret,
};
use crate::CoreError;
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    base_url: String,
    token_url: String,
    client_id: String,
    scope: Option<String>,
    credential_kind: String,
    client_secret: String,
    certificate_thumbprint: Option<String>,
    updated_at: DateTime<Utc>,
}

impl ConnectionRow {
    fn kind(&self) -> CredentialKind {
        match self.credential_kind.as_str() {
            "certificate" => CredentialKind::Certificate,
            _ => CredentialKind::Secret,
        }
    }
}

impl Store {
    /// Sets (or replaces) the tenant's connection.
    #[tracing::instrument(skip_all)]
    pub async fn set_provider_connection(
        &self,
        tenant_id: TenantId,
        connection: &ProviderConnection,
    ) -> Result<(), CoreError> {
        let (kind, material, thumbprint) = match &connection.credential {
            Credential::Secret(secret) => ("secret", secret.clone(), None),
            Credential::Certificate(certificate) => {
                ("certificate", certificate.to_pem(), Some(certificate.thumbprint_sha1()))
            }
        };
        let material = self.seal(Purpose::ProviderCredential, material.expose())?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO provider_connections (tenant_id, base_url, token_url, client_id, scope, credential_kind, \
             client_secret, certificate_thumbprint, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id) DO UPDATE SET base_url = excluded.base_url, token_url = excluded.token_url, \
             client_id = excluded.client_id, scope = excluded.scope, credential_kind = excluded.credential_kind, \
             client_secret = excluded.client_secret, certificate_thumbprint = excluded.certificate_thumbprint, \
             last_check = NULL, updated_at = excluded.updated_at")
            .bind(tenant_id).bind(&connection.base_url).bind(&connection.token_url)
            .bind(&connection.client_id).bind(&connection.scope).bind(kind).bind(&material)
            .bind(thumbprint).bind(Utc::now())
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The connection the workers use, credential included.
    #[tracing::instrument(skip_all)]
    pub async fn provider_connection(
        &self,
        tenant_id: TenantId,
    ) -> Result<Option<ProviderConnection>, CoreError> {
        let Some(mut row) = self.connection_row(tenant_id).await? else {
            return Ok(None);
        };
        row.client_secret = self.open(Purpose::ProviderCredential, &row.client_secret)?;
        let credential = match row.kind() {
            CredentialKind::Secret => Credential::Secret(Secret::new(row.client_secret)),
            CredentialKind::Certificate => Credential::Certificate(
                ClientCertificate::from_pem(&row.client_secret).map_err(|problem| {
                    CoreError::broken(format!(
                        "tenant {tenant_id}'s stored client certificate is unreadable: {problem}"
                    ))
                })?,
            ),
        };
        Ok(Some(ProviderConnection {
            base_url: row.base_url,
            token_url: row.token_url,
            client_id: row.client_id,
            scope: row.scope,
            credential,
        }))
    }

    /// The connection as people see it: everything but the secret and the key.
    #[tracing::instrument(skip_all)]
    pub async fn provider_connection_info(
        &self,
        tenant_id: TenantId,
    ) -> Result<Option<ConnectionInfo>, CoreError> {
        Ok(self.connection_row(tenant_id).await?.map(|row| ConnectionInfo {
            credential: row.kind(),
            effective_scope: row.scope.clone().unwrap_or_else(|| default_scope(&row.base_url)),
            base_url: row.base_url,
            token_url: row.token_url,
            client_id: row.client_id,
            scope: row.scope,
            certificate_thumbprint: row.certificate_thumbprint,
            updated_at: row.updated_at,
        }))
    }

    /// Keeps the last "Check connection" of the tenant's connection (`None` forgets it).
    #[tracing::instrument(skip_all)]
    pub async fn set_connection_check(
        &self,
        tenant_id: TenantId,
        check: Option<&ConnectionCheck>,
    ) -> Result<(), CoreError> {
        let check = check.map(super::json).transpose()?;
        on_pool!(self, pool => sqlx::query("UPDATE provider_connections SET last_check = $2 WHERE tenant_id = $1")
            .bind(tenant_id).bind(check).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The last "Check connection", if the connection has not changed since.
    #[tracing::instrument(skip_all)]
    pub async fn connection_check(&self, tenant_id: TenantId) -> Result<Option<ConnectionCheck>, CoreError> {
        let row: Option<(Option<String>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT last_check FROM provider_connections WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(pool).await)?;
        // An unreadable old check is as good as none: the next check replaces it.
        Ok(row.and_then(|(check,)| check).and_then(|check| serde_json::from_str(&check).ok()))
    }

    #[tracing::instrument(skip_all)]
    async fn connection_row(&self, tenant_id: TenantId) -> Result<Option<ConnectionRow>, CoreError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, ConnectionRow>(
            "SELECT base_url, token_url, client_id, scope, credential_kind, client_secret, certificate_thumbprint, \
             updated_at FROM provider_connections WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(pool).await)?;
        Ok(row)
    }
}
