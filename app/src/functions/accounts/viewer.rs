//! Who is signed in and the tenants they belong to, for the header and the workspace home.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::model::{TenantMembership, User};

/// The signed-in user and the tenants they belong to: the header and the workspace home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user: User,
    pub tenants: Vec<TenantMembership>,
}

#[server(endpoint = "current_viewer")]
pub async fn current_viewer() -> Result<Viewer, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let tenants = signed_in.state.store.memberships_of(signed_in.caller.user.id).await?;
    Ok(Viewer { user: signed_in.caller.user, tenants })
}
