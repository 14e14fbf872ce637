//! The pipelines page data: the pipelines the viewer may see, the workspaces to create one in.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::model::Workspace;
use tenantpilot_core::pipelines::Pipeline;

/// The pipelines the viewer may see, and the workspaces they may create one in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelinesView {
    pub pipelines: Vec<Pipeline>,
    pub accounts: Vec<Workspace>,
}

#[server(endpoint = "pipelines")]
pub async fn pipelines() -> Result<PipelinesView, AppError> {
    let signed_in = crate::guard::signed_in().await?;
    let store = &signed_in.state.store;
    Ok(PipelinesView {
        pipelines: tenantpilot_core::pipelines::list(store, &signed_in.caller.user).await?,
        accounts: store.workspaces_of_user(signed_in.caller.user.id).await?,
    })
}
