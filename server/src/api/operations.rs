//! `GET /admin/monitoring/operations` and `GET /admin/monitoring/operations/{operationRun}`,
//! cancelling and retrying a run, bulk actions on a filter, and the live stream of run changes.

use super::{path_id, OperationStarted};
use crate::sessions::SessionBackend;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Json;
use axum::Router;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::{AppState, SignedIn, Via, SIGNED_IN_AT, USER_ID};
use tenantpilot_core::access::TokenRequirement;
use tenantpilot_core::ids::{RunId, UserId};
use tenantpilot_core::metrics;
use tenantpilot_core::model::User;
use tenantpilot_core::operations::Entitlement;
use tenantpilot_core::operations::{self, ListParams};
use tenantpilot_core::operations::{BulkAction, BulkResult, RunDetail, RunSummary};
use tenantpilot_core::store::RunChange;
use tenantpilot_core::tokens;
use tenantpilot_core::CoreError;
use tokio::sync::{broadcast, oneshot};
use tower_sessions::session::Id as SessionId;
use tower_sessions::SessionStore;

const PATH: &str = "/admin/monitoring/operations";

/// The contract's array of summaries; the next page, if any, in a `Link` header.
pub async fn list(signed_in: SignedIn, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params: ListParams =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).map_err(|error| {
            CoreError::invalid("query", format!("The query string could not be read: {error}"))
        })?;
    let page = operations::list(&signed_in.state.store, &signed_in.caller.user, &params).await?;
    let body: Vec<RunSummary> = page.runs.iter().map(RunSummary::from).collect();
    let mut response = Json(body).into_response();
    if let Some(cursor) = page.next_cursor {
        let next = ListParams { cursor: Some(cursor.to_string()), ..params };
        if let Ok(link) = format!("<{PATH}?{}>; rel=\"next\"", next.to_query()).parse() {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// A run the caller may see; 404 otherwise, and for an id that is not a number.
pub async fn detail(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<RunDetail>, AppError> {
    let id = path_id(&id)?;
    Ok(Json(operations::detail(&signed_in.state.store, &signed_in.caller.user, id).await?))
}

/// `POST /admin/monitoring/operations/{operationRun}/cancel`: the run after the cancel (a
/// running one completes as cancelled at its next checkpoint); 409 once it has completed.
pub async fn cancel(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<RunDetail>, AppError> {
    let id = path_id(&id)?;
    let run = operations::cancel(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(Json(RunDetail::from(&run)))
}

/// `POST /admin/monitoring/operations/{operationRun}/retry`: 202 `{"operationRunId": n}`, the
/// retry (or the active run of the same identity, reused); 409 unless the run completed
/// failed, partially succeeded or cancelled.
pub async fn retry(signed_in: SignedIn, Path(id): Path<String>) -> Result<OperationStarted, AppError> {
    let id = path_id(&id)?;
    let started = operations::retry(&signed_in.state.store, &signed_in.caller, id).await?;
    Ok(OperationStarted(started.id()))
}

/// A bulk action as a script sends it: what to do, and the list's filter (its keys as the
/// list's query string has them).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRequest {
    action: BulkAction,
    #[serde(default)]
    filter: serde_json::Map<String, serde_json::Value>,
}

/// The filter of a bulk request: the list's own keys, as text; anything else is named.
fn bulk_filter(filter: serde_json::Map<String, serde_json::Value>) -> Result<ListParams, CoreError> {
    const KEYS: [&str; 9] =
        ["tenant", "type", "status", "outcome", "since", "until", "cursor", "limit", "schedule"];
    if let Some(unknown) = filter.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(CoreError::invalid(
            &format!("filter.{unknown}"),
            "Unknown filter: use tenant, type, status, outcome, since or until",
        ));
    }
    serde_json::from_value(serde_json::Value::Object(filter)).map_err(|error| {
        CoreError::invalid("filter", format!("Each filter is text, as in the list's query string: {error}"))
    })
}

/// `POST /admin/monitoring/operations/bulk`: cancels the active runs, or retries the failed,
/// partially succeeded and cancelled runs, of every page of the filter, at most 1,000;
/// `{"matched", "acted", "skipped"}`.
pub async fn bulk(signed_in: SignedIn, body: axum::body::Bytes) -> Result<Json<BulkResult>, AppError> {
    let request: BulkRequest = serde_json::from_slice(&body).map_err(|error| {
        CoreError::invalid(
            "body",
            format!(
                "Send {{\"action\": \"cancel\" or \"retry\", \"filter\": {{…the list's filters…}}}}: {error}"
            ),
        )
    })?;
    let filter = bulk_filter(request.filter)?;
    let result = operations::bulk(&signed_in.state.store, &signed_in.caller, request.action, &filter).await?;
    Ok(Json(result))
}

/// How live streams of this process are kept honest: how often each re-checks its caller
/// (session or token) and reloads what they may see, and how many one person may hold open.
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    pub recheck: Duration,
    pub per_user: usize,
}

/// The live streams open in this process, oldest first per user, and the session store their
/// callers' sessions live in.
#[derive(Clone)]
pub struct LiveStreams {
    inner: Arc<LiveInner>,
}

struct LiveInner {
    sessions: SessionBackend,
    settings: LiveSettings,
    /// Per user, oldest first: each stream's id and the way to tell it to close.
    open: Mutex<HashMap<UserId, VecDeque<OpenStream>>>,
    next_id: AtomicU64,
    /// The windows [`fan_out`] sends, once the first stream has started it.
    windows: OnceLock<broadcast::Sender<Fanned>>,
}

impl LiveStreams {
    pub fn new(sessions: SessionBackend, settings: LiveSettings) -> LiveStreams {
        LiveStreams {
            inner: Arc::new(LiveInner {
                sessions,
                settings,
                open: Mutex::default(),
                next_id: AtomicU64::new(1),
                windows: OnceLock::new(),
            }),
        }
    }

    /// The coalesced changes for a new stream; the first starts the fan-out of this process.
    fn windows(&self, store: &tenantpilot_core::store::Store) -> broadcast::Receiver<Fanned> {
        let windows = self.inner.windows.get_or_init(|| {
            let (windows, _) = broadcast::channel(WINDOWS_BEHIND_MAX);
            tokio::spawn(fan_out(store.events().subscribe(), windows.clone()));
            windows
        });
        windows.subscribe()
    }

    /// Counts a new stream of `user_id`; past the cap, their oldest is told to close.
    fn register(&self, user_id: UserId) -> (Registration, oneshot::Receiver<()>) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        let mut open = self.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let streams = open.entry(user_id).or_default();
        streams.push_back((id, close));
        while streams.len() > self.inner.settings.per_user {
            if let Some((_, oldest)) = streams.pop_front() {
                let _ = oldest.send(());
            }
        }
        (Registration { streams: self.clone(), user_id, id }, closed)
    }

    /// Whether the session or token a stream was opened with still signs its user in.
    async fn still_valid(&self, state: &AppState, caller: &StreamCredential) -> Result<bool, CoreError> {
        match caller {
            StreamCredential::Token(id) => tokens::still_usable(&state.store, *id).await,
            StreamCredential::Session { id, user_id } => {
                let record = self.inner.sessions.load(id).await.map_err(CoreError::internal)?;
                let Some(record) = record else { return Ok(false) };
                let signed_in_at = record
                    .data
                    .get(SIGNED_IN_AT)
                    .and_then(|value| serde_json::from_value::<DateTime<Utc>>(value.clone()).ok());
                let same_user = record.data.get(USER_ID).and_then(|value| value.as_i64()) == Some(user_id.0);
                Ok(same_user && signed_in_at.is_some_and(|at| !state.session_expired(at)))
            }
        }
    }
}

type OpenStream = (u64, oneshot::Sender<()>);

/// A stream's place in [`LiveStreams`], given back when the stream ends however it ends.
struct Registration {
    streams: LiveStreams,
    user_id: UserId,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.streams.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(streams) = open.get_mut(&self.user_id) {
            streams.retain(|(id, _)| *id != self.id);
            if streams.is_empty() {
                open.remove(&self.user_id);
            }
        }
    }
}

