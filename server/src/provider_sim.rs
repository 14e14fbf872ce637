//! A simulator of Microsoft Entra's token endpoint and the Graph (beta) endpoints TenantPilot
//! calls, served over real HTTP by `tenantpilot provider-sim`, behaving as Microsoft's public
//! documentation describes them, so the client is proven against the real shapes offline:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`: client credentials with a secret or a certificate
//!   assertion (RS256, `x5t#S256` or `x5t`), the scope rule (`{resource}/.default`, AADSTS500011
//!   for an unknown resource), and Entra's error bodies (`error`, `error_description` with its
//!   AADSTS code, `error_codes`, trace and correlation ids). Access tokens are JWT-shaped with
//!   `tid`, `roles` and `exp`.
//! - `/beta/deviceManagement/{configurationPolicies|deviceConfigurations|deviceCompliancePolicies|
//!   groupPolicyConfigurations}`: list, get, create, `/{id}/assignments`, `/{id}/assign`; the
//!   settings catalog's `/{id}/settings`; administrative templates' `/{id}/definitionValues`
//!   (and their `presentationValues`) and `updateDefinitionValues`; compliance policies'
//!   scheduled actions only with `$expand`; `assignmentFilters`, `roleScopeTags`, and
//!   `/beta/groups` (by id with `$select`, or `$filter=displayName eq '…'`). The tenant is the
//!   token's, as with Graph. Lists page with `@odata.nextLink` (honouring `$top`).
//! - `/v1.0`: the settings catalog is not there: 400 "Resource not found for the segment …".
//! - Errors are Graph's `{"error":{"code","message","innerError":{"date","request-id",
//!   "client-request-id"}}}`; every answer echoes `client-request-id` and carries `request-id`.
//! - Permissions: a token carries the tenant's granted application permissions (`roles`); a
//!   call without the one it needs gets Graph's 403.
//!
//! Each tenant has its own data, credentials and fault rules (latency, any status with
//! `Retry-After`, dropped connections). Control routes under `/_sim/` set and read a tenant's
//! state, including the writes it received; they are for tests and demos on loopback, not for
//! exposure.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post, put};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tenantpilot_core::provider::{
    PolicyFamily, CONFIGURATION_READ, CONFIGURATION_WRITE, GROUP_READ, RBAC_READ,
};

/// A simulated tenant: what its API serves, who may call it, and how it misbehaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimTenant {
    pub client_id: String,
    pub client_secret: String,
    /// Certificates (PEM) uploaded to the app registration: assertions signed with their keys
    /// are accepted.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Application permissions granted with admin consent; every permission when absent.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// `expires_in` of the tokens it issues.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    #[serde(default)]
    pub policies: Vec<SimPolicy>,
    #[serde(default)]
    pub groups: Vec<SimNamed>,
    /// Assignment filters.
    #[serde(default)]
    pub filters: Vec<SimNamed>,
    /// Role scope tags besides the built-in Default ("0").
    #[serde(default)]
    pub scope_tags: Vec<SimNamed>,
    /// Items per page of every list (a smaller `$top` makes pages smaller).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Requests this tenant has answered (read-only: ignored when set).
    #[serde(default)]
    pub requests: u64,
    /// Token requests it has answered (read-only).
    #[serde(default)]
    pub token_requests: u64,
    /// The most Graph requests it has had in flight at once (read-only).
    #[serde(default)]
    pub most_in_flight: u64,
    /// Graph requests in flight now (kept by the simulator; not part of the control API).
    #[serde(skip)]
    pub in_flight: u64,
    /// Writes it has received, oldest first (read-only).
    #[serde(default)]
    pub writes: Vec<SimWrite>,
    /// Paths (with query) of the reads it has answered, oldest first, the latest 10,000
    /// (read-only).
    #[serde(default)]
    pub reads: Vec<String>,
}

fn default_page_size() -> usize {
    50
}

fn default_token_lifetime() -> u64 {
    3599
}

/// A policy of one family. `body` is what Graph returns for it (with `id`); `settings` holds
/// what lives in a relationship: the settings catalog's settings, or an administrative
/// template's definition values (each with `definition` and `presentationValues`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimPolicy {
    pub family: PolicyFamily,
    pub body: Value,
    #[serde(default)]
    pub settings: Vec<Value>,
    /// Assignment targets, verbatim.
    #[serde(default)]
    pub assignments: Vec<Value>,
}

impl SimPolicy {
    pub fn id(&self) -> &str {
        self.body["id"].as_str().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimNamed {
    pub id: String,
    pub display_name: String,
}

/// A write the simulator received: what a test asserts a restore sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimWrite {
    pub method: String,
    pub path: String,
    pub body: Value,
}

/// A misbehaviour: requests matching `method` and `path` (a substring of the path, e.g.
/// `/deviceManagement/configurationPolicies` or `/oauth2`) wait `latencyMs`, then answer
/// `status` (with `Retry-After` when given) or drop the connection. `times` limits how many
/// requests it hits; without it, every one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(default)]
    pub drop: bool,
    #[serde(default)]
    pub times: Option<u32>,
}

/// An issued access token.
struct Issued {
    tenant: String,
    roles: Vec<String>,
    expires: Instant,
}

#[derive(Default)]
struct SimState {
    tenants: HashMap<String, SimTenant>,
    tokens: HashMap<String, Issued>,
}

