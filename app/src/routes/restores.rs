//! A restore run's page: its preview, how objects were matched, confirming, and its execution.

use crate::components::{
    poll_for, run_href, timestamp, ActionNotice, GatedButton, LiveRegion, Loaded, Progress, RunNotice,
    StatusBadge,
};
use crate::functions::{restore, RemapRestore, RestoreView, StartRestore};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::backups::{
    mapping_lines, MappingRow, Resolution, RestoreAction, RestorePreviewItem, TargetView,
};
use tenantpilot_core::operations::RunStatus;
use tenantpilot_core::provider::PolicyFamily;
use tenantpilot_core::Capability;

/// A restore run: per policy, what it is assigned to now and what it will be (what goes is
/// marked), how groups, filters and scope tags were matched (editable), confirmation, and its
/// execution, kept current.
#[component]
pub fn RestorePage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let start = ServerAction::<StartRestore>::new();
    let remap = ServerAction::<RemapRestore>::new();
    let view = Resource::new(
        move || (tenant.get(), id.get()),
        |(tenant, id)| async move {
            match id {
                Some(id) => Some(restore(tenant, id).await),
                None => None,
            }
        },
    );
    view! {
        <Title text="Restore" />
        <Loaded resource=view let:view>
            {
                let (poll, tenant) = (poll_for(view.execution.as_ref(), view.now), view.viewer.tenant.id);
                view! {
                    <LiveRegion poll tenant=Some(tenant)>
                        <Restore view start remap />
                    </LiveRegion>
                }
            }
        </Loaded>
    }
}

fn targets(views: &[TargetView]) -> impl IntoView {
    if views.is_empty() {
        return view! { <span class="muted">"nothing"</span> }.into_any();
    }
    view! {
        <ul class="targets">
            {views.iter().map(|target| view! { <li>{target.describe()}</li> }).collect_view()}
        </ul>
    }
    .into_any()
}

fn action_label(item: &RestorePreviewItem) -> &'static str {
    match item.action {
        RestoreAction::Assign => "replace its assignments",
        RestoreAction::Recreate => "create it again, then assign",
        RestoreAction::Blocked => "blocked",
    }
}

