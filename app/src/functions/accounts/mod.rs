//! Signing in and out, who is signed in, and the account's settings.

mod account_settings;
mod login;
mod logout;
mod set_time_zone;
mod viewer;

pub use account_settings::*;
pub use login::*;
pub use logout::*;
pub use set_time_zone::*;
pub use viewer::*;
