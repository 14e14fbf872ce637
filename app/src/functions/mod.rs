//! Server functions: one per file, in a folder per feature, each a thin call into the core
//! behind the guard.

// A file is named after its function, and a feature's list function after the feature
// (`backups/backups.rs`), as its endpoint (`/api/backups`) is.
#![allow(clippy::module_inception)]

mod accounts;
mod audit;
mod backups;
mod members;
mod operations;
mod pipelines;
mod provider_connection;
mod restores;
mod schedules;
mod tenant_jobs;
mod tenants;
mod tokens;
mod tools;

pub use accounts::*;
pub use audit::*;
pub use backups::*;
pub use members::*;
pub use operations::*;
pub use pipelines::*;
pub use provider_connection::*;
pub use restores::*;
pub use schedules::*;
pub use tenant_jobs::*;
pub use tenants::*;
pub use tokens::*;
pub use tools::*;

use leptos::server_fn::ServerFn;

/// The functions whose answer may travel in the address after a form post, back to the page it
/// came from (a run id, a count, a short message; never a secret), for the page to show what it
/// did. (A retry or "Run now" answers with its run's page instead.)
pub const ANSWERS_IN_ADDRESS: [&str; 5] =
    [StartCapture::PATH, StartFetch::PATH, StartRestore::PATH, BulkRuns::PATH, SubmitTenantJob::PATH];
