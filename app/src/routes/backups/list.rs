//! A tenant's backups page: capture, capture schedules, sets and items, planning a restore, and
//! restore runs.

use crate::components::{
    poll_for, timestamp, ActionError, GatedButton, LiveRegion, Loaded, RunNotice, RunTable, TenantTab,
    TenantTabs,
};
use crate::functions::{backups, BackupsView, PlanRestore, StartCapture, StartFetch, RECENT_RUNS};
use crate::routes::schedules::{ScheduleScope, ScheduleSection};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::backups::{BackupItem, BackupSet, TargetView};
use tenantpilot_core::model::Tenant;
use tenantpilot_core::Capability;

/// A tenant's backups: capture, the sets and their policies (fetch assignments), planning a
/// restore, the restore runs, and the tenant's latest operations, kept current.
#[component]
pub fn BackupsPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let capture = ServerAction::<StartCapture>::new();
    let fetch = ServerAction::<StartFetch>::new();
    let plan = ServerAction::<PlanRestore>::new();
    let view = Resource::new(move || tenant.get(), backups);
    view! {
        <Title text="Backups & restores" />
        <Loaded resource=view let:view>
            {
                let (poll, tenant) = (poll_for(&view.recent_runs, view.now), view.viewer.tenant.id);
                view! {
                    <LiveRegion poll tenant=Some(tenant)>
                        <Backups view capture fetch plan />
                    </LiveRegion>
                }
            }
        </Loaded>
        <ScheduleSection scope=Signal::derive(move || ScheduleScope::Tenant(tenant.get())) />
    }
}

