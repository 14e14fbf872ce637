//! Tenant lifecycle jobs on the platform's lifecycle page.

mod submit_tenant_job;
mod tenant_jobs;

pub use submit_tenant_job::*;
pub use tenant_jobs::*;
