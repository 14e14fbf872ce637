//! Lifecycle actions on a tenant's lifecycle page (install, upgrade, disable, purge).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::RunId;

/// What a lifecycle action did: a job working in the background, or done already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSubmitted {
    /// The job's run, when there is one to watch.
    pub run: Option<RunId>,
    pub message: String,
}

/// Install, upgrade, disable or purge a tenant from its lifecycle page, as `/_/tenant` would.
#[server(endpoint = "submit_tenant_job")]
pub async fn submit_tenant_job(
    slug: String,
    action: String,
    load_reference: Option<String>,
    load_sample: Option<String>,
    confirm: Option<String>,
) -> Result<JobSubmitted, AppError> {
    use tenantpilot_core::tenant_jobs::{self, Submitted};
    use tenantpilot_core::tenant_jobs::{InstallOptions, LifecycleAction};
    use tenantpilot_core::CoreError;
    let admin = crate::guard::platform().await?;
    let action = LifecycleAction::parse(&action)
        .ok_or_else(|| CoreError::invalid("action", "Choose install, upgrade, disable or purge."))?;
    let submitted = tenant_jobs::submit_action(
        &admin.state.store,
        &admin.caller.initiator,
        &slug,
        action,
        InstallOptions {
            workspace: None,
            load_reference: load_reference.is_some(),
            load_sample: load_sample.is_some(),
        },
        confirm.as_deref(),
    )
    .await?;
    tracing::info!(tenant = %slug, action = action.as_str(), actor = %admin.caller.user.id, "tenant lifecycle action");
    Ok(match submitted {
        Submitted::Job(job) => JobSubmitted {
            run: job.id.parse().ok(),
            message: match job.error {
                Some(error) => format!("The job failed: {error}"),
                None if job.complete => "The job has finished.".to_string(),
                None => "Job started: its progress shows below.".to_string(),
            },
        },
        Submitted::Done => JobSubmitted {
            run: None,
            message: match action {
                LifecycleAction::Install | LifecycleAction::Upgrade => {
                    "Nothing to do: the tenant is already enabled at this version.".to_string()
                }
                LifecycleAction::Disable => "Tenant disabled: its data is kept.".to_string(),
                LifecycleAction::Purge => "Tenant purged: none of its data is left.".to_string(),
            },
        },
    })
}
