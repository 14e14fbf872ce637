//! The provider client: OAuth2 client credentials, `@odata.nextLink` paging, bounded retries
//! that honour `Retry-After`, and every failure mapped to a [`ReasonCode`]. Secrets and tokens
//! never reach a log line or an error message.

use super::{Group, Policy, ReasonCode};
use crate::encoding::percent_encode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::Mutex;

/// A secret that prints as dots, so it cannot leak through `{:?}` or `{}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("••••")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("••••")
    }
}

/// Where and as whom TenantPilot calls a tenant's provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConnection {
    /// The API root, e.g. `https://graph.example/v1.0`.
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub request_timeout: Duration,
    /// Retries of a throttled (429) or unavailable (503) request.
    pub max_retries: u32,
    /// The longest single wait, whatever `Retry-After` asks for.
    pub max_retry_wait: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            request_timeout: Duration::from_secs(15),
            max_retries: 3,
            max_retry_wait: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub reason: ReasonCode,
    pub message: String,
    pub status: Option<u16>,
}

impl ProviderError {
    fn new(reason: ReasonCode, message: impl Into<String>, status: Option<u16>) -> ProviderError {
        ProviderError { reason, message: message.into(), status }
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

/// `Retry-After` as seconds or an HTTP date, capped at `cap`.
pub fn retry_after(
    value: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
    cap: Duration,
) -> Option<Duration> {
    let value = value?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(cap))
}

/// The provider's own words, from a Graph error (`{"error":{"message":…}}`) or an OAuth2
/// error (`{"error_description":…}`).
fn provider_message(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    let message = value["error"]["message"].as_str().or_else(|| value["error_description"].as_str())?;
    Some(message.chars().take(300).collect())
}

fn describe(reason: ReasonCode, status: u16, body: &str) -> String {
    let summary = reason.summary();
    match provider_message(body) {
        Some(detail) => format!("{summary} (HTTP {status}: {detail})"),
        None => format!("{summary} (HTTP {status})"),
    }
}

#[derive(Clone, Debug)]
pub struct ProviderClient {
    http: reqwest::Client,
    settings: ClientSettings,
}

impl ProviderClient {
    pub fn new(settings: ClientSettings) -> ProviderClient {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .user_agent(concat!("TenantPilot/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "provider client falls back to default settings");
                reqwest::Client::new()
            });
        ProviderClient { http, settings }
    }

