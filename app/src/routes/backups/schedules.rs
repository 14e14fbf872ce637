//! A tenant's capture schedules on its backups page: each with its cron, time zone, last and
//! next fire time; creating one, pausing and resuming, "Run now", deleting.

use crate::components::{timestamp, ActionError, ActionNotice, GatedButton, RunNotice};
use crate::functions::{
    tenant_schedules, CreateSchedule, DeleteSchedule, PauseSchedule, ScheduleRow, TenantSchedulesView,
    TriggerSchedule,
};
use leptos::prelude::*;
use tenantpilot_core::Capability;

/// The schedules of the tenant the page is about. Outside the page's live data, so a refresh of
/// the runs does not reset a form being filled in.
#[component]
pub fn TenantSchedules(tenant: Signal<String>) -> impl IntoView {
    let create = ServerAction::<CreateSchedule>::new();
    let pause = ServerAction::<PauseSchedule>::new();
    let trigger = ServerAction::<TriggerSchedule>::new();
    let delete = ServerAction::<DeleteSchedule>::new();
    let view = Resource::new(
        move || (tenant.get(), create.version().get(), pause.version().get(), delete.version().get()),
        |(slug, ..)| tenant_schedules(slug),
    );
    view! {
        <section class="card schedules" aria-labelledby="schedules-title">
            <h2 id="schedules-title">"Schedules"</h2>
            <ActionError action=create />
            <ActionNotice action=pause done="Saved." />
            <ActionNotice action=delete done="Schedule deleted." />
            <RunNotice action=trigger queued="Capture backup queued." />
            <Transition fallback=|| {
                view! { <p class="muted">"Loading…"</p> }
            }>
                {move || Suspend::new(async move {
                    match view.await {
                        Ok(loaded) => {
                            view! {
                                <ScheduleList
                                    loaded
                                    tenant=tenant.get_untracked()
                                    create
                                    pause
                                    trigger
                                    delete
                                />
                            }
                                .into_any()
                        }
                        Err(_) => ().into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ScheduleList(
    loaded: TenantSchedulesView,
    tenant: String,
    create: ServerAction<CreateSchedule>,
    pause: ServerAction<PauseSchedule>,
    trigger: ServerAction<TriggerSchedule>,
    delete: ServerAction<DeleteSchedule>,
) -> impl IntoView {
    let can_manage = loaded.can_manage;
    view! {
        {if loaded.rows.is_empty() {
            view! { <p class="muted">"No schedules yet: captures start only when someone clicks."</p> }
                .into_any()
        } else {
            view! { <Rows rows=loaded.rows can_manage pause trigger delete /> }.into_any()
        }}
        <details class="confirm">
            <summary>"New schedule…"</summary>
            <ActionForm action=create attr:class="stacked-form">
                <input type="hidden" name="tenant" value=tenant.clone() />
                <label>"Name" <input name="name" required value="Nightly capture" /></label>
                <label>
                    "Cron " <small class="muted">"(minute hour day-of-month month day-of-week)"</small>
                    <input name="cron" required value="0 2 * * *" />
                </label>
                <label>
                    "Time zone " <small class="muted">"(IANA, e.g. Europe/Berlin)"</small>
                    <input name="time_zone" required value="UTC" />
                </label>
                <GatedButton
                    allowed=can_manage
                    capability=Capability::BackupsManage
                    label="Create schedule"
                    class="primary"
                />
            </ActionForm>
        </details>
    }
}

#[component]
fn Rows(
    rows: Vec<ScheduleRow>,
    can_manage: bool,
    pause: ServerAction<PauseSchedule>,
    trigger: ServerAction<TriggerSchedule>,
    delete: ServerAction<DeleteSchedule>,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="schedules">
                <thead>
                    <tr>
                        <th scope="col">"Schedule"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Last"</th>
                        <th scope="col">"Next"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let schedule = row.schedule;
                            let id = schedule.id.to_string();
                            let paused = schedule.paused;
                            let name = schedule.name.clone();
                            let (run_id, pause_id, delete_id) = (id.clone(), id.clone(), id.clone());
                            let run_label = format!("Run {name} now");
                            let pause_label = format!("{} {name}", if paused { "Resume" } else { "Pause" });
                            let (delete_summary, delete_name) = (format!("Delete {name}…"), name.clone());
                            view! {
                                <tr data-schedule=id.clone()>
                                    <td>
                                        {name.clone()}
                                        {paused
                                            .then(|| {
                                                view! {
                                                    " "
                                                    <span class="badge">"Paused"</span>
                                                }
                                            })} " "
                                        <a href=format!("/admin/monitoring?schedule={id}")>"Runs"</a>
                                    </td>
                                    <td>
                                        <code>{schedule.cron.clone()}</code>
                                        " "
                                        <small class="muted">{schedule.time_zone.clone()}</small>
                                    </td>
                                    <td>
                                        {row
                                            .last
                                            .map(|(at, outcome)| format!("{} ({outcome})", timestamp(at)))
                                            .unwrap_or_else(|| "—".into())}
                                    </td>
                                    <td>
                                        {row
                                            .next_fire_times
                                            .first()
                                            .map(|at| timestamp(*at))
                                            .unwrap_or_else(|| "—".into())}
                                    </td>
                                    <td class="row-actions">
                                        {can_manage
                                            .then(|| {
                                                view! {
                                                    <ActionForm action=trigger attr:class="inline-action">
                                                        <input type="hidden" name="id" value=run_id />
                                                        <button type="submit" aria-label=run_label>
                                                            "Run now"
                                                        </button>
                                                    </ActionForm>
                                                    " "
                                                    <ActionForm action=pause attr:class="inline-action">
                                                        <input type="hidden" name="id" value=pause_id />
                                                        <input
                                                            type="hidden"
                                                            name="paused"
                                                            value=if paused { "false" } else { "true" }
                                                        />
                                                        <button type="submit" aria-label=pause_label>
                                                            {if paused { "Resume" } else { "Pause" }}
                                                        </button>
                                                    </ActionForm>
                                                    <details class="confirm">
                                                        <summary>{delete_summary}</summary>
                                                        <ActionForm action=delete>
                                                            <input type="hidden" name="id" value=delete_id />
                                                            <p>
                                                                "Delete " {delete_name}
                                                                "? The runs it started stay in Monitoring."
                                                            </p>
                                                            <button type="submit" class="danger">
                                                                "Confirm delete"
                                                            </button>
                                                        </ActionForm>
                                                    </details>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
