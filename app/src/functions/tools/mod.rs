//! The tool registry: listing, creating, changing and deleting tools.

mod create_tool;
mod delete_tool;
mod tool_detail;
mod tools;
mod update_tool;

pub use create_tool::*;
pub use delete_tool::*;
pub use tool_detail::*;
pub use tools::*;
pub use update_tool::*;

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
