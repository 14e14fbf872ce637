//! A tenant's overview page: its facts and what the viewer's role allows there.

use crate::components::{Loaded, TenantTab, TenantTabs};
use crate::functions::tenant_overview;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::Capability;

#[component]
pub fn TenantOverviewPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let overview = Resource::new(move || tenant.get(), tenant_overview);
    view! {
        <Loaded resource=overview let:membership>
            {
                let slug = membership.tenant.slug.clone();
                view! {
                    <Title text=membership.tenant.name.clone() />
                    <nav class="crumbs" aria-label="Breadcrumb">
                        <a href="/admin">"Tenants"</a>
                        " / "
                        {membership.tenant.name.clone()}
                    </nav>
                    <h1>{membership.tenant.name.clone()}</h1>
                    <TenantTabs slug=slug.clone() current=TenantTab::Overview />
                    <dl class="facts">
                        <dt>"Workspace"</dt>
                        <dd>{membership.workspace_name.clone()}</dd>
                        <dt>"Slug"</dt>
                        <dd>
                            <code>{slug.clone()}</code>
                        </dd>
                        <dt>"External tenant id"</dt>
                        <dd>
                            <code>{membership.tenant.external_tenant_id.clone()}</code>
                        </dd>
                        <dt>"Your role"</dt>
                        <dd>
                            <span class=format!(
                                "badge role-{}",
                                membership.role.as_str(),
                            )>{membership.role.label()}</span>
                        </dd>
                    </dl>
                    <h2>"What your role allows"</h2>
                    <ul class="capabilities" role="list">
                        {Capability::ALL
                            .into_iter()
                            .map(|capability| {
                                let allowed = membership.can(capability);
                                view! {
                                    <li class:allowed=allowed>
                                        <span aria-hidden="true">{if allowed { "✓" } else { "—" }}</span>
                                        <code>{capability.as_str()}</code>
                                        {(!allowed)
                                            .then(|| {
                                                view! {
                                                    <small class="muted">{capability.requirement_hint()}</small>
                                                }
                                            })}
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
