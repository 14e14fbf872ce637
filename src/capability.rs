//! Tenant roles and the capabilities they grant: the one table every check reads.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A member's role in one tenant, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Readonly,
    Operator,
    Manager,
    Owner,
}

/// What a member may do in a tenant, named `tenant.<area>.<verb>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Capability {
    #[serde(rename = "tenant.core.view")]
    CoreView,
    #[serde(rename = "tenant.members.view")]
    MembersView,
    #[serde(rename = "tenant.members.manage")]
    MembersManage,
    #[serde(rename = "tenant.operations.view")]
    OperationsView,
    #[serde(rename = "tenant.operations.start")]
    OperationsStart,
    #[serde(rename = "tenant.backups.manage")]
    BackupsManage,
    #[serde(rename = "tenant.restore.execute")]
    RestoreExecute,
    /// The tenant's settings, such as its provider connection and credentials.
    #[serde(rename = "tenant.settings.manage")]
    SettingsManage,
}

text_enum!(Role, "role" { Owner = "owner", Manager = "manager", Operator = "operator", Readonly = "readonly" });

impl Role {
    /// The capability table. Roles are nested: each role has everything the one below it has.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            Role::Readonly => &[CoreView, OperationsView],
            Role::Operator => &[CoreView, MembersView, OperationsView, OperationsStart, BackupsManage],
            Role::Manager => {
                &[CoreView, MembersView, OperationsView, OperationsStart, BackupsManage, RestoreExecute]
            }
            Role::Owner => &Capability::ALL,
        }
    }

    pub fn has(self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Readonly => "Read-only",
            Role::Operator => "Operator",
            Role::Manager => "Manager",
            Role::Owner => "Owner",
        }
    }
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::CoreView,
        Capability::MembersView,
        Capability::MembersManage,
        Capability::OperationsView,
        Capability::OperationsStart,
        Capability::BackupsManage,
        Capability::RestoreExecute,
        Capability::SettingsManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::CoreView => "tenant.core.view",
            Capability::MembersView => "tenant.members.view",
            Capability::MembersManage => "tenant.members.manage",
            Capability::OperationsView => "tenant.operations.view",
            Capability::OperationsStart => "tenant.operations.start",
            Capability::BackupsManage => "tenant.backups.manage",
            Capability::RestoreExecute => "tenant.restore.execute",
            Capability::SettingsManage => "tenant.settings.manage",
        }
    }

    /// The least privileged role holding this capability, for "needs the X role" hints.
    pub fn minimum_role(self) -> Role {
        let mut roles = Role::ALL;
        roles.sort();
        roles.into_iter().find(|role| role.has(self)).unwrap_or(Role::Owner)
    }

    /// The sentence a disabled control's tooltip shows.
    pub fn requirement_hint(self) -> String {
        format!("Requires the {} role or higher", self.minimum_role().label())
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Capability::*;

    /// The whole role × capability matrix, written out so that a change to the table is a
    /// deliberate change to this test too.
    #[test]
    fn every_role_and_capability() {
        let expected: [(Role, [bool; 8]); 4] = [
            //                core   m.view m.man  op.view op.start backups restore settings
            (Role::Owner, [true, true, true, true, true, true, true, true]),
            (Role::Manager, [true, true, false, true, true, true, true, false]),
            (Role::Operator, [true, true, false, true, true, true, false, false]),
            (Role::Readonly, [true, false, false, true, false, false, false, false]),
        ];
        for (role, row) in expected {
            for (capability, allowed) in Capability::ALL.into_iter().zip(row) {
                assert_eq!(role.has(capability), allowed, "{role} × {capability}");
            }
        }
    }

    #[test]
    fn roles_are_nested() {
        let mut ascending = Role::ALL;
        ascending.sort();
        for pair in ascending.windows(2) {
            for capability in pair[0].capabilities() {
                assert!(pair[1].has(*capability), "{} lacks {capability} of {}", pair[1], pair[0]);
            }
        }
    }

    #[test]
    fn minimum_roles_for_hints() {
        assert_eq!(MembersManage.minimum_role(), Role::Owner);
        assert_eq!(SettingsManage.minimum_role(), Role::Owner);
        assert_eq!(RestoreExecute.minimum_role(), Role::Manager);
        assert_eq!(BackupsManage.minimum_role(), Role::Operator);
        assert_eq!(CoreView.minimum_role(), Role::Readonly);
        assert_eq!(MembersManage.requirement_hint(), "Requires the Owner role or higher");
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
        for capability in Capability::ALL {
            let json = serde_json::to_string(&capability).unwrap();
            assert_eq!(json, format!("\"{}\"", capability.as_str()));
        }
    }
}
