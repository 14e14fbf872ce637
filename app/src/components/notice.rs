//! A form's outcome shown under it: its last submission's error, or a note that it worked.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The outcome of a form's last submission: its error, or `done` on success. Works with
/// JavaScript off too, where the error comes back in the redirect's URL.
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
    S::Output: Clone + Send + Sync + 'static,
    F: Fn(&S::Output) -> String + Send + Sync + 'static,
{
    move || {
        action.value().get().map(|result| match result {
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
    S::Output: Clone + Send + Sync + 'static,
{
    move || {
        action.value().get().and_then(Result::err).map(|error| {
            view! {
                <p class="notice error" role="alert">
                    {error.to_string()}
                </p>
            }
        })
    }
}
