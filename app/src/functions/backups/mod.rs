//! Backup sets and items: listing them, capturing a tenant, fetching an item's assignments.

mod backup_item;
mod backups;
mod start_capture;
mod start_fetch;

pub use backup_item::*;
pub use backups::*;
pub use start_capture::*;
pub use start_fetch::*;
