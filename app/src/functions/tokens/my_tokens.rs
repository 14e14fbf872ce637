//! The tokens page data: the viewer's tokens, and a new one's secret on the view that shows it.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::tokens::ApiToken;

/// The viewer's tokens, and a just-created token's secret on the one view that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokensView {
    pub tokens: Vec<ApiToken>,
    pub fresh: Option<String>,
    pub now: chrono::DateTime<chrono::Utc>,
}

#[server(endpoint = "my_tokens")]
pub async fn my_tokens() -> Result<TokensView, AppError> {
    use crate::guard::FRESH_TOKEN;
    let signed_in = crate::guard::signed_in().await?;
    let key: Option<String> = signed_in.session.remove(FRESH_TOKEN).await.ok().flatten();
    let fresh = key.and_then(|key| signed_in.state.fresh_tokens.take(&key));
    let tokens = signed_in.state.store.tokens_of(signed_in.caller.user.id).await?;
    Ok(TokensView { tokens, fresh, now: chrono::Utc::now() })
}
