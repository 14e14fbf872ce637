//! Choosing the time zone the account reads times in.

use crate::error::AppError;
use leptos::prelude::*;

/// `time_zone` an IANA name, or blank for the browser's.
#[server(endpoint = "set_time_zone")]
pub async fn set_time_zone(time_zone: String) -> Result<(), AppError> {
    let signed_in = crate::guard::signed_in().await?;
    tenantpilot_core::accounts::set_time_zone(&signed_in.state.store, &signed_in.caller.user, &time_zone)
        .await?;
    Ok(())
}
