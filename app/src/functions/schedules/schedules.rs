//! A tenant's capture schedules, for its backups page.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::schedules::Schedule;

/// One schedule as the page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    pub schedule: Schedule,
    /// The last slot: when, and what became of it (`started` or `skipped`).
    pub last: Option<(DateTime<Utc>, String)>,
    pub next_fire_times: Vec<DateTime<Utc>>,
}

/// A tenant's schedules, and whether the viewer may manage them (capture backups there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSchedulesView {
    pub rows: Vec<ScheduleRow>,
    pub can_manage: bool,
}

#[server(endpoint = "tenant_schedules")]
pub async fn tenant_schedules(tenant: String) -> Result<TenantSchedulesView, AppError> {
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::CoreView).await?;
    let store = &member.signed_in.state.store;
    let views =
        tenantpilot_core::schedules::of_tenant(store, member.membership.tenant.id, Utc::now()).await?;
    let rows = views
        .into_iter()
        .map(|view| ScheduleRow {
            last: view.last_slot.map(|slot| (slot.slot_at, slot.outcome)),
            schedule: view.schedule,
            next_fire_times: view.next_fire_times,
        })
        .collect();
    Ok(TenantSchedulesView { rows, can_manage: member.membership.can(Capability::BackupsManage) })
}
