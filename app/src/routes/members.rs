//! A tenant's members page: who belongs to it, adding and removing them, changing roles.

use crate::components::{ActionNotice, GatedButton, Loaded, TenantTab, TenantTabs};
use crate::functions::{members, AddMember, ChangeMemberRole, MembersView, RemoveMember};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::model::Member;
use tenantpilot_core::{Capability, Role};

#[component]
pub fn MembersPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let add = ServerAction::<AddMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let list = Resource::new(move || tenant.get(), members);
    view! {
        <Title text="Members" />
        <Loaded resource=list let:view>
            {
                view! { <Members view add change remove /> }
            }
        </Loaded>
    }
}

#[component]
fn Members(
    view: MembersView,
    add: ServerAction<AddMember>,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let can_manage = view.viewer.can(Capability::MembersManage);
    let slug = tenant.slug.clone();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a>
            " / "
            <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / Members"
        </nav>
        <h1>"Members of " {tenant.name.clone()}</h1>
        <TenantTabs slug=slug.clone() current=TenantTab::Members />
        <ActionNotice action=add done="Member saved." />
        <ActionNotice action=change done="Role changed." />
        <ActionNotice action=remove done="Member removed." />
        <div class="table-wrap">
            <table class="members">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"E-mail"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    {view
                        .members
                        .into_iter()
                        .map(|member| {
                            let is_you = member.user_id == view.viewer_id;
                            view! {
                                <MemberRow
                                    member
                                    is_you
                                    slug=slug.clone()
                                    tenant_name=tenant.name.clone()
                                    can_manage
                                    change
                                    remove
                                />
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <section class="card">
            <h2>"Add a member"</h2>
            <ActionForm action=add attr:class="inline-form">
                <input type="hidden" name="tenant" value=slug.clone() />
                <label>"E-mail" <input type="email" name="email" required disabled=!can_manage /></label>
                <label>"Role" <RoleSelect selected=Role::Readonly /></label>
                <GatedButton
                    allowed=can_manage
                    capability=Capability::MembersManage
                    label="Add member"
                    class="primary"
                />
            </ActionForm>
        </section>
    }
}

#[component]
fn MemberRow(
    member: Member,
    is_you: bool,
    slug: String,
    tenant_name: String,
    can_manage: bool,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let (user_id, role) = (member.user_id, member.role);
    let (change_slug, remove_slug) = (slug.clone(), slug);
    let (change_email, remove_email) = (member.email.clone(), member.email.clone());
    view! {
        <tr>
            <td>{member.display_name} {is_you.then(|| view! { <small class="muted">" (you)"</small> })}</td>
            <td>{member.email}</td>
            <td>
                <span class=format!("badge role-{}", role.as_str())>{role.label()}</span>
            </td>
            <td class="row-actions">
                <details class="confirm">
                    <summary>"Change role…"</summary>
                    <ActionForm action=change>
                        <input type="hidden" name="tenant" value=change_slug />
                        <input type="hidden" name="user_id" value=user_id.to_string() />
                        <label>"New role for " {change_email} <RoleSelect selected=role /></label>
                        <GatedButton
                            allowed=can_manage
                            capability=Capability::MembersManage
                            label="Confirm role change"
                        />
                    </ActionForm>
                </details>
                <details class="confirm">
                    <summary>"Remove…"</summary>
                    <ActionForm action=remove>
                        <input type="hidden" name="tenant" value=remove_slug />
                        <input type="hidden" name="user_id" value=user_id.to_string() />
                        <p>"Remove " {remove_email} " from " {tenant_name} "?"</p>
                        <GatedButton
                            allowed=can_manage
                            capability=Capability::MembersManage
                            label="Confirm removal"
                            class="danger"
                        />
                    </ActionForm>
                </details>
            </td>
        </tr>
    }
}

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    view! {
        <select name="role">
            {Role::ALL
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == selected>
                            {role.label()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}
