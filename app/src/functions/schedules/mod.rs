//! Schedules: a tenant's capture schedules; creating, pausing and resuming, running one now,
//! deleting.

mod create_schedule;
mod delete_schedule;
mod pause_schedule;
mod schedules;
mod trigger_schedule;

pub use create_schedule::*;
pub use delete_schedule::*;
pub use pause_schedule::*;
pub use schedules::*;
pub use trigger_schedule::*;
