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

/// The cookie the browser reports its time zone in (an IANA name, set as the page hydrates):
/// times show in it unless the account names another.
pub const BROWSER_ZONE_COOKIE: &str = "tenantpilot_tz";

/// The browser's entry point. Pages are server-rendered; Leptos' island script calls this,
/// then hydrates each `#[island]` of the page in turn.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    report_time_zone();
    // The islands hydrate in promise callbacks, all of which run before a timer's: then the
    // page is interactive. Marked so browser tests (and anyone curious) can tell; the
    // `hydrated` performance mark times it from the navigation's start.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
            if let Some(performance) = leptos::prelude::window().performance() {
                let _ = performance.mark("hydrated");
            }
        },
        std::time::Duration::ZERO,
    );
}

/// Tells the server the browser's time zone (`BROWSER_ZONE_COOKIE`), for the pages it renders.
#[cfg(feature = "hydrate")]
fn report_time_zone() {
    use wasm_bindgen::JsCast;
    let options =
        js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    let zone = js_sys::Reflect::get(&options, &"timeZone".into()).ok().and_then(|zone| zone.as_string());
    let document = leptos::prelude::document().dyn_into::<web_sys::HtmlDocument>().ok();
    if let (Some(zone), Some(document)) = (zone, document) {
        // IANA names are letters, digits, `/`, `_`, `+` and `-`: nothing a cookie must escape.
        if zone.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b)) {
            let _ = document
                .set_cookie(&format!("{BROWSER_ZONE_COOKIE}={zone}; path=/; max-age=31536000; SameSite=Lax"));
        }
    }
}
