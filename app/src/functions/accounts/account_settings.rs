//! The account page's data: the time zone the viewer reads times in, and the zones to choose.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account's own choice; none: the browser's.
    pub time_zone: Option<String>,
    /// The zone times show in now (the account's, else the browser's, else UTC).
    pub effective_zone: String,
    pub zones: Vec<String>,
}

#[server(endpoint = "account_settings")]
pub async fn account_settings() -> Result<AccountView, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let user = &signed_in.caller.user;
    Ok(AccountView {
        time_zone: user.time_zone.clone(),
        effective_zone: crate::guard::viewer_zone(user).name().to_string(),
        zones: tenantpilot_core::clock::zone_names().map(str::to_string).collect(),
    })
}
