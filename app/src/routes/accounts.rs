//! The sign-in page, and the signed-in viewer's account page.

use crate::components::{ActionNotice, Loaded};
use crate::functions::{account_settings, Login, SetTimeZone};
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

/// The viewer's account: the time zone they read times in.
#[component]
pub fn AccountPage() -> impl IntoView {
    let save = ServerAction::<SetTimeZone>::new();
    let settings = Resource::new(|| (), |_| account_settings());
    view! {
        <Title text="Your account" />
        <h1>"Your account"</h1>
        <Loaded resource=settings let:settings>
            {
                let chosen = settings.time_zone.clone().unwrap_or_default();
                view! {
                    <section class="card">
                        <h2>"Time zone"</h2>
                        <p class="muted">
                            "Times show in " <strong>{settings.effective_zone.clone()}</strong>
                            ". The JSON routes keep UTC."
                        </p>
                        <ActionNotice action=save done="Saved." />
                        <ActionForm action=save attr:class="stacked-form">
                            <label>
                                "Time zone" <select name="time_zone">
                                    <option value="" selected=chosen.is_empty()>
                                        "Your browser's"
                                    </option>
                                    {settings
                                        .zones
                                        .into_iter()
                                        .map(|zone| {
                                            let selected = zone == chosen;
                                            let label = zone.clone();
                                            view! {
                                                <option value=zone selected=selected>
                                                    {label}
                                                </option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                            </label>
                            <button type="submit" class="primary">
                                "Save"
                            </button>
                        </ActionForm>
                    </section>
                }
            }
        </Loaded>
    }
}
