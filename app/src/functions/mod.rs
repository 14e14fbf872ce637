//! Server functions: one per file, each a thin call into the core behind the guard.

mod add_member;
mod audit_log;
mod backup_item;
mod backups;
mod cancel_run;
mod change_member_role;
mod check_connection;
mod create_pipeline;
mod create_tenant;
mod create_token;
mod create_tool;
mod delete_pipeline;
mod delete_tool;
mod login;
mod logout;
mod members;
mod monitoring;
mod my_tokens;
mod pipeline_detail;
mod pipelines;
mod plan_restore;
mod platform_overview;
mod remap_restore;
mod remove_member;
mod reset_pipeline;
mod restore;
mod revoke_token;
mod run_detail;
mod run_pipeline;
mod save_connection;
mod save_pipeline;
mod start_capture;
mod start_fetch;
mod start_restore;
mod stop_pipeline;
mod submit_tenant_job;
mod tenant_jobs;
mod tenant_overview;
mod tenant_settings;
mod tool_detail;
mod tools;
mod update_tool;
mod viewer;

pub use add_member::*;
pub use audit_log::*;
pub use backup_item::*;
pub use backups::*;
pub use cancel_run::*;
pub use change_member_role::*;
pub use check_connection::*;
pub use create_pipeline::*;
pub use create_tenant::*;
pub use create_token::*;
pub use create_tool::*;
pub use delete_pipeline::*;
pub use delete_tool::*;
pub use login::*;
pub use logout::*;
pub use members::*;
pub use monitoring::*;
pub use my_tokens::*;
pub use pipeline_detail::*;
pub use pipelines::*;
pub use plan_restore::*;
pub use platform_overview::*;
pub use remap_restore::*;
pub use remove_member::*;
pub use reset_pipeline::*;
pub use restore::*;
pub use revoke_token::*;
pub use run_detail::*;
pub use run_pipeline::*;
pub use save_connection::*;
pub use save_pipeline::*;
pub use start_capture::*;
pub use start_fetch::*;
pub use start_restore::*;
pub use stop_pipeline::*;
pub use submit_tenant_job::*;
pub use tenant_jobs::*;
pub use tenant_overview::*;
pub use tenant_settings::*;
pub use tool_detail::*;
pub use tools::*;
pub use update_tool::*;
pub use viewer::*;

/// A tool's JSON as typed into a form: an object, or an error naming the field.
#[cfg(feature = "ssr")]
fn tool_json(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, tenantpilot_core::CoreError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(fields)) => Ok(fields),
        Ok(_) => {
            Err(tenantpilot_core::CoreError::invalid("json", "The tool is a JSON object: { \"name\": … }"))
        }
        Err(error) => Err(tenantpilot_core::CoreError::invalid("json", format!("Not valid JSON: {error}"))),
    }
}
