use crate::components::{
    poll_for, run_href, timestamp, use_live_refresh, ErrorView, Frame, GatedButton, NotFound, Poll, Progress,
    RunNotice, StatusBadge,
};
use crate::functions::{restore, RestoreView, StartRestore};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::backup::AssignedGroup;
use tenantpilot_core::operation::RunStatus;
use tenantpilot_core::Capability;

/// A restore run: what it would assign (and which groups have nowhere to go), confirmation,
/// and its execution, kept current.
#[component]
pub fn RestorePage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let start = ServerAction::<StartRestore>::new();
    let (poll, set_poll) = signal(Poll::Stop);
    let ticks = use_live_refresh(poll.into());
    let view = Resource::new(
        move || (tenant.get(), id.get(), start.version().get(), ticks.get()),
        |(tenant, id, ..)| async move {
            match id {
                Some(id) => Some(restore(tenant, id).await),
                None => None,
            }
        },
    );
    view! {
        <Title text="Restore" />
        <Frame tenant>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match view.await {
                        Some(Ok(view)) => {
                            set_poll.set(poll_for(view.execution.as_ref(), view.now));
                            view! { <Restore view start /> }.into_any()
                        }
                        Some(Err(error)) => view! { <ErrorView error /> }.into_any(),
                        None => view! { <NotFound /> }.into_any(),
                    }
                })}
            </Transition>
        </Frame>
    }
}

fn group_names(groups: &[AssignedGroup]) -> String {
    if groups.is_empty() {
        return "—".into();
    }
    groups
        .iter()
        .map(|group| group.group_name.clone().unwrap_or_else(|| group.group_id.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn Restore(view: RestoreView, start: ServerAction<StartRestore>) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let slug = tenant.slug.clone();
    let restore = view.restore.clone();
    let can_restore = view.viewer.can(Capability::RestoreExecute);
    let running = view.execution.as_ref().is_some_and(|run| run.status != RunStatus::Completed);
    let policies = restore.preview.items.len();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a> " / " <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / " <a href=format!("/admin/t/{slug}/backups")>"Backups"</a> " / Restore #" {restore.id}
        </nav>
        <h1>"Restore #" {restore.id}</h1>
        <RunNotice action=start queued="Restore assignments queued." />
        <dl class="facts">
            <dt>"From backup"</dt><dd><a href=format!("/admin/t/{slug}/backups#set-{}", view.set.id)>{view.set.name.clone()}</a></dd>
            <dt>"Policies"</dt><dd>{policies}</dd>
            <dt>"Group mapping"</dt>
            <dd>{if restore.group_mapping.is_empty() { "none: groups keep their ids".to_string() } else {
                restore.group_mapping.iter().map(|(source, target)| format!("{source} → {target}")).collect::<Vec<_>>().join(", ")
            }}</dd>
            <dt>"Planned"</dt><dd>{timestamp(restore.created_at)}</dd>
        </dl>
        {(!restore.preview.unmapped_groups.is_empty()).then(|| view! {
            <p class="notice error" role="note">"These groups have no counterpart in this tenant and will be skipped: "
                <strong>{group_names(&restore.preview.unmapped_groups)}</strong>
                ". Map them to existing groups by planning a new restore."</p>
        })}
        <h2>"Preview"</h2>
        <div class="table-wrap">
            <table class="preview">
                <thead><tr><th scope="col">"Policy"</th><th scope="col">"Will be assigned to"</th><th scope="col">"Skipped (unmapped)"</th></tr></thead>
                <tbody>
                    {restore.preview.items.iter().map(|item| view! {
                        <tr>
                            <td>{item.policy_name.clone()}</td>
                            <td>{group_names(&item.assign)}</td>
                            <td>{group_names(&item.unmapped)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {view.execution.clone().map(|run| view! {
            <section class="card">
                <h2>"Execution"</h2>
                <p><a href=run_href(run.id)>"Run #" {run.id}</a> " " <StatusBadge status=run.status outcome=run.outcome />
                   " " <Progress counters=run.counters /></p>
            </section>
        })}
        <details class="confirm" open=view.execution.is_none()>
            <summary>"Restore assignments…"</summary>
            <ActionForm action=start>
                <input type="hidden" name="tenant" value=slug.clone() />
                <input type="hidden" name="restore_id" value=restore.id />
                <p>"Replace the assignments of " {policies} " policies in " {tenant.name.clone()} " with the ones above?"</p>
                {if running {
                    view! { <p class="muted">"This restore is running now; starting again shows the same run."</p> }.into_any()
                } else {
                    ().into_any()
                }}
                <GatedButton allowed=can_restore capability=Capability::RestoreExecute label="Restore assignments" class="danger" />
            </ActionForm>
        </details>
    }
}
