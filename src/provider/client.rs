//! Calling Microsoft Graph: one token per connection (cached), a request budget per app and
//! tenant, a fresh `client-request-id` on every request, retries of 429/503/504 as the Graph
//! SDK does them (honouring `Retry-After`), `@odata.nextLink` paging kept on the API's origin,
//! size caps, and every failure mapped to a [`ReasonCode`] with Graph's own error code and
//! request id. Secrets and tokens never reach a log line or an error message.

use super::budget::{Budget, BudgetLimits, Budgets, RequestKind};
use super::token::{self, AccessToken, ProviderConnection, TokenCache, TokenFacts};
use super::ReasonCode;
use crate::egress::{EgressClient, EgressPolicy, Refused};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub request_timeout: Duration,
    /// Tries of one request that the provider throttles (429) or cannot serve (503, 504).
    pub max_attempts: u32,
    /// The longest single wait, whatever `Retry-After` asks for.
    pub max_retry_wait: Duration,
    /// The first wait when the provider gives no `Retry-After`; it doubles with each retry.
    pub first_backoff: Duration,
    pub budget: BudgetLimits,
    /// The largest answer read; a bigger one fails instead of filling memory.
    pub max_body_bytes: usize,
    /// The most items one list may have.
    pub max_list_items: usize,
    /// Where calls may go: public addresses, and what the allow list names.
    pub egress: EgressPolicy,
    /// Requests one run keeps in flight to its tenant (a capture reads several policies at
    /// once); the tenant's request budget paces them all.
    pub requests_at_once: usize,
}

impl Default for ClientSettings {
    /// The Graph SDK's retry handler: 429, 503 and 504, `Retry-After` honoured up to 180 s, else
    /// exponential from 3 s, at most 10 attempts
    /// (<https://microsoftgraph.github.io/msgraph-sdk-design/middleware/RetryHandler.html>).
    fn default() -> Self {
        ClientSettings {
            request_timeout: Duration::from_secs(60),
            max_attempts: 10,
            max_retry_wait: Duration::from_secs(180),
            first_backoff: Duration::from_secs(3),
            budget: BudgetLimits::default(),
            max_body_bytes: 16 * 1024 * 1024,
            max_list_items: 100_000,
            egress: EgressPolicy::public_only(),
            requests_at_once: 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub reason: ReasonCode,
    pub message: String,
    pub status: Option<u16>,
    /// Graph's `error.code`, e.g. `Forbidden`.
    pub code: Option<String>,
    /// Graph's `request-id` of the failed request, for support.
    pub request_id: Option<String>,
    /// The caller stopped waiting (a cancel during a throttling wait): not the provider's fault.
    pub interrupted: bool,
}

impl ProviderError {
    pub(super) fn new(reason: ReasonCode, message: impl Into<String>, status: Option<u16>) -> ProviderError {
        ProviderError {
            reason,
            message: message.into(),
            status,
            code: None,
            request_id: None,
            interrupted: false,
        }
    }

    fn transport(error: &reqwest::Error) -> ProviderError {
        let what = if error.is_timeout() {
            "did not answer in time"
        } else if error.is_connect() {
            "could not be reached"
        } else {
            "dropped the connection"
        };
        ProviderError::new(ReasonCode::DependencyUnreachable, format!("The provider {what}."), None)
    }

    fn refused(refused: &Refused) -> ProviderError {
        ProviderError::new(ReasonCode::EgressBlocked, refused.to_string(), None)
    }

    /// A request that did not get an answer: refused by the egress policy, or a transport failure.
    fn unanswered(error: &reqwest::Error) -> ProviderError {
        match EgressClient::refusal(error) {
            Some(refused) => ProviderError::refused(&refused),
            None => ProviderError::transport(error),
        }
    }

    fn interrupted() -> ProviderError {
        ProviderError {
            interrupted: true,
            ..ProviderError::new(ReasonCode::Throttled, "Stopped while waiting.", None)
        }
    }

    /// Graph answered 404: the thing asked for does not exist (any more).
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// A Graph error answer: the reason for its status, with Graph's words, code and ids.
    fn from_answer(
        status: u16,
        body: &[u8],
        request_id: Option<String>,
        client_request_id: &str,
    ) -> ProviderError {
        let reason = reason_for_status(status);
        let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = &answer["error"];
        let inner = if error["innerError"].is_object() { &error["innerError"] } else { &error["innererror"] };
        let code = error["code"].as_str().map(str::to_string);
        let request_id = inner["request-id"].as_str().map(str::to_string).or(request_id);
        let words: Option<String> = error["message"].as_str().map(|text| text.chars().take(500).collect());
        let mut message = format!("{} (HTTP {status}", reason.summary());
        if let Some(code) = &code {
            message.push_str(&format!(" {code}"));
        }
        if let Some(words) = words.filter(|words| !words.trim().is_empty()) {
            message.push_str(&format!(": {words}"));
        }
        message.push_str(&format!("; request-id {}", request_id.as_deref().unwrap_or("none")));
        message.push_str(&format!(", client-request-id {client_request_id})"));
        ProviderError { reason, message, status: Some(status), code, request_id, interrupted: false }
    }
}

/// The reason code of an HTTP status the provider answered with (after any retries).
pub fn reason_for_status(status: u16) -> ReasonCode {
    match status {
        429 => ReasonCode::Throttled,
        401 => ReasonCode::AuthenticationFailed,
        403 => ReasonCode::PermissionDenied,
        400 | 404 | 409 | 412 => ReasonCode::InvalidState,
        502..=504 => ReasonCode::DependencyUnreachable,
        _ => ReasonCode::UnknownError,
    }
}

/// `Retry-After` as (possibly fractional) seconds or an HTTP date, capped at `cap`.
pub fn retry_after(
    value: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
    cap: Duration,
) -> Option<Duration> {
    let value = value?.trim();
    let wait = match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::from_secs_f64(seconds.min(86_400.0))
        }
        Ok(_) => return None,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(cap))
}

