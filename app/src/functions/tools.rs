use crate::error::AppError;
use leptos::prelude::*;
use tenantpilot_core::tool::Tool;

/// The tools the viewer may see.
#[server(endpoint = "tools")]
pub async fn tools() -> Result<Vec<Tool>, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    Ok(tenantpilot_core::tools::list(&signed_in.state.store, &signed_in.user).await?)
}
