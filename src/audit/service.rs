//! The audit log's use cases (server only): reading user actions and token activity, for Power
//! Users and Site Admins. Query parameters as the pipeline contract spells them (`date`, `type`,
//! `scope`, `count`); a bad one is an error naming it.

use super::{LogPage, TokenActivity, UserAction};
use crate::model::User;
use crate::store::{LogQuery, Store};
use crate::CoreError;
use chrono::{Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// At most this many entries per answer (activity logs and pipeline logs alike).
pub const LOG_LIMIT: i64 = 1000;
/// Without a date, this many days back.
pub const DEFAULT_DAYS: i64 = 7;
const FILTER_MAX: usize = 64;

/// The log routes are for Power Users and Site Admins.
pub fn require_power_user(user: &User) -> Result<(), CoreError> {
    if user.account_role.is_power_user() {
        Ok(())
    } else {
        Err(CoreError::Forbidden { hint: "Requires the Power User or Site Admin account role".into() })
    }
}

/// Reads `?date=YYYY-MM-DD&<filter>=…&count=n` (other parameters are refused, naming them).
pub fn parse_query(raw: Option<&str>, filter: &str, reader: &User) -> Result<LogQuery, CoreError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|error| {
            CoreError::invalid("query", format!("The query string could not be read: {error}"))
        })?;
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in pairs {
        if !["date", "count", filter].contains(&name.as_str()) {
            return Err(CoreError::invalid(&name, format!("Unknown parameter: use date, {filter} or count")));
        }
        params.insert(name, value);
    }
    let now = Utc::now();
    let (from, until) = match params.get("date").map(|date| date.trim()) {
        Some(date) => {
            let day =
                NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().filter(|_| date.len() == 10).ok_or_else(
                    || CoreError::invalid("date", format!("`{date}` is not a date like 2026-11-23")),
                )?;
            let start = day
                .and_hms_opt(0, 0, 0)
                .map(|start| start.and_utc())
                .ok_or_else(|| CoreError::broken("a day has no midnight"))?;
            (start, start + Duration::days(1))
        }
        None => (now - Duration::days(DEFAULT_DAYS), now + Duration::seconds(1)),
    };
    let limit = match params.get("count") {
        Some(count) => match count.trim().parse::<i64>() {
            Ok(count) if (1..=LOG_LIMIT).contains(&count) => count,
            _ => {
                return Err(CoreError::invalid(
                    "count",
                    format!("`{count}` is not a number of records, 1–{LOG_LIMIT}"),
                ))
            }
        },
        None => LOG_LIMIT,
    };
    let filter_value =
        params.get(filter).map(|value| value.trim().to_string()).filter(|value| !value.is_empty());
    if filter_value.as_ref().is_some_and(|value| value.len() > FILTER_MAX) {
        return Err(CoreError::invalid(filter, format!("At most {FILTER_MAX} characters")));
    }
    Ok(LogQuery {
        from,
        until,
        filter: filter_value,
        limit,
        reader: (!reader.is_platform_admin).then_some(reader.id),
        before_id: None,
    })
}

/// Entries per page of the audit page.
pub const AUDIT_PAGE: i64 = 50;

/// One page of the audit page: entries newest first, and the cursor of the next page.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<crate::audit::AuditEntry>,
    pub next: Option<i64>,
}

/// The audit page's query: the API's filters (`date`, `type`), a page at a time, older than
/// entry `before`.
pub async fn audit_page(
    store: &Store,
    user: &User,
    date: Option<&str>,
    kind: Option<&str>,
    before: Option<i64>,
) -> Result<AuditPage, CoreError> {
    require_power_user(user)?;
    let given =
        |value: Option<&str>| value.map(str::trim).filter(|value| !value.is_empty()).map(str::to_string);
    let pairs: Vec<(&str, String)> = [("date", given(date)), ("type", given(kind))]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    let raw = serde_urlencoded::to_string(&pairs).map_err(CoreError::internal)?;
    let mut query = parse_query(Some(&raw), "type", user)?;
    query.before_id = before;
    query.limit = AUDIT_PAGE + 1;
    let mut entries = store.user_actions(&query).await?;
    let next = if entries.len() as i64 > AUDIT_PAGE {
        entries.truncate(AUDIT_PAGE as usize);
        entries.last().map(|entry| entry.id)
    } else {
        None
    };
    Ok(AuditPage { entries, next })
}

/// `GET /api/v1/logs/user/actions`.
pub async fn user_actions(
    store: &Store,
    user: &User,
    raw: Option<&str>,
) -> Result<LogPage<UserAction>, CoreError> {
    require_power_user(user)?;
    let query = parse_query(raw, "type", user)?;
    let data: Vec<UserAction> = store.user_actions(&query).await?.iter().map(UserAction::from).collect();
    Ok(LogPage { count: data.len(), data })
}

/// `GET /api/v1/logs/user/tokens`.
pub async fn token_activity(
    store: &Store,
    user: &User,
    raw: Option<&str>,
) -> Result<LogPage<TokenActivity>, CoreError> {
    require_power_user(user)?;
    let query = parse_query(raw, "scope", user)?;
    let data = store.token_activity(&query).await?;
    Ok(LogPage { count: data.len(), data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::AccountRole;

    fn reader() -> User {
        User {
            id: crate::UserId(7),
            email: "p@x.io".into(),
            display_name: "P".into(),
            is_platform_admin: false,
            account_role: AccountRole::PowerUser,
            created_at: Utc::now(),
            time_zone: None,
        }
    }

    fn field_of(raw: &str) -> String {
        match parse_query(Some(raw), "type", &reader()) {
            Err(CoreError::Invalid { field, .. }) => field,
            other => panic!("expected invalid for {raw}, got {other:?}"),
        }
    }

    #[test]
    fn parameters_are_checked_and_named() {
        assert_eq!(field_of("date=2026-13-01"), "date");
        assert_eq!(field_of("date=yesterday"), "date");
        assert_eq!(field_of("date=2026-1-5"), "date");
        assert_eq!(field_of("count=0"), "count");
        assert_eq!(field_of("count=1001"), "count");
        assert_eq!(field_of("scope=api"), "scope");
        let query = parse_query(Some("date=2026-11-20&type=pipeline&count=5"), "type", &reader()).unwrap();
        assert_eq!(query.from.to_rfc3339(), "2026-11-20T00:00:00+00:00");
        assert_eq!(query.until - query.from, Duration::days(1));
        assert_eq!(
            (query.filter.as_deref(), query.limit, query.reader),
            (Some("pipeline"), 5, Some(crate::UserId(7)))
        );
        let default = parse_query(None, "type", &reader()).unwrap();
        assert_eq!(default.limit, LOG_LIMIT);
        assert!(default.until - default.from > Duration::days(DEFAULT_DAYS));
    }
}
