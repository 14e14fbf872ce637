//! A request budget per app and tenant, shared by every run in the process, kept below the
//! limits Graph documents for Intune so throttling stays rare instead of merely handled.
//!
//! When Graph throttles a request anyway (429, or 503/504 with `Retry-After`), every request of
//! that app in that tenant holds back for the wait it asked for, not only the one answered:
//! "wait the number of seconds specified in the Retry-After header ... before making more
//! requests" (<https://learn.microsoft.com/graph/throttling#best-practices-to-handle-throttling>).
//! Other tenants go on.
//!
//! Intune limits, per app per tenant: POST/PUT/DELETE/PATCH 100 requests per 20 seconds, any
//! request 1,000 per 20 seconds (<https://learn.microsoft.com/graph/throttling-limits>,
//! "Intune device configuration service limits").

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    pub window: Duration,
    /// Writes (anything but GET) per window.
    pub writes: usize,
    /// Requests of any kind per window.
    pub requests: usize,
}

impl Default for BudgetLimits {
    /// A tenth under Graph's figures, leaving room for other tools of the same app.
    fn default() -> Self {
        BudgetLimits { window: Duration::from_secs(20), writes: 90, requests: 900 }
    }
}

/// The sliding windows of one app in one tenant: when each recent request was sent.
#[derive(Debug)]
pub struct Budget {
    limits: BudgetLimits,
    sent: Mutex<Sent>,
}

#[derive(Debug, Default)]
struct Sent {
    requests: VecDeque<Instant>,
    writes: VecDeque<Instant>,
    /// Until when the provider asked this tenant to wait, and the status it answered.
    held: Option<(Instant, u16)>,
}

/// Graph counts writes (anything but `GET`) against a tighter limit than all requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Read,
    Write,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Budget {
        Budget { limits, sent: Mutex::new(Sent::default()) }
    }

    /// The provider answered `status` and asked to wait until `until`: every request of this
    /// budget waits until then (a later hold extends it).
    pub fn hold(&self, until: Instant, status: u16) {
        let mut sent = self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sent.held.is_none_or(|(held, _)| held < until) {
            sent.held = Some((until, status));
        }
    }

    /// How long requests are still held back, and the status that held them.
    pub fn held(&self, now: Instant) -> Option<(Duration, u16)> {
        let sent = self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sent.held.filter(|(until, _)| *until > now).map(|(until, status)| (until - now, status))
    }

    /// Takes a place for one request now, or says how long until one is free.
    pub fn try_take(&self, request: RequestKind, now: Instant) -> Result<(), Duration> {
        let write = request == RequestKind::Write;
        let mut guard = self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let sent = &mut *guard;
        let window = self.limits.window;
        for log in [&mut sent.requests, &mut sent.writes] {
            while log.front().is_some_and(|at| now.duration_since(*at) >= window) {
                log.pop_front();
            }
        }
        let free_at = |log: &VecDeque<Instant>, limit: usize| {
            (log.len() >= limit).then(|| log[log.len() - limit] + window - now)
        };
        let wait = [
            free_at(&sent.requests, self.limits.requests),
            if write { free_at(&sent.writes, self.limits.writes) } else { None },
        ]
        .into_iter()
        .flatten()
        .max();
        match wait {
            Some(wait) => Err(wait.max(Duration::from_millis(1))),
            None => {
                sent.requests.push_back(now);
                if write {
                    sent.writes.push_back(now);
                }
                Ok(())
            }
        }
    }
}

/// The budgets of the process, by app and tenant (token URL and client id).
#[derive(Debug, Default)]
pub struct Budgets {
    by_app: Mutex<HashMap<String, Arc<Budget>>>,
}

impl Budgets {
    pub fn of(&self, token_url: &str, client_id: &str, limits: BudgetLimits) -> Arc<Budget> {
        let mut by_app = self.by_app.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        by_app
            .entry(format!("{token_url}\n{client_id}"))
            .or_insert_with(|| Arc::new(Budget::new(limits)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_requests_have_their_own_limits_per_window() {
        let limits = BudgetLimits { window: Duration::from_secs(20), writes: 2, requests: 3 };
        let budget = Budget::new(limits);
        let start = Instant::now();
        assert!(budget.try_take(RequestKind::Write, start).is_ok());
        assert!(budget.try_take(RequestKind::Write, start + Duration::from_secs(5)).is_ok());
        // A third write waits until the first leaves the window; a read still fits.
        assert_eq!(
            budget.try_take(RequestKind::Write, start + Duration::from_secs(6)),
            Err(Duration::from_secs(14))
        );
        assert!(budget.try_take(RequestKind::Read, start + Duration::from_secs(6)).is_ok());
        // Now every kind waits for the window.
        assert_eq!(
            budget.try_take(RequestKind::Read, start + Duration::from_secs(7)),
            Err(Duration::from_secs(13))
        );
        assert!(budget.try_take(RequestKind::Write, start + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn a_hold_holds_every_request_until_it_ends() {
        let budget = Budget::new(BudgetLimits::default());
        let start = Instant::now();
        assert_eq!(budget.held(start), None);
        budget.hold(start + Duration::from_secs(3), 429);
        budget.hold(start + Duration::from_secs(1), 503);
        assert_eq!(budget.held(start + Duration::from_secs(1)), Some((Duration::from_secs(2), 429)));
        assert_eq!(budget.held(start + Duration::from_secs(3)), None);
    }

    #[test]
    fn one_budget_per_app_and_tenant() {
        let budgets = Budgets::default();
        let limits = BudgetLimits::default();
        let a = budgets.of("https://login/contoso/token", "app", limits);
        assert!(Arc::ptr_eq(&a, &budgets.of("https://login/contoso/token", "app", limits)));
        assert!(!Arc::ptr_eq(&a, &budgets.of("https://login/fabrikam/token", "app", limits)));
        assert!(!Arc::ptr_eq(&a, &budgets.of("https://login/contoso/token", "other-app", limits)));
    }
}
