//! Sign-in throttling: attempts counted per key (e-mail or address) in a time window.

use super::{on_pool, Store};
use crate::CoreError;
use chrono::{DateTime, Utc};

/// Sign-in attempts counted for one key ("email:…" or "ip:…") in its current window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThrottleRow {
    pub attempts: i64,
    pub window_start: DateTime<Utc>,
}

impl Store {
    /// Counts one more attempt for `key` and returns the count, in one statement: parallel
    /// attempts each see their own number. A window that began at or before `expired` starts
    /// over at `now` with this attempt.
    #[tracing::instrument(skip_all)]
    pub async fn count_attempt(
        &self,
        key: &str,
        now: DateTime<Utc>,
        expired: DateTime<Utc>,
    ) -> Result<ThrottleRow, CoreError> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, ThrottleRow>(
            "INSERT INTO login_throttle (key, attempts, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             attempts = CASE WHEN login_throttle.window_start <= $3 THEN 1 ELSE login_throttle.attempts + 1 END, \
             window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
             RETURNING attempts, window_start")
            .bind(key).bind(now).bind(expired).fetch_one(pool).await)?;
        Ok(row)
    }

    /// Takes one attempt back from `key`'s count.
    #[tracing::instrument(skip_all)]
    pub async fn uncount_attempt(&self, key: &str) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE login_throttle SET attempts = attempts - 1 WHERE key = $1 AND attempts > 0")
            .bind(key).execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn clear_throttle(&self, key: &str) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Deletes the rows whose window began before `before`; returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn prune_throttle(&self, before: DateTime<Utc>) -> Result<u64, CoreError> {
        let pruned = on_pool!(self, pool => sqlx::query("DELETE FROM login_throttle WHERE window_start < $1")
            .bind(before).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(pruned)
    }
}
