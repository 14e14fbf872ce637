//! The sign-in page.

use crate::functions::Login;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = move || login.value().get().and_then(Result::err).map(|error| error.to_string());
    view! {
        <Title text="Sign in" />
        <main class="page narrow">
            <section class="card signin">
                <h1>"Sign in to TenantPilot"</h1>
                {move || {
                    error()
                        .map(|message| {
                            view! {
                                <p class="notice error" role="alert">
                                    {message}
                                </p>
                            }
                        })
                }}
                <ActionForm action=login>
                    <input type="hidden" name="next" value=next />
                    <label for="email">"E-mail"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required autofocus />
                    <label for="password">"Password"</label>
                    <input
                        id="password"
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                    <button type="submit" class="primary">
                        "Sign in"
                    </button>
                </ActionForm>
            </section>
        </main>
    }
}
