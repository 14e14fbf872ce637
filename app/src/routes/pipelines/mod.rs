//! Pipelines: the workspace's list and one pipeline's page (steps, runs, logs).

mod detail;
mod list;

pub use detail::PipelinePage;
pub use list::PipelinesPage;