/// Why a session pauses before its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// The provider answered this status (429, 503, 504) and is retried after the wait.
    Throttled { status: u16 },
    /// The tenant's request budget is spent for the moment.
    Budget,
}

/// The caller no longer wants to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// Who waits out a session's pauses: a run says why it waits, and stops waiting when cancelled.
#[async_trait::async_trait]
pub trait Pauses: Send + Sync {
    async fn pause(&self, wait: Duration, why: PauseReason) -> Result<(), Interrupted>;
}

/// Pauses for a request someone is waiting on: waits are taken while they fit in `patience`
/// (all together); a longer one gives up, and the request answers that the provider throttles.
pub struct WaitAtMost {
    left: std::sync::Mutex<Duration>,
}

impl WaitAtMost {
    pub fn new(patience: Duration) -> Arc<WaitAtMost> {
        Arc::new(WaitAtMost { left: std::sync::Mutex::new(patience) })
    }
}

#[async_trait::async_trait]
impl Pauses for WaitAtMost {
    async fn pause(&self, wait: Duration, _why: PauseReason) -> Result<(), Interrupted> {
        {
            let mut left = self.left.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if wait > *left {
                return Err(Interrupted);
            }
            *left -= wait;
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// The process's client of every tenant's provider: HTTP, tokens and budgets are shared.
#[derive(Clone)]
pub struct ProviderClient {
    http: EgressClient,
    settings: Arc<ClientSettings>,
    tokens: Arc<TokenCache>,
    budgets: Arc<Budgets>,
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ProviderClient {
    pub fn new(settings: ClientSettings) -> ProviderClient {
        let timeout = settings.request_timeout;
        let http = EgressClient::new(settings.egress.clone(), |builder| {
            builder.timeout(timeout).user_agent(concat!("TenantPilot/", env!("CARGO_PKG_VERSION")))
        });
        ProviderClient {
            http,
            settings: Arc::new(settings),
            tokens: Arc::new(TokenCache::default()),
            budgets: Arc::new(Budgets::default()),
        }
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Where this client may call: what a URL saved for it is checked against.
    pub fn egress(&self) -> &EgressPolicy {
        &self.settings.egress
    }

    /// A session with `connection`'s provider, with a token already in hand (so a credential
    /// problem shows here). `pauses` waits out throttling; without it the session just sleeps.
    pub async fn connect(
        &self,
        connection: &ProviderConnection,
        pauses: Option<Arc<dyn Pauses>>,
    ) -> Result<ProviderSession, ProviderError> {
        let base = Url::parse(connection.base_url.trim_end_matches('/')).map_err(|_| {
            ProviderError::new(ReasonCode::InvalidState, "The connection's API base URL is not a URL.", None)
        })?;
        let session = ProviderSession {
            client: self.clone(),
            connection: connection.clone(),
            base,
            budget: self.budgets.of(&connection.token_url, &connection.client_id, self.settings.budget),
            pauses,
        };
        session.token().await?;
        Ok(session)
    }
}

impl ProviderClient {
    /// Like [`ProviderClient::connect`], with a token asked for now rather than a cached one:
    /// what proves that the credential is accepted today.
    pub async fn connect_anew(
        &self,
        connection: &ProviderConnection,
        pauses: Option<Arc<dyn Pauses>>,
    ) -> Result<ProviderSession, ProviderError> {
        self.tokens.clear(connection).await;
        self.connect(connection, pauses).await
    }
}

/// Calls to one tenant's provider, as one app.
pub struct ProviderSession {
    client: ProviderClient,
    connection: ProviderConnection,
    base: Url,
    budget: Arc<Budget>,
    pauses: Option<Arc<dyn Pauses>>,
}

/// A body read whole, or why not.
enum Read {
    Body(Vec<u8>),
    TooLarge,
    Failed(reqwest::Error),
}

async fn read_capped(mut response: reqwest::Response, cap: usize) -> Read {
    if response.content_length().is_some_and(|length| length > cap as u64) {
        return Read::TooLarge;
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > cap => return Read::TooLarge,
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Read::Body(body),
            Err(error) => return Read::Failed(error),
        }
    }
}

fn too_large(cap: usize) -> ProviderError {
    ProviderError::new(
        ReasonCode::UnknownError,
        format!(
            "The provider's answer is larger than {} MiB; TenantPilot does not read it.",
            cap / (1024 * 1024)
        ),
        None,
    )
}

impl ProviderSession {
    /// How many requests one run may keep in flight to this tenant (at least one).
    pub fn requests_at_once(&self) -> usize {
        self.client.settings.requests_at_once.max(1)
    }

    /// The API base, e.g. `https://graph.microsoft.com/beta`.
    pub fn base_url(&self) -> &str {
        self.connection.base_url.trim_end_matches('/')
    }

    /// What the current token says of itself (its tenant, permissions and expiry).
    pub async fn token_facts(&self) -> Result<TokenFacts, ProviderError> {
        Ok(self.token().await?.facts.clone())
    }

    async fn token(&self) -> Result<Arc<AccessToken>, ProviderError> {
        self.client.tokens.get(&self.connection, || self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<Arc<AccessToken>, ProviderError> {
        let now = chrono::Utc::now();
        let form = token::token_form(&self.connection, now)?;
        let response = self
            .client
            .http
            .request(Method::POST, &self.connection.token_url)
            .map_err(|refused| ProviderError::refused(&refused))?
            .header("client-request-id", uuid::Uuid::new_v4().to_string())
            .form(&form)
            .send()
            .await
            .map_err(|error| ProviderError::unanswered(&error))?;
        let status = response.status().as_u16();
        let body = match read_capped(response, self.client.settings.max_body_bytes).await {
            Read::Body(body) => body,
            Read::TooLarge => return Err(too_large(self.client.settings.max_body_bytes)),
            Read::Failed(error) => return Err(ProviderError::unanswered(&error)),
        };
        if !(200..300).contains(&status) {
            let (reason, message) = token::describe_refusal(status, &body);
            return Err(ProviderError::new(reason, message, Some(status)));
        }
        token::read_token(&body, now).map(Arc::new).ok_or_else(|| {
            ProviderError::new(
                ReasonCode::UnknownError,
                "The token URL's answer was malformed.",
                Some(status),
            )
        })
    }

    async fn pause(&self, wait: Duration, why: PauseReason) -> Result<(), ProviderError> {
        match &self.pauses {
            Some(pauses) => pauses.pause(wait, why).await.map_err(|Interrupted| ProviderError::interrupted()),
            None => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
        }
    }

    /// Waits out a throttling hold on the tenant, then for a place in its request budget.
    async fn admit(&self, request: RequestKind) -> Result<(), ProviderError> {
        loop {
            if let Some((wait, status)) = self.budget.held(Instant::now()) {
                self.pause(wait, PauseReason::Throttled { status }).await?;
                continue;
            }
            match self.budget.try_take(request, Instant::now()) {
                Ok(()) => return Ok(()),
                Err(wait) => self.pause(wait, PauseReason::Budget).await?,
            }
        }
    }

    /// The full URL of `path` (which starts with `/` and may carry a query).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// One request, with the retries the rules allow. Returns the JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ProviderError> {
        let settings = &self.client.settings;
        let kind = if method == Method::GET { RequestKind::Read } else { RequestKind::Write };
        let mut attempt = 0;
        let mut renewed = false;
        let mut transport_retried = false;
        loop {
            attempt += 1;
            self.admit(kind).await?;
            let token = self.token().await?;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let mut request = self
                .client
                .http
                .request(method.clone(), url)
                .map_err(|refused| ProviderError::refused(&refused))?
                .bearer_auth(token.value.expose())
                .header("client-request-id", &client_request_id)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = Instant::now();
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if EgressClient::refusal(&error).is_some() => {
                    return Err(ProviderError::unanswered(&error))
                }
                Err(error) if kind == RequestKind::Read && !transport_retried => {
                    tracing::debug!(%error, "provider transport error; retrying once");
                    transport_retried = true;
                    continue;
                }
                Err(error) => {
                    crate::metrics::provider_request(0, sent.elapsed());
                    return Err(ProviderError::transport(&error));
                }
            };
            let status = response.status();
            crate::metrics::provider_request(status.as_u16(), sent.elapsed());
            let header = |name: &str| {
                response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_string)
            };
            let wait =
                retry_after(header("retry-after").as_deref(), chrono::Utc::now(), settings.max_retry_wait);
            let request_id = header("request-id");
            let body = match read_capped(response, settings.max_body_bytes).await {
                Read::Body(body) => body,
                Read::TooLarge => return Err(too_large(settings.max_body_bytes)),
                Read::Failed(error) if kind == RequestKind::Read && !transport_retried => {
                    tracing::debug!(%error, "provider dropped a response; retrying once");
                    transport_retried = true;
                    continue;
                }
                Read::Failed(error) => return Err(ProviderError::transport(&error)),
            };
            if status.is_success() {
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&body).map_err(|_| {
                    ProviderError::new(
                        ReasonCode::UnknownError,
                        "The provider's answer was malformed.",
                        Some(status.as_u16()),
                    )
                });
            }
            let retryable = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
            );
            if retryable {
                crate::metrics::provider_throttled(status.as_u16());
            }
            if retryable && attempt < settings.max_attempts {
                let backoff = settings
                    .first_backoff
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(settings.max_retry_wait);
                let wait = wait.unwrap_or(backoff);
                tracing::debug!(status = status.as_u16(), attempt, ?wait, "provider asks to wait; retrying");
                // The whole tenant waits: the same app's other requests there would be throttled too.
                self.budget.hold(Instant::now() + wait, status.as_u16());
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                self.client.tokens.forget(&self.connection, &token).await;
                continue;
            }
            return Err(ProviderError::from_answer(status.as_u16(), &body, request_id, &client_request_id));
        }
    }

    /// Every item of a paged list at `path`, following `@odata.nextLink` to the end, but only
    /// on the API's own origin: a link elsewhere would carry the token there.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>, ProviderError> {
        let cap = self.client.settings.max_list_items;
        let mut url = self.url(path);
        let mut items = Vec::new();
        loop {
            let page = self.call(Method::GET, &url, None).await?;
            let Some(values) = page["value"].as_array() else {
                return Err(ProviderError::new(
                    ReasonCode::UnknownError,
                    "The provider's list was malformed.",
                    None,
                ));
            };
            if items.len() + values.len() > cap {
                return Err(ProviderError::new(
                    ReasonCode::UnknownError,
                    format!(
                        "The provider's list at {path} has more than {cap} items; TenantPilot stops there."
                    ),
                    None,
                ));
            }
            items.extend(values.iter().cloned());
            let Some(next) = page["@odata.nextLink"].as_str() else {
                return Ok(items);
            };
            if values.is_empty() && next == url {
                return Err(ProviderError::new(
                    ReasonCode::UnknownError,
                    "The provider's list never ended.",
                    None,
                ));
            }
            url = self.same_origin(next)?;
        }
    }