#[derive(Clone, Default)]
pub struct Simulator {
    state: Arc<Mutex<SimState>>,
    /// Creates an unknown tenant with sample data on its first token request, trusting the
    /// secret it presents: the demo needs no set-up step, and survives a restart.
    demo: bool,
}

/// Every permission the simulator knows, granted when a tenant names none.
const ALL_PERMISSIONS: [&str; 4] = [CONFIGURATION_WRITE, CONFIGURATION_READ, RBAC_READ, GROUP_READ];
const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// What a tenant the simulator has not been told about gets on its first sign-in: the demo's
/// sample data (`--demo`), or nothing (it does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixtures {
    Demo,
    Empty,
}

impl Simulator {
    pub fn new(fixtures: Fixtures) -> Simulator {
        Simulator { demo: fixtures == Fixtures::Demo, ..Simulator::default() }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock cannot leave the maps half-written in a way that
        // matters to a simulator: keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/_sim/tenants/{tenant}", put(put_tenant).get(get_tenant))
            .route("/_sim/tenants/{tenant}/faults", put(put_faults))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/beta/{*path}", any(graph))
            .route("/v1.0/{*path}", any(graph_v1))
            .fallback(|| async {
                (StatusCode::NOT_FOUND, "No such route on the provider simulator").into_response()
            })
            .with_state(self)
    }

    /// Counts the request and takes the first fault rule that matches it.
    fn fault_for(&self, tenant: &str, method: &Method, path: &str) -> Option<Fault> {
        let mut state = self.state();
        let sim = state.tenants.get_mut(tenant)?;
        sim.requests += 1;
        let fault = sim.faults.iter_mut().find(|fault| {
            fault.times != Some(0)
                && fault.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
                && fault.path.as_deref().is_none_or(|p| path.contains(p))
        })?;
        if let Some(times) = fault.times.as_mut() {
            *times -= 1;
        }
        Some(fault.clone())
    }
}

fn named(items: &[(&str, &str)]) -> Vec<SimNamed> {
    items.iter().map(|(id, name)| SimNamed { id: (*id).into(), display_name: (*name).into() }).collect()
}

fn include(group: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
        "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none" })
}

fn exclude(group: &str) -> Value {
    json!({ "@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": group })
}

fn with_filter(mut target: Value, filter: &str, mode: &str) -> Value {
    target["deviceAndAppManagementAssignmentFilterId"] = filter.into();
    target["deviceAndAppManagementAssignmentFilterType"] = mode.into();
    target
}

const CREATED: &str = "2026-10-01T09:00:00Z";