    /// Gets a token for `connection` and returns a session that uses (and renews) it.
    pub async fn connect(&self, connection: &ProviderConnection) -> Result<ProviderSession, ProviderError> {
        let session = ProviderSession {
            client: self.clone(),
            connection: connection.clone(),
            token: Mutex::new(String::new()),
        };
        session.renew_token().await?;
        Ok(session)
    }
}

pub struct ProviderSession {
    client: ProviderClient,
    connection: ProviderConnection,
    token: Mutex<String>,
}

impl ProviderSession {
    async fn renew_token(&self) -> Result<(), ProviderError> {
        let base = self.connection.base_url.trim_end_matches('/');
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.connection.client_id.as_str()),
            ("client_secret", self.connection.client_secret.expose()),
            ("scope", &format!("{base}/.default")),
        ];
        let response = self
            .client
            .http
            .post(&self.connection.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|error| ProviderError::transport(&error))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|error| ProviderError::transport(&error))?;
        if !(200..300).contains(&status) {
            let reason = match status {
                400 | 401 | 403 => ReasonCode::AuthenticationFailed,
                other => reason_for_status(other),
            };
            return Err(ProviderError::new(reason, describe(reason, status, &body), Some(status)));
        }
        let token = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|value| value["access_token"].as_str().map(str::to_string))
            .ok_or_else(|| {
                ProviderError::new(
                    ReasonCode::UnknownError,
                    "The provider's token answer was malformed.",
                    Some(status),
                )
            })?;
        *self.token.lock().await = token;
        Ok(())
    }

    /// One call, with the retries the rules allow. Returns the JSON body (`Null` when empty).
    async fn call(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value, ProviderError> {
        let settings = &self.client.settings;
        let mut retries = 0;
        let mut renewed = false;
        let mut transport_retried = false;
        loop {
            let token = self.token.lock().await.clone();
            let mut request = self.client.http.request(method.clone(), url).bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if method == Method::GET && !transport_retried => {
                    tracing::debug!(%error, "provider transport error; retrying once");
                    transport_retried = true;
                    continue;
                }
                Err(error) => return Err(ProviderError::transport(&error)),
            };
            let status = response.status();
            let wait = retry_after(
                response.headers().get(reqwest::header::RETRY_AFTER).and_then(|value| value.to_str().ok()),
                chrono::Utc::now(),
                settings.max_retry_wait,
            );
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) if method == Method::GET && !transport_retried => {
                    tracing::debug!(%error, "provider dropped a response; retrying once");
                    transport_retried = true;
                    continue;
                }
                Err(error) => return Err(ProviderError::transport(&error)),
            };
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|_| {
                    ProviderError::new(
                        ReasonCode::UnknownError,
                        "The provider's answer was malformed.",
                        Some(status.as_u16()),
                    )
                });
            }
            let retryable = matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE);
            if retryable && retries < settings.max_retries {
                let backoff = Duration::from_millis(200 * 2u64.pow(retries)).min(settings.max_retry_wait);
                retries += 1;
                tokio::time::sleep(wait.unwrap_or(backoff)).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                self.renew_token().await?;
                continue;
            }
            let reason = reason_for_status(status.as_u16());
            return Err(ProviderError::new(
                reason,
                describe(reason, status.as_u16(), &text),
                Some(status.as_u16()),
            ));
        }
    }

    /// Every item of a paged list, following `@odata.nextLink` to the end.
    async fn list(&self, path: &str) -> Result<Vec<Value>, ProviderError> {
        let mut url = format!("{}{path}", self.connection.base_url.trim_end_matches('/'));
        let mut items = Vec::new();
        // A provider that links in a circle must not keep a run busy forever.
        for _ in 0..10_000 {
            let page = self.call(Method::GET, &url, None).await?;
            let Some(values) = page["value"].as_array() else {
                return Err(ProviderError::new(
                    ReasonCode::UnknownError,
                    "The provider's list was malformed.",
                    None,
                ));
            };
            items.extend(values.iter().cloned());
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => return Ok(items),
            }
        }
        Err(ProviderError::new(ReasonCode::UnknownError, "The provider's list never ended.", None))
    }

    pub async fn policies(&self) -> Result<Vec<Policy>, ProviderError> {
        let items = self.list("/deviceManagement/configurationPolicies").await?;
        items
            .iter()
            .map(|item| {
                let id = item["id"].as_str();
                let name = item["displayName"].as_str().or_else(|| item["name"].as_str());
                match (id, name) {
                    (Some(id), Some(name)) => Ok(Policy {
                        id: id.to_string(),
                        display_name: name.to_string(),
                        policy_type: item["@odata.type"]
                            .as_str()
                            .map(|kind| kind.trim_start_matches("#microsoft.graph.").to_string())
                            .unwrap_or_else(|| "configurationPolicy".into()),
                        settings: item.get("settings").cloned().unwrap_or(Value::Object(Default::default())),
                    }),
                    _ => Err(ProviderError::new(
                        ReasonCode::UnknownError,
                        "The provider listed a malformed policy.",
                        None,
                    )),
                }
            })
            .collect()
    }

    /// The ids of the groups a policy is assigned to (other kinds of targets are not groups).
    pub async fn assignments(&self, policy_id: &str) -> Result<Vec<String>, ProviderError> {
        let path =
            format!("/deviceManagement/configurationPolicies/{}/assignments", percent_encode(policy_id));
        let items = self.list(&path).await?;
        Ok(items.iter().filter_map(|item| item["target"]["groupId"].as_str().map(str::to_string)).collect())
    }

    pub async fn groups(&self) -> Result<Vec<Group>, ProviderError> {
        let items = self.list("/groups").await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some(Group {
                    id: item["id"].as_str()?.to_string(),
                    display_name: item["displayName"].as_str().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    /// Sets the policy's group assignments to exactly `group_ids` (Graph's `assign` replaces).
    pub async fn assign(&self, policy_id: &str, group_ids: &[String]) -> Result<(), ProviderError> {
        let url = format!(
            "{}/deviceManagement/configurationPolicies/{}/assign",
            self.connection.base_url.trim_end_matches('/'),
            percent_encode(policy_id)
        );
        let assignments: Vec<Value> = group_ids
            .iter()
            .map(|id| json!({ "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": id } }))
            .collect();
        self.call(Method::POST, &url, Some(&json!({ "assignments": assignments }))).await.map(drop)
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
            (502, ReasonCode::DependencyUnreachable),
            (500, ReasonCode::UnknownError),
            (418, ReasonCode::UnknownError),
        ];
        for (status, reason) in cases {
            assert_eq!(reason_for_status(status), reason, "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now =
            chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let cap = Duration::from_secs(30);
        assert_eq!(retry_after(Some("2"), now, cap), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("3600"), now, cap), Some(cap));
        assert_eq!(
            retry_after(Some("Sun, 22 Nov 2026 08:00:05 GMT"), now, cap),
            Some(Duration::from_secs(5))
        );
        assert_eq!(retry_after(Some("Sun, 22 Nov 2026 07:00:00 GMT"), now, cap), Some(Duration::ZERO));
        assert_eq!(retry_after(Some("soon"), now, cap), None);
        assert_eq!(retry_after(None, now, cap), None);
    }

    #[test]
    fn messages_carry_the_providers_words_but_not_secrets() {
        let graph = r#"{"error":{"code":"Forbidden","message":"Missing DeviceManagementConfiguration.ReadWrite.All"}}"#;
        let message = describe(ReasonCode::PermissionDenied, 403, graph);
        assert!(message.contains("lacks a permission") && message.contains("ReadWrite.All"), "{message}");
        let oauth = r#"{"error":"invalid_client","error_description":"Bad client secret"}"#;
        assert!(describe(ReasonCode::AuthenticationFailed, 401, oauth).contains("Bad client secret"));
        let secret = Secret::new("hunter2".into());
        assert_eq!((format!("{secret}"), format!("{secret:?}")), ("••••".to_string(), "••••".to_string()));
    }
}
