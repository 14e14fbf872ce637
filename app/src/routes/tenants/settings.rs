//! A tenant's settings page: setting and checking its provider connection.

use crate::components::{timestamp, ActionError, ActionNotice, GatedButton, Loaded, TenantTab, TenantTabs};
use crate::functions::{tenant_settings, CheckConnection, SaveConnection, SettingsView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::provider::{ConnectionCheck, ConnectionInfo, CredentialKind, DEFAULT_BASE_URL};
use tenantpilot_core::Capability;

/// A tenant's settings: how TenantPilot reaches its provider (Microsoft Graph through an Entra
/// app registration). The secret and the private key are write-only.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let save = ServerAction::<SaveConnection>::new();
    let check = ServerAction::<CheckConnection>::new();
    let view = Resource::new(move || tenant.get(), tenant_settings);
    view! {
        <Title text="Settings" />
        <Loaded resource=view let:view>
            {
                view! { <Settings view save check /> }
            }
        </Loaded>
    }
}

/// What "Check connection" found: the token, then each area the app registration may read.
#[component]
fn CheckResult(check: ConnectionCheck) -> impl IntoView {
    let summary = if check.all_readable() {
        "The connection works: the app registration can read everything TenantPilot backs up."
    } else {
        "The connection signs in, but the app registration cannot read everything TenantPilot backs up."
    };
    view! {
        <section class="card check" id="check" aria-live="polite">
            <h2>"Connection check " <small class="muted">{timestamp(check.checked_at)}</small></h2>
            <p class=if check.all_readable() { "notice ok" } else { "notice error" } role="status">
                {summary}
            </p>
            <dl class="facts">
                <dt>"Token issued in tenant"</dt>
                <dd>
                    <code>
                        {check.token_tenant.clone().unwrap_or_else(|| "(not stated by the token)".into())}
                    </code>
                </dd>
                <dt>"Token expires"</dt>
                <dd>{timestamp(check.token_expires_at)}</dd>
                <dt>"Application permissions granted"</dt>
                <dd>
                    {if check.roles.is_empty() { "none stated".to_string() } else { check.roles.join(", ") }}
                </dd>
            </dl>
            <div class="table-wrap">
                <table class="access">
                    <thead>
                        <tr>
                            <th scope="col">"Reads"</th>
                            <th scope="col">"Graph path"</th>
                            <th scope="col">"Result"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {check
                            .checks
                            .into_iter()
                            .map(|access| {
                                view! {
                                    <tr
                                        data-area=access.area.clone()
                                        data-readable=access.readable.to_string()
                                    >
                                        <td>{access.area.clone()}</td>
                                        <td>
                                            <code>{access.path.clone()}</code>
                                        </td>
                                        <td>
                                            {if access.readable {
                                                view! {
                                                    <span class="badge outcome-succeeded">"readable"</span>
                                                }
                                                    .into_any()
                                            } else {
                                                view! {
                                                    <span class="badge outcome-failed">"not readable"</span>
                                                    " Needs the application permission "
                                                    <code>{access.permission.clone()}</code>
                                                    " (with admin consent). "
                                                    <small class="muted">
                                                        {access.message.clone().unwrap_or_default()}
                                                    </small>
                                                }
                                                    .into_any()
                                            }}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
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
    let value = move |pick: fn(&ConnectionInfo) -> String| connection.as_ref().map(pick).unwrap_or_default();
    let base_url =
        view.connection.as_ref().map(|c| c.base_url.clone()).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let (token_url, client_id, scope) = (
        value(|c| c.token_url.clone()),
        value(|c| c.client_id.clone()),
        value(|c| c.scope.clone().unwrap_or_default()),
    );
    let stored = match &view.connection {
        Some(ConnectionInfo { credential: CredentialKind::Certificate, certificate_thumbprint, .. }) => {
            format!(
                "A certificate is stored (thumbprint {}). Leave both empty to keep it.",
                certificate_thumbprint.clone().unwrap_or_default()
            )
        }
        Some(_) => "A client secret is stored. Leave both empty to keep it.".to_string(),
        None => "Enter a client secret or a certificate.".to_string(),
    };
    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a>
            " / "
            <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / Settings"
        </nav>
        <h1>"Settings of " {tenant.name.clone()}</h1>
        <TenantTabs slug=slug.clone() current=TenantTab::Settings />
        <ActionNotice action=save done="Provider connection saved." />
        <ActionError action=check />
        {view.last_check.clone().map(|check| view! { <CheckResult check /> })}
        <section class="card">
            <h2>"Provider connection"</h2>
            <p class="muted">
                {match &view.connection {
                    Some(connection) => {
                        format!(
                            "Last set {}. Token requests ask for the scope {}.",
                            timestamp(connection.updated_at),
                            connection.effective_scope,
                        )
                    }
                    None => "Not connected yet: operations on this tenant fail until it is.".to_string(),
                }}
            </p>
            <ActionForm action=save attr:class="stacked-form">
                <input type="hidden" name="tenant" value=save_slug />
                <label>
                    "API base URL "
                    <small class="muted">"(Graph's beta: the settings catalog exists only there)"</small>
                    <input
                        type="url"
                        name="base_url"
                        value=base_url
                        placeholder=DEFAULT_BASE_URL
                        disabled=!can_manage
                    />
                </label>
                <label>
                    "Token URL "
                    <small class="muted">
                        "(https://login.microsoftonline.com/{directory-id}/oauth2/v2.0/token)"
                    </small>
                    <input type="url" name="token_url" required value=token_url disabled=!can_manage />
                </label>
                <label>
                    "Application (client) id"
                    <input name="client_id" required value=client_id disabled=!can_manage />
                </label>
                <label>
                    "Scope "
                    <small class="muted">
                        "(optional; by default {scheme}://{host}/.default of the base URL)"
                    </small>
                    <input
                        name="scope"
                        value=scope
                        placeholder="https://graph.microsoft.com/.default"
                        disabled=!can_manage
                    />
                </label>
                <fieldset>
                    <legend>"Credential"</legend>
                    <p class="muted">{stored}</p>
                    <label>
                        "Client secret"
                        <input type="password" name="client_secret" autocomplete="off" disabled=!can_manage />
                    </label>
                    <label>
                        "…or certificate with its private key (PEM)"
                        <textarea
                            name="client_certificate"
                            rows="4"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n…"
                            disabled=!can_manage
                        ></textarea>
                    </label>
                </fieldset>
                <GatedButton
                    allowed=can_manage
                    capability=Capability::SettingsManage
                    label="Save connection"
                    class="primary"
                />
            </ActionForm>
            {connected
                .then(|| {
                    view! {
                        <ActionForm action=check attr:class="inline-form">
                            <input type="hidden" name="tenant" value=check_slug />
                            <GatedButton
                                allowed=can_manage
                                capability=Capability::SettingsManage
                                label="Check connection"
                            />
                        </ActionForm>
                    }
                })}
        </section>
    }
}
