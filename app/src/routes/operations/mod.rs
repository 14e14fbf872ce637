//! Operation runs: the Monitoring dashboard and one run's page.

mod monitoring;
mod run;

pub use monitoring::MonitoringPage;
pub use run::RunPage;
