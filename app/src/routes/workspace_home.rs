//! The workspace home (`/admin`): the tenants the viewer belongs to.

use crate::components::Loaded;
use crate::functions::current_viewer;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn WorkspaceHomePage() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| current_viewer());
    view! {
        <Title text="Your tenants" />
        <Loaded resource=viewer let:viewer>
            {
                view! {
                    <h1>"Your tenants"</h1>
                    {viewer
                        .tenants
                        .is_empty()
                        .then(|| {
                            view! {
                                <p class="muted">
                                    "You are not a member of any tenant yet. Ask a tenant owner to add you."
                                </p>
                            }
                        })}
                    <ul class="cards" role="list">
                        {viewer
                            .tenants
                            .into_iter()
                            .map(|membership| {
                                let slug = membership.tenant.slug.clone();
                                view! {
                                    <li class="card tenant-card">
                                        <h2>
                                            <a href=format!(
                                                "/admin/t/{slug}",
                                            )>{membership.tenant.name.clone()}</a>
                                        </h2>
                                        <p class="muted">
                                            {membership.workspace_name.clone()} " · "
                                            <code>{slug.clone()}</code>
                                        </p>
                                        <p>
                                            <span class=format!(
                                                "badge role-{}",
                                                membership.role.as_str(),
                                            )>{membership.role.label()}</span>
                                        </p>
                                        <p>
                                            <a href=format!("/admin/t/{slug}/members")>"Members"</a>
                                        </p>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            }
        </Loaded>
    }
}
