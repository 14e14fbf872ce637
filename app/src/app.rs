use crate::routes::{
    AuditPage, BackupItemPage, BackupsPage, HomePage, LoginPage, MembersPage, MonitoringPage, NotFoundPage,
    PipelinePage, PipelinesPage, PlatformPage, RegistryPage, RestorePage, RunPage, SettingsPage,
    TenantLifecyclePage, TenantOverviewPage, TokensPage, ToolPage, WorkspaceHomePage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // No icon to fetch: saves every page a request that would only 404.
                <link rel="icon" href="data:," />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Pages load their data before the first byte is sent (`SsrMode::Async`), so a page can answer
/// 404, 403 or a redirect with the right status, and everything shows with JavaScript off.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tenantpilot.css" />
        <Title formatter=|page: String| if page.is_empty() { "TenantPilot".to_string() } else { format!("{page} · TenantPilot") } />
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/") view=HomePage />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/admin") view=WorkspaceHomePage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant") view=TenantOverviewPage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant/members") view=MembersPage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant/backups") view=BackupsPage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant/backups/items/:id") view=BackupItemPage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant/restores/:id") view=RestorePage ssr=SsrMode::Async />
                <Route path=path!("/admin/t/:tenant/settings") view=SettingsPage ssr=SsrMode::Async />
                <Route path=path!("/admin/monitoring") view=MonitoringPage ssr=SsrMode::Async />
                <Route path=path!("/admin/tokens") view=TokensPage ssr=SsrMode::Async />
                <Route path=path!("/admin/pipelines") view=PipelinesPage ssr=SsrMode::Async />
                <Route path=path!("/admin/pipelines/:id") view=PipelinePage ssr=SsrMode::Async />
                <Route path=path!("/admin/registry") view=RegistryPage ssr=SsrMode::Async />
                <Route path=path!("/admin/registry/:id") view=ToolPage ssr=SsrMode::Async />
                <Route path=path!("/admin/audit") view=AuditPage ssr=SsrMode::Async />
                <Route path=path!("/admin/monitoring/runs/:id") view=RunPage ssr=SsrMode::Async />
                <Route path=path!("/system") view=PlatformPage ssr=SsrMode::Async />
                <Route path=path!("/system/tenants/:slug") view=TenantLifecyclePage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
