//! A simulator of the provider endpoints TenantPilot calls (OAuth2 client credentials, policies
//! and their assignments with `@odata.nextLink` paging, groups, `assign`), served over real HTTP
//! by `tenantpilot provider-sim`. Each tenant has its own policies, groups, credentials and fault
//! rules (latency, throttling with `Retry-After`, any status, dropped connections), so tests and
//! demos reach every failure path the client maps.
//!
//! Control routes under `/_sim/` set and read a tenant's state; they are for tests and demos on
//! loopback, not for exposure.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A simulated tenant: what its API serves, who may call it, and how it misbehaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimTenant {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub policies: Vec<SimPolicy>,
    #[serde(default)]
    pub groups: Vec<SimGroup>,
    /// Items per page of every list.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Requests this tenant has answered (read-only: ignored when set).
    #[serde(default)]
    pub requests: u64,
}

fn default_page_size() -> usize {
    50
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimPolicy {
    pub id: String,
    pub display_name: String,
    /// The Graph type without namespace, e.g. `deviceConfiguration`.
    #[serde(rename = "type")]
    pub policy_type: String,
    #[serde(default)]
    pub settings: Value,
    /// Ids of the groups it is assigned to.
    #[serde(default)]
    pub assignments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimGroup {
    pub id: String,
    pub display_name: String,
}

/// A misbehaviour: requests matching `method` and `path` (a substring of the path after the
/// tenant) wait `latencyMs`, then answer `status` (with `Retry-After` when given) or drop the
/// connection. `times` limits how many requests it hits; without it, every one.
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

#[derive(Default)]
struct SimState {
    tenants: HashMap<String, SimTenant>,
    /// Issued access token → tenant.
    tokens: HashMap<String, String>,
}

#[derive(Clone, Default)]
pub struct Simulator {
    state: Arc<Mutex<SimState>>,
    /// Creates an unknown tenant with sample data on its first token request, trusting the
    /// credentials it presents: the demo needs no set-up step, and survives a restart.
    demo: bool,
}

impl Simulator {
    pub fn new(demo: bool) -> Simulator {
        Simulator { demo, ..Simulator::default() }
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
            .route("/{tenant}/v1.0/deviceManagement/configurationPolicies", get(list_policies))
            .route(
                "/{tenant}/v1.0/deviceManagement/configurationPolicies/{policy}/assignments",
                get(list_assignments),
            )
            .route("/{tenant}/v1.0/deviceManagement/configurationPolicies/{policy}/assign", post(assign))
            .route("/{tenant}/v1.0/groups", get(list_groups))
            .fallback(|| async {
                graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "No such resource.")
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

/// Sample data for a demo tenant: a handful of policies assigned to a handful of groups.
pub fn sample_tenant(client_id: &str, client_secret: &str) -> SimTenant {
    let groups = [
        ("grp-all-staff", "All staff"),
        ("grp-finance", "Finance"),
        ("grp-engineering", "Engineering"),
        ("grp-pilot", "Pilot devices"),
        ("grp-executives", "Executives"),
    ];
    let policies: [(&str, &str, &str, &[&str]); 6] = [
        ("pol-windows-baseline", "Windows security baseline", "deviceConfiguration", &["grp-all-staff"]),
        (
            "pol-bitlocker",
            "BitLocker disk encryption",
            "deviceConfiguration",
            &["grp-all-staff", "grp-executives"],
        ),
        ("pol-edge", "Microsoft Edge hardening", "configurationPolicy", &["grp-engineering", "grp-pilot"]),
        ("pol-defender", "Defender antivirus", "configurationPolicy", &["grp-all-staff"]),
        (
            "pol-ios-compliance",
            "iOS compliance",
            "deviceCompliancePolicy",
            &["grp-finance", "grp-executives"],
        ),
        ("pol-wifi-office", "Office Wi-Fi", "deviceConfiguration", &[]),
    ];
    SimTenant {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        policies: policies
            .iter()
            .map(|(id, name, kind, assigned)| SimPolicy {
                id: (*id).into(),
                display_name: (*name).into(),
                policy_type: (*kind).into(),
                settings: json!({ "enabled": true, "revision": 1 }),
                assignments: assigned.iter().map(|group| (*group).into()).collect(),
            })
            .collect(),
        groups: groups
            .iter()
            .map(|(id, name)| SimGroup { id: (*id).into(), display_name: (*name).into() })
            .collect(),
        page_size: 4,
        faults: Vec::new(),
        requests: 0,
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

/// Applies a matched fault: waits, then answers for it, or lets the request through (`None`).
async fn misbehave(fault: Option<Fault>) -> Option<Response> {
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
    let mut response = graph_error(status, "SimulatedFault", "The simulator was told to fail this request.");
    if let Some(seconds) = fault.retry_after_secs {
        if let Ok(value) = seconds.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    Some(response)
}

/// The tenant an access token was issued for, if it is this one.
fn authorised(sim: &Simulator, tenant: &str, headers: &HeaderMap) -> bool {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    token.is_some_and(|token| sim.state().tokens.get(token).is_some_and(|owner| owner == tenant))
}

/// The common start of every API call: faults first, then the bearer token.
async fn guard(
    sim: &Simulator,
    tenant: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let path = uri.path().strip_prefix(&format!("/{tenant}")).unwrap_or(uri.path());
    if let Some(response) = misbehave(sim.fault_for(tenant, method, path)).await {
        return Some(response);
    }
    if !sim.state().tenants.contains_key(tenant) {
        return Some(graph_error(StatusCode::NOT_FOUND, "TenantNotFound", "No such tenant."));
    }
    if !authorised(sim, tenant, headers) {
        return Some(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is missing or invalid.",
        ));
    }
    None
}

/// One page of `items`, with a next link while more remain.
fn page(items: Vec<Value>, size: usize, skip: usize, uri: &Uri, headers: &HeaderMap) -> Response {
    let size = size.max(1);
    let end = (skip + size).min(items.len());
    let value: Vec<Value> = items.get(skip..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut body = json!({ "value": value });
    if end < items.len() {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
        body["@odata.nextLink"] = format!("http://{host}{}?$skiptoken={end}", uri.path()).into();
    }
    Json(body).into_response()
}

#[derive(Deserialize)]
struct Paging {
    #[serde(rename = "$skiptoken")]
    skip: Option<usize>,
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    Form(form): Form<TokenRequest>,
) -> Response {
    if sim.demo {
        let mut state = sim.state();
        if !state.tenants.contains_key(&tenant) {
            let (id, secret) =
                (form.client_id.clone().unwrap_or_default(), form.client_secret.clone().unwrap_or_default());
            state.tenants.insert(tenant.clone(), sample_tenant(&id, &secret));
        }
    }
    let path = uri.path().strip_prefix(&format!("/{tenant}")).unwrap_or(uri.path()).to_string();
    if let Some(response) = misbehave(sim.fault_for(&tenant, &method, &path)).await {
        return response;
    }
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (status, Json(json!({ "error": error, "error_description": description }))).into_response()
    };
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Use client_credentials.");
    }
    let mut state = sim.state();
    let valid = state.tenants.get(&tenant).is_some_and(|sim| {
        Some(sim.client_id.as_str()) == form.client_id.as_deref()
            && Some(sim.client_secret.as_str()) == form.client_secret.as_deref()
    });
    if !valid {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Invalid client id or secret.");
    }
    let access_token = format!("sim-{}", uuid::Uuid::new_v4().simple());
    state.tokens.insert(access_token.clone(), tenant);
    Json(json!({ "token_type": "Bearer", "expires_in": 3600, "access_token": access_token })).into_response()
}

/// A paged list of what `items` takes from the tenant (`None`: what it lists does not exist),
/// after the faults and the token check every call goes through.
async fn listing(
    sim: &Simulator,
    tenant: &str,
    paging: Paging,
    (method, uri, headers): (&Method, &Uri, &HeaderMap),
    items: impl FnOnce(&SimTenant) -> Option<Vec<Value>>,
) -> Response {
    if let Some(response) = guard(sim, tenant, method, uri, headers).await {
        return response;
    }
    let listed = sim.state().tenants.get(tenant).and_then(|found| Some((items(found)?, found.page_size)));
    match listed {
        Some((items, size)) => page(items, size, paging.skip.unwrap_or(0), uri, headers),
        None => graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "No such resource."),
    }
}

async fn list_policies(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    Query(paging): Query<Paging>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    listing(&sim, &tenant, paging, (&method, &uri, &headers), |tenant| {
        Some(
            tenant
                .policies
                .iter()
                .map(|policy| {
                    json!({
                        "id": policy.id,
                        "displayName": policy.display_name,
                        "@odata.type": format!("#microsoft.graph.{}", policy.policy_type),
                        "settings": policy.settings,
                    })
                })
                .collect(),
        )
    })
    .await
}

async fn list_assignments(
    State(sim): State<Simulator>,
    Path((tenant, policy)): Path<(String, String)>,
    Query(paging): Query<Paging>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    listing(&sim, &tenant, paging, (&method, &uri, &headers), |tenant| {
        let policy = tenant.policies.iter().find(|p| p.id == policy)?;
        Some(policy
            .assignments
            .iter()
            .map(|group| {
                json!({
                    "id": format!("{}_{group}", policy.id),
                    "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group },
                })
            })
            .collect())
    })
    .await
}

async fn list_groups(
    State(sim): State<Simulator>,
    Path(tenant): Path<String>,
    Query(paging): Query<Paging>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    listing(&sim, &tenant, paging, (&method, &uri, &headers), |tenant| {
        Some(tenant.groups.iter().map(|g| json!({ "id": g.id, "displayName": g.display_name })).collect())
    })
    .await
}

async fn assign(
    State(sim): State<Simulator>,
    Path((tenant, policy)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = guard(&sim, &tenant, &method, &uri, &headers).await {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "The body is not JSON.");
    };
    let Some(assignments) = body["assignments"].as_array() else {
        return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "`assignments` must be an array.");
    };
    let mut groups = Vec::new();
    for assignment in assignments {
        match assignment["target"]["groupId"].as_str() {
            Some(group) => groups.push(group.to_string()),
            None => {
                return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Each target needs a groupId.")
            }
        }
    }
    let mut state = sim.state();
    let Some(tenant) = state.tenants.get_mut(&tenant) else { return StatusCode::NOT_FOUND.into_response() };
    if let Some(unknown) = groups.iter().find(|group| !tenant.groups.iter().any(|g| &g.id == *group)) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Group {unknown} does not exist."),
        );
    }
    let Some(policy) = tenant.policies.iter_mut().find(|p| p.id == policy) else {
        return graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "No policy has this id.");
    };
    groups.dedup();
    policy.assignments = groups;
    Json(json!({ "value": body["assignments"] })).into_response()
}

async fn put_tenant(State(sim): State<Simulator>, Path(tenant): Path<String>, body: Bytes) -> Response {
    match serde_json::from_slice::<SimTenant>(&body) {
        Ok(mut new) => {
            new.requests = 0;
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
    demo: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, Simulator::new(demo).router()).with_graceful_shutdown(shutdown).await
}
