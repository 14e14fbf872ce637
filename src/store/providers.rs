//! Each tenant's provider connection. The client secret is stored so the workers can use it;
//! it leaves the store only inside a [`ProviderConnection`], whose secret never prints.

use super::{on_pool, Store};
use crate::provider::{ConnectionInfo, ProviderConnection, Secret};
use crate::CoreError;
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct ConnectionRow {
    base_url: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    updated_at: DateTime<Utc>,
}

impl Store {
    /// Sets (or replaces) the tenant's connection.
    pub async fn set_provider_connection(
        &self,
        tenant_id: i64,
        connection: &ProviderConnection,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO provider_connections (tenant_id, base_url, token_url, client_id, client_secret, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO UPDATE SET base_url = excluded.base_url, \
             token_url = excluded.token_url, client_id = excluded.client_id, \
             client_secret = excluded.client_secret, updated_at = excluded.updated_at")
            .bind(tenant_id).bind(&connection.base_url).bind(&connection.token_url)
            .bind(&connection.client_id).bind(connection.client_secret.expose()).bind(Utc::now())
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The connection the workers use, secret included.
    pub async fn provider_connection(&self, tenant_id: i64) -> Result<Option<ProviderConnection>, CoreError> {
        Ok(self.connection_row(tenant_id).await?.map(|row| ProviderConnection {
            base_url: row.base_url,
            token_url: row.token_url,
            client_id: row.client_id,
            client_secret: Secret::new(row.client_secret),
        }))
    }

    /// The connection as people see it: everything but the secret.
    pub async fn provider_connection_info(
        &self,
        tenant_id: i64,
    ) -> Result<Option<ConnectionInfo>, CoreError> {
        Ok(self.connection_row(tenant_id).await?.map(|row| ConnectionInfo {
            base_url: row.base_url,
            token_url: row.token_url,
            client_id: row.client_id,
            updated_at: row.updated_at,
        }))
    }

    async fn connection_row(&self, tenant_id: i64) -> Result<Option<ConnectionRow>, CoreError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, ConnectionRow>(
            "SELECT base_url, token_url, client_id, client_secret, updated_at FROM provider_connections \
             WHERE tenant_id = $1")
            .bind(tenant_id).fetch_optional(pool).await)?;
        Ok(row)
    }
}
