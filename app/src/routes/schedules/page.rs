//! The Schedules page (`/admin/schedules` for a browser; the same address answers JSON to
//! everyone else): every schedule the viewer may see, and a new one of anything they may start.

use super::section::{ScheduleScope, ScheduleSection};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SchedulesPage() -> impl IntoView {
    view! {
        <Title text="Schedules" />
        <h1>"Schedules"</h1>
        <p class="muted">
            "Captures of a tenant or of every tenant of a workspace, and pipeline runs, started by themselves. "
            "Each fire time runs once; the runs show in Monitoring."
        </p>
        <ScheduleSection scope=Signal::stored(ScheduleScope::All) />
    }
}
