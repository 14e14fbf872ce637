//! Operation runs: the Monitoring list, one run, cancelling and retrying a run, bulk actions.

mod bulk_runs;
mod cancel_run;
mod monitoring;
mod retry_run;
mod run_detail;

pub use bulk_runs::*;
pub use cancel_run::*;
pub use monitoring::*;
pub use retry_run::*;
pub use run_detail::*;