/// Sample data for a demo tenant: policies of all four families, assigned to groups (included
/// and excluded), to all devices and all users, with assignment filters and scope tags.
pub fn sample_tenant(client_id: &str, client_secret: &str) -> SimTenant {
    let choice = |definition: &str, value: &str| {
        json!({ "id": "0", "settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": definition,
            "choiceSettingValue": { "value": format!("{definition}_{value}"), "children": [] } } })
    };
    let policies = vec![
        SimPolicy {
            family: PolicyFamily::SettingsCatalog,
            body: json!({ "id": "pol-edge", "name": "Microsoft Edge hardening", "description": "SmartScreen on, no password manager",
                "platforms": "windows10", "technologies": "mdm", "roleScopeTagIds": ["0", "1"], "settingCount": 2,
                "createdDateTime": CREATED, "lastModifiedDateTime": CREATED, "creationSource": null, "isAssigned": true,
                "templateReference": { "templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null } }),
            settings: vec![
                choice("device_vendor_msft_policy_config_microsoft_edgev80diff~policy~microsoft_edge_smartscreenenabled", "1"),
                {
                    let mut second = choice("device_vendor_msft_policy_config_microsoft_edge~policy~microsoft_edge_passwordmanagerenabled", "0");
                    second["id"] = "1".into();
                    second
                },
            ],
            assignments: vec![with_filter(include("grp-engineering"), "flt-corporate", "include"), exclude("grp-contractors")],
        },
        SimPolicy {
            family: PolicyFamily::SettingsCatalog,
            body: json!({ "id": "pol-defender", "name": "Defender antivirus", "description": "",
                "platforms": "windows10", "technologies": "mdm,microsoftSense", "roleScopeTagIds": ["0"], "settingCount": 1,
                "createdDateTime": CREATED, "lastModifiedDateTime": CREATED, "creationSource": null, "isAssigned": true,
                "templateReference": { "templateId": "", "templateFamily": "none" } }),
            settings: vec![choice("device_vendor_msft_policy_config_defender_allowrealtimemonitoring", "1")],
            assignments: vec![json!({ "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": "flt-corporate", "deviceAndAppManagementAssignmentFilterType": "include" }),
                exclude("grp-pilot")],
        },
        SimPolicy {
            family: PolicyFamily::DeviceConfiguration,
            body: json!({ "@odata.type": "#microsoft.graph.windows10EndpointProtectionConfiguration", "id": "pol-bitlocker",
                "displayName": "BitLocker disk encryption", "description": "", "version": 3, "roleScopeTagIds": ["0"],
                "supportsScopeTags": true, "createdDateTime": CREATED, "lastModifiedDateTime": CREATED,
                "bitLockerEncryptDevice": true, "bitLockerSystemDrivePolicy": { "encryptionMethod": "xtsAes256", "startupAuthenticationRequired": true } }),
            settings: vec![],
            assignments: vec![include("grp-all-staff"), include("grp-executives")],
        },
        SimPolicy {
            family: PolicyFamily::DeviceConfiguration,
            body: json!({ "@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": "pol-windows-baseline",
                "displayName": "Windows security baseline", "description": "", "version": 1, "roleScopeTagIds": ["0"],
                "supportsScopeTags": true, "createdDateTime": CREATED, "lastModifiedDateTime": CREATED,
                "passwordRequired": true, "passwordMinimumLength": 12, "defenderRequireRealTimeMonitoring": true }),
            settings: vec![],
            assignments: vec![json!({ "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget",
                "deviceAndAppManagementAssignmentFilterId": null, "deviceAndAppManagementAssignmentFilterType": "none" })],
        },
        SimPolicy {
            family: PolicyFamily::DeviceConfiguration,
            body: json!({ "@odata.type": "#microsoft.graph.windowsWifiConfiguration", "id": "pol-wifi-office",
                "displayName": "Office Wi-Fi", "description": "", "version": 1, "roleScopeTagIds": ["0"],
                "supportsScopeTags": true, "createdDateTime": CREATED, "lastModifiedDateTime": CREATED,
                "ssid": "CONTOSO-OFFICE", "connectAutomatically": true, "wifiSecurityType": "wpa2Enterprise" }),
            settings: vec![],
            assignments: vec![],
        },
        SimPolicy {
            family: PolicyFamily::Compliance,
            body: json!({ "@odata.type": "#microsoft.graph.iosCompliancePolicy", "id": "pol-ios-compliance",
                "displayName": "iOS compliance", "description": "", "version": 2, "roleScopeTagIds": ["0"],
                "createdDateTime": CREATED, "lastModifiedDateTime": CREATED,
                "passcodeRequired": true, "passcodeMinimumLength": 6, "osMinimumVersion": "17.0",
                "scheduledActionsForRule": [{ "id": "rule-1", "ruleName": "PasswordRequired",
                    "scheduledActionConfigurations": [{ "id": "action-1", "actionType": "block", "gracePeriodHours": 0,
                        "notificationTemplateId": "", "notificationMessageCCList": [] }] }] }),
            settings: vec![],
            assignments: vec![include("grp-finance"), include("grp-executives"),
                with_filter(json!({ "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget" }), "flt-personal-iphones", "exclude")],
        },
        SimPolicy {
            family: PolicyFamily::AdministrativeTemplate,
            body: json!({ "id": "pol-office-macros", "displayName": "Office macros", "description": "Block macros from the internet",
                "roleScopeTagIds": ["0"], "policyConfigurationIngestionType": "builtIn",
                "createdDateTime": CREATED, "lastModifiedDateTime": CREATED }),
            settings: vec![json!({ "id": "dv-1", "enabled": true, "configurationType": "policy",
                "createdDateTime": CREATED, "lastModifiedDateTime": CREATED,
                "definition": { "id": "def-block-macros", "displayName": "Block macros from running in Office files from the Internet",
                    "classType": "user", "categoryPath": "\\Microsoft Word 2016\\Word Options\\Security\\Trust Center" },
                "presentationValues": [] })],
            assignments: vec![include("grp-all-staff"), exclude("grp-executives")],
        },
    ];
    SimTenant {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        certificates: Vec::new(),
        permissions: None,
        token_lifetime_secs: default_token_lifetime(),
        policies,
        groups: named(&[
            ("grp-all-staff", "All staff"),
            ("grp-finance", "Finance"),
            ("grp-engineering", "Engineering"),
            ("grp-pilot", "Pilot devices"),
            ("grp-executives", "Executives"),
            ("grp-contractors", "Contractors"),
        ]),
        filters: named(&[
            ("flt-corporate", "Corporate Windows devices"),
            ("flt-personal-iphones", "Personal iPhones"),
        ]),
        scope_tags: named(&[("1", "Helpdesk EU")]),
        page_size: 4,
        faults: Vec::new(),
        requests: 0,
        token_requests: 0,
        most_in_flight: 0,
        in_flight: 0,
        writes: Vec::new(),
        reads: Vec::new(),
    }
}

/// Identifies each answer for support, as Graph does.
struct Ids {
    request: String,
    client: String,
}

impl Ids {
    fn of(headers: &HeaderMap) -> Ids {
        let client = headers.get("client-request-id").and_then(|value| value.to_str().ok());
        let client = client.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ids { request: uuid::Uuid::new_v4().to_string(), client }
    }

    fn stamp(&self, mut response: Response) -> Response {
        for (name, value) in [("request-id", &self.request), ("client-request-id", &self.client)] {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let body = json!({ "error": { "code": code, "message": message, "innerError": {
            "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": self.request, "client-request-id": self.client } } });
        self.stamp((status, Json(body)).into_response())
    }

    fn ok(&self, status: StatusCode, body: Value) -> Response {
        self.stamp((status, Json(body)).into_response())
    }
}

/// A Graph request of `tenant` being answered: counted in its `most_in_flight`.
struct InFlight {
    sim: Simulator,
    tenant: String,
}

impl InFlight {
    fn enter(sim: &Simulator, tenant: &str) -> InFlight {
        if let Some(sim) = sim.state().tenants.get_mut(tenant) {
            sim.in_flight += 1;
            sim.most_in_flight = sim.most_in_flight.max(sim.in_flight);
        }
        InFlight { sim: sim.clone(), tenant: tenant.to_string() }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.state().tenants.get_mut(&self.tenant) {
            sim.in_flight = sim.in_flight.saturating_sub(1);
        }
    }
}

/// Applies a matched fault: waits, then answers for it, or lets the request through (`None`).
async fn misbehave(fault: Option<Fault>, ids: &Ids) -> Option<Response> {
    let fault = fault?;
    if fault.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.latency_ms)).await;
    }
    if fault.drop {
        // Headers go out, then the body fails: the connection is cut mid-answer.
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"value\":[")),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped by the simulator")),
        ];
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        return Some(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    let status = StatusCode::from_u16(fault.status?).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        401 => "InvalidAuthenticationToken",
        403 => "Forbidden",
        _ => "SimulatedFault",
    };
    let mut response = ids.error(status, code, "The simulator was told to fail this request.");
    if let Some(seconds) = fault.retry_after_secs {
        if let Ok(value) = seconds.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    Some(response)
}

