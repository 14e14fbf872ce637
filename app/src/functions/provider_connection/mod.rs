//! A tenant's provider connection: saving and checking it.

mod check_connection;
mod save_connection;

pub use check_connection::*;
pub use save_connection::*;
