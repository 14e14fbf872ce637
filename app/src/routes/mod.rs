//! Pages, one module each.

mod audit;
mod backup_item;
mod backups;
mod home;
mod login;
mod members;
mod monitoring;
mod not_found;
mod operation_run;
mod pipeline;
mod pipelines;
mod platform;
mod registry;
mod restore;
mod settings;
mod tenant_lifecycle;
mod tenant_overview;
mod tokens;
mod tool;
mod workspace_home;

pub use audit::AuditPage;
pub use backup_item::BackupItemPage;
pub use backups::BackupsPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use members::MembersPage;
pub use monitoring::MonitoringPage;
pub use not_found::NotFoundPage;
pub use operation_run::RunPage;
pub use pipeline::PipelinePage;
pub use pipelines::PipelinesPage;
pub use platform::PlatformPage;
pub use registry::RegistryPage;
pub use restore::RestorePage;
pub use settings::SettingsPage;
pub use tenant_lifecycle::TenantLifecyclePage;
pub use tenant_overview::TenantOverviewPage;
pub use tokens::TokensPage;
pub use tool::ToolPage;
pub use workspace_home::WorkspaceHomePage;

/// `next` after sign-in, if it is a path on this site (never another origin: no open redirect)
/// made of visible ASCII, as a `Location` header must be.
pub fn local_path(next: Option<&str>) -> Option<&str> {
    next.filter(|path| {
        path.starts_with('/')
            && !path.starts_with("//")
            && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(super::local_path(Some("/admin/t/x")), Some("/admin/t/x"));
        for bad in
            ["https://evil.example", "//evil.example", "/\\evil.example", "admin", "/a\nb", "/ä", "/a b"]
        {
            assert_eq!(super::local_path(Some(bad)), None, "{bad}");
        }
        assert_eq!(super::local_path(None), None);
    }
}
