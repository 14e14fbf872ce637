use super::{on_pool, Store};
use crate::CoreError;
use chrono::{DateTime, Utc};

/// Sign-in failures recorded for one key ("email:…" or "ip:…").
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i64,
    pub window_start: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn throttle_rows(&self, keys: &[String]) -> Result<Vec<ThrottleRow>, CoreError> {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            let row = on_pool!(self, pool => sqlx::query_as::<_, ThrottleRow>(
                "SELECT key, failures, window_start, locked_until FROM login_throttle WHERE key = $1")
                .bind(key).fetch_optional(pool).await)?;
            rows.extend(row);
        }
        Ok(rows)
    }

    /// Counts one more failure for `key`, atomically, and returns the row as it now is.
    pub async fn add_throttle_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<ThrottleRow, CoreError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, ThrottleRow>(
            "INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (key) DO UPDATE SET failures = login_throttle.failures + 1 \
             RETURNING key, failures, window_start, locked_until")
            .bind(key).bind(now).fetch_one(pool).await)?;
        Ok(row)
    }

    /// Starts a new counting window for `key` with `failures` failures and an optional lock.
    pub async fn reset_throttle(
        &self,
        key: &str,
        failures: i64,
        window_start: DateTime<Utc>,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE login_throttle SET failures = $2, window_start = $3, locked_until = $4 WHERE key = $1")
            .bind(key).bind(failures).bind(window_start).bind(locked_until)
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn clear_throttle(&self, key: &str) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key).execute(pool).await.map(drop))?;
        Ok(())
    }
}
