//! The tabs across a tenant's pages: overview, members, backups and restores, settings.

use leptos::prelude::*;

/// The tenant pages, as tabs; `current` is the one shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantTab {
    Overview,
    Members,
    Backups,
    Settings,
}

#[component]
pub fn TenantTabs(#[prop(into)] slug: String, current: TenantTab) -> impl IntoView {
    let tabs = [
        (TenantTab::Overview, "Overview", format!("/admin/t/{slug}")),
        (TenantTab::Members, "Members", format!("/admin/t/{slug}/members")),
        (TenantTab::Backups, "Backups & restores", format!("/admin/t/{slug}/backups")),
        (TenantTab::Settings, "Settings", format!("/admin/t/{slug}/settings")),
    ];
    view! {
        <nav class="tabs" aria-label="Tenant">
            {tabs
                .into_iter()
                .map(|(tab, label, href)| {
                    view! {
                        <a href=href aria-current=(tab == current).then_some("page")>
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}
