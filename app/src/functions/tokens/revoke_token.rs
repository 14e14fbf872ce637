//! Revoking one of the viewer's tokens.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::tokens::revoke(&signed_in.state.store, &signed_in.caller.user, id).await?;
    tracing::info!(user = %signed_in.caller.user.id, token = id, "token revoked");
    Ok(())
}
