//! Who may see and change a pipeline or a tool: its owner, the people and account roles on its
//! access list, and every Site Admin of its workspace. Whoever may not see an item gets
//! `NotFound` (as if it did not exist); whoever may see it but not change it gets `Forbidden`.

use crate::ids::{UserId, WorkspaceId};
use crate::model::User;
use crate::tokens::AccountRole;
use crate::{validate, CoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Read,
    Write,
}

/// One entry of an access list: a person (by e-mail) or an account role, with a level.
/// On the wire: `{"user": "ana@example.com", "level": "read"}` or `{"role": "power_user", …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccountRole>,
    pub level: Level,
}

impl AccessRule {
    fn grants(&self, user: &User) -> bool {
        self.user.as_deref().is_some_and(|email| email == user.email) || self.role == Some(user.account_role)
    }
}

/// Checks a list as sent by a client: each entry names exactly one person or role.
pub fn validate_rules(field: &str, rules: Vec<AccessRule>) -> Result<Vec<AccessRule>, CoreError> {
    rules
        .into_iter()
        .enumerate()
        .map(|(n, rule)| match (&rule.user, rule.role) {
            (Some(email), None) => {
                let email = validate::email(email).map_err(|_| {
                    CoreError::invalid(&format!("{field}[{n}].user"), "Enter an e-mail address")
                })?;
                Ok(AccessRule { user: Some(email), ..rule })
            }
            (None, Some(_)) => Ok(rule),
            _ => Err(CoreError::invalid(
                &format!("{field}[{n}]"),
                "Each access entry names either a user (e-mail) or a role, and a level (read or write)",
            )),
        })
        .collect()
}

/// What an item looks like to the access check.
pub struct Item<'a> {
    pub workspace_id: WorkspaceId,
    pub owner_id: UserId,
    pub rules: &'a [AccessRule],
}

/// The caller's level on `item`, given the workspaces they belong to; `None`: they may not see it.
pub fn level(user: &User, workspaces: &[WorkspaceId], item: &Item<'_>) -> Option<Level> {
    if !workspaces.contains(&item.workspace_id) {
        return None;
    }
    if item.owner_id == user.id || user.account_role == AccountRole::SiteAdmin {
        return Some(Level::Write);
    }
    item.rules.iter().filter(|rule| rule.grants(user)).map(|rule| rule.level).max()
}

/// `level` as an answer to a request needing `needed`.
pub fn require(
    user: &User,
    workspaces: &[WorkspaceId],
    item: &Item<'_>,
    needed: Level,
) -> Result<Level, CoreError> {
    match level(user, workspaces, item) {
        None => Err(CoreError::NotFound),
        Some(level) if level >= needed => Ok(level),
        Some(_) => Err(CoreError::Forbidden {
            hint: "Requires write access to this item; you have read access".into(),
        }),
    }
}

/// Only the owner and Site Admins change who has access.
pub fn may_share(user: &User, item: &Item<'_>) -> bool {
    item.owner_id == user.id || user.account_role == AccountRole::SiteAdmin
}

