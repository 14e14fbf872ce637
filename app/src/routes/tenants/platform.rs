//! The platform page: every workspace and tenant, and creating a tenant, for platform admins.

use crate::components::{ActionNotice, Loaded};
use crate::functions::{platform_overview, CreateTenant};
use leptos::prelude::*;
use leptos_meta::Title;

/// The platform plane: every workspace and tenant, for platform admins only.
#[component]
pub fn PlatformPage() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let overview = Resource::new(|| (), |_| platform_overview());
    view! {
        <Title text="Platform" />
        <Loaded resource=overview let:workspaces>
            {
                view! {
                    <h1>"Platform"</h1>
                    <ActionNotice action=create done="Tenant created." />
                    {workspaces
                        .into_iter()
                        .map(|entry| {
                            view! {
                                <section class="card">
                                    <h2>
                                        {entry.workspace.name.clone()} " " <small class="muted">
                                            <code>{entry.workspace.slug.clone()}</code>
                                        </small>
                                    </h2>
                                    <div class="table-wrap">
                                        <table>
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Tenant"</th>
                                                    <th scope="col">"Slug"</th>
                                                    <th scope="col">"External id"</th>
                                                    <th scope="col">"State"</th>
                                                    <th scope="col">"Module"</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {entry
                                                    .tenants
                                                    .into_iter()
                                                    .map(|tenant| {
                                                        view! {
                                                            <tr>
                                                                <td>
                                                                    <a href=format!(
                                                                        "/system/tenants/{}",
                                                                        tenant.slug,
                                                                    )>{tenant.name}</a>
                                                                </td>
                                                                <td>
                                                                    <code>{tenant.slug}</code>
                                                                </td>
                                                                <td>
                                                                    <code>{tenant.external_tenant_id}</code>
                                                                </td>
                                                                <td>
                                                                    {if tenant.enabled { "Enabled" } else { "Disabled" }}
                                                                </td>
                                                                <td>
                                                                    {tenant
                                                                        .module_version
                                                                        .unwrap_or_else(|| "Not installed".to_string())}
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
                        })
                        .collect_view()}
                    <section class="card">
                        <h2>"Create a tenant"</h2>
                        <ActionForm action=create attr:class="stacked-form">
                            <label>
                                "Workspace slug"
                                <input
                                    name="workspace"
                                    required
                                    value="default"
                                    pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
                                />
                            </label>
                            <label>
                                "Tenant slug"
                                <input
                                    name="slug"
                                    required
                                    pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
                                    placeholder="contoso-eu"
                                />
                            </label>
                            <label>"Display name" <input name="name" required maxlength="120" /></label>
                            <label>
                                "External tenant id (optional)"
                                <input name="external_tenant_id" maxlength="120" />
                            </label>
                            <button type="submit" class="primary">
                                "Create tenant"
                            </button>
                        </ActionForm>
                    </section>
                }
            }
        </Loaded>
    }
}
