use crate::components::{timestamp, ActionNotice, ErrorView, Frame, GatedButton, TenantTab, TenantTabs};
use crate::functions::{tenant_settings, CheckConnection, SaveConnection, SettingsView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::Capability;

/// A tenant's settings: how TenantPilot reaches its provider. The secret is write-only.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let save = ServerAction::<SaveConnection>::new();
    let check = ServerAction::<CheckConnection>::new();
    let view =
        Resource::new(move || (tenant.get(), save.version().get()), |(tenant, _)| tenant_settings(tenant));
    view! {
        <Title text="Settings" />
        <Frame tenant>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match view.await {
                        Ok(view) => view! { <Settings view save check /> }.into_any(),
                        Err(error) => view! { <ErrorView error /> }.into_any(),
                    }
                })}
            </Suspense>
        </Frame>
    }
}

#[component]
fn Settings(
    view: SettingsView,
    save: ServerAction<SaveConnection>,
    check: ServerAction<CheckConnection>,
) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let slug = tenant.slug.clone();
    let (save_slug, check_slug) = (slug.clone(), slug.clone());
    let can_manage = view.viewer.can(Capability::SettingsManage);
    let connected = view.connection.is_some();
    let connection = view.connection.clone();
    let value = move |pick: fn(&tenantpilot_core::provider::ConnectionInfo) -> String| {
        connection.as_ref().map(pick).unwrap_or_default()
    };
    let (base_url, token_url, client_id) =
        (value(|c| c.base_url.clone()), value(|c| c.token_url.clone()), value(|c| c.client_id.clone()));
    let checked = move || {
        check.value().get().map(|result| match result {
            Ok(message) => view! { <p class="notice ok" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <p class="notice error" role="alert">{error.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a> " / " <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a> " / Settings"
        </nav>
        <h1>"Settings of " {tenant.name.clone()}</h1>
        <TenantTabs slug=slug.clone() current=TenantTab::Settings />
        <ActionNotice action=save done="Provider connection saved." />
        {checked}
        <section class="card">
            <h2>"Provider connection"</h2>
            <p class="muted">{match &view.connection {
                Some(connection) => format!("Last set {}.", timestamp(connection.updated_at)),
                None => "Not connected yet: operations on this tenant fail until it is.".to_string(),
            }}</p>
            <ActionForm action=save attr:class="stacked-form">
                <input type="hidden" name="tenant" value=save_slug />
                <label>"API base URL" <input type="url" name="base_url" required value=base_url placeholder="https://graph.example.com/v1.0" disabled=!can_manage /></label>
                <label>"Token URL (OAuth2 client credentials)" <input type="url" name="token_url" required value=token_url disabled=!can_manage /></label>
                <label>"Client id" <input name="client_id" required value=client_id disabled=!can_manage /></label>
                <label>"Client secret "
                    <small class="muted">{if connected { "(stored; leave empty to keep it)" } else { "" }}</small>
                    <input type="password" name="client_secret" autocomplete="off" required=!connected disabled=!can_manage />
                </label>
                <GatedButton allowed=can_manage capability=Capability::SettingsManage label="Save connection" class="primary" />
            </ActionForm>
            {connected.then(|| view! {
                <ActionForm action=check attr:class="inline-form">
                    <input type="hidden" name="tenant" value=check_slug />
                    <GatedButton allowed=can_manage capability=Capability::SettingsManage label="Test connection" />
                </ActionForm>
            })}
        </section>
    }
}