/// Where a new item goes and who owns it. A person creating one owns it (a Site Admin may name
/// another owner) in a workspace both belong to, named by slug or, if there is only one,
/// implied. An import from the command line names both.
#[cfg(feature = "server")]
pub async fn placement(
    store: &crate::store::Store,
    creator: Option<&User>,
    account: Option<&str>,
    owner: Option<&str>,
) -> Result<(WorkspaceId, User), CoreError> {
    let owner = match (owner.map(str::trim).filter(|email| !email.is_empty()), creator) {
        (Some(email), creator)
            if creator.is_none_or(|c| {
                c.account_role == AccountRole::SiteAdmin || c.email == email.to_lowercase()
            }) =>
        {
            let email = validate::email(email)
                .map_err(|_| CoreError::invalid("owner", "Enter the owner's e-mail"))?;
            store
                .user_by_email(&email)
                .await?
                .ok_or_else(|| CoreError::invalid("owner", format!("No user has the e-mail {email}")))?
        }
        (Some(_), _) => {
            return Err(CoreError::invalid("owner", "Only a Site Admin makes someone else the owner"))
        }
        (None, Some(creator)) => creator.clone(),
        (None, None) => return Err(CoreError::invalid("owner", "Name the owner by e-mail")),
    };
    let workspaces = store.workspaces_of(owner.id).await?;
    let workspace_id = match account.map(str::trim).filter(|slug| !slug.is_empty()) {
        Some(slug) => store
            .workspace_by_slug(slug)
            .await?
            .map(|workspace| workspace.id)
            .filter(|id| workspaces.contains(id))
            .ok_or_else(|| {
                CoreError::invalid("account", format!("{} belongs to no workspace `{slug}`", owner.email))
            })?,
        None => match workspaces.as_slice() {
            [only] => *only,
            [] => {
                return Err(CoreError::invalid(
                    "account",
                    format!("{} belongs to no workspace yet", owner.email),
                ))
            }
            _ => return Err(CoreError::invalid("account", "Name the workspace (account) by its slug")),
        },
    };
    // A Site Admin naming another owner still creates only where they belong themselves.
    if let Some(creator) = creator.filter(|creator| creator.id != owner.id) {
        if !store.workspaces_of(creator.id).await?.contains(&workspace_id) {
            return Err(CoreError::invalid(
                "account",
                "You can create items only in a workspace you belong to",
            ));
        }
    }
    Ok((workspace_id, owner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(id: i64, email: &str, role: AccountRole) -> User {
        User {
            id: UserId(id),
            email: email.into(),
            display_name: email.into(),
            is_platform_admin: false,
            account_role: role,
            created_at: Utc::now(),
            time_zone: None,
        }
    }

    #[test]
    fn owner_site_admin_and_list_decide_levels_within_the_workspace() {
        let rules = vec![
            AccessRule { user: Some("reader@x.io".into()), role: None, level: Level::Read },
            AccessRule { user: None, role: Some(AccountRole::PowerUser), level: Level::Write },
        ];
        let item = Item { workspace_id: WorkspaceId(1), owner_id: UserId(1), rules: &rules };
        let owner = user(1, "owner@x.io", AccountRole::User);
        let admin = user(2, "admin@x.io", AccountRole::SiteAdmin);
        let reader = user(3, "reader@x.io", AccountRole::User);
        let power = user(4, "power@x.io", AccountRole::PowerUser);
        let stranger = user(5, "nobody@x.io", AccountRole::User);
        assert_eq!(level(&owner, &[WorkspaceId(1)], &item), Some(Level::Write));
        assert_eq!(level(&admin, &[WorkspaceId(1)], &item), Some(Level::Write));
        assert_eq!(level(&reader, &[WorkspaceId(1)], &item), Some(Level::Read));
        assert_eq!(level(&power, &[WorkspaceId(1)], &item), Some(Level::Write));
        assert_eq!(level(&stranger, &[WorkspaceId(1)], &item), None);
        // Another workspace's Site Admin sees nothing of it.
        assert_eq!(level(&admin, &[WorkspaceId(2)], &item), None);
        assert_eq!(
            require(&reader, &[WorkspaceId(1)], &item, Level::Write),
            Err(CoreError::Forbidden {
                hint: "Requires write access to this item; you have read access".into()
            })
        );
        assert_eq!(require(&stranger, &[WorkspaceId(1)], &item, Level::Read), Err(CoreError::NotFound));
        assert!(may_share(&admin, &item) && !may_share(&power, &item));
    }

    #[test]
    fn each_rule_names_one_grantee() {
        let both =
            AccessRule { user: Some("a@x.io".into()), role: Some(AccountRole::User), level: Level::Read };
        let error = validate_rules("access", vec![both]).unwrap_err();
        assert!(matches!(error, CoreError::Invalid { field, .. } if field == "access[0]"));
        let shouted = AccessRule { user: Some(" A@X.io ".into()), role: None, level: Level::Read };
        assert_eq!(validate_rules("access", vec![shouted]).unwrap()[0].user.as_deref(), Some("a@x.io"));
    }
}
