//! The numbers operators watch, recorded through the `metrics` facade (the server installs a
//! Prometheus recorder and serves them at `GET /metrics`; without a recorder they cost nothing).
//! Names follow Prometheus's conventions: a `tenantpilot_` prefix, base units, `_total` for
//! counters.

use crate::operations::{OperationKind, RunOutcome};
use std::time::Duration;

pub const RUNS_STARTED: &str = "tenantpilot_runs_started_total";
pub const RUNS_COMPLETED: &str = "tenantpilot_runs_completed_total";
pub const RUN_DURATION: &str = "tenantpilot_run_duration_seconds";
pub const RUN_QUEUE_WAIT: &str = "tenantpilot_run_queue_wait_seconds";
pub const RUNS_ACTIVE: &str = "tenantpilot_runs";
pub const PROVIDER_REQUEST_DURATION: &str = "tenantpilot_provider_request_duration_seconds";
pub const PROVIDER_THROTTLED: &str = "tenantpilot_provider_throttled_total";
pub const LONG_POLLS_HELD: &str = "tenantpilot_long_polls_held";
pub const LIVE_SUBSCRIBERS: &str = "tenantpilot_live_stream_subscribers";
pub const HTTP_REQUEST_DURATION: &str = "tenantpilot_http_request_duration_seconds";
pub const DB_POOL_CONNECTIONS: &str = "tenantpilot_db_pool_connections";

/// Says what each metric is (its `# HELP` line); once, when the recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(RUNS_STARTED, "Operation runs created (not reused), by type.");
    describe_counter!(RUNS_COMPLETED, "Operation runs completed, by type and outcome.");
    describe_histogram!(RUN_DURATION, Unit::Seconds, "From a run's start to its completion, by type.");
    describe_histogram!(
        RUN_QUEUE_WAIT,
        Unit::Seconds,
        "From a run's creation to a worker taking it, by type."
    );
    describe_gauge!(
        RUNS_ACTIVE,
        "Queued and running operation runs across all processes, by type and status."
    );
    describe_histogram!(
        PROVIDER_REQUEST_DURATION,
        Unit::Seconds,
        "Requests to tenants' providers (Graph), by answer status (0: no answer)."
    );
    describe_counter!(
        PROVIDER_THROTTLED,
        "Provider answers asking to wait and retry (429, 503, 504), by status."
    );
    describe_gauge!(LONG_POLLS_HELD, "`GET /_/tenant/{id}?wait=` requests held by this process.");
    describe_gauge!(LIVE_SUBSCRIBERS, "Live streams (`/admin/monitoring/events`) open in this process.");
    describe_histogram!(HTTP_REQUEST_DURATION, Unit::Seconds, "HTTP requests, by route, method and status.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections of this process, by state (idle, in_use, max)."
    );
}

pub fn run_started(kind: OperationKind) {
    metrics::counter!(RUNS_STARTED, "type" => kind.as_str()).increment(1);
}

pub fn run_claimed(kind: OperationKind, waited: Duration) {
    metrics::histogram!(RUN_QUEUE_WAIT, "type" => kind.as_str()).record(waited.as_secs_f64());
}

/// A run completed; `ran` is from its start (none if it never started: cancelled while queued).
pub fn run_completed(kind: OperationKind, outcome: RunOutcome, ran: Option<Duration>) {
    metrics::counter!(RUNS_COMPLETED, "type" => kind.as_str(), "outcome" => outcome.as_str()).increment(1);
    if let Some(ran) = ran {
        metrics::histogram!(RUN_DURATION, "type" => kind.as_str()).record(ran.as_secs_f64());
    }
}

/// A provider request answered with `status` (0: no answer) after `took`.
pub fn provider_request(status: u16, took: Duration) {
    metrics::histogram!(PROVIDER_REQUEST_DURATION, "status" => status.to_string()).record(took.as_secs_f64());
}

pub fn provider_throttled(status: u16) {
    metrics::counter!(PROVIDER_THROTTLED, "status" => status.to_string()).increment(1);
}

/// Counts something held open (a long-poll, a live stream) in gauge `name` while it lives.
#[must_use]
pub struct Held(&'static str);

impl Held {
    pub fn new(name: &'static str) -> Held {
        metrics::gauge!(name).increment(1.0);
        Held(name)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// A chrono span as a std duration (negative: zero).
pub fn between(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}
