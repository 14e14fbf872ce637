//! Every error answer, side by side: `AppError` (server functions, pages and the JSON twins: the
//! core's error, so the browser gets the same variants and messages) and, on the server, the
//! pipeline contract's and the tenant API's own shapes (`contracts`). Each takes its status from
//! `CoreError::status()`, its text from `CoreError::describe()`, and logs internal errors once.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use tenantpilot_core::CoreError;

/// On the wire (server functions and JSON routes alike): the core error's tagged form plus its
/// human-readable `message`, e.g. `{"error":"invalid","field":"email","message":"Enter …"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AppError(pub CoreError);

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        if let Some(fields) = body.as_object_mut() {
            fields.insert("message".into(), self.0.to_string().into());
        }
        body.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AppError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut body = serde_json::Value::deserialize(deserializer)?;
        // `message` is derived from the variant, except for those that carry their own.
        let keeps_message =
            matches!(body.get("error").and_then(|e| e.as_str()), Some("invalid" | "conflict" | "provider"));
        if let (false, Some(fields)) = (keeps_message, body.as_object_mut()) {
            fields.remove("message");
        }
        serde_json::from_value(body).map(AppError).map_err(serde::de::Error::custom)
    }
}

impl From<CoreError> for AppError {
    fn from(error: CoreError) -> Self {
        #[cfg(feature = "ssr")]
        set_response_status(&error);
        AppError(error)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let core = match error {
            // The request did not carry what the function needs: the client's mistake.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                CoreError::invalid("form", format!("The form was incomplete or malformed: {message}"))
            }
            ServerFnErrorErr::Deserialization(message) => {
                CoreError::invalid("form", format!("The request could not be read: {message}"))
            }
            // Network trouble seen by the browser, or a failure on the server.
            other => CoreError::broken(format!("server function failed: {other}")),
        };
        core.into()
    }
}

/// Sets the response's status from the error: a page rendered on the server answers 404/403,
/// a server function called by script answers with the error's status, not 500. A plain form
/// post (JavaScript off) keeps the redirect back to its page, which shows the error.
#[cfg(feature = "ssr")]
fn set_response_status(error: &CoreError) {
    use axum::http::{header, Method};
    // Outside a page or server function (a JSON route) the response is made, and the error
    // logged, by `into_response`.
    let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    error.log_if_internal();
    let form_post = leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts.method == Method::POST
            && parts
                .headers
                .get(header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
    });
    if !form_post {
        response.set_status(error.status());
        if let Some(secs) = error.retry_after_secs() {
            response.insert_header(header::RETRY_AFTER, secs.into());
        }
    }
}

/// JSON routes answer errors with the same body as server functions, and the error's status.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.0.log_if_internal();
        let status = self.0.status();
        let retry_after = self.0.retry_after_secs();
        let mut response = (status, axum::Json(self)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The answers of the two contracts that shape their errors their own way. Each renders from
/// `CoreError::status()`, and each logs an internal error once, here.
#[cfg(feature = "ssr")]
pub mod contracts {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use tenantpilot_core::CoreError;

    /// `/api/v1` (the pipeline contract): `{"status": "failed", "message": …}` with the error's
    /// status. A malformed field is named in the message.
    pub struct PipelineApiError(pub CoreError);

    impl From<CoreError> for PipelineApiError {
        fn from(error: CoreError) -> Self {
            PipelineApiError(error)
        }
    }

    impl IntoResponse for PipelineApiError {
        fn into_response(self) -> axum::response::Response {
            self.0.log_if_internal();
            let status = self.0.status();
            let message = match &self.0 {
                CoreError::Unauthenticated => {
                    "A valid API token is required: it is missing, unknown, expired or revoked.".into()
                }
                other => other.describe(),
            };
            (status, axum::Json(serde_json::json!({ "status": "failed", "message": message })))
                .into_response()
        }
    }

    /// `/_/tenant` (the tenant API): `text/plain` with the error's status, except schema violations:
    /// 422 `{"errors": […], "total_records": n}`.
    pub enum TenantApiError {
        Core(CoreError),
        Invalid(tenantpilot_core::tenant_jobs::ValidationErrors),
    }

    impl From<CoreError> for TenantApiError {
        fn from(error: CoreError) -> Self {
            TenantApiError::Core(error)
        }
    }

    impl IntoResponse for TenantApiError {
        fn into_response(self) -> axum::response::Response {
            let error = match self {
                TenantApiError::Invalid(errors) => {
                    return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(errors)).into_response()
                }
                TenantApiError::Core(error) => error,
            };
            error.log_if_internal();
            let status = error.status();
            let text = match &error {
                CoreError::Invalid { message, .. } => message.clone(),
                CoreError::Internal { .. } => "Internal server error".to_string(),
                CoreError::Unauthenticated => {
                    "Authentication required: sign in as a platform admin or send a token with the Tenant Admin scope."
                        .to_string()
                }
                other => other.to_string(),
            };
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_carries_code_fields_and_message() {
        let cases = [
            (CoreError::NotFound, r#"{"error":"not_found","message":"Not found"}"#),
            (
                CoreError::invalid("email", "Enter an e-mail"),
                r#"{"error":"invalid","field":"email","message":"Enter an e-mail"}"#,
            ),
            (CoreError::conflict("Taken"), r#"{"error":"conflict","message":"Taken"}"#),
            (
                CoreError::TooManyAttempts { retry_after_secs: 5 },
                r#"{"error":"too_many_attempts","message":"Too many attempts. Try again in 5 seconds.","retry_after_secs":5}"#,
            ),
        ];
        for (error, json) in cases {
            let wire = serde_json::to_string(&AppError(error.clone())).unwrap();
            assert_eq!(wire, json);
            assert_eq!(serde_json::from_str::<AppError>(&wire).unwrap(), AppError(error));
        }
    }
}
