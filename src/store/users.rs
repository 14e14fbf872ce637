//! User accounts: creating them, their account role, finding them, their password hashes.

use super::{is_unique_violation, on_pool, Store};
use crate::ids::UserId;
use crate::model::{AccountKind, User};
use crate::tokens::AccountRole;
use crate::CoreError;
use chrono::Utc;

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: UserId,
    password_hash: String,
}

const USER_COLUMNS: &str = "id, email, display_name, is_platform_admin, account_role, created_at, time_zone";

impl Store {
    /// `email` must already be validated (lower case); `password_hash` is a PHC string.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(
        &self,
        email: &str,
        display_name: &str,
        password_hash: &str,
        kind: AccountKind,
    ) -> Result<User, CoreError> {
        let sql = format!(
            "INSERT INTO users (email, display_name, password_hash, is_platform_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        );
        let result = on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(email)
            .bind(display_name)
            .bind(password_hash)
            .bind(kind == AccountKind::PlatformAdmin)
            .bind(Utc::now())
            .fetch_one(pool)
            .await);
        match result {
            Ok(user) => Ok(user),
            Err(error) if is_unique_violation(&error) => {
                Err(CoreError::conflict(format!("A user with the e-mail {email} already exists")))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Sets the account role of user `id`; false when there is no such user.
    #[tracing::instrument(skip_all)]
    pub async fn set_account_role(&self, id: UserId, role: AccountRole) -> Result<bool, CoreError> {
        let done = on_pool!(self, pool => sqlx::query("UPDATE users SET account_role = $2 WHERE id = $1")
            .bind(id).bind(role.as_str()).execute(pool).await.map(|done| done.rows_affected()))?;
        Ok(done == 1)
    }

    /// Sets (or, with None, clears) the time zone user `id` reads times in.
    #[tracing::instrument(skip_all)]
    pub async fn set_time_zone(&self, id: UserId, zone: Option<&str>) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("UPDATE users SET time_zone = $2 WHERE id = $1")
            .bind(id).bind(zone).execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>, CoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, CoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(email).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// The user id and stored password hash for a sign-in attempt.
    #[tracing::instrument(skip_all)]
    pub async fn credentials(&self, email: &str) -> Result<Option<(UserId, String)>, CoreError> {
        let sql = "SELECT id, password_hash FROM users WHERE email = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, CredentialRow>(sql)
            .bind(email).fetch_optional(pool).await)?;
        Ok(row.map(|row| (row.id, row.password_hash)))
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_users(&self) -> Result<Vec<User>, CoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(&sql).fetch_all(pool).await)?)
    }

    #[tracing::instrument(skip_all)]
    pub async fn count_users(&self) -> Result<i64, CoreError> {
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(pool).await)?;
        Ok(count)
    }
}
