//! The one guard. `SignedIn` is an axum extractor (pages, JSON routes); server functions reach
//! the very same code through `signed_in()` and `tenant()`. Access rules live in the core.

use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use tenantpilot_core::access::{self, TokenRequirement};
use tenantpilot_core::clock::Tz;
use tenantpilot_core::ids::UserId;
use tenantpilot_core::model::{Caller, TenantMembership, User};
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::provider::ProviderClient;
use tenantpilot_core::store::Store;
use tenantpilot_core::tokens::ApiToken;
use tenantpilot_core::{tokens, Capability, CoreError};
use tower_sessions::Session;

/// What every request handler may need, put into request extensions by the server.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    /// Calls tenants' providers while answering a request (e.g. a restore preview).
    pub provider: ProviderClient,
    /// New tokens' secrets waiting to be shown once.
    pub fresh_tokens: crate::fresh_tokens::FreshTokens,
    /// A session ends this long after sign-in, however active it is.
    pub session_absolute_lifetime: chrono::Duration,
    /// Peers whose forwarding headers name the client.
    pub trusted_proxies: crate::client_address::TrustedProxies,
}

impl AppState {
    /// Whether a session signed in at `signed_in_at` is past its absolute lifetime.
    pub fn session_expired(&self, signed_in_at: DateTime<Utc>) -> bool {
        Utc::now() - signed_in_at > self.session_absolute_lifetime
    }
}

/// Session keys.
pub const USER_ID: &str = "user_id";
pub const SIGNED_IN_AT: &str = "signed_in_at";
/// The key of a new token waiting in `AppState::fresh_tokens` for its one showing.
pub const FRESH_TOKEN: &str = "fresh_token";

pub struct SignedIn {
    /// Who acts, made once here; use cases take it.
    pub caller: Caller,
    pub session: Session,
    pub state: AppState,
    pub via: Via,
}

/// How the caller proved who they are.
#[derive(Clone, Debug)]
pub enum Via {
    Session,
    /// A personal access token (JSON routes only), within its scopes.
    Token(ApiToken),
}

pub fn state_of(parts: &Parts) -> Result<AppState, CoreError> {
    parts
        .extensions
        .get::<AppState>()
        .cloned()
        .ok_or_else(|| CoreError::broken("AppState missing from request extensions"))
}

pub fn session_of(parts: &Parts) -> Result<Session, CoreError> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| CoreError::broken("no session layer in front of this route"))
}

fn session_failed(error: tower_sessions::session::Error) -> CoreError {
    CoreError::internal(error)
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let state = state_of(parts)?;
        let session = session_of(parts)?;
        if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
            let needed = parts.extensions.get::<TokenRequirement>().copied();
            let activity = parts.extensions.get::<TokenActivityCommit>();
            let (user, token) = bearer(&state, needed, parts.uri.path(), authorization, activity).await?;
            let initiator = Initiator::Token {
                id: token.id,
                user_id: user.id,
                name: format!("{} (token {})", user.display_name, token.name),
            };
            let caller = Caller { user, initiator };
            return Ok(SignedIn { caller, session, state, via: Via::Token(token) });
        }
        let user_id: Option<UserId> = session.get(USER_ID).await.map_err(session_failed)?;
        let signed_in_at: Option<DateTime<Utc>> = session.get(SIGNED_IN_AT).await.map_err(session_failed)?;
        let (Some(user_id), Some(signed_in_at)) = (user_id, signed_in_at) else {
            return Err(CoreError::Unauthenticated.into());
        };
        if state.session_expired(signed_in_at) {
            session.flush().await.map_err(session_failed)?;
            return Err(CoreError::Unauthenticated.into());
        }
        // A deleted account's session is worth nothing.
        let Some(user) = state.store.user_by_id(user_id).await? else {
            session.flush().await.map_err(session_failed)?;
            return Err(CoreError::Unauthenticated.into());
        };
        Ok(SignedIn { caller: Caller::person(&user), session, state, via: Via::Session })
    }
}

/// The user and token of an `Authorization: Bearer` header, if the token may be used on the
/// route (`needed`, what the route declared) with its scopes. Unknown, expired, revoked,
/// malformed, or on a route for people (none declared): 401. Every request a valid token makes
/// on a token route is recorded in its activity log (at `path`), let in or not: committed
/// before the response when the request has an `activity` to wait for, else here.
async fn bearer(
    state: &AppState,
    needed: Option<TokenRequirement>,
    path: &str,
    authorization: &HeaderValue,
    activity: Option<&TokenActivityCommit>,
) -> Result<(User, ApiToken), CoreError> {
    let plain = authorization.to_str().ok().and_then(|value| value.strip_prefix("Bearer "));
    let (user, token) = tokens::authenticate(&state.store, plain.ok_or(CoreError::Unauthenticated)?).await?;
    let needed = needed.ok_or(CoreError::Unauthenticated)?;
    let admitted = needed.admits(&token.scopes);
    let scope = admitted.unwrap_or_else(|_| needed.principal());
    let recorded = state.store.record_token_activity(token.id, user.id, scope.as_str(), path);
    match activity {
        Some(activity) => activity.wait_for(recorded),
        None => recorded.await?,
    }
    if let Err(missing) = admitted {
        return Err(CoreError::Forbidden {
            hint: format!("This token lacks the {} scope.", missing.label()),
        });
    }
    Ok((user, token))
}

