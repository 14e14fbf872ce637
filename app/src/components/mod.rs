//! Pieces the pages share.

mod errors;
mod frame;
mod gated;
mod notice;

pub use errors::{ErrorView, Forbidden, NotFound};
pub use frame::Frame;
pub use gated::GatedButton;
pub use notice::ActionNotice;