/// What signed in the stream's caller.
enum StreamCredential {
    Session { id: SessionId, user_id: UserId },
    Token(i64),
}

/// Under a burst a stream sends each run's latest state at most this often, not every change.
const COALESCE: Duration = Duration::from_millis(250);
/// Runs one window holds at most; past this every stream is sent `resync` instead.
const PENDING_MAX: usize = 4096;
/// Windows a stream may fall behind by before it is sent `resync` (bounded memory).
const WINDOWS_BEHIND_MAX: usize = 64;

/// A run's latest state in a window, with its event data, serialised once for every stream.
struct Shared {
    change: RunChange,
    data: Arc<str>,
}

/// What the fan-out sends every stream: a closed window's changes (each run once, in run
/// order), or word that changes were missed.
#[derive(Clone)]
enum Fanned {
    Window(Arc<[Shared]>),
    Resync,
}

/// Coalesces this process's run changes for all its streams: a change after a quiet spell goes
/// at once; changes within `COALESCE` of the last window wait for the next one, and only each
/// run's latest state goes then. One task hears every change and serialises it once, and a
/// stream wakes once a window, not once a change.
async fn fan_out(mut changes: broadcast::Receiver<RunChange>, windows: broadcast::Sender<Fanned>) {
    let mut pending: HashMap<RunId, RunChange> = HashMap::new();
    let mut window_until = tokio::time::Instant::now();
    let close = |pending: &mut HashMap<RunId, RunChange>, window_until: &mut tokio::time::Instant| {
        let mut window: Vec<Shared> = pending
            .drain()
            .map(|(_, change)| {
                let data = serde_json::to_string(&change).unwrap_or_default();
                Shared { change, data: data.into() }
            })
            .collect();
        window.sort_by_key(|shared| shared.change.run_id);
        // None listening is not an error: streams come and go.
        let _ = windows.send(Fanned::Window(window.into()));
        *window_until = tokio::time::Instant::now() + COALESCE;
    };
    loop {
        let holding = !pending.is_empty();
        tokio::select! {
            () = tokio::time::sleep_until(window_until), if holding => close(&mut pending, &mut window_until),
            received = changes.recv() => match received {
                Ok(change) => {
                    pending.insert(change.run_id, change);
                    if pending.len() > PENDING_MAX {
                        pending.clear();
                        let _ = windows.send(Fanned::Resync);
                    } else if tokio::time::Instant::now() >= window_until {
                        close(&mut pending, &mut window_until);
                    }
                }
                // What is held back is stale too: every client reloads everything.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    pending.clear();
                    let _ = windows.send(Fanned::Resync);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

struct Feed {
    windows: broadcast::Receiver<Fanned>,
    /// This stream's part of the last window, sent before the next is read.
    ready: VecDeque<Arc<str>>,
    state: AppState,
    user: User,
    caller: StreamCredential,
    entitlement: Entitlement,
    recheck: tokio::time::Interval,
    closed: oneshot::Receiver<()>,
    streams: LiveStreams,
    _registration: Registration,
    /// Counted in `tenantpilot_live_stream_subscribers` while open.
    _subscriber: metrics::Held,
    ended: bool,
}

/// The last event of a stream the server ends, so the page stops reconnecting: `signed_out`
/// (its session or token is no longer valid) or `superseded` (the person opened too many).
fn closing(reason: &str) -> Event {
    Event::default().event("closed").json_data(serde_json::json!({ "reason": reason })).unwrap_or_default()
}

impl Feed {
    /// The next event for this stream: the latest state of a run this user may see (as
    /// [`fan_out`] coalesces them), `resync` when changes were missed, `closed` before the
    /// server ends it; `None` once it has ended.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(data) = self.ready.pop_front() {
                return Some(Event::default().event("run").data(&*data));
            }
            tokio::select! {
                _ = &mut self.closed => {
                    self.ended = true;
                    return Some(closing("superseded"));
                }
                _ = self.recheck.tick() => {
                    match self.refresh().await {
                        Ok(true) => {}
                        Ok(false) => {
                            self.ended = true;
                            return Some(closing("signed_out"));
                        }
                        // Cannot tell who may see what now: end, the client reconnects.
                        Err(error) => {
                            error.log_if_internal();
                            return None;
                        }
                    }
                }
                received = self.windows.recv() => match received {
                    Ok(Fanned::Window(window)) => {
                        let seen = window.iter().filter(|shared| self.entitlement.sees(&shared.change));
                        self.ready.extend(seen.map(|shared| shared.data.clone()));
                    }
                    Ok(Fanned::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some(Event::default().event("resync").data(""));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Re-checks the caller, then reloads what they may see. `false`: they are signed out.
    async fn refresh(&mut self) -> Result<bool, CoreError> {
        if !self.streams.still_valid(&self.state, &self.caller).await? {
            return Ok(false);
        }
        let store = &self.state.store;
        let Some(user) = store.user_by_id(self.user.id).await? else { return Ok(false) };
        self.entitlement = Entitlement::load(store, &user).await?;
        self.user = user;
        Ok(true)
    }
}

/// `GET /admin/monitoring/events`: server-sent events, a `run` event with the run's summary
/// after a change (`runId`, `tenantId`, `type`, `status`, `outcome`, `counters`, times) for
/// each run the caller may see that changed, from any replica, each run at most every 250 ms. Each
/// stream re-checks its caller periodically and ends once they are signed out (or the token is
/// revoked); a person's streams beyond the cap close oldest first.
pub async fn events(
    signed_in: SignedIn,
    Extension(streams): Extension<LiveStreams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let store = &signed_in.state.store;
    let caller = match &signed_in.via {
        Via::Token(token) => StreamCredential::Token(token.id),
        Via::Session => StreamCredential::Session {
            id: signed_in.session.id().ok_or(CoreError::Unauthenticated)?,
            user_id: signed_in.caller.user.id,
        },
    };
    let every = streams.inner.settings.recheck;
    let (registration, closed) = streams.register(signed_in.caller.user.id);
    let feed = Feed {
        windows: streams.windows(store),
        ready: VecDeque::new(),
        entitlement: Entitlement::load(store, &signed_in.caller.user).await?,
        state: signed_in.state.clone(),
        user: signed_in.caller.user,
        caller,
        recheck: tokio::time::interval_at(tokio::time::Instant::now() + every, every),
        closed,
        streams,
        _registration: registration,
        _subscriber: metrics::Held::new(metrics::LIVE_SUBSCRIBERS),
        ended: false,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The OpenAPI operations of these routes, with the schemas only they use.
pub const OPENAPI: &str = include_str!("operations.openapi.json");

/// Monitoring: a token needs the Operations scope.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/monitoring/operations", get(list))
        .route("/admin/monitoring/operations/{operation_run}", get(detail))
        .route("/admin/monitoring/operations/{operation_run}/cancel", post(cancel))
        .route("/admin/monitoring/operations/{operation_run}/retry", post(retry))
        .route("/admin/monitoring/operations/bulk", post(bulk))
        .route("/admin/monitoring/events", get(events))
        .route_layer(Extension(TokenRequirement::OPERATIONS))
}
