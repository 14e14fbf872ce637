//! Sign-in throttling. Every attempt is counted before its password is checked (one atomic
//! increment-and-read per key), so a burst of parallel guesses cannot slip past the count.
//! Attempts are counted per account (e-mail as typed, so unknown accounts are throttled just like
//! real ones and nothing tells them apart) and per client address. An account is refused for the
//! rest of its window after a few attempts; an address is only slowed, so one shared proxy
//! address cannot lock a whole company out.

use crate::store::Store;
use crate::CoreError;
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Attempts in a window before each further one is slowed.
    pub free: i64,
    /// Attempts in a window past which the key is refused until the window ends; `None`: slowed
    /// only.
    pub refuse_after: Option<i64>,
    pub window: Duration,
    /// The longest an attempt is slowed.
    pub max_delay: std::time::Duration,
}

/// Per account: a person mistyping gets a few tries; guessing is stopped after ten.
pub const ACCOUNT: Limits = Limits {
    free: 3,
    refuse_after: Some(10),
    window: Duration::minutes(15),
    max_delay: std::time::Duration::from_secs(8),
};

/// Per address: looser, as many people can share one address, and never refused.
pub const ADDRESS: Limits = Limits {
    free: 20,
    refuse_after: None,
    window: Duration::minutes(15),
    max_delay: std::time::Duration::from_secs(30),
};

/// Rows whose window began longer ago than this are deleted.
pub const KEEP: Duration = Duration::days(1);

/// The longest e-mail a key keeps (RFC 5321's path limit): what a client types beyond it adds
/// nothing but size to the table.
const EMAIL_KEY_MAX: usize = 254;

/// The account key of `email`, as typed.
fn account_key(email: &str) -> String {
    let email: String = email.trim().to_lowercase().chars().take(EMAIL_KEY_MAX).collect();
    format!("email:{email}")
}

/// The keys one sign-in attempt is counted under.
pub fn keys(email: &str, address: &str) -> [(String, Limits); 2] {
    [(account_key(email), ACCOUNT), (format!("ip:{address}"), ADDRESS)]
}

/// Counts this attempt under every key, then refuses it when a key is over its limit, or else
/// says how long to slow it before its password is checked.
pub async fn admit(
    store: &Store,
    keys: &[(String, Limits)],
    now: DateTime<Utc>,
) -> Result<std::time::Duration, CoreError> {
    let mut delay = std::time::Duration::ZERO;
    let mut refused: Option<u64> = None;
    for (key, limits) in keys {
        let row = store.count_attempt(key, now, now - limits.window).await?;
        if limits.refuse_after.is_some_and(|limit| row.attempts > limit) {
            let until = row.window_start + limits.window;
            let secs = (until - now).num_seconds().max(1) as u64;
            refused = Some(refused.map_or(secs, |other| other.max(secs)));
        }
        delay = delay.max(slowdown(row.attempts, limits));
    }
    match refused {
        Some(retry_after_secs) => Err(CoreError::TooManyAttempts { retry_after_secs }),
        None => Ok(delay),
    }
}

/// Doubling delay past the free attempts (1 s, 2 s, 4 s, …), capped at the key's maximum.
pub fn slowdown(attempts: i64, limits: &Limits) -> std::time::Duration {
    let over = attempts - limits.free;
    if over <= 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::from_secs(1 << (over - 1).min(16)).min(limits.max_delay)
}

/// A successful sign-in forgives the account's attempts, and takes its own attempt back from
/// the address's count (an address is slowed for its failures, not for its people signing in).
pub async fn record_success(store: &Store, email: &str, address: &str) -> Result<(), CoreError> {
    store.clear_throttle(&account_key(email)).await?;
    store.uncount_attempt(&format!("ip:{address}")).await
}

/// Deletes the rows of windows that began before `now - KEEP`.
pub async fn prune(store: &Store, now: DateTime<Utc>) -> Result<u64, CoreError> {
    store.prune_throttle(now - KEEP).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowdown_doubles_and_caps() {
        let secs: Vec<u64> = (0..10).map(|n| slowdown(n, &ACCOUNT).as_secs()).collect();
        assert_eq!(secs, [0, 0, 0, 0, 1, 2, 4, 8, 8, 8]);
        let secs: Vec<u64> = (20..28).map(|n| slowdown(n, &ADDRESS).as_secs()).collect();
        assert_eq!(secs, [0, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(slowdown(i64::MAX, &ADDRESS).as_secs(), 30);
    }

    #[test]
    fn keys_are_bounded() {
        let long = format!("{}@example.com", "a".repeat(100_000));
        let [(account, _), (address, _)] = keys(&long, "203.0.113.9");
        assert_eq!(account.len(), "email:".len() + EMAIL_KEY_MAX);
        assert_eq!(address, "ip:203.0.113.9");
        assert_eq!(keys(" Ana@X.io ", "a")[0].0, "email:ana@x.io");
    }
}
