//! A form's outcome shown under it: its last submission's error, or a note that it worked.
//! Every form is a plain form and every page is rendered on the server: a post comes back to its
//! page with the outcome in the address (`__done`, `__out`; `__path` + `__err` for an error, see
//! the server's `form_outcome`), which these read.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use serde::de::DeserializeOwned;

/// How the last post of `action`'s form went, as the page's address tells it: its answer (one
/// the server left out of the address, `ANSWERS_IN_ADDRESS`, reads as `null`) or its error.
pub fn last_outcome<S>(_action: ServerAction<S>) -> Option<Result<S::Output, AppError>>
where
    S: ServerFn<Error = AppError> + 'static,
    S::Output: DeserializeOwned + 'static,
{
    let query = page_query()?;
    let (mut done, mut answer, mut failed_here, mut error) = (false, None, false, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "__done" => done = value == S::PATH,
            "__out" => answer = Some(value.into_owned()),
            "__path" => failed_here = value == S::PATH,
            "__err" => error = Some(value.into_owned()),
            _ => {}
        }
    }
    match (done, failed_here, error) {
        (_, true, Some(error)) => Some(Err(ServerFnUrlError::<AppError>::decode_err(&error))),
        (true, ..) => serde_json::from_str(answer.as_deref().unwrap_or("null")).ok().map(Ok),
        _ => None,
    }
}

/// The query of the page being rendered.
fn page_query() -> Option<String> {
    #[cfg(feature = "ssr")]
    return use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.uri.query().map(str::to_owned));
    #[cfg(not(feature = "ssr"))]
    None
}

/// The outcome of a form's last submission: its error, or `done` on success.
#[component]
pub fn ActionNotice<S>(action: ServerAction<S>, #[prop(into)] done: String) -> impl IntoView
where
    S: ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    view! { <ActionSummary action summary=move |_: &()| done.clone() /> }
}

/// The outcome of a form's last submission: its error, or what `summary` says of its answer.
#[component]
pub fn ActionSummary<S, F>(action: ServerAction<S>, summary: F) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + DeserializeOwned + 'static,
    F: Fn(&S::Output) -> String + Send + Sync + 'static,
{
    last_outcome(action).map(|result| match result {
        Ok(output) => view! {
            <p class="notice ok" role="status">
                {summary(&output)}
            </p>
        }
        .into_any(),
        Err(error) => view! {
            <p class="notice error" role="alert">
                {error.to_string()}
            </p>
        }
        .into_any(),
    })
}

/// The error of a form's last submission, if it failed; for actions whose success shows
/// itself (a new page, a secret shown once).
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + DeserializeOwned + 'static,
{
    last_outcome(action).and_then(Result::err).map(|error| {
        view! {
            <p class="notice error" role="alert">
                {error.to_string()}
            </p>
        }
    })
}
