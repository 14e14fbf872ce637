//! The one error type of the domain. Each variant knows its HTTP status; the UI's server
//! functions and the server's JSON routes both take it from `status()` and nowhere else.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

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
    /// What went wrong (`source`) goes to the log where the response is made, never to the
    /// client.
    #[error("Something went wrong on our side. Please try again.")]
    Internal {
        #[serde(skip)]
        #[source]
        source: Option<Cause>,
    },
}

/// Why an internal error happened: kept for the log, never sent or compared.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two internal errors are the same error to a client whatever caused them.
impl PartialEq for Cause {
    fn eq(&self, _: &Cause) -> bool {
        true
    }
}

impl Eq for Cause {}

/// A broken expectation of this program (a row that must exist, a value that must encode).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Broken(String);

impl CoreError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        CoreError::Invalid { field: field.to_string(), message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        CoreError::Conflict { message: message.into() }
    }

    /// An internal error caused by `source`, which the log will show.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        CoreError::Internal { source: Some(Cause(Arc::new(source))) }
    }

    /// An internal error with no error behind it: `what` says which expectation broke.
    pub fn broken(what: impl Into<String>) -> Self {
        CoreError::internal(Broken(what.into()))
    }

    /// The error for the log: for an internal error its causes (what the client is told says
    /// nothing), for the others what the client is told.
    pub fn detail(&self) -> String {
        let mut text = match self {
            CoreError::Internal { source: Some(_) } => String::new(),
            other => other.to_string(),
        };
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let said = cause.to_string();
            // Many errors repeat their source's text in their own; say it once.
            if !text.ends_with(&said) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&said);
            }
            next = cause.source();
        }
        text
    }

    /// Logs an internal error with its causes, once, where a response reports it; the other
    /// errors are the client's and are not logged.
    #[cfg(feature = "server")]
    pub fn log_if_internal(&self) {
        if matches!(self, CoreError::Internal { .. }) {
            tracing::error!(error = %self.detail(), "internal error");
        }
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
            CoreError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
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

/// A database error and the store method (the span `#[instrument]` opened) that met it.
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
#[error("in store query `{query}`")]
struct InQuery {
    query: &'static str,
    #[source]
    source: sqlx::Error,
}

/// Database errors keep their source and the query they came from; the response that reports
/// them logs both. No connection free within the pool's wait is the server at capacity (or its
/// database unreachable), not a fault: 503 with `Retry-After`.
#[cfg(feature = "server")]
impl From<sqlx::Error> for CoreError {
    fn from(source: sqlx::Error) -> Self {
        let query = tracing::Span::current().metadata().map_or("unknown", |span| span.name());
        if matches!(source, sqlx::Error::PoolTimedOut) {
            tracing::warn!(query, "no database connection came free in time; answering busy");
            return CoreError::Busy { retry_after_secs: POOL_BUSY_RETRY_AFTER_SECS };
        }
        CoreError::internal(InQuery { query, source })
    }
}

/// What a request refused for want of a database connection is told to wait.
#[cfg(feature = "server")]
const POOL_BUSY_RETRY_AFTER_SECS: u64 = 1;

#[cfg(feature = "server")]
impl From<sqlx::migrate::MigrateError> for CoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        CoreError::internal(error)
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn no_free_connection_is_busy_not_internal() {
        let busy = CoreError::from(sqlx::Error::PoolTimedOut);
        assert_eq!((busy.status(), busy.retry_after_secs()), (StatusCode::SERVICE_UNAVAILABLE, Some(1)));
        let broken = CoreError::from(sqlx::Error::RowNotFound);
        assert_eq!((broken.status(), broken.retry_after_secs()), (StatusCode::INTERNAL_SERVER_ERROR, None));
    }
}
