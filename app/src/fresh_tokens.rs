//! A new token's secret, held in this process's memory for the one page view that shows it
//! after a form post without JavaScript (with JavaScript the answer itself carries it). Never
//! written anywhere: the database keeps only hashes. Entries go after a few minutes; a page
//! served by another replica says the secret can no longer be shown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEPT_FOR: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, Default)]
pub struct FreshTokens {
    waiting: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl FreshTokens {
    /// Keeps `token` until [`FreshTokens::take`]; returns the key to find it by.
    pub fn keep(&self, token: String) -> String {
        let key = uuid::Uuid::new_v4().simple().to_string();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.retain(|_, (_, kept)| kept.elapsed() < KEPT_FOR);
            waiting.insert(key.clone(), (token, Instant::now()));
        }
        key
    }

    pub fn take(&self, key: &str) -> Option<String> {
        let (token, kept) = self.waiting.lock().ok()?.remove(key)?;
        (kept.elapsed() < KEPT_FOR).then_some(token)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_is_shown_once() {
        let fresh = super::FreshTokens::default();
        let key = fresh.keep("tpat_x".into());
        assert_eq!(fresh.take(&key).as_deref(), Some("tpat_x"));
        assert_eq!(fresh.take(&key), None);
        assert_eq!(fresh.take("unknown"), None);
    }
}
