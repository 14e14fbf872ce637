//! Personal access tokens: stored by the SHA-256 hash of the secret, never the secret itself.

use super::{on_pool, Store};
use crate::ids::UserId;
use crate::model::User;
use crate::tokens::{ApiToken, Scope};
use crate::CoreError;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a token and its owner, once read, answer a script's next calls without a read.
/// Revoking a token in this process forgets it at once; another process (a replica) sees a
/// revocation, or a change to its owner, within this long.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(2);
/// Tokens remembered at most: a flood of distinct tokens costs reads, never memory.
const TOKEN_CACHE_MAX: usize = 10_000;

/// Tokens and their owners as recently read, by secret hash.
#[derive(Default)]
pub(super) struct TokenCache {
    entries: Mutex<HashMap<String, (ApiToken, User, Instant)>>,
}

/// Never the hashes or whose tokens they are: a store may be logged.
impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    fn get(&self, secret_hash: &str) -> Option<(ApiToken, User)> {
        let entries = self.entries.lock().ok()?;
        let (token, user, read_at) = entries.get(secret_hash)?;
        (read_at.elapsed() < TOKEN_CACHE_TTL).then(|| (token.clone(), user.clone()))
    }

    fn put(&self, secret_hash: &str, token: &ApiToken, user: &User) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= TOKEN_CACHE_MAX {
            entries.retain(|_, (.., read_at)| read_at.elapsed() < TOKEN_CACHE_TTL);
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(secret_hash.to_owned(), (token.clone(), user.clone(), Instant::now()));
    }

    fn used(&self, id: i64, at: DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.values_mut().filter(|(token, ..)| token.id == id).for_each(|(token, ..)| {
                token.last_used_at = Some(at);
            });
        }
    }

    fn forget(&self, id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (token, ..)| token.id != id);
        }
    }
}

const TOKEN_COLUMNS: &str =
    "id, user_id, name, prefix, scopes, created_at, expires_at, last_used_at, revoked_at";

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    user_id: UserId,
    name: String,
    prefix: String,
    scopes: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = CoreError;
    fn try_from(row: TokenRow) -> Result<Self, CoreError> {
        let scopes: Vec<Scope> = serde_json::from_str(&row.scopes).map_err(|error| {
            CoreError::broken(format!("stored scopes of token {} are malformed: {error}", row.id))
        })?;
        Ok(ApiToken {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            prefix: row.prefix,
            scopes,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// A token to store: everything but the secret, which arrives hashed.
pub struct NewToken<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a [Scope],
    pub expires_at: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_token(&self, new: &NewToken<'_>) -> Result<ApiToken, CoreError> {
        let scopes = serde_json::to_string(new.scopes).map_err(CoreError::internal)?;
        let sql = format!(
            "INSERT INTO api_tokens (user_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        );
        let row: TokenRow = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(new.user_id).bind(new.name).bind(new.prefix).bind(new.secret_hash).bind(scopes)
            .bind(Utc::now()).bind(new.expires_at).fetch_one(pool).await)?;
        row.try_into()
    }

    /// The token whose secret hashes to `secret_hash`, usable or not.
    #[tracing::instrument(skip_all)]
    pub async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiToken>, CoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_hash = $1");
        let row: Option<TokenRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(secret_hash).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// The token whose secret hashes to `secret_hash` and its owner, usable or not; as read at
    /// most `TOKEN_CACHE_TTL` ago. `None` when there is no such token (or owner).
    pub async fn token_with_owner(&self, secret_hash: &str) -> Result<Option<(ApiToken, User)>, CoreError> {
        if let Some(found) = self.token_cache.get(secret_hash) {
            return Ok(Some(found));
        }
        let Some(token) = self.token_by_hash(secret_hash).await? else { return Ok(None) };
        let Some(user) = self.user_by_id(token.user_id).await? else { return Ok(None) };
        self.token_cache.put(secret_hash, &token, &user);
        Ok(Some((token, user)))
    }

    #[tracing::instrument(skip_all)]
    pub async fn token_by_id(&self, id: i64) -> Result<Option<ApiToken>, CoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
        let row: Option<TokenRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// A user's tokens, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn tokens_of(&self, user_id: UserId) -> Result<Vec<ApiToken>, CoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id DESC");
        let rows: Vec<TokenRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Revokes the user's token `id` and returns it; `None` when they have no such usable token.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_token(&self, user_id: UserId, id: i64) -> Result<Option<ApiToken>, CoreError> {
        let sql = format!(
            "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL \
             RETURNING {TOKEN_COLUMNS}"
        );
        let row: Option<TokenRow> = on_pool!(self, pool => sqlx::query_as(&sql)
            .bind(id).bind(user_id).bind(Utc::now()).fetch_optional(pool).await)?;
        self.token_cache.forget(id);
        row.map(TryInto::try_into).transpose()
    }

    #[tracing::instrument(skip_all)]
    pub async fn touch_token(&self, id: i64) -> Result<(), CoreError> {
        let now = Utc::now();
        on_pool!(self, pool => sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id).bind(now).execute(pool).await.map(drop))?;
        self.token_cache.used(id, now);
        Ok(())
    }
}
