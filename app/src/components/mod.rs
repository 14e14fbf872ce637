//! Pieces the pages share.

mod errors;
mod frame;
mod gated;
mod live;
mod live_region;
mod loaded;
mod notice;
mod runs;
mod tenant_tabs;
mod time;

pub use errors::{ErrorView, Forbidden, NotFound};
pub use frame::AdminLayout;
pub use gated::{GatedButton, HintedButton};
pub use live::{patch, poll_for, refreshed, Applied, LiveRefresh, Poll, Reload};
pub use live_region::LiveRegion;
pub use loaded::{Loadable, Loaded};
pub use notice::{last_outcome, ActionError, ActionNotice, ActionSummary};
pub use runs::{duration, run_href, Progress, RunNotice, RunProgress, RunTable, StatusBadge};
pub use tenant_tabs::{TenantTab, TenantTabs};
#[cfg(feature = "ssr")]
pub use time::page_zone_name;
pub use time::{local_time, relative, timestamp, Ago, ZONE_META};