// ---------------------------------------------------------------------------------------------
// The token endpoint
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

/// An answer of the token endpoint, as the identity platform shapes its errors
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).
fn entra_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ");
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}"),
        "error_codes": [code],
        "timestamp": now.to_string(),
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

fn origin_of(headers: &HeaderMap) -> String {
    format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"))
}

/// A refusal, boxed: an answer is large to carry around in a `Result`.
type Refused = Box<Response>;

/// A client assertion's header and claims, or why it is refused.
fn check_assertion(tenant: &SimTenant, assertion: &str, token_url: &str) -> Result<(), Refused> {
    let invalid = |code: u32, description: &str| {
        Err(Box::new(entra_error(StatusCode::UNAUTHORIZED, "invalid_client", code, description)))
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let decode = |part: &str| {
        URL_SAFE_NO_PAD.decode(part).ok().and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    };
    let (Some(header), Some(claims), Some(signature)) = (
        parts.first().and_then(|p| decode(p)),
        parts.get(1).and_then(|p| decode(p)),
        parts.get(2).and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()),
    ) else {
        return Err(Box::new(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        )));
    };
    if header["alg"] != "RS256" {
        return invalid(
            700027,
            "Client assertion failed signature validation. [Reason - The algorithm is not RS256.]",
        );
    }
    let certificate = tenant.certificates.iter().find_map(|pem| {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
        let sha256 = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, der.as_ref()));
        let sha1 = URL_SAFE_NO_PAD
            .encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref()));
        (header["x5t#S256"] == sha256.as_str() || header["x5t"] == sha1.as_str()).then_some(der)
    });
    let Some(certificate) = certificate else {
        return invalid(
            700027,
            &format!(
                "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                header["x5t#S256"].as_str().or(header["x5t"].as_str()).unwrap_or("none")
            ),
        );
    };
    let signed = format!("{}.{}", parts[0], parts[1]);
    let verified = webpki::EndEntityCert::try_from(&certificate).ok().is_some_and(|cert| {
        cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature).is_ok()
    });
    if !verified {
        return invalid(
            700027,
            "Client assertion contains an invalid signature. [Reason - The signature does not match.]",
        );
    }
    if claims["aud"] != token_url {
        return invalid(
            700027,
            &format!(
                "Client assertion failed signature validation. [Reason - The audience is not {token_url}.]"
            ),
        );
    }
    if claims["iss"] != tenant.client_id.as_str() || claims["sub"] != tenant.client_id.as_str() {
        return invalid(700023, "Client assertion audience claim does not match the client id (iss and sub must be the client id).");
    }
    let now = chrono::Utc::now().timestamp();
    let (nbf, exp) = (claims["nbf"].as_i64().unwrap_or(i64::MAX), claims["exp"].as_i64().unwrap_or(0));
    // Five minutes of clock skew, as Entra allows.
    if now + 300 < nbf || now > exp {
        return invalid(
            700024,
            &format!("Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."),
        );
    }
    Ok(())
}

