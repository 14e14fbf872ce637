//! Personal access tokens: creating one (shown once), recognising one on a request, revoking.

use super::{ApiToken, Scope, DEFAULT_DAYS, MAX_DAYS, TOKEN_PREFIX};
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::model::User;
use crate::operations::Initiator;
use crate::store::{NewToken, Store};
use crate::{validate, CoreError};
use chrono::Utc;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Characters of a secret: no look-alikes, URL- and header-safe.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Shown to people to tell tokens apart: `tpat_` and these many characters.
const VISIBLE: usize = 8;
const SECRET_CHARS: usize = 40;

/// The stored form of a token: SHA-256, hex. Tokens are long and random, so a slow hash adds nothing.
pub fn hash_of(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new token for `user`: stored hashed; the plain token is returned only here.
pub async fn create(
    store: &Store,
    user: &User,
    name: &str,
    scopes: &[Scope],
    days: Option<i64>,
) -> Result<(ApiToken, String), CoreError> {
    let name = validate::name("name", name)?;
    if scopes.is_empty() {
        return Err(CoreError::invalid("scopes", "Choose at least one scope (api is needed for any call)"));
    }
    let days = days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(CoreError::invalid("expires_days", format!("A token lives 1–{MAX_DAYS} days")));
    }
    let mut rng = rand::rngs::OsRng;
    let secret: String =
        (0..SECRET_CHARS).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    let plain = format!("{TOKEN_PREFIX}{secret}");
    let new = NewToken {
        user_id: user.id,
        name: &name,
        prefix: &plain[..TOKEN_PREFIX.len() + VISIBLE],
        secret_hash: &hash_of(&plain),
        scopes,
        expires_at: Utc::now() + chrono::Duration::days(days),
    };
    let token = store.create_token(&new).await?;
    audit(store, user, &token, AuditAction::Create).await?;
    Ok((token, plain))
}

/// The user and token behind a bearer token; `Unauthenticated` for one that is unknown,
/// expired or revoked (the same answer for each, so nothing is learnt by guessing).
pub async fn authenticate(store: &Store, plain: &str) -> Result<(User, ApiToken), CoreError> {
    let plain = plain.trim();
    if !plain.starts_with(TOKEN_PREFIX) || plain.len() > 200 {
        return Err(CoreError::Unauthenticated);
    }
    // A script's calls come in bursts: the token and its owner are read once a moment.
    let (token, user) = store.token_with_owner(&hash_of(plain)).await?.ok_or(CoreError::Unauthenticated)?;
    if !token.is_usable(Utc::now()) {
        return Err(CoreError::Unauthenticated);
    }
    // Last use to the minute: a write on every call would put one on every API request.
    if token.last_used_at.is_none_or(|used| Utc::now() - used > chrono::Duration::minutes(1)) {
        store.touch_token(token.id).await?;
    }
    Ok((user, token))
}

/// Whether token `id` may still be used (not revoked, not expired): what a long-lived request
/// it opened checks now and then.
pub async fn still_usable(store: &Store, id: i64) -> Result<bool, CoreError> {
    Ok(store.token_by_id(id).await?.is_some_and(|token| token.is_usable(Utc::now())))
}

pub async fn revoke(store: &Store, user: &User, id: i64) -> Result<(), CoreError> {
    let token = store.revoke_token(user.id, id).await?.ok_or(CoreError::NotFound)?;
    audit(store, user, &token, AuditAction::Revoke).await
}

/// Token changes are personal: no workspace. The entry names the token, never its secret.
async fn audit(store: &Store, user: &User, token: &ApiToken, verb: AuditAction) -> Result<(), CoreError> {
    let mut details = serde_json::Map::new();
    details.insert("name".into(), token.name.clone().into());
    details.insert("prefix".into(), token.prefix.clone().into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: None,
            tenant_id: None,
            actor: Initiator::user(user),
            kind: AuditKind::Token,
            action: verb,
            target_id: token.id.to_string(),
            details,
        })
        .await
}
