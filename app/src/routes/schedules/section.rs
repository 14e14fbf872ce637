//! A list of schedules with what each starts, its cadence, its last firing and next five fire
//! times (on the schedule's clock and the viewer's); creating one, pausing and resuming, "Run
//! now", deleting. Shown on the Schedules page, a tenant's backups page and a pipeline's page.

use crate::components::{ActionError, ActionNotice, ErrorView, HintedButton};
use crate::functions::{
    schedules, CreateSchedule, DeleteSchedule, PauseSchedule, ScheduleRow, SchedulesView, TriggerSchedule,
};
use leptos::prelude::*;
use tenantpilot_core::ids::PipelineId;
use tenantpilot_core::{Capability, CoreError};

/// Which schedules a section shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleScope {
    /// Every schedule the viewer may see (the Schedules page).
    All,
    /// A tenant's capture schedules, by its slug.
    Tenant(String),
    Pipeline(PipelineId),
}

#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateSchedule>,
    pause: ServerAction<PauseSchedule>,
    trigger: ServerAction<TriggerSchedule>,
    delete: ServerAction<DeleteSchedule>,
}

/// The schedules of `scope`. Outside its page's live data, so a refresh of the runs does not
/// reset a form being filled in.
#[component]
pub fn ScheduleSection(scope: Signal<ScheduleScope>) -> impl IntoView {
    let actions = Actions {
        create: ServerAction::new(),
        pause: ServerAction::new(),
        trigger: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let view = Resource::new(
        move || scope.get(),
        |scope| match scope {
            ScheduleScope::All => schedules(None, None),
            ScheduleScope::Tenant(slug) => schedules(Some(slug), None),
            ScheduleScope::Pipeline(id) => schedules(None, Some(id)),
        },
    );
    view! {
        <section class="card schedules" aria-labelledby="schedules-title">
            <h2 id="schedules-title">
                {move || match scope.get() {
                    ScheduleScope::All => "Every schedule you may see",
                    _ => "Schedules",
                }}
            </h2>
            <ActionError action=actions.create />
            <ActionNotice action=actions.pause done="Saved." />
            <ActionNotice action=actions.delete done="Schedule deleted." />
            // Its run's page is the answer to "Run now": only a refusal shows here.
            <ActionError action=actions.trigger />
            <Transition fallback=|| {
                view! { <p class="muted">"Loading…"</p> }
            }>
                {move || Suspend::new(async move {
                    match view.await {
                        Ok(loaded) => {
                            view! { <Schedules loaded scope=scope.get_untracked() actions /> }.into_any()
                        }
                        Err(error) if matches!(error.0, CoreError::Unauthenticated) => {
                            // Signed out: to sign-in (whichever of the page's loads fails last
                            // sets the answer's status). Other failures show on the page itself.
                            view! { <ErrorView error /> }
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
fn Schedules(mut loaded: SchedulesView, scope: ScheduleScope, actions: Actions) -> impl IntoView {
    let rows = std::mem::take(&mut loaded.rows);
    let show_target = scope == ScheduleScope::All;
    let empty = match scope {
        ScheduleScope::Tenant(_) => "No schedules yet: captures start only when someone clicks.",
        ScheduleScope::Pipeline(_) => "No schedule yet: the pipeline runs only when someone starts it.",
        ScheduleScope::All => "No schedules you may see yet.",
    };
    view! {
        {if rows.is_empty() {
            view! { <p class="muted">{empty}</p> }.into_any()
        } else {
            view! { <Rows rows show_target viewer_zone=loaded.viewer_zone.clone() actions /> }.into_any()
        }}
        <NewSchedule loaded scope create=actions.create />
    }
}

/// The form for a new schedule of one of the things the viewer may start.
#[component]
fn NewSchedule(
    loaded: SchedulesView,
    scope: ScheduleScope,
    create: ServerAction<CreateSchedule>,
) -> impl IntoView {
    let hint = match scope {
        ScheduleScope::Tenant(_) => Capability::BackupsManage.requirement_hint(),
        ScheduleScope::Pipeline(_) => "Scheduling a pipeline takes write access to it.".to_string(),
        ScheduleScope::All => {
            "You may not start anything a schedule could start: capture a tenant's backups, \
                               run a pipeline, or (a Site Admin) capture a whole workspace."
                .to_string()
        }
    };
    let allowed = !loaded.choices.is_empty();
    let fan_out = loaded.choices.iter().any(|choice| choice.value.starts_with("workspace:"));
    let name = match scope {
        ScheduleScope::Pipeline(_) => "Nightly run",
        _ => "Nightly capture",
    };
    let target = match loaded.choices.as_slice() {
        [] => ().into_any(),
        [only] => view! { <input type="hidden" name="target" value=only.value.clone() /> }.into_any(),
        several => view! {
            <label>
                "What it starts" <select name="target" required>
                    {several
                        .iter()
                        .map(|choice| {
                            view! { <option value=choice.value.clone()>{choice.label.clone()}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
        }
        .into_any(),
    };
    view! {
        <details class="confirm">
            <summary>"New schedule…"</summary>
            <ActionForm action=create attr:class="stacked-form">
                {target}
                <label>"Name" <input name="name" required maxlength="100" value=name /></label>
                <label>
                    "Cron " <small class="muted">"(minute hour day-of-month month day-of-week)"</small>
                    <input name="cron" required value="0 2 * * *" />
                </label>
                <label>
                    "Time zone " <small class="muted">"(IANA, e.g. Europe/Berlin)"</small>
                    <input name="time_zone" required value=loaded.viewer_zone.clone() />
                </label>
                {fan_out
                    .then(|| {
                        view! {
                            <label>
                                "Spread a workspace's captures over (minutes) "
                                <small class="muted">"(0–720; each tenant keeps its place)"</small>
                                <input name="jitter_minutes" type="number" min="0" max="720" value="0" />
                            </label>
                        }
                    })}
                <label>
                    "A fire time missed while no server ran" <select name="missed">
                        <option value="catch_up">"Runs once, late"</option>
                        <option value="skip">"Is skipped"</option>
                    </select>
                </label>
                <HintedButton allowed hint label="Create schedule" class="primary" />
            </ActionForm>
        </details>
    }
}

#[component]
fn Rows(rows: Vec<ScheduleRow>, show_target: bool, viewer_zone: String, actions: Actions) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="schedules">
                <thead>
                    <tr>
                        <th scope="col">"Schedule"</th>
                        <th scope="col">"When"</th>
                        <th scope="col">"Last"</th>
                        <th scope="col">
                            "Next 5 " <small class="muted">"(its time · yours, " {viewer_zone} ")"</small>
                        </th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|row| view! { <Row row show_target actions /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Row(row: ScheduleRow, show_target: bool, actions: Actions) -> impl IntoView {
    let schedule = row.schedule;
    let id = schedule.id.to_string();
    let (paused, name) = (schedule.paused, schedule.name.clone());
    let manage =
        row.can_manage.then(|| view! { <RowActions id=id.clone() name=name.clone() paused actions /> });
    let jitter =
        (schedule.jitter_minutes > 0).then(|| format!(" · spread over {} min", schedule.jitter_minutes));
    let last = match row.last {
        None => view! { "—" }.into_any(),
        Some(last) => {
            let what = match (last.run, last.state, last.skipped) {
                (Some(run), state, _) => view! { <a href=crate::components::run_href(run)>{state.unwrap_or_else(|| "run".into())}</a> }
                .into_any(),
                (None, _, Some(reason)) => view! {
                    <span class="badge" title=reason.clone()>
                        "skipped"
                    </span>
                    " "
                    <small class="muted">{reason}</small>
                }.into_any(),
                _ => view! { "—" }.into_any(),
            };
            view! {
                {last.at}
                <br />
                {what}
            }
            .into_any()
        }
    };
    let next = if row.fire_times.is_empty() {
        view! { <span class="muted">{if paused { "Paused" } else { "—" }}</span> }.into_any()
    } else {
        view! {
            <ol class="fire-times">
                {row
                    .fire_times
                    .into_iter()
                    .map(|time| {
                        let viewer = (time.for_viewer != time.in_schedule_zone)
                            .then(|| {
                                view! { <small class="muted">" · " {time.for_viewer}</small> }
                            });
                        view! {
                            <li>
                                <time datetime=time.at.to_rfc3339()>{time.in_schedule_zone}</time>
                                {viewer}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any()
    };
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
                    })}
                {show_target
                    .then(|| {
                        view! {
                            <br />
                            <small class="muted">{row.target_label.clone()}</small>
                        }
                    })} <br /> <a href=format!("/admin/monitoring?schedule={id}")>"Runs"</a>
            </td>
            <td>
                <code>{schedule.cron.clone()}</code>
                " "
                <small class="muted">{schedule.time_zone.clone()} {jitter}</small>
            </td>
            <td>{last}</td>
            <td>{next}</td>
            <td class="row-actions">{manage}</td>
        </tr>
    }
}

#[component]
fn RowActions(id: String, name: String, paused: bool, actions: Actions) -> impl IntoView {
    let run_label = format!("Run {name} now");
    let pause_label = format!("{} {name}", if paused { "Resume" } else { "Pause" });
    let (run_id, pause_id) = (id.clone(), id.clone());
    view! {
        <ActionForm action=actions.trigger attr:class="inline-action">
            <input type="hidden" name="id" value=run_id />
            <button type="submit" aria-label=run_label>
                "Run now"
            </button>
        </ActionForm>
        " "
        <ActionForm action=actions.pause attr:class="inline-action">
            <input type="hidden" name="id" value=pause_id />
            <input type="hidden" name="paused" value=if paused { "false" } else { "true" } />
            <button type="submit" aria-label=pause_label>
                {if paused { "Resume" } else { "Pause" }}
            </button>
        </ActionForm>
        <details class="confirm">
            <summary>{format!("Delete {name}…")}</summary>
            <ActionForm action=actions.delete>
                <input type="hidden" name="id" value=id />
                <p>"Delete " {name} "? The runs it started stay in Monitoring."</p>
                <button type="submit" class="danger">
                    "Confirm delete"
                </button>
            </ActionForm>
        </details>
    }
}
