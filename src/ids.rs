//! The ids that cross module boundaries, as types: a tenant's id cannot go where a run's is
//! wanted. On the wire and in rows each is the bare number it wraps.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "server", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;
            fn from_str(text: &str) -> Result<Self, ParseIntError> {
                text.parse().map($name)
            }
        }
    )*};
}

id_types!(
    /// A workspace: the customer account tenants belong to.
    WorkspaceId,
    /// A tenant of a workspace.
    TenantId,
    /// A person's account.
    UserId,
    /// An operation run (Monitoring's runs; tenant jobs are runs too).
    RunId,
    /// A pipeline definition.
    PipelineId,
    /// A tool in the registry.
    ToolId,
    /// A schedule.
    ScheduleId,
);
