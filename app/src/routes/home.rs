//! `/`: on to the workspace home.

use leptos::prelude::*;
use leptos_router::components::Redirect;

/// `/` leads to the workspace home, which sends signed-out visitors to sign in.
#[component]
pub fn HomePage() -> impl IntoView {
    view! { <Redirect path="/admin" /> }
}
