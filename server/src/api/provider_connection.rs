//! A tenant's provider connection: read it (never the secret), set it, check it.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::{Extension, Router};
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::provider::{self, ConnectionCheck, ConnectionInfo, NewConnection, NewCredential};
use tenantpilot_core::{Capability, CoreError};

/// `GET /admin/t/{tenant}/provider-connection`: 200 with the connection, 204 when there is none.
pub async fn show(signed_in: SignedIn, Path(tenant): Path<String>) -> Result<Response, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::CoreView).await?;
    let info = member.signed_in.state.store.provider_connection_info(member.membership.tenant.id).await?;
    Ok(match info {
        Some(info) => Json(info).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

fn text<'a>(body: &'a serde_json::Value, field: &str, required: bool) -> Result<&'a str, CoreError> {
    match body.get(field) {
        Some(serde_json::Value::String(value)) => Ok(value),
        None | Some(serde_json::Value::Null) if !required => Ok(""),
        _ => Err(CoreError::invalid(field, format!("`{field}` must be a string"))),
    }
}

/// `PUT /admin/t/{tenant}/provider-connection` with `tokenUrl`, `clientId`, and optionally
/// `baseUrl` (Graph's beta when absent), `scope` (the rule's when absent), and one credential:
/// `clientSecret` or `clientCertificate` (PEM: certificate and private key); with neither, the
/// stored credential stays.
pub async fn set(
    signed_in: SignedIn,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Json<ConnectionInfo>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::SettingsManage).await?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| CoreError::invalid("body", format!("The body is not valid JSON: {error}")))?;
    const FIELDS: [&str; 6] =
        ["baseUrl", "tokenUrl", "clientId", "scope", "clientSecret", "clientCertificate"];
    if let Some(unknown) =
        body.as_object().and_then(|fields| fields.keys().find(|key| !FIELDS.contains(&key.as_str())))
    {
        return Err(CoreError::invalid(unknown, format!("`{unknown}` is not a field of a connection")).into());
    }
    let credential = NewCredential::from_fields(
        text(&body, "clientSecret", false)?,
        text(&body, "clientCertificate", false)?,
    );
    let new = NewConnection {
        base_url: text(&body, "baseUrl", false)?,
        token_url: text(&body, "tokenUrl", true)?,
        client_id: text(&body, "clientId", true)?,
        scope: text(&body, "scope", false)?,
        credential: credential.map_err(camel_cased)?,
    };
    let actor = member.signed_in.caller.initiator.clone();
    let state = &member.signed_in.state;
    let saved =
        provider::connect(&state.store, state.provider.egress(), &actor, &member.membership.tenant, new)
            .await;
    Ok(Json(saved.map_err(camel_cased)?))
}

/// The core names the fields as forms do (`base_url`); this body spells them in camelCase.
fn camel_cased(error: CoreError) -> CoreError {
    match error {
        CoreError::Invalid { field, message } => CoreError::Invalid { field: camel_case(&field), message },
        other => other,
    }
}

fn camel_case(snake: &str) -> String {
    let mut words = snake.split('_');
    let first = words.next().unwrap_or_default().to_string();
    words.fold(first, |mut camel, word| {
        let mut letters = word.chars();
        if let Some(initial) = letters.next() {
            camel.extend(initial.to_uppercase());
            camel.push_str(letters.as_str());
        }
        camel
    })
}

/// `POST /admin/t/{tenant}/provider-connection/check`: signs in, and says per policy family
/// (and for filters, scope tags and groups) whether the app registration may read it.
pub async fn check(
    signed_in: SignedIn,
    Path(tenant): Path<String>,
) -> Result<Json<ConnectionCheck>, AppError> {
    let member = signed_in.in_tenant(&tenant, Capability::SettingsManage).await?;
    let state = &member.signed_in.state;
    Ok(Json(provider::check_connection(&state.store, &state.provider, member.membership.tenant.id).await?))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("provider_connection.openapi.json");

/// A tenant's provider connection: a token needs the Tenant Admin scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/t/{tenant}/provider-connection", get(show).put(set))
        .route("/admin/t/{tenant}/provider-connection/check", post(check))
        .route_layer(Extension(TokenRequirement::TENANT_ADMIN))
}