    /// `link` when it is on the API base's origin (scheme, host and port).
    fn same_origin(&self, link: &str) -> Result<String, ProviderError> {
        match Url::parse(link) {
            Ok(next) if next.origin() == self.base.origin() => Ok(link.to_string()),
            Ok(next) => Err(ProviderError::new(
                ReasonCode::UnknownError,
                format!(
                    "The provider's next-page link points to {}, not to {}; TenantPilot does not follow it.",
                    next.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ),
                None,
            )),
            Err(_) => Err(ProviderError::new(
                ReasonCode::UnknownError,
                "The provider's next-page link is not a URL.",
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_reason_codes() {
        let cases = [
            (429, ReasonCode::Throttled),
            (401, ReasonCode::AuthenticationFailed),
            (403, ReasonCode::PermissionDenied),
            (400, ReasonCode::InvalidState),
            (404, ReasonCode::InvalidState),
            (409, ReasonCode::InvalidState),
            (503, ReasonCode::DependencyUnreachable),
            (504, ReasonCode::DependencyUnreachable),
            (502, ReasonCode::DependencyUnreachable),
            (500, ReasonCode::UnknownError),
            (418, ReasonCode::UnknownError),
        ];
        for (status, reason) in cases {
            assert_eq!(reason_for_status(status), reason, "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_fractions_and_dates_up_to_the_cap() {
        // https://learn.microsoft.com/graph/throttling: "Retry-After: 2.128"
        let now =
            chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let cap = Duration::from_secs(180);
        assert_eq!(retry_after(Some("42"), now, cap), Some(Duration::from_secs(42)));
        assert_eq!(retry_after(Some("2.128"), now, cap), Some(Duration::from_millis(2128)));
        assert_eq!(retry_after(Some("3600"), now, cap), Some(cap));
        assert_eq!(
            retry_after(Some("Sun, 22 Nov 2026 08:00:05 GMT"), now, cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(retry_after(Some("Sun, 22 Nov 2026 07:00:00 GMT"), now, cap), Some(Duration::ZERO));
        for bad in ["soon", "-1", "NaN"] {
            assert_eq!(retry_after(Some(bad), now, cap), None, "{bad}");
        }
        assert_eq!(retry_after(None, now, cap), None);
    }

    #[test]
    fn graph_errors_keep_their_code_and_request_ids() {
        // https://learn.microsoft.com/graph/errors
        let body = br#"{"error":{"code":"Forbidden","message":"Application is not authorized to perform this operation.","innerError":{"date":"2026-11-30T08:00:00","request-id":"req-1","client-request-id":"mine"}}}"#;
        let error = ProviderError::from_answer(403, body, None, "mine");
        assert_eq!(error.reason, ReasonCode::PermissionDenied);
        assert_eq!((error.code.as_deref(), error.request_id.as_deref()), (Some("Forbidden"), Some("req-1")));
        assert!(
            error.message.contains("HTTP 403 Forbidden: Application is not authorized"),
            "{}",
            error.message
        );
        assert!(error.message.contains("request-id req-1, client-request-id mine"), "{}", error.message);
        let bare = ProviderError::from_answer(503, b"", Some("from-header".into()), "c");
        assert_eq!(bare.request_id.as_deref(), Some("from-header"));
    }
}
