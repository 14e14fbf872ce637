//! The audit log page's entries.

mod audit_log;

pub use audit_log::*;
