//! Signing out: the session ends and the browser goes to the sign-in page.

use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let session = crate::guard::session()?;
    session.flush().await.map_err(tenantpilot_core::CoreError::internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}
