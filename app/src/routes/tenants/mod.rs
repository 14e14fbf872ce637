//! Tenants: the platform's list of them, one tenant's overview and its settings.

mod overview;
mod platform;
mod settings;

pub use overview::TenantOverviewPage;
pub use platform::PlatformPage;
pub use settings::SettingsPage;
