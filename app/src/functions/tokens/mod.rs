//! Personal access tokens: listing, creating and revoking one's own.

mod create_token;
mod my_tokens;
mod revoke_token;

pub use create_token::*;
pub use my_tokens::*;
pub use revoke_token::*;
