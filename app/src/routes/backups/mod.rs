//! A tenant's backups: its sets and items (and its capture schedules), and one item with its
//! assignments.

mod item;
mod list;

pub use item::BackupItemPage;
pub use list::BackupsPage;