async fn token(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<TokenRequest>,
) -> Response {
    if sim.demo && form.client_secret.is_some() {
        let mut state = sim.state();
        if !state.tenants.contains_key(&tenant) {
            let (id, secret) =
                (form.client_id.clone().unwrap_or_default(), form.client_secret.clone().unwrap_or_default());
            state.tenants.insert(tenant.clone(), sample_tenant(&id, &secret));
        }
    }
    let ids = Ids::of(&headers);
    if let Some(response) = misbehave(sim.fault_for(&tenant, &method, "/oauth2/v2.0/token"), &ids).await {
        return response;
    }
    let origin = origin_of(&headers);
    let token_url = format!("{origin}/{tenant}/oauth2/v2.0/token");
    let Some(found) = sim.state().tenants.get(&tenant).cloned() else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        );
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if form.client_id.as_deref() != Some(found.client_id.as_str()) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                form.client_id.as_deref().unwrap_or_default()
            ),
        );
    }
    let Some(scope) = form.scope.as_deref().filter(|scope| !scope.is_empty()) else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let Some(resource) = scope.strip_suffix("/.default") else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    };
    // Everything before the last slash is the resource: Graph, by its URL or its app id (this
    // simulator stands in for it at its own origin too).
    if ![GRAPH_RESOURCE, GRAPH_APP_ID, origin.as_str()].contains(&resource) {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!("The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        );
    }
    match (&form.client_secret, &form.client_assertion_type, &form.client_assertion) {
        (Some(secret), _, _) if *secret == found.client_secret => {}
        (Some(_), _, _) => {
            return entra_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", found.client_id),
            )
        }
        (None, Some(kind), Some(assertion)) if kind == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" => {
            if let Err(refused) = check_assertion(&found, assertion, &token_url) {
                return *refused;
            }
        }
        _ => {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        }
    }
    let roles: Vec<String> =
        found.permissions.clone().unwrap_or_else(|| ALL_PERMISSIONS.iter().map(|p| p.to_string()).collect());
    let now = chrono::Utc::now().timestamp();
    let lifetime = found.token_lifetime_secs;
    let claims = json!({ "aud": resource, "iss": format!("https://sts.windows.net/{tenant}/"), "tid": tenant,
        "appid": found.client_id, "roles": roles, "iat": now, "nbf": now, "exp": now + lifetime as i64 });
    let access_token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        uuid::Uuid::new_v4().simple()
    );
    let mut state = sim.state();
    if let Some(sim_tenant) = state.tenants.get_mut(&tenant) {
        sim_tenant.token_requests += 1;
    }
    state.tokens.insert(
        access_token.clone(),
        Issued { tenant, roles, expires: Instant::now() + Duration::from_secs(lifetime) },
    );
    Json(json!({ "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token }))
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Graph
// ---------------------------------------------------------------------------------------------

/// What a request asks Graph for.
struct Call {
    method: Method,
    /// Segments after `/beta`.
    segments: Vec<String>,
    query: BTreeMap<String, String>,
    path: String,
    origin: String,
    body: Bytes,
}

impl Call {
    fn segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    fn expands(&self, what: &str) -> bool {
        self.query.get("$expand").is_some_and(|expand| expand.contains(what))
    }
}

fn family_of(collection: &str) -> Option<PolicyFamily> {
    PolicyFamily::ALL
        .into_iter()
        .find(|family| family.collection() == format!("/deviceManagement/{collection}"))
}

fn segment_error(ids: &Ids, segment: &str) -> Response {
    ids.error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

async fn graph_v1(uri: Uri, headers: HeaderMap) -> Response {
    let ids = Ids::of(&headers);
    let path = uri.path().trim_start_matches("/v1.0/");
    let beta_only =
        ["configurationPolicies", "groupPolicyConfigurations", "assignmentFilters", "roleScopeTags"];
    let segment =
        path.split('/').find(|segment| beta_only.contains(segment)).or_else(|| path.split('/').next());
    segment_error(&ids, segment.unwrap_or_default())
}

async fn graph(
    State(sim): State<Simulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = Ids::of(&headers);
    let path = uri.path().strip_prefix("/beta").unwrap_or(uri.path()).to_string();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let issued = token.and_then(|token| {
        sim.state()
            .tokens
            .get(token)
            .map(|issued| (issued.tenant.clone(), issued.roles.clone(), issued.expires))
    });
    let Some((tenant, roles, expires)) = issued else {
        return ids.error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or invalid.",
        );
    };
    let _in_flight = InFlight::enter(&sim, &tenant);
    if let Some(response) = misbehave(sim.fault_for(&tenant, &method, &path), &ids).await {
        return response;
    }
    if expires <= Instant::now() {
        return ids.error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        );
    }
    let query: BTreeMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let call = Call {
        method,
        segments: path.trim_matches('/').split('/').map(str::to_string).collect(),
        query,
        path: path.clone(),
        origin: origin_of(&headers),
        body,
    };
    let mut state = sim.state();
    let Some(found) = state.tenants.get_mut(&tenant) else {
        return ids.error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The token's tenant no longer exists.",
        );
    };
    if call.method == Method::GET {
        if found.reads.len() >= 10_000 {
            found.reads.remove(0);
        }
        found.reads.push(
            uri.path_and_query()
                .map(|p| p.as_str().trim_start_matches("/beta").to_string())
                .unwrap_or_default(),
        );
    }
    serve_graph(found, &roles, &call, &ids)
}

/// The permissions a call needs (any one of them), by what it touches.
fn needed(call: &Call) -> &'static [&'static str] {
    let write = call.method != Method::GET;
    match call.segments().as_slice() {
        ["groups", ..] => &[
            "GroupMember.Read.All",
            GROUP_READ,
            "Directory.Read.All",
            "Group.ReadWrite.All",
            "Directory.ReadWrite.All",
        ],
        ["deviceManagement", "roleScopeTags", ..] => {
            &[RBAC_READ, "DeviceManagementRBAC.ReadWrite.All", CONFIGURATION_READ, CONFIGURATION_WRITE]
        }
        _ if write => &[CONFIGURATION_WRITE],
        _ => &[CONFIGURATION_READ, CONFIGURATION_WRITE],
    }
}

