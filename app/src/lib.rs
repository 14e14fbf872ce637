//! TenantPilot's web UI: pages, components and the thin server functions behind them.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod client_address;
pub mod components;
pub mod error;
#[cfg(feature = "ssr")]
pub mod fresh_tokens;
pub mod functions;
#[cfg(feature = "ssr")]
pub mod guard;
pub mod routes;

mod app;
pub use app::{shell, App};

/// The browser's entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Marks the page interactive, so browser tests (and anyone curious) can tell.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
