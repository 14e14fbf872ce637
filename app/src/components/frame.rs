//! The signed-in layout: a header with the tenant switcher and account menu, then the page.

use crate::components::ErrorView;
use crate::functions::{current_viewer, Logout, Viewer};
use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_location;

/// The layout route of every signed-in page: header with the tenant switcher and account menu,
/// then the page (`Outlet`). The switcher shows the tenant the address is about, if any.
#[component]
pub fn AdminLayout() -> impl IntoView {
    let location = use_location();
    let tenant = Signal::derive(move || {
        location.pathname.with(|path| {
            path.strip_prefix("/admin/t/").and_then(|rest| rest.split('/').next()).map(str::to_string)
        })
    });
    let viewer = Resource::new(|| (), |_| current_viewer());
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/admin">
                "TenantPilot"
            </a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match viewer.await {
                        Ok(viewer) => view! { <Header viewer tenant logout /> }.into_any(),
                        Err(error) => view! { <ErrorView error /> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
        <main class="page">
            <Outlet />
        </main>
    }
}

#[component]
fn Header(viewer: Viewer, tenant: Signal<Option<String>>, logout: ServerAction<Logout>) -> impl IntoView {
    let current = move || tenant.get();
    let tenants = viewer.tenants.clone();
    let current_name = move || {
        current()
            .and_then(|slug| tenants.iter().find(|m| m.tenant.slug == slug).map(|m| m.tenant.name.clone()))
            .unwrap_or_else(|| "Choose a tenant".to_string())
    };
    view! {
        <details class="switcher">
            <summary aria-label="Switch tenant">{current_name}</summary>
            <ul class="menu" role="list">
                {viewer
                    .tenants
                    .iter()
                    .map(|membership| {
                        let slug = membership.tenant.slug.clone();
                        let href = format!("/admin/t/{slug}");
                        let is_current = move || current().as_deref() == Some(slug.as_str());
                        view! {
                            <li>
                                <a href=href aria-current=move || is_current().then_some("page")>
                                    <span>{membership.tenant.name.clone()}</span>
                                    <small>{membership.role.label()}</small>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
                {viewer
                    .tenants
                    .is_empty()
                    .then(|| view! { <li class="muted">"You are not a member of any tenant yet."</li> })}
            </ul>
        </details>
        <nav class="account" aria-label="Account">
            <a href="/admin/monitoring">"Monitoring"</a>
            <a href="/admin/pipelines">"Pipelines"</a>
            <a href="/admin/schedules">"Schedules"</a>
            <a href="/admin/registry">"Tools"</a>
            {viewer.user.account_role.is_power_user().then(|| view! { <a href="/admin/audit">"Audit"</a> })}
            <a href="/admin/tokens">"API tokens"</a>
            {viewer.user.is_platform_admin.then(|| view! { <a href="/system">"Platform"</a> })}
            <a class="who" href="/admin/account" title=viewer.user.email.clone()>
                {viewer.user.display_name.clone()}
            </a>
            <ActionForm action=logout>
                <button type="submit" class="link">
                    "Sign out"
                </button>
            </ActionForm>
        </nav>
    }
}
