//! Accounts: creating users and signing in.

use crate::model::{AccountKind, User};
use crate::store::Store;
use crate::{password, throttle, validate, CoreError};
use chrono::Utc;

pub async fn create_user(
    store: &Store,
    email: &str,
    display_name: Option<&str>,
    password: &str,
    kind: AccountKind,
) -> Result<User, CoreError> {
    let email = validate::email(email)?;
    validate::new_password(password)?;
    let display_name = match display_name {
        Some(name) => validate::name("display_name", name)?,
        None => email.split('@').next().unwrap_or(&email).to_string(),
    };
    let hash = password::hash(password.to_string()).await?;
    store.create_user(&email, &display_name, &hash, kind).await
}

/// Sets the time zone `user` reads times in; blank: their browser's.
pub async fn set_time_zone(store: &Store, user: &User, zone: &str) -> Result<(), CoreError> {
    let zone = zone.trim();
    if !zone.is_empty() {
        crate::clock::zone(zone)?;
    }
    store.set_time_zone(user.id, Some(zone).filter(|zone| !zone.is_empty())).await
}

/// Checks a sign-in attempt from `address`. Throttled per account and per address; every
/// failure looks the same to the caller.
pub async fn authenticate(
    store: &Store,
    email: &str,
    password: &str,
    address: &str,
) -> Result<User, CoreError> {
    let keys = throttle::keys(email, address);
    // Counted before anything else: a refused attempt costs no password check.
    let delay = throttle::admit(store, &keys, Utc::now()).await?;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let email = validate::email(email).unwrap_or_default();
    let plausible = !password.is_empty() && password.len() <= validate::PASSWORD_MAX;
    let credentials = if email.is_empty() || !plausible { None } else { store.credentials(&email).await? };
    let user_id = credentials.as_ref().map(|(id, _)| *id);
    let stored_hash = credentials.map(|(_, hash)| hash);
    let password = if plausible { password.to_string() } else { String::new() };
    if password::verify(password, stored_hash).await? {
        let user = store
            .user_by_id(user_id.unwrap_or_default())
            .await?
            .ok_or_else(|| CoreError::broken("a signed-in account vanished"))?;
        throttle::record_success(store, &email, address).await?;
        store
            .record_audit(&crate::audit::NewAuditEntry {
                workspace_id: None,
                tenant_id: None,
                actor: crate::operations::Initiator::user(&user),
                kind: crate::audit::AuditKind::Session,
                action: crate::audit::AuditAction::SignIn,
                target_id: user.id.to_string(),
                details: serde_json::Map::new(),
            })
            .await?;
        Ok(user)
    } else {
        Err(CoreError::BadCredentials)
    }
}