/// The token-activity rows a request's guard queued, which the response waits for (the server
/// puts one in each request): written while the handler runs, a row shares a commit with the
/// handler's own writes instead of taking one before them.
#[derive(Clone, Default)]
pub struct TokenActivityCommit(Arc<Mutex<Vec<Committing>>>);

type Committing = Pin<Box<dyn Future<Output = Result<(), CoreError>> + Send>>;

impl TokenActivityCommit {
    fn wait_for(&self, row: impl Future<Output = Result<(), CoreError>> + Send + 'static) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(Box::pin(row));
    }

    /// Ends once every row queued has committed; the first error, if one failed.
    pub async fn committed(&self) -> Result<(), CoreError> {
        let rows = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for row in rows {
            row.await?;
        }
        Ok(())
    }
}

/// A tenant member holding the capability a handler needs.
pub struct TenantMember {
    pub signed_in: SignedIn,
    pub membership: TenantMembership,
}

impl SignedIn {
    pub async fn in_tenant(self, slug: &str, capability: Capability) -> Result<TenantMember, AppError> {
        let membership = access::tenant(&self.state.store, &self.caller.user, slug, capability).await?;
        Ok(TenantMember { signed_in: self, membership })
    }

    pub fn on_platform(&self) -> Result<(), AppError> {
        Ok(access::platform(&self.caller.user)?)
    }
}

/// The request parts of the server function or page being handled.
fn request_parts() -> Result<Parts, AppError> {
    leptos::prelude::use_context::<Parts>()
        .ok_or_else(|| CoreError::broken("request parts missing from the Leptos context").into())
}

/// The guard for server functions: the `SignedIn` extractor on the current request.
pub async fn signed_in() -> Result<SignedIn, AppError> {
    let mut parts = request_parts()?;
    SignedIn::from_request_parts(&mut parts, &()).await
}

pub async fn tenant(slug: &str, capability: Capability) -> Result<TenantMember, AppError> {
    signed_in().await?.in_tenant(slug, capability).await
}

pub async fn platform() -> Result<SignedIn, AppError> {
    let signed_in = signed_in().await?;
    signed_in.on_platform()?;
    Ok(signed_in)
}

/// The zone the browser reported (its cookie), if any.
fn browser_zone(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|cookies| {
        cookies
            .split(';')
            .find_map(|cookie| cookie.trim().strip_prefix(crate::BROWSER_ZONE_COOKIE)?.strip_prefix('='))
    })
}

/// The time zone `user` reads times in: their account's, else the one their browser reported
/// (its cookie), else UTC.
pub fn viewer_zone(user: &User) -> Tz {
    let parts = request_parts().ok();
    let browser = parts.as_ref().and_then(|parts| browser_zone(&parts.headers));
    tenantpilot_core::clock::viewer_zone(user.time_zone.as_deref(), browser)
}

/// The time zone a page draws its times in, resolved once as its request arrives.
#[derive(Debug, Clone, Copy)]
pub struct PageZone(pub Tz);

/// The zone of the person a page request comes from (see [`viewer_zone`]); the browser's (or
/// UTC) for a visitor not signed in.
pub async fn page_zone(parts: &Parts) -> PageZone {
    let account = match (state_of(parts), session_of(parts)) {
        (Ok(state), Ok(session)) => match session.get::<UserId>(USER_ID).await {
            Ok(Some(id)) => state.store.user_by_id(id).await.ok().flatten().and_then(|user| user.time_zone),
            _ => None,
        },
        _ => None,
    };
    PageZone(tenantpilot_core::clock::viewer_zone(account.as_deref(), browser_zone(&parts.headers)))
}

/// For handlers that run without a session (sign-in): the state alone.
pub fn state() -> Result<AppState, AppError> {
    Ok(state_of(&request_parts()?)?)
}

pub fn session() -> Result<Session, AppError> {
    Ok(session_of(&request_parts()?)?)
}

/// The client's address, for throttling sign-ins: the peer as the server saw it, or the client a
/// trusted proxy forwarded for.
pub fn client_address() -> String {
    let parts = request_parts().ok();
    let state = parts.as_ref().and_then(|parts| state_of(parts).ok());
    parts
        .as_ref()
        .zip(state)
        .and_then(|(parts, state)| {
            let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?.0.ip();
            Some(state.trusted_proxies.client(peer, &parts.headers).to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}
