//! Pipelines: listing, editing and running them.

mod create_pipeline;
mod delete_pipeline;
mod pipeline_detail;
mod pipelines;
mod reset_pipeline;
mod run_pipeline;
mod save_pipeline;
mod stop_pipeline;

pub use create_pipeline::*;
pub use delete_pipeline::*;
pub use pipeline_detail::*;
pub use pipelines::*;
pub use reset_pipeline::*;
pub use run_pipeline::*;
pub use save_pipeline::*;
pub use stop_pipeline::*;
