//! Creating a personal access token, whose secret is shown once.

use crate::error::AppError;
use leptos::prelude::*;

/// Creates a personal access token and returns its secret (shown once). Scopes come from the
/// form's checkboxes `scopes[i]`; `api` is always included, as no call works without it.
#[server(endpoint = "create_token")]
pub async fn create_token(
    name: String,
    scopes: Option<Vec<String>>,
    expires_days: Option<i64>,
) -> Result<String, AppError> {
    use crate::guard::FRESH_TOKEN;
    use tenantpilot_core::tokens::{self, parse_scopes};
    let signed_in = crate::guard::signed_in().await?;
    let scopes = parse_scopes("scopes", &format!("api,{}", scopes.unwrap_or_default().join(",")))?;
    let (token, plain) =
        tokens::create(&signed_in.state.store, &signed_in.caller.user, &name, &scopes, expires_days).await?;
    let key = signed_in.state.fresh_tokens.keep(plain.clone());
    signed_in.session.insert(FRESH_TOKEN, key).await.map_err(tenantpilot_core::CoreError::internal)?;
    tracing::info!(user = %signed_in.caller.user.id, token = token.id, "token created");
    Ok(plain)
}
