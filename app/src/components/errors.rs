//! What a page shows when loading it failed: a redirect to sign in, 404, 403, or the error.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use tenantpilot_core::CoreError;

/// What a page shows instead of its content when loading it failed. The status code was set
/// when the error was made (see `AppError`).
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    match error.0 {
        CoreError::Unauthenticated => {
            let here = current_path().unwrap_or_else(|| "/admin".into());
            let path = format!("/login?next={}", encode_query(&here));
            view! { <Redirect path /> }.into_any()
        }
        CoreError::NotFound => view! { <NotFound /> }.into_any(),
        CoreError::Forbidden { hint } => view! { <Forbidden hint /> }.into_any(),
        other => view! {
            <section class="problem" role="alert">
                <h1>"Something went wrong"</h1>
                <p>{other.to_string()}</p>
            </section>
        }
        .into_any(),
    }
}

/// The page being shown, with its query, to come back to after sign-in. Read from the request
/// (server) or the window (browser), not the router's location: a render can outlive the route's
/// reactive scope, and reading its disposed memos then panicked the render, leaving the
/// response unfinished.
fn current_path() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.uri.path_and_query().map(|path| path.as_str().to_string()))
    }
    #[cfg(not(feature = "ssr"))]
    {
        let location = window().location();
        Some(format!("{}{}", location.pathname().ok()?, location.search().unwrap_or_default()))
    }
}

/// Unknown, not yours, or on a plane you cannot enter: all look the same, and answer 404
/// (also where a page finds nothing before asking the server, as for an id that is no number).
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="problem">
            <p class="problem-code">"404"</p>
            <h1>"Page not found"</h1>
            <p>"There is nothing here, or you do not have access to it."</p>
            <a href="/admin">"Go to your workspace"</a>
        </section>
    }
}

#[component]
pub fn Forbidden(hint: String) -> impl IntoView {
    view! {
        <section class="problem">
            <p class="problem-code">"403"</p>
            <h1>"Access denied"</h1>
            <p>"Your role in this tenant does not allow this. " {hint}</p>
            <a href="/admin">"Go to your workspace"</a>
        </section>
    }
}

/// Percent-encodes a value for a query string.
fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
