//! TenantPilot's domain core: models, roles and capabilities, errors, and (with the `server`
//! feature) the store, password hashing and the access guard's logic. No HTTP, no UI.

#[macro_use]
mod text_enum;

pub mod audit;
pub mod backup;
pub mod capability;
pub mod encoding;
pub mod error;
pub mod item_access;
pub mod lifecycle;
pub mod model;
pub mod operation;
pub mod pipeline;
pub mod provider;
pub mod tokens;
pub mod tool;
pub mod validate;

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
pub mod egress;
#[cfg(feature = "server")]
pub mod engine;
#[cfg(feature = "server")]
pub mod keyring;
#[cfg(feature = "server")]
pub mod monitoring;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod pipelines;
#[cfg(feature = "server")]
pub mod seed;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tenancy;
#[cfg(feature = "server")]
pub mod tenant_jobs;
/// Fresh test databases and test settings: for this workspace's tests, never in the binary.
#[cfg(feature = "test-support")]
pub mod testing;
#[cfg(feature = "server")]
pub mod throttle;
#[cfg(feature = "server")]
pub mod tools;

pub use capability::{Capability, Role};
pub use error::CoreError;
