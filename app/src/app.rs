//! The HTML shell around every page, its Content-Security-Policy, and the routes to the pages.

use crate::components::AdminLayout;
use crate::routes::{
    AccountPage, AuditPage, BackupItemPage, BackupsPage, HomePage, LoginPage, MembersPage, MonitoringPage,
    NotFoundPage, PipelinePage, PipelinesPage, PlatformPage, RegistryPage, RestorePage, RunPage,
    SchedulesPage, SettingsPage, TenantLifecyclePage, TenantOverviewPage, TokensPage, ToolPage,
    WorkspaceHomePage,
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // A fresh nonce for this response: the hydration scripts carry it, and the
    // Content-Security-Policy admits scripts by it alone.
    #[cfg(feature = "ssr")]
    content_security_policy();
    // The viewer's time zone, for the browser to draw times as the server did.
    #[cfg(feature = "ssr")]
    let zone = crate::components::page_zone_name();
    #[cfg(not(feature = "ssr"))]
    let zone = String::from("UTC");
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name=crate::components::ZONE_META content=zone />
                // No icon to fetch: saves every page a request that would only 404.
                <link rel="icon" href="data:," />
                <AutoReload options=options.clone() />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// What every page may load: its own files, scripts by this response's nonce (and what they
/// load), the WebAssembly they compile; no inline style, no plugins, no framing, forms only here.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Pages load their data before the first byte is sent (`SsrMode::Async`), so a page can answer
/// 404, 403 or a redirect with the right status, and everything shows with JavaScript off.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tenantpilot.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "TenantPilot".to_string() } else { format!("{page} · TenantPilot") }
        } />
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/") view=HomePage />
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                // Every signed-in page: the layout around it, and its data loaded before the first
                // byte (Async), set here once for all of them.
                <ParentRoute path=path!("") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("/admin") view=WorkspaceHomePage />
                    <Route path=path!("/admin/t/:tenant") view=TenantOverviewPage />
                    <Route path=path!("/admin/t/:tenant/members") view=MembersPage />
                    <Route path=path!("/admin/t/:tenant/backups") view=BackupsPage />
                    <Route path=path!("/admin/t/:tenant/backups/items/:id") view=BackupItemPage />
                    <Route path=path!("/admin/t/:tenant/restores/:id") view=RestorePage />
                    <Route path=path!("/admin/t/:tenant/settings") view=SettingsPage />
                    <Route path=path!("/admin/monitoring") view=MonitoringPage />
                    <Route path=path!("/admin/tokens") view=TokensPage />
                    <Route path=path!("/admin/account") view=AccountPage />
                    <Route path=path!("/admin/schedules") view=SchedulesPage />
                    <Route path=path!("/admin/pipelines") view=PipelinesPage />
                    <Route path=path!("/admin/pipelines/:id") view=PipelinePage />
                    <Route path=path!("/admin/registry") view=RegistryPage />
                    <Route path=path!("/admin/registry/:id") view=ToolPage />
                    <Route path=path!("/admin/audit") view=AuditPage />
                    <Route path=path!("/admin/monitoring/runs/:id") view=RunPage />
                    <Route path=path!("/system") view=PlatformPage />
                    <Route path=path!("/system/tenants/:slug") view=TenantLifecyclePage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
