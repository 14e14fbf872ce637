//! The audit page's data: a page of the user-action log, filtered by day and type.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::audit::AuditEntry;

/// A page of the user-action log and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditView {
    pub entries: Vec<AuditEntry>,
    pub next: Option<i64>,
}

/// The audit page's data: Power Users and Site Admins, filtered by day and type.
#[server(endpoint = "audit_log")]
pub async fn audit_log(
    date: Option<String>,
    kind: Option<String>,
    before: Option<i64>,
) -> Result<AuditView, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let page = tenantpilot_core::audit::audit_page(
        &signed_in.state.store,
        &signed_in.caller.user,
        date.as_deref(),
        kind.as_deref(),
        before,
    )
    .await?;
    Ok(AuditView { entries: page.entries, next: page.next })
}
