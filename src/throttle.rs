//! Sign-in throttling. Failures are counted per account (e-mail as typed, so unknown accounts
//! are throttled just like real ones and nothing tells them apart) and per client address.
//! After a few failures each attempt is slowed; after more, the key is refused for a while.

use crate::store::Store;
use crate::CoreError;
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed in a window before attempts are slowed.
    pub free_failures: i64,
    /// Failures in a window that lock the key.
    pub lock_after: i64,
    pub window: Duration,
    pub lock_for: Duration,
}

/// Per account: a person mistyping gets a few tries; guessing is stopped quickly.
pub const ACCOUNT: Limits = Limits {
    free_failures: 3,
    lock_after: 10,
    window: Duration::minutes(15),
    lock_for: Duration::minutes(15),
};

/// Per address: looser, as many people can share one address.
pub const ADDRESS: Limits = Limits {
    free_failures: 20,
    lock_after: 100,
    window: Duration::minutes(15),
    lock_for: Duration::minutes(15),
};

/// The keys one sign-in attempt is counted under.
pub fn keys(email: &str, address: &str) -> [(String, Limits); 2] {
    [(format!("email:{}", email.trim().to_lowercase()), ACCOUNT), (format!("ip:{address}"), ADDRESS)]
}

/// Before checking a password: refuses a locked key, else says how long to slow this attempt.
pub async fn admit(
    store: &Store,
    keys: &[(String, Limits)],
    now: DateTime<Utc>,
) -> Result<std::time::Duration, CoreError> {
    let names: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
    let mut delay = std::time::Duration::ZERO;
    for row in store.throttle_rows(&names).await? {
        let Some((_, limits)) = keys.iter().find(|(key, _)| *key == row.key) else {
            continue;
        };
        if let Some(until) = row.locked_until.filter(|until| *until > now) {
            let retry_after_secs = (until - now).num_seconds().max(1) as u64;
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        if row.window_start + limits.window > now {
            delay = delay.max(slowdown(row.failures, limits));
        }
    }
    Ok(delay)
}

/// Doubling delay past the free failures: 1 s, 2 s, 4 s, capped at 8 s.
pub fn slowdown(failures: i64, limits: &Limits) -> std::time::Duration {
    let over = failures - limits.free_failures;
    if over <= 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::from_secs(1 << (over - 1).min(3))
}

pub async fn record_failure(
    store: &Store,
    keys: &[(String, Limits)],
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    for (key, limits) in keys {
        let row = store.add_throttle_failure(key, now).await?;
        if row.window_start + limits.window <= now {
            // The old window is over: this failure is the first of a new one.
            store.reset_throttle(key, 1, now, None).await?;
        } else if row.failures >= limits.lock_after && row.locked_until.is_none_or(|until| until <= now) {
            store.reset_throttle(key, row.failures, row.window_start, Some(now + limits.lock_for)).await?;
        }
    }
    Ok(())
}

/// A successful sign-in forgives the account's failures (not the address's).
pub async fn record_success(store: &Store, email: &str) -> Result<(), CoreError> {
    store.clear_throttle(&format!("email:{}", email.trim().to_lowercase())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowdown_doubles_and_caps() {
        let limits = ACCOUNT;
        let secs: Vec<u64> = (0..10).map(|n| slowdown(n, &limits).as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 0, 1, 2, 4, 8, 8, 8]);
    }
}