fn forbidden(call: &Call, needs: &[&str], ids: &Ids) -> Response {
    if call.segments.first().map(String::as_str) == Some("groups") {
        return ids.error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    ids.error(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!(
            "Application is not authorized to perform this operation. Application must have one of the following scopes: {} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {} - Url: {}{}",
            needs.join(", "),
            ids.request,
            call.origin,
            call.path
        ),
    )
}

fn serve_graph(tenant: &mut SimTenant, roles: &[String], call: &Call, ids: &Ids) -> Response {
    let needs = needed(call);
    if !needs.iter().any(|need| roles.iter().any(|role| role == need)) {
        return forbidden(call, needs, ids);
    }
    let segments = call.segments();
    let get = call.method == Method::GET;
    let post = call.method == Method::POST;
    match segments.as_slice() {
        ["groups"] if get => list_groups(tenant, call, ids),
        ["groups", id] if get => match tenant.groups.iter().find(|group| group.id == *id) {
            Some(group) => ids.ok(StatusCode::OK, select(call, json!({ "id": group.id, "displayName": group.display_name, "securityEnabled": true }))),
            None => ids.error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
            ),
        },
        ["deviceManagement", "assignmentFilters"] if get => {
            let filters = tenant.filters.iter().map(|f| json!({ "id": f.id, "displayName": f.display_name, "platform": "windows10AndLater" })).collect();
            page(tenant.page_size, filters, call, ids)
        }
        ["deviceManagement", "assignmentFilters", id] if get => match tenant.filters.iter().find(|f| f.id == *id) {
            Some(filter) => ids.ok(StatusCode::OK, json!({ "id": filter.id, "displayName": filter.display_name, "platform": "windows10AndLater" })),
            None => not_found(ids),
        },
        ["deviceManagement", "roleScopeTags"] if get => {
            let tags = scope_tags(tenant).into_iter().map(|t| json!({ "id": t.id, "displayName": t.display_name, "isBuiltIn": t.id == "0" })).collect();
            page(tenant.page_size, tags, call, ids)
        }
        ["deviceManagement", collection] => match family_of(collection) {
            Some(family) if get => {
                let bodies = tenant.policies.iter().filter(|p| p.family == family).map(|p| listed(p, call, false)).collect();
                page(tenant.page_size, bodies, call, ids)
            }
            Some(family) if post => create_policy(tenant, family, call, ids),
            _ => segment_error(ids, collection),
        },
        ["deviceManagement", collection, id, rest @ ..] => {
            let Some(family) = family_of(collection) else { return segment_error(ids, collection) };
            let Some(index) = tenant.policies.iter().position(|p| p.family == family && p.id() == *id) else {
                return not_found(ids);
            };
            policy_call(tenant, index, rest, call, ids)
        }
        [first, ..] => segment_error(ids, first),
        [] => segment_error(ids, ""),
    }
}

fn not_found(ids: &Ids) -> Response {
    ids.error(StatusCode::NOT_FOUND, "ResourceNotFound", "Resource not found")
}

fn scope_tags(tenant: &SimTenant) -> Vec<SimNamed> {
    let mut tags = vec![SimNamed { id: "0".into(), display_name: "Default".into() }];
    tags.extend(tenant.scope_tags.iter().cloned());
    tags
}

/// `$select=a,b` keeps those properties only.
fn select(call: &Call, value: Value) -> Value {
    let Some(selected) = call.query.get("$select") else { return value };
    let keep: Vec<&str> = selected.split(',').map(str::trim).collect();
    match value {
        Value::Object(fields) => {
            Value::Object(fields.into_iter().filter(|(key, _)| keep.contains(&key.as_str())).collect())
        }
        other => other,
    }
}

/// A policy as Graph shows it: the settings catalog without its settings, compliance policies
/// without their scheduled actions unless expanded.
fn listed(policy: &SimPolicy, call: &Call, single: bool) -> Value {
    let mut body = policy.body.clone();
    if policy.family == PolicyFamily::Compliance && !(single && call.expands("scheduledActionsForRule")) {
        if let Some(fields) = body.as_object_mut() {
            fields.remove("scheduledActionsForRule");
        }
    }
    body
}

fn list_groups(tenant: &SimTenant, call: &Call, ids: &Ids) -> Response {
    let groups = tenant.groups.iter();
    let matching: Vec<Value> = match call.query.get("$filter") {
        None => groups.map(|g| select(call, json!({ "id": g.id, "displayName": g.display_name }))).collect(),
        Some(filter) => {
            let Some(name) = filter.strip_prefix("displayName eq '").and_then(|rest| rest.strip_suffix('\''))
            else {
                return ids.error(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    "Unsupported or invalid query filter clause specified.",
                );
            };
            let name = name.replace("''", "'");
            groups
                .filter(|g| g.display_name == name)
                .map(|g| select(call, json!({ "id": g.id, "displayName": g.display_name })))
                .collect()
        }
    };
    page(tenant.page_size, matching, call, ids)
}

