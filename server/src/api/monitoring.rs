//! `GET /admin/monitoring/operations` and `GET /admin/monitoring/operations/{operationRun}`.

use super::path_id;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tenantpilot_app::error::AppError;
use tenantpilot_app::guard::SignedIn;
use tenantpilot_core::model::User;
use tenantpilot_core::monitoring::Entitlement;
use tenantpilot_core::monitoring::{self, ListParams};
use tenantpilot_core::operation::{RunDetail, RunSummary};
use tenantpilot_core::store::{RunChange, Store};
use tenantpilot_core::CoreError;
use tokio::sync::broadcast;

const PATH: &str = "/admin/monitoring/operations";

/// The contract's array of summaries; the next page, if any, in a `Link` header.
pub async fn list(signed_in: SignedIn, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let params: ListParams =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).map_err(|error| {
            CoreError::invalid("query", format!("The query string could not be read: {error}"))
        })?;
    let page = monitoring::list(&signed_in.state.store, &signed_in.user, &params).await?;
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
    let run = monitoring::run(&signed_in.state.store, &signed_in.user, id).await?;
    Ok(Json(RunDetail::from(&run)))
}

/// `POST /admin/monitoring/operations/{operationRun}/cancel`: the run after the cancel (a
/// running one completes as cancelled at its next checkpoint); 409 once it has completed.
pub async fn cancel(signed_in: SignedIn, Path(id): Path<String>) -> Result<Json<RunDetail>, AppError> {
    let id = path_id(&id)?;
    let run = monitoring::cancel(&signed_in.state.store, &signed_in.user, &signed_in.initiator(), id).await?;
    Ok(Json(RunDetail::from(&run)))
}

/// How long a stream trusts the memberships it loaded before reading them again.
const ENTITLEMENT_TTL: Duration = Duration::from_secs(30);

struct Feed {
    changes: broadcast::Receiver<RunChange>,
    store: Store,
    user: User,
    entitlement: Entitlement,
    loaded_at: Instant,
}

impl Feed {
    /// The next change this user may hear about; `resync` when changes were missed.
    async fn next(&mut self) -> Option<Event> {
        loop {
            match self.changes.recv().await {
                Ok(change) => {
                    if self.loaded_at.elapsed() > ENTITLEMENT_TTL {
                        match Entitlement::load(&self.store, &self.user).await {
                            Ok(entitlement) => self.entitlement = entitlement,
                            // Cannot tell what they may see now: end, the client reconnects.
                            Err(_) => return None,
                        }
                        self.loaded_at = Instant::now();
                    }
                    if self.entitlement.sees(&change) {
                        return Some(Event::default().event("run").json_data(change).unwrap_or_default());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Event::default().event("resync").data(""))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// `GET /admin/monitoring/events`: server-sent events, one `run` event (`runId`, `tenantId`,
/// `status`, `outcome`, …) per change to a run the caller may see, from any replica.
pub async fn events(
    signed_in: SignedIn,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let store = signed_in.state.store.clone();
    let feed = Feed {
        changes: store.events().subscribe(),
        entitlement: Entitlement::load(&store, &signed_in.user).await?,
        store,
        user: signed_in.user,
        loaded_at: Instant::now(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
