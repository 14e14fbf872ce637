//! Tokens from the Microsoft identity platform: the client-credentials grant with a client
//! secret or a certificate (a signed `client_assertion`), the scope rule, a cache that keeps a
//! token until shortly before it expires, and Entra's own error codes kept in failure messages.
//!
//! Client credentials: <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//! Certificate credentials: <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>

use super::client::ProviderError;
use super::ReasonCode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token is renewed this long before the identity platform says it expires.
pub const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// How long a client assertion is valid: it is used once, at once.
const ASSERTION_LIFETIME_SECS: i64 = 10 * 60;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

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

/// An app registration's certificate with its private key (RSA), read from PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The private key's PEM: secret.
    key_pem: Secret,
    /// The certificate's PEM: public, as uploaded to the app registration.
    certificate_pem: String,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientCertificate({})", self.thumbprint_sha1())
    }
}

impl ClientCertificate {
    /// Reads one PEM text holding the certificate and its RSA private key (PKCS#8 or PKCS#1),
    /// and checks that the two belong together. The error says what is wrong, never the key.
    pub fn from_pem(pem: &str) -> Result<ClientCertificate, String> {
        let certificate = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            "No certificate found: paste the certificate (-----BEGIN CERTIFICATE-----) together with its private key"
                .to_string()
        })?;
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            "No private key found: paste the private key (-----BEGIN PRIVATE KEY-----) together with the certificate"
                .to_string()
        })?;
        let key_pem = match &key {
            PrivateKeyDer::Pkcs8(der) => pem_block("PRIVATE KEY", der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => pem_block("RSA PRIVATE KEY", der.secret_pkcs1_der()),
            _ => return Err("The private key must be an RSA key".into()),
        };
        let pair = key_pair(&key).ok_or("The private key must be an RSA key of 2048 bits or more")?;
        // The certificate's subject public key info holds the key pair's public key verbatim.
        let public = pair.public().as_ref();
        if !certificate.as_ref().windows(public.len()).any(|window| window == public) {
            return Err("The private key does not belong to this certificate".into());
        }
        Ok(ClientCertificate {
            key_pem: Secret::new(key_pem),
            certificate_pem: pem_block("CERTIFICATE", certificate.as_ref()),
            certificate_der: certificate.as_ref().to_vec(),
        })
    }

    /// The certificate and key as stored (write-only, like a secret).
    pub fn to_pem(&self) -> Secret {
        Secret::new(format!("{}{}", self.certificate_pem, self.key_pem.expose()))
    }

    /// SHA-1 thumbprint in upper-case hex, as the Entra admin center lists certificates.
    pub fn thumbprint_sha1(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.certificate_der);
        digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect()
    }

    /// A client assertion for `token_url`: a JWT signed RS256 with the private key, whose
    /// header names the certificate by its SHA-256 (`x5t#S256`) and SHA-1 (`x5t`) thumbprints.
    pub fn assertion(&self, client_id: &str, token_url: &str, now: DateTime<Utc>) -> Result<String, String> {
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.expose().as_bytes())
            .map_err(|_| "The stored private key is unreadable".to_string())?;
        let pair = key_pair(&key).ok_or("The stored private key is unreadable")?;
        let sha256 = Sha256::digest(&self.certificate_der);
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.certificate_der);
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t#S256": URL_SAFE_NO_PAD.encode(sha256),
            "x5t": URL_SAFE_NO_PAD.encode(sha1.as_ref()),
        });
        let issued = now.timestamp();
        let claims = json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| "Signing the client assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn key_pair(key: &PrivateKeyDer<'_>) -> Option<RsaKeyPair> {
    match key {
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).ok(),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()).ok(),
        _ => None,
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// How TenantPilot signs in: a client secret or a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Secret(Secret),
    Certificate(ClientCertificate),
}

/// Where and as whom TenantPilot calls a tenant's provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConnection {
    /// The API root, e.g. `https://graph.microsoft.com/beta`.
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    /// Asked for instead of the rule's scope, when set.
    pub scope: Option<String>,
    pub credential: Credential,
}

impl ProviderConnection {
    /// The scope token requests carry: the override, else the rule's.
    pub fn scope(&self) -> String {
        self.scope.clone().unwrap_or_else(|| default_scope(&self.base_url))
    }
}

/// The client-credentials scope for an API base: `{scheme}://{host}/.default`. The identity
/// platform reads everything before the last `/` as the resource, so the base's path (`/beta`)
/// must not be in it: `https://graph.microsoft.com/beta/.default` is AADSTS500011.
pub fn default_scope(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(url) => format!("{}/.default", url.origin().ascii_serialization()),
        Err(_) => format!("{}/.default", base_url.trim_end_matches('/')),
    }
}

/// What a token says of itself; kept beside it.
#[derive(Debug, Clone)]
pub struct TokenFacts {
    /// The directory the token was issued in (`tid`), when the token is a readable JWT.
    pub tenant: Option<String>,
    /// Application permissions granted (`roles`).
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct AccessToken {
    pub value: Secret,
    pub facts: TokenFacts,
    /// Used until then, and renewed after.
    fresh_until: Instant,
}

/// One connection's token, locked while it is fetched.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<AccessToken>>>>;

/// Tokens by connection, shared by every session of the process. One request per connection
/// fetches while the others wait for its answer.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<[u8; 32], Slot>>,
}

