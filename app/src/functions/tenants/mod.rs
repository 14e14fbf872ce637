//! Tenants: creating one, its overview and settings, the platform overview.

mod create_tenant;
mod platform_overview;
mod tenant_overview;
mod tenant_settings;

pub use create_tenant::*;
pub use platform_overview::*;
pub use tenant_overview::*;
pub use tenant_settings::*;