/// One page of `items` (`$top` of them at most), with a next link while more remain.
fn page(page_size: usize, items: Vec<Value>, call: &Call, ids: &Ids) -> Response {
    let top = call.query.get("$top").and_then(|top| top.parse::<usize>().ok()).unwrap_or(page_size);
    let size = top.min(page_size).max(1);
    let skip = call.query.get("$skiptoken").and_then(|token| token.parse::<usize>().ok()).unwrap_or(0);
    let end = (skip + size).min(items.len());
    let value: Vec<Value> = items.get(skip..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut body = json!({ "@odata.context": format!("{}/beta/$metadata#{}", call.origin, call.path.trim_start_matches('/')), "value": value });
    if end < items.len() {
        let mut query: BTreeMap<String, String> = call.query.clone();
        query.insert("$skiptoken".into(), end.to_string());
        let query = serde_urlencoded::to_string(&query).unwrap_or_default();
        body["@odata.nextLink"] = format!("{}/beta{}?{query}", call.origin, call.path).into();
    }
    ids.ok(StatusCode::OK, body)
}

fn parse_body(call: &Call, ids: &Ids) -> Result<Value, Refused> {
    serde_json::from_slice::<Value>(&call.body).ok().filter(Value::is_object).ok_or_else(|| {
        Box::new(ids.error(StatusCode::BAD_REQUEST, "BadRequest", "The request body is not a JSON object."))
    })
}

fn record(tenant: &mut SimTenant, call: &Call, body: Value) {
    tenant.writes.push(SimWrite { method: call.method.to_string(), path: call.path.clone(), body });
}

/// Refuses a target naming a group or filter the tenant does not have.
fn check_target(tenant: &SimTenant, target: &Value, ids: &Ids) -> Result<(), Refused> {
    let kind = target["@odata.type"].as_str().unwrap_or_default();
    if kind.is_empty() {
        return Err(Box::new(ids.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "A target needs its @odata.type.",
        )));
    }
    if kind.ends_with("groupAssignmentTarget") || kind.ends_with("exclusionGroupAssignmentTarget") {
        let group = target["groupId"].as_str().unwrap_or_default();
        if !tenant.groups.iter().any(|g| g.id == group) {
            return Err(Box::new(ids.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Group {group} does not exist."),
            )));
        }
    }
    let filter_type = target["deviceAndAppManagementAssignmentFilterType"].as_str().unwrap_or("none");
    if filter_type != "none" {
        let filter = target["deviceAndAppManagementAssignmentFilterId"].as_str().unwrap_or_default();
        if !tenant.filters.iter().any(|f| f.id == filter) {
            return Err(Box::new(ids.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Assignment filter {filter} does not exist."),
            )));
        }
    }
    Ok(())
}

const READ_ONLY: [&str; 4] = ["id", "createdDateTime", "lastModifiedDateTime", "version"];

