//! The one error type of the domain. Each variant knows its HTTP status; the UI's server
//! functions and the server's JSON routes both take it from `status()` and nowhere else.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// Serialised as `{"error": "<snake_case variant>", …fields}`; see the app's `AppError` for the
/// body clients get.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum CoreError {
    /// Also what a non-member, an unknown tenant and a wrong plane get: indistinguishable.
    #[error("Not found")]
    NotFound,
    #[error("You do not have permission to do this. {hint}")]
    Forbidden { hint: String },
    #[error("Sign in to continue")]
    Unauthenticated,
    /// Never says which of the two was wrong, or whether the account exists.
    #[error("That e-mail and password do not match an account")]
    BadCredentials,
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    /// The server is at capacity for this kind of work; the client may retry shortly.
    #[error("The server is busy. Try again in {retry_after_secs} seconds.")]
    Busy { retry_after_secs: u64 },
    /// The tenant's provider refused or failed a call made while answering the request.
    #[error("{message}")]
    Provider { reason_code: String, message: String },
    /// Details go to the log, never to the client.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl CoreError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        CoreError::Invalid { field: field.to_string(), message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        CoreError::Conflict { message: message.into() }
    }

    pub fn forbidden(capability: crate::Capability) -> Self {
        CoreError::Forbidden { hint: capability.requirement_hint() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CoreError::NotFound => StatusCode::NOT_FOUND,
            CoreError::Forbidden { .. } => StatusCode::FORBIDDEN,
            CoreError::Unauthenticated | CoreError::BadCredentials => StatusCode::UNAUTHORIZED,
            CoreError::Invalid { .. } => StatusCode::BAD_REQUEST,
            CoreError::Conflict { .. } => StatusCode::CONFLICT,
            CoreError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            CoreError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            CoreError::Provider { .. } => StatusCode::BAD_GATEWAY,
            CoreError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as one line that says where it is: `field: message` for invalid input (where no
    /// form shows the field beside it: the command line, `/api/v1`, a form's one message).
    pub fn describe(&self) -> String {
        match self {
            CoreError::Invalid { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        }
    }

    /// How long a refused client should wait before trying again (`Retry-After`), if it may.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            CoreError::TooManyAttempts { retry_after_secs } | CoreError::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }
}

#[cfg(feature = "server")]
impl From<sqlx::Error> for CoreError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error");
        CoreError::Internal
    }
}

#[cfg(feature = "server")]
impl From<sqlx::migrate::MigrateError> for CoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        tracing::error!(%error, "migration failed");
        CoreError::Internal
    }
}
