use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let session = crate::guard::session()?;
    session.flush().await.map_err(|error| {
        tracing::error!(%error, "could not end the session");
        tenantpilot_core::CoreError::Internal
    })?;
    leptos_axum::redirect("/login");
    Ok(())
}
