//! The pipeline contract's routes (`/api/v1/…`): pipelines, the tool registry and the activity
//! logs. They answer errors as the contract does, `{"status": "failed", "message": …}`, with
//! the error's status; everything else goes through the same guard and core as the other routes.

pub(super) mod audit;
pub(super) mod pipelines;
pub(super) mod tools;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use tenantpilot_app::error::contracts::PipelineApiError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::CoreError;

/// The one guard, answering its refusals in the contract's shape.
pub struct PipelineCaller(pub SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for PipelineCaller {
    type Rejection = PipelineApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PipelineApiError> {
        SignedIn::from_request_parts(parts, state)
            .await
            .map(PipelineCaller)
            .map_err(|error| PipelineApiError(error.0))
    }
}

/// A JSON object body, read by the handler so that every mistake names what was wrong.
pub struct Body(Map<String, Value>);

impl Body {
    fn parse(bytes: &Bytes) -> Result<Body, CoreError> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(Body(fields)),
            Ok(_) => Err(CoreError::invalid("body", "Send a JSON object")),
            Err(error) => Err(CoreError::invalid("body", format!("The body is not JSON: {error}"))),
        }
    }

    /// A required id, as a string (`"12"`) or a number. One that names nothing is left to the
    /// lookup (404); one that is not an id at all is the caller's mistake (400).
    fn id<Id: From<i64>>(&self, name: &str) -> Result<Id, CoreError> {
        let value = self.0.get(name).ok_or_else(|| CoreError::invalid(name, "Required"))?;
        let id = match value {
            Value::String(text) => text.trim().parse::<i64>().ok(),
            Value::Number(number) => number.as_i64(),
            _ => None,
        };
        match id {
            Some(id) if id > 0 => Ok(Id::from(id)),
            // Well-formed but unknown to us (e.g. another system's ObjectId): nothing to see.
            _ if value.as_str().is_some_and(|text| !text.trim().is_empty()) => Err(CoreError::NotFound),
            _ => Err(CoreError::invalid(name, "Expected an id, like \"12\"")),
        }
    }

    fn count(&self, name: &str) -> Result<Option<i64>, CoreError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                .filter(|count| *count > 0)
                .map(Some)
                .ok_or_else(|| CoreError::invalid(name, "Expected a run number, like 2")),
        }
    }

    fn text(&self, name: &str) -> Result<Option<&str>, CoreError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(CoreError::invalid(name, "Expected text")),
        }
    }

    fn object(&self, name: &str) -> Result<&Map<String, Value>, CoreError> {
        match self.0.get(name) {
            Some(Value::Object(fields)) => Ok(fields),
            Some(_) => Err(CoreError::invalid(name, "Expected an object")),
            None => Err(CoreError::invalid(name, "Required")),
        }
    }
}

/// `{"status": …, "message": …}` answers.
fn said(status: &str, message: impl Into<String>) -> Json<Value> {
    Json(json!({ "status": status, "message": message.into() }))
}

/// The pipeline contract's routes, each module's with its own scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().merge(pipelines::router()).merge(tools::router()).merge(audit::router())
}
