//! TenantPilot's domain core: models, roles and capabilities, errors, and (with the `server`
//! feature) the store, password hashing and the access guard's logic. No HTTP, no UI.

#[macro_use]
mod text_enum;

pub mod audit;
pub mod backups;
pub mod capability;
pub mod encoding;
pub mod error;
pub mod ids;
pub mod item_access;
pub mod model;
pub mod operations;
pub mod pipelines;
pub mod provider;
pub mod schedules;
pub mod tenant_jobs;
pub mod tokens;
pub mod tools;
pub mod validate;

#[cfg(feature = "server")]
pub mod access;
#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod egress;
#[cfg(feature = "server")]
pub mod engine;
#[cfg(feature = "server")]
pub mod keyring;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod seed;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tenancy;
/// Fresh test databases and test settings: for this workspace's tests, never in the binary.
#[cfg(feature = "test-support")]
pub mod testing;
#[cfg(feature = "server")]
pub mod throttle;

pub use capability::{Capability, Role};
pub use error::CoreError;
pub use ids::{PipelineId, RunId, TenantId, ToolId, UserId, WorkspaceId};
