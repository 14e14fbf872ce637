//! Sealing the secrets already stored: those written before secrets were sealed (at start-up),
//! or all of them under a new key (`tenantpilot secrets rotate-key`).

use super::{on_pool, Store};
use crate::keyring::{Keyring, Purpose};
use crate::CoreError;

/// Which stored secrets to seal (again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reseal {
    /// Those stored in the clear by an earlier version.
    Unsealed,
    /// Every one, under the current key.
    All,
}

/// The tables and columns that hold secrets, with what each is sealed for.
const SEALED: [(&str, &str, &str, Purpose); 2] = [
    ("provider_connections", "tenant_id", "client_secret", Purpose::ProviderCredential),
    ("tools", "id", "secrets", Purpose::ToolSecrets),
];

impl Store {
    /// Seals stored secrets as `which` says; answers how many it sealed.
    #[tracing::instrument(skip_all)]
    pub async fn reseal_secrets(&self, which: Reseal) -> Result<u64, CoreError> {
        let mut sealed = 0;
        for (table, key, column, purpose) in SEALED {
            let select = format!("SELECT {key}, {column} FROM {table}");
            let rows: Vec<(i64, String)> =
                on_pool!(self, pool => sqlx::query_as(&select).fetch_all(pool).await)?;
            for (id, stored) in rows {
                if which == Reseal::Unsealed && Keyring::is_sealed(&stored) {
                    continue;
                }
                let plain = self.open(purpose, &stored)?;
                let update = format!("UPDATE {table} SET {column} = $2 WHERE {key} = $1 AND {column} = $3");
                let resealed = self.seal(purpose, &plain)?;
                on_pool!(self, pool => sqlx::query(&update).bind(id).bind(&resealed).bind(&stored)
                    .execute(pool).await.map(drop))?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }
}