#[component]
fn PreviewItem(item: RestorePreviewItem) -> impl IntoView {
    let family = PolicyFamily::from_policy_type(&item.policy_type)
        .map(|family| family.label().to_string())
        .unwrap_or(item.policy_type.clone());
    let blocked = item.action == RestoreAction::Blocked;
    view! {
        <tr
            data-item=item.item_id
            data-action=format!("{:?}", item.action).to_lowercase()
            class:blocked=blocked
        >
            <td>{item.policy_name.clone()} <br /><small class="muted">{family}</small></td>
            <td>
                {action_label(&item)}
                {(!item.scope_tags.is_empty() && item.action == RestoreAction::Recreate)
                    .then(|| {
                        view! {
                            <br />
                            <small class="muted">
                                "scope tags: "
                                {item
                                    .scope_tags
                                    .iter()
                                    .map(|tag| tag.name.clone().unwrap_or(tag.id.clone()))
                                    .collect::<Vec<_>>()
                                    .join(", ")}
                            </small>
                        }
                    })}
                {blocked
                    .then(|| {
                        view! {
                            <ul class="blocked-by">
                                {item
                                    .blocked_by
                                    .iter()
                                    .map(|why| view! { <li>{why.clone()}</li> })
                                    .collect_view()}
                            </ul>
                        }
                    })}
            </td>
            <td class="current">{targets(&item.current)}</td>
            <td class="planned">{targets(&item.planned)}</td>
            <td class="removed">
                {if item.removed.is_empty() && item.skipped.is_empty() {
                    view! { <span class="muted">"nothing"</span> }.into_any()
                } else {
                    view! {
                        <ul class="targets">
                            {item
                                .removed
                                .iter()
                                .map(|target| {
                                    view! {
                                        <li class="removed">
                                            <del>{target.describe()}</del>
                                            " (removed)"
                                        </li>
                                    }
                                })
                                .collect_view()}
                            {item
                                .skipped
                                .iter()
                                .map(|target| {
                                    view! {
                                        <li class="skipped">
                                            {target.describe()} " (skipped: no such group here)"
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }}
            </td>
        </tr>
    }
}

fn resolution_label(row: &MappingRow) -> &'static str {
    match row.resolution {
        Resolution::Mapped => "mapped",
        Resolution::SameId => "same id",
        Resolution::SameName => "same name",
        Resolution::Unresolved => "no counterpart",
    }
}

/// How one kind of object (groups, filters, scope tags) was matched in the destination.
#[component]
fn Matches(title: &'static str, rows: Vec<MappingRow>) -> impl IntoView {
    (!rows.is_empty()).then(|| {
        view! {
            <h3>{title}</h3>
            <div class="table-wrap">
                <table class="mapping">
                    <thead>
                        <tr>
                            <th scope="col">"In the backup"</th>
                            <th scope="col">"Here"</th>
                            <th scope="col">"Matched by"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|row| {
                                view! {
                                    <tr class:unresolved=row.resolution == Resolution::Unresolved>
                                        <td>
                                            {row.source_name.clone().unwrap_or_default()} " "
                                            <code>{row.source_id.clone()}</code>
                                        </td>
                                        <td>
                                            {row.target_name.clone().unwrap_or_default()} " "
                                            <code>
                                                {row.target_id.clone().unwrap_or_else(|| "—".into())}
                                            </code>
                                        </td>
                                        <td>{resolution_label(&row)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
    })
}

#[component]
fn Restore(
    view: RestoreView,
    start: ServerAction<StartRestore>,
    remap: ServerAction<RemapRestore>,
) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let slug = tenant.slug.clone();
    let restore = view.restore.clone();
    let preview = restore.preview.clone();
    let can_restore = view.viewer.can(Capability::RestoreExecute);
    let running = view.execution.as_ref().is_some_and(|run| run.status != RunStatus::Completed);
    let policies = preview.items.len();
    let blocked = preview.blocked();
    let own_set = format!("/admin/t/{slug}/backups#set-{}", view.set.id);
    let set_link = match &view.source {
        None => view! { <a href=own_set>{view.set.name.clone()}</a> }.into_any(),
        Some(source) => view! {
            <a href=format!(
                "/admin/t/{}/backups#set-{}",
                source.slug,
                view.set.id,
            )>{view.set.name.clone()}</a>
            " of "
            {source.name.clone()}
        }
        .into_any(),
    };
    let (remap_slug, start_slug) = (slug.clone(), slug.clone());
    let unmatched = preview
        .groups
        .iter()
        .chain(&preview.filters)
        .chain(&preview.scope_tags)
        .filter(|row| row.resolution == Resolution::Unresolved)
        .count();
    let open_mapping = unmatched > 0;
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a>
            " / "
            <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / "
            <a href=format!("/admin/t/{slug}/backups")>"Backups"</a>
            " / Restore #"
            {restore.id}
        </nav>
        <h1>"Restore #" {restore.id}</h1>
        <RunNotice action=start queued="Restore queued." />
        <ActionNotice action=remap done="Mappings changed; the preview below is planned again." />
        <dl class="facts">
            <dt>"From backup"</dt>
            <dd>{set_link}</dd>
            <dt>"Into"</dt>
            <dd>{tenant.name.clone()}</dd>
            <dt>"Policies"</dt>
            <dd>{policies} {(blocked > 0).then(|| format!(" ({blocked} blocked until mapped)"))}</dd>
            <dt>"Planned"</dt>
            <dd>{timestamp(restore.created_at)}</dd>
        </dl>
        {(blocked > 0)
            .then(|| {
                view! {
                    <p class="notice error" role="note">
                        {blocked}
                        " of "
                        {policies}
                        " policies are blocked: something they name has no counterpart in this tenant, and leaving it out would widen their reach. Map it below, or they fail when the restore runs."
                    </p>
                }
            })}
        <h2>"Preview"</h2>
        <p class="muted">
            "Graph's assign replaces all of a policy's assignments: each policy will have exactly what is listed under \"Will have\"."
        </p>
        <div class="table-wrap">
            <table class="preview">
                <thead>
                    <tr>
                        <th scope="col">"Policy"</th>
                        <th scope="col">"Restore will"</th>
                        <th scope="col">"Has now"</th>
                        <th scope="col">"Will have"</th>
                        <th scope="col">"Goes"</th>
                    </tr>
                </thead>
                <tbody>
                    {preview.items.iter().cloned().map(|item| view! { <PreviewItem item /> }).collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card">
            <h2>
                "Matched in this tenant"
                {(unmatched > 0)
                    .then(|| {
                        view! {
                            " "
                            <span class="badge outcome-failed">{unmatched} " without counterpart"</span>
                        }
                    })}
            </h2>
            <Matches title="Groups" rows=preview.groups.clone() />
            <Matches title="Assignment filters" rows=preview.filters.clone() />
            <Matches title="Scope tags" rows=preview.scope_tags.clone() />
            <details class="confirm" open=open_mapping>
                <summary>"Change the mappings…"</summary>
                <ActionForm action=remap attr:class="stacked-form">
                    <input type="hidden" name="tenant" value=remap_slug />
                    <input type="hidden" name="restore_id" value=restore.id />
                    <p class="muted">
                        "One per line: " <code>"id in the backup = id here"</code>
                        ". What is not listed is matched by id, else by name."
                    </p>
                    <label>
                        "Groups" <textarea name="group_mapping" rows="3">
                            {mapping_lines(&preview.groups)}
                        </textarea>
                    </label>
                    <label>
                        "Assignment filters" <textarea name="filter_mapping" rows="2">
                            {mapping_lines(&preview.filters)}
                        </textarea>
                    </label>
                    <label>
                        "Scope tags" <textarea name="scope_tag_mapping" rows="2">
                            {mapping_lines(&preview.scope_tags)}
                        </textarea>
                    </label>
                    <GatedButton
                        allowed=can_restore && !running
                        capability=Capability::RestoreExecute
                        label="Plan again"
                    />
                </ActionForm>
            </details>
        </section>
        {view
            .execution
            .clone()
            .map(|run| {
                view! {
                    <section class="card">
                        <h2>"Execution"</h2>
                        <p>
                            <a href=run_href(run.id)>"Run #" {run.id.to_string()}</a>
                            " "
                            <StatusBadge status=run.status outcome=run.outcome />
                            " "
                            <Progress counters=run.counters />
                        </p>
                    </section>
                }
            })}
        <details class="confirm" open=view.execution.is_none()>
            <summary>"Restore…"</summary>
            <ActionForm action=start>
                <input type="hidden" name="tenant" value=start_slug />
                <input type="hidden" name="restore_id" value=restore.id />
                <p>
                    "Restore " {policies - blocked} " policies in " {tenant.name.clone()}
                    " as previewed above?"
                    {(blocked > 0).then(|| format!(" The {blocked} blocked ones fail without changes."))}
                </p>
                {if running {
                    view! {
                        <p class="muted">"This restore is running now; starting again shows the same run."</p>
                    }
                        .into_any()
                } else {
                    ().into_any()
                }}
                <GatedButton
                    allowed=can_restore
                    capability=Capability::RestoreExecute
                    label="Restore policies"
                    class="danger"
                />
            </ActionForm>
        </details>
    }
}
