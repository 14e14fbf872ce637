//! Signing in and out, and who is signed in.

mod login;
mod logout;
mod viewer;

pub use login::*;
pub use logout::*;
pub use viewer::*;
