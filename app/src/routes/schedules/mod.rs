//! Schedules: the Schedules page (every schedule the viewer may see) and the section a tenant's
//! backups page and a pipeline's page show their own schedules in.

mod page;
mod section;

pub use page::SchedulesPage;
pub use section::{ScheduleScope, ScheduleSection};
