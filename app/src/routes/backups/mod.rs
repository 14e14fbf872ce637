//! A tenant's backups: its sets and items, its capture schedules, and one item with its
//! assignments.

mod item;
mod list;
mod schedules;

pub use item::BackupItemPage;
pub use list::BackupsPage;
