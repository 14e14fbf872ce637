//! Pages: a module per feature (a folder where a feature has several pages), named as the
//! feature is everywhere else.

mod accounts;
mod audit;
mod backups;
mod home;
mod members;
mod not_found;
mod operations;
mod pipelines;
mod restores;
mod schedules;
mod tenant_jobs;
mod tenants;
mod tokens;
mod tools;
mod workspace_home;

pub use accounts::{AccountPage, LoginPage};
pub use audit::AuditPage;
pub use backups::{BackupItemPage, BackupsPage};
pub use home::HomePage;
pub use members::MembersPage;
pub use not_found::NotFoundPage;
pub use operations::{MonitoringPage, RunPage};
pub use pipelines::{PipelinePage, PipelinesPage};
pub use restores::RestorePage;
pub use schedules::SchedulesPage;
pub use tenant_jobs::TenantLifecyclePage;
pub use tenants::{PlatformPage, SettingsPage, TenantOverviewPage};
pub use tokens::TokensPage;
pub use tools::{RegistryPage, ToolPage};
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
