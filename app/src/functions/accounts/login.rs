//! Signing in: a fresh session for the user, then on to the page they came for.

use crate::error::AppError;
use leptos::prelude::*;

/// Signs in and goes to `next` (a path on this site) or the workspace home.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::guard::{self, SIGNED_IN_AT, USER_ID};
    use tenantpilot_core::{accounts, CoreError};

    let state = guard::state()?;
    let session = guard::session()?;
    let user = accounts::authenticate(&state.store, &email, &password, &guard::client_address()).await?;
    let stored = async {
        // A new id at sign-in, and nothing of the session before it: a session id planted
        // before sign-in is worthless after it, and carries nothing over.
        session.clear().await;
        session.cycle_id().await?;
        session.insert(USER_ID, user.id).await?;
        session.insert(SIGNED_IN_AT, chrono::Utc::now()).await
    };
    stored.await.map_err(CoreError::internal)?;
    tracing::info!(user_id = %user.id, "signed in");
    leptos_axum::redirect(crate::routes::local_path(next.as_deref()).unwrap_or("/admin"));
    Ok(())
}
