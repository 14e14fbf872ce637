//! A form's outcome shown under it: its last submission's error, or a note that it worked.
//! With JavaScript the answer comes back to the form; without, the server sends the browser
//! back to the page with the outcome in its address (`__done`, `__out`; `__path` + `__err` for
//! an error), which these read instead.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use serde::de::DeserializeOwned;

/// How a form of `S` went, when the page's address says one was just posted: its answer (one
/// the server left out of the address, `ANSWERS_IN_ADDRESS`, reads as `null`) or its error.
/// Read alike on the server and in an island, which has no router to ask.
pub fn outcome_in_address<S>() -> Option<Result<S::Output, AppError>>
where
    S: ServerFn<Error = AppError>,
    S::Output: DeserializeOwned,
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

/// The query of the page being shown (the request's, while the server renders it).
fn page_query() -> Option<String> {
    #[cfg(feature = "ssr")]
    return use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.uri.query().map(str::to_owned));
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    return window().location().search().ok().map(|search| search.trim_start_matches('?').to_owned());
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    None
}

/// The last outcome of `action`: its latest answer here, else the one the address tells.
pub fn last_outcome<S>(action: ServerAction<S>) -> impl Fn() -> Option<Result<S::Output, AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + DeserializeOwned + 'static,
{
    let from_address = outcome_in_address::<S>();
    move || action.value().get().or_else(|| from_address.clone())
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
    let outcome = last_outcome(action);
    move || {
        outcome().map(|result| match result {
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
}

/// The error of a form's last submission, if it failed; for actions whose success shows
/// itself (a new page, a secret shown once).
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + DeserializeOwned + 'static,
{
    let outcome = last_outcome(action);
    move || {
        outcome().and_then(Result::err).map(|error| {
            view! {
                <p class="notice error" role="alert">
                    {error.to_string()}
                </p>
            }
        })
    }
}
