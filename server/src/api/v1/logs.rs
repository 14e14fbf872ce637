//! `/api/v1/logs/user/actions` and `/api/v1/logs/user/tokens`.

use super::{Caller, Failed};
use axum::extract::RawQuery;
use axum::Json;
use tenantpilot_core::audit;
use tenantpilot_core::audit::{LogPage, TokenActivity, UserAction};

pub async fn actions(
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage<UserAction>>, Failed> {
    Ok(Json(audit::user_actions(&caller.state.store, &caller.user, query.as_deref()).await?))
}

pub async fn tokens(
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage<TokenActivity>>, Failed> {
    Ok(Json(audit::token_activity(&caller.state.store, &caller.user, query.as_deref()).await?))
}