#[component]
fn Backups(
    view: BackupsView,
    capture: ServerAction<StartCapture>,
    fetch: ServerAction<StartFetch>,
    plan: ServerAction<PlanRestore>,
) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let slug = tenant.slug.clone();
    let can_backup = view.viewer.can(Capability::BackupsManage);
    let can_restore = view.viewer.can(Capability::RestoreExecute);
    let capture_slug = slug.clone();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a>
            " / "
            <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / Backups"
        </nav>
        <h1>"Backups of " {tenant.name.clone()}</h1>
        <TenantTabs slug=slug.clone() current=TenantTab::Backups />
        <RunNotice action=capture queued="Capture backup queued." />
        <RunNotice action=fetch queued="Fetch assignments queued." />
        <ActionError action=plan />
        <section class="card provider">
            <h2>"Provider"</h2>
            {match view.connection.clone() {
                Some(connection) => {
                    view! {
                        <p>
                            "Connected to " <code>{connection.base_url}</code> " as "
                            <code>{connection.client_id}</code>
                            <small class="muted">" · set " {timestamp(connection.updated_at)}</small>
                        </p>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <p class="notice error">
                            "No provider connection yet: operations on this tenant will fail. An owner sets it in "
                            <a href=format!("/admin/t/{slug}/settings")>"Settings"</a> "."
                        </p>
                    }
                        .into_any()
                }
            }}
            <ActionForm action=capture attr:class="inline-form">
                <input type="hidden" name="tenant" value=capture_slug />
                <GatedButton
                    allowed=can_backup
                    capability=Capability::BackupsManage
                    label="Capture backup"
                    class="primary"
                />
            </ActionForm>
        </section>
        <section>
            <h2>"Latest operations"</h2>
            <RunTable runs=view.recent_runs.clone() now=view.now />
            <p>
                <a href=format!("/admin/monitoring?tenant={slug}")>"All operations of this tenant"</a>
                <small class="muted">" (the latest " {RECENT_RUNS} " are shown here)"</small>
            </p>
        </section>
        {view
            .sets
            .is_empty()
            .then(|| {
                view! {
                    <p class="muted">
                        "No backups yet. Capture one to keep this tenant's policies and assignments."
                    </p>
                }
            })}
        {view
            .sets
            .iter()
            .map(|set| {
                let items: Vec<BackupItem> = view
                    .items
                    .iter()
                    .filter(|item| item.backup_set_id == set.id)
                    .cloned()
                    .collect();
                view! {
                    <BackupSetCard
                        set=set.clone()
                        items
                        slug=slug.clone()
                        targets=view.restore_targets.clone()
                        can_backup
                        can_restore
                        fetch
                        plan
                    />
                }
            })
            .collect_view()}
        <section>
            <h2>"Restore runs"</h2>
            {if view.restores.is_empty() {
                view! { <p class="muted">"No restore planned yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table>
                            <thead>
                                <tr>
                                    <th scope="col">"Restore"</th>
                                    <th scope="col">"From backup"</th>
                                    <th scope="col">"Policies"</th>
                                    <th scope="col">"Blocked"</th>
                                    <th scope="col">"Planned"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {view
                                    .restores
                                    .iter()
                                    .map(|restore| {
                                        let set_name = view
                                            .sets
                                            .iter()
                                            .find(|set| set.id == restore.backup_set_id)
                                            .map(|set| set.name.clone())
                                            .unwrap_or_else(|| {
                                                format!(
                                                    "Backup set #{} of another tenant",
                                                    restore.backup_set_id,
                                                )
                                            });
                                        view! {
                                            <tr>
                                                <td>
                                                    <a href=format!(
                                                        "/admin/t/{slug}/restores/{}",
                                                        restore.id,
                                                    )>"Restore #" {restore.id}</a>
                                                    {restore
                                                        .operation_run_id
                                                        .map(|_| {
                                                            view! { <small class="muted">" · executed"</small> }
                                                        })}
                                                </td>
                                                <td>{set_name}</td>
                                                <td>{restore.item_ids.len()}</td>
                                                <td>{restore.preview.blocked()}</td>
                                                <td>{timestamp(restore.created_at)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn BackupSetCard(
    set: BackupSet,
    items: Vec<BackupItem>,
    slug: String,
    /// Other tenants this backup may be restored into.
    targets: Vec<Tenant>,
    can_backup: bool,
    can_restore: bool,
    fetch: ServerAction<StartFetch>,
    plan: ServerAction<PlanRestore>,
) -> impl IntoView {
    let plan_items = items.clone();
    let plan_slug = slug.clone();
    view! {
        <section class="card backup-set" id=format!("set-{}", set.id)>
            <h2>
                {set.name.clone()} " "
                <small class="muted">"#" {set.id} " · " {set.item_count} " policies"</small>
            </h2>
            <div class="table-wrap">
                <table class="items">
                    <thead>
                        <tr>
                            <th scope="col">"Policy"</th>
                            <th scope="col">"Family"</th>
                            <th scope="col">"Assigned to"</th>
                            <th scope="col">"Assignments fetched"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {items
                            .into_iter()
                            .map(|item| {
                                let groups = if item.assignments.is_empty() {
                                    "—".to_string()
                                } else {
                                    item.assignments
                                        .iter()
                                        .map(|assignment| {
                                            TargetView::of(
                                                    &assignment.target,
                                                    assignment.group_name.clone(),
                                                    assignment.filter_name.clone(),
                                                )
                                                .describe()
                                        })
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                };
                                let family = item
                                    .family()
                                    .map(|family| family.label().to_string())
                                    .unwrap_or_else(|| item.policy_type.clone());
                                let item_slug = slug.clone();
                                view! {
                                    <tr id=format!("item-{}", item.id) data-policy=item.policy_id.clone()>
                                        <td>
                                            <a href=format!(
                                                "/admin/t/{slug}/backups/items/{}",
                                                item.id,
                                            )>{item.policy_name.clone()}</a>
                                        </td>
                                        <td>{family}</td>
                                        <td class="groups">{groups}</td>
                                        <td>
                                            {item.assignments_fetched_at.map(timestamp).unwrap_or_default()}
                                        </td>
                                        <td>
                                            <ActionForm action=fetch>
                                                <input type="hidden" name="tenant" value=item_slug />
                                                <input type="hidden" name="item_id" value=item.id />
                                                <GatedButton
                                                    allowed=can_backup
                                                    capability=Capability::BackupsManage
                                                    label="Fetch assignments"
                                                />
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <details class="confirm">
                <summary>"Plan a restore from this backup…"</summary>
                <ActionForm action=plan attr:class="stacked-form">
                    <input type="hidden" name="source_tenant" value=plan_slug.clone() />
                    <input type="hidden" name="backup_set_id" value=set.id />
                    <label>
                        "Restore into" <select name="tenant">
                            <option value=plan_slug.clone() selected=true>
                                "this tenant"
                            </option>
                            {targets
                                .into_iter()
                                .map(|target| {
                                    view! {
                                        <option value=target
                                            .slug
                                            .clone()>
                                            {target.name.clone()} " (" {target.slug.clone()} ")"
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <fieldset>
                        <legend>"Policies to restore"</legend>
                        {plan_items
                            .into_iter()
                            .enumerate()
                            .map(|(index, item)| {
                                view! {
                                    <label class="check">
                                        <input
                                            type="checkbox"
                                            name=format!("item_ids[{index}]")
                                            value=item.id
                                            checked=true
                                        />
                                        {item.policy_name}
                                    </label>
                                }
                            })
                            .collect_view()}
                    </fieldset>
                    <p class="muted">
                        "Groups, assignment filters and scope tags are matched in the destination by id (in the same tenant), else by name. To choose otherwise, map them, one per line: "
                        <code>"source id = destination id"</code> "."
                    </p>
                    <label>
                        "Group mapping (optional)"
                        <textarea
                            name="group_mapping"
                            rows="2"
                            placeholder="grp-old-finance = grp-finance"
                        ></textarea>
                    </label>
                    <label>
                        "Assignment filter mapping (optional)"
                        <textarea name="filter_mapping" rows="2"></textarea>
                    </label>
                    <label>
                        "Scope tag mapping (optional)"
                        <textarea name="scope_tag_mapping" rows="2" placeholder="1 = 4"></textarea>
                    </label>
                    <p class="muted">
                        "Next you see what each policy has now and what it will have; nothing changes until you confirm."
                    </p>
                    <GatedButton
                        allowed=can_restore
                        capability=Capability::RestoreExecute
                        label="Preview restore"
                        class="primary"
                    />
                </ActionForm>
            </details>
        </section>
    }
}
