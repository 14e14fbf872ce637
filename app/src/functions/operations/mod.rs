//! Operation runs: the Monitoring list, one run, cancelling a run.

mod cancel_run;
mod monitoring;
mod run_detail;

pub use cancel_run::*;
pub use monitoring::*;
pub use run_detail::*;
