//! Restore runs: planning, remapping and starting a restore of assignments.

mod plan_restore;
mod remap_restore;
mod restore;
mod start_restore;

pub use plan_restore::*;
pub use remap_restore::*;
pub use restore::*;
pub use start_restore::*;
