//! Tenant members: listing, adding, removing and changing roles.

mod add_member;
mod change_member_role;
mod members;
mod remove_member;

pub use add_member::*;
pub use change_member_role::*;
pub use members::*;
pub use remove_member::*;