fn create_policy(tenant: &mut SimTenant, family: PolicyFamily, call: &Call, ids: &Ids) -> Response {
    let mut body = match parse_body(call, ids) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    record(tenant, call, body.clone());
    if let Some(property) = READ_ONLY.iter().find(|property| body.get(**property).is_some()) {
        return ids.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("The property '{property}' is read-only and cannot be set."),
        );
    }
    let needs: &[&str] = match family {
        PolicyFamily::SettingsCatalog => &["name", "platforms", "technologies"],
        PolicyFamily::DeviceConfiguration | PolicyFamily::Compliance => &["@odata.type", "displayName"],
        PolicyFamily::AdministrativeTemplate => &["displayName"],
    };
    if let Some(missing) = needs.iter().find(|property| body.get(**property).is_none()) {
        return ids.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("The property '{missing}' is required."),
        );
    }
    if family == PolicyFamily::Compliance {
        let blocks = body["scheduledActionsForRule"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rule| rule["scheduledActionConfigurations"].as_array().cloned().unwrap_or_default())
            .filter(|action| action["actionType"] == "block")
            .count();
        if blocks != 1 {
            return ids.error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Compliance policy must have one and only one block scheduled action",
            );
        }
    }
    let tags = body.get("roleScopeTagIds").cloned().unwrap_or_else(|| json!(["0"]));
    let known = scope_tags(tenant);
    if let Some(unknown) = tags
        .as_array()
        .into_iter()
        .flatten()
        .find(|tag| !known.iter().any(|k| tag.as_str() == Some(k.id.as_str())))
    {
        return ids.error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Scope tag {unknown} does not exist."),
        );
    }
    let settings = match body.as_object_mut().and_then(|fields| fields.remove("settings")) {
        Some(Value::Array(settings)) => settings,
        _ => Vec::new(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().to_rfc3339();
    body["id"] = id.into();
    body["roleScopeTagIds"] = tags;
    body["createdDateTime"] = now.clone().into();
    body["lastModifiedDateTime"] = now.into();
    let settings = settings
        .into_iter()
        .enumerate()
        .map(|(n, mut setting)| {
            setting["id"] = n.to_string().into();
            setting
        })
        .collect();
    let policy = SimPolicy { family, body: body.clone(), settings, assignments: Vec::new() };
    tenant.policies.push(policy);
    ids.ok(StatusCode::CREATED, body)
}

fn policy_call(tenant: &mut SimTenant, index: usize, rest: &[&str], call: &Call, ids: &Ids) -> Response {
    let get = call.method == Method::GET;
    let post = call.method == Method::POST;
    let family = tenant.policies[index].family;
    let page_size = tenant.page_size;
    match rest {
        [] if get => ids.ok(StatusCode::OK, listed(&tenant.policies[index], call, true)),
        ["assignments"] if get => {
            let policy = &tenant.policies[index];
            let items = policy
                .assignments
                .iter()
                .enumerate()
                .map(|(n, target)| json!({ "id": format!("{}_{n}", policy.id()), "source": "direct", "sourceId": policy.id(), "target": target }))
                .collect();
            page(page_size, items, call, ids)
        }
        ["assign"] if post => {
            let body = match parse_body(call, ids) {
                Ok(body) => body,
                Err(response) => return *response,
            };
            record(tenant, call, body.clone());
            let Some(assignments) = body["assignments"].as_array() else {
                return ids.error(StatusCode::BAD_REQUEST, "BadRequest", "`assignments` must be an array.");
            };
            let mut targets = Vec::with_capacity(assignments.len());
            for assignment in assignments {
                let target = assignment["target"].clone();
                if let Err(response) = check_target(tenant, &target, ids) {
                    return *response;
                }
                targets.push(target);
            }
            tenant.policies[index].assignments = targets;
            let policy = &tenant.policies[index];
            let value: Vec<Value> = policy
                .assignments
                .iter()
                .enumerate()
                .map(|(n, target)| json!({ "id": format!("{}_{n}", policy.id()), "target": target }))
                .collect();
            ids.ok(StatusCode::OK, json!({ "value": value }))
        }
        ["settings"] if get && family == PolicyFamily::SettingsCatalog => {
            page(page_size, tenant.policies[index].settings.clone(), call, ids)
        }
        ["definitionValues"] if get && family == PolicyFamily::AdministrativeTemplate => {
            let values = tenant.policies[index]
                .settings
                .iter()
                .map(|value| {
                    let mut value = value.clone();
                    if let Some(fields) = value.as_object_mut() {
                        fields.remove("presentationValues");
                        if !call.expands("definition") {
                            fields.remove("definition");
                        }
                    }
                    value
                })
                .collect();
            page(page_size, values, call, ids)
        }
        ["definitionValues", value_id, "presentationValues"]
            if get && family == PolicyFamily::AdministrativeTemplate =>
        {
            let Some(value) = tenant.policies[index].settings.iter().find(|value| value["id"] == *value_id)
            else {
                return not_found(ids);
            };
            let presentations = value["presentationValues"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|presentation| {
                    let mut presentation = presentation.clone();
                    if !call.expands("presentation") {
                        if let Some(fields) = presentation.as_object_mut() {
                            fields.remove("presentation");
                        }
                    }
                    presentation
                })
                .collect();
            page(page_size, presentations, call, ids)
        }
        ["updateDefinitionValues"] if post && family == PolicyFamily::AdministrativeTemplate => {
            let body = match parse_body(call, ids) {
                Ok(body) => body,
                Err(response) => return *response,
            };
            record(tenant, call, body.clone());
            let mut added = Vec::new();
            for value in body["added"].as_array().into_iter().flatten() {
                let Some(definition) = bound_id(&value["definition@odata.bind"], "groupPolicyDefinitions")
                else {
                    return ids.error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "Each added value binds its definition (definition@odata.bind).",
                    );
                };
                let presentations: Vec<Value> = value["presentationValues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|presentation| {
                        let mut stored = presentation.clone();
                        let bound = bound_id(&presentation["presentation@odata.bind"], "presentations");
                        if let Some(fields) = stored.as_object_mut() {
                            fields.remove("presentation@odata.bind");
                            fields.insert("id".into(), uuid::Uuid::new_v4().to_string().into());
                            fields.insert("presentation".into(), json!({ "id": bound }));
                        }
                        stored
                    })
                    .collect();
                added.push(json!({ "id": uuid::Uuid::new_v4().to_string(), "enabled": value["enabled"],
                    "configurationType": "policy", "definition": { "id": definition }, "presentationValues": presentations }));
            }
            tenant.policies[index].settings.extend(added);
            StatusCode::NO_CONTENT.into_response()
        }
        [segment, ..] => segment_error(ids, segment),
        [] => ids.error(StatusCode::METHOD_NOT_ALLOWED, "BadRequest", "No method match route template"),
    }
}

/// The id in an `@odata.bind` reference like `…/groupPolicyDefinitions('id')`.
fn bound_id(reference: &Value, collection: &str) -> Option<String> {
    let reference = reference.as_str()?;
    let start = reference.rfind(&format!("{collection}('"))? + collection.len() + 2;
    let rest = &reference[start..];
    Some(rest[..rest.find("')")?].to_string())
}

// ---------------------------------------------------------------------------------------------
// Control routes
// ---------------------------------------------------------------------------------------------

async fn put_tenant(State(sim): State<Simulator>, Path(tenant): Path<String>, body: Bytes) -> Response {
    match serde_json::from_slice::<SimTenant>(&body) {
        Ok(mut new) => {
            new.requests = 0;
            new.token_requests = 0;
            new.most_in_flight = 0;
            new.writes.clear();
            new.reads.clear();
            sim.state().tenants.insert(tenant, new);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => (StatusCode::BAD_REQUEST, format!("Not a tenant: {error}")).into_response(),
    }
}

async fn get_tenant(State(sim): State<Simulator>, Path(tenant): Path<String>) -> Response {
    match sim.state().tenants.get(&tenant) {
        Some(tenant) => Json(tenant.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "No such tenant").into_response(),
    }
}

async fn put_faults(State(sim): State<Simulator>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let faults = match serde_json::from_slice::<Vec<Fault>>(&body) {
        Ok(faults) => faults,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("Not a list of faults: {error}")).into_response()
        }
    };
    match sim.state().tenants.get_mut(&tenant) {
        Some(tenant) => {
            tenant.faults = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        None => (StatusCode::NOT_FOUND, "No such tenant").into_response(),
    }
}

/// Serves the simulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    fixtures: Fixtures,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, Simulator::new(fixtures).router()).with_graceful_shutdown(shutdown).await
}