impl TokenCache {
    fn slot(&self, connection: &ProviderConnection) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(cache_key(connection)).or_default().clone()
    }

    /// The cached token of `connection`, or a new one from `fetch`.
    pub async fn get<F, Fut>(
        &self,
        connection: &ProviderConnection,
        fetch: F,
    ) -> Result<Arc<AccessToken>, ProviderError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Arc<AccessToken>, ProviderError>>,
    {
        let slot = self.slot(connection);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|token| token.fresh_until > Instant::now()) {
            return Ok(token.clone());
        }
        let token = fetch().await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets whatever token `connection` has, so the next one is asked for.
    pub async fn clear(&self, connection: &ProviderConnection) {
        *self.slot(connection).lock().await = None;
    }

    /// Forgets `token` (the API said 401), unless a newer one has replaced it already.
    pub async fn forget(&self, connection: &ProviderConnection, token: &Arc<AccessToken>) {
        let slot = self.slot(connection);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|current| Arc::ptr_eq(current, token)) {
            *cached = None;
        }
    }
}

/// Everything that makes a token: a changed secret or scope is a different cache entry.
fn cache_key(connection: &ProviderConnection) -> [u8; 32] {
    let credential = match &connection.credential {
        Credential::Secret(secret) => secret.expose().to_string(),
        Credential::Certificate(certificate) => certificate.to_pem().expose().to_string(),
    };
    let mut hash = Sha256::new();
    for part in [&connection.token_url, &connection.client_id, &connection.scope(), &credential] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().into()
}

/// The form of a client-credentials token request for `connection`.
pub fn token_form(
    connection: &ProviderConnection,
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, String)>, ProviderError> {
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", connection.client_id.clone()),
        ("scope", connection.scope()),
    ];
    match &connection.credential {
        Credential::Secret(secret) => form.push(("client_secret", secret.expose().to_string())),
        Credential::Certificate(certificate) => {
            let assertion = certificate
                .assertion(&connection.client_id, &connection.token_url, now)
                .map_err(|message| ProviderError::new(ReasonCode::AuthenticationFailed, message, None))?;
            form.push(("client_assertion_type", ASSERTION_TYPE.to_string()));
            form.push(("client_assertion", assertion));
        }
    }
    Ok(form)
}

/// Reads a successful token answer (`access_token`, `expires_in`).
pub fn read_token(body: &[u8], now: DateTime<Utc>) -> Option<AccessToken> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let value = answer["access_token"].as_str()?.to_string();
    let lifetime = answer["expires_in"]
        .as_u64()
        .or_else(|| answer["expires_in"].as_str().and_then(|text| text.parse().ok()))
        .unwrap_or(3599);
    let claims = jwt_claims(&value);
    let roles = claims["roles"]
        .as_array()
        .map(|roles| roles.iter().filter_map(|role| role.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Some(AccessToken {
        facts: TokenFacts {
            tenant: claims["tid"].as_str().map(str::to_string),
            roles,
            expires_at: now + chrono::Duration::seconds(lifetime as i64),
        },
        fresh_until: Instant::now() + Duration::from_secs(lifetime).saturating_sub(RENEW_BEFORE_EXPIRY),
        value: Secret::new(value),
    })
}

/// The claims of a JWT, read without checking its signature (only to show them), or `Null`.
fn jwt_claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or(Value::Null)
}

/// The identity platform's refusal in its own words: `AADSTS7000215: Invalid client secret
/// provided. …`, with its trace and correlation ids (support asks for them).
pub fn describe_refusal(status: u16, body: &[u8]) -> (ReasonCode, String) {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let reason = match status {
        400 | 401 | 403 => ReasonCode::AuthenticationFailed,
        other => super::client::reason_for_status(other),
    };
    let error = answer["error"].as_str();
    let description = answer["error_description"].as_str().map(|text| {
        let flat: String =
            text.split(['\r', '\n']).filter(|part| !part.trim().is_empty()).collect::<Vec<_>>().join(" ");
        flat.chars().take(1000).collect::<String>()
    });
    let message = match (error, description) {
        (_, Some(description)) => {
            format!("The identity platform refused the token request (HTTP {status}): {description}")
        }
        (Some(error), None) => {
            format!("The identity platform refused the token request (HTTP {status}: {error})")
        }
        (None, None) => format!("{} (HTTP {status} from the token URL)", reason.summary()),
    };
    (reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_origin_of_the_api_base() {
        // https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope
        assert_eq!(default_scope("https://graph.microsoft.com/beta"), "https://graph.microsoft.com/.default");
        assert_eq!(default_scope("https://graph.microsoft.us/beta/"), "https://graph.microsoft.us/.default");
        assert_eq!(
            default_scope("https://microsoftgraph.chinacloudapi.cn/beta"),
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert_eq!(default_scope("http://127.0.0.1:3100/beta"), "http://127.0.0.1:3100/.default");
    }

    #[test]
    fn refusals_keep_the_aadsts_code_and_description() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 1111\r\nCorrelation ID: 2222\r\nTimestamp: 2026-11-30 08:00:00Z","error_codes":[7000215]}"#;
        let (reason, message) = describe_refusal(401, body);
        assert_eq!(reason, ReasonCode::AuthenticationFailed);
        assert!(message.contains("AADSTS7000215: Invalid client secret provided."), "{message}");
        assert!(message.contains("Trace ID: 1111 Correlation ID: 2222"), "{message}");
    }

    #[test]
    fn tokens_are_kept_until_five_minutes_before_they_expire() {
        let now = Utc::now();
        let token =
            read_token(br#"{"token_type":"Bearer","expires_in":3599,"access_token":"x"}"#, now).unwrap();
        let left = token.fresh_until - Instant::now();
        assert!(
            left > Duration::from_secs(3599 - 301) && left <= Duration::from_secs(3599 - 300),
            "{left:?}"
        );
        let short = read_token(br#"{"expires_in":"120","access_token":"x"}"#, now).unwrap();
        assert!(short.fresh_until <= Instant::now(), "a token living under 5 minutes is not kept");
    }
}
