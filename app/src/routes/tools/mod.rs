//! The tool registry: its list and one tool's page.

mod detail;
mod registry;

pub use detail::ToolPage;
pub use registry::RegistryPage;
