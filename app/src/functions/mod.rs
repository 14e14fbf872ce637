//! Server functions: one per file, each a thin call into the core behind the guard.

mod add_member;
mod change_member_role;
mod create_tenant;
mod login;
mod logout;
mod members;
mod platform_overview;
mod remove_member;
mod tenant_overview;
mod viewer;

pub use add_member::*;
pub use change_member_role::*;
pub use create_tenant::*;
pub use login::*;
pub use logout::*;
pub use members::*;
pub use platform_overview::*;
pub use remove_member::*;
pub use tenant_overview::*;
pub use viewer::*;
