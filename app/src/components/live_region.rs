//! A part of a server-rendered page kept current without shipping its code to the browser:
//! on each pushed change (or poll, while push is unavailable; at most once a second) the
//! browser loads the page again and swaps this part for its new rendering. Its forms stay
//! plain forms. A swap waits while someone is typing in it, and keeps open what they opened
//! (`<details>`); lists marked `data-follow-end` (a console) stay scrolled to their end.

use super::live::{Applied, LiveRefresh, Poll};
use leptos::prelude::*;
use tenantpilot_core::ids::TenantId;

/// `children` (rendered on the server) kept current; `poll` says how often to poll for the
/// runs it shows while push is unavailable. A region about one `tenant` reloads for that
/// tenant's runs only (a busy fleet's other runs do not make every open page render again).
/// One per page.
#[island]
pub fn LiveRegion(poll: Poll, tenant: Option<TenantId>, children: Children) -> impl IntoView {
    let poll = RwSignal::new(poll);
    let live = LiveRefresh::new();
    live.follow_patching(
        move || poll.get(),
        move |change| match tenant {
            Some(tenant) if change.tenant_id != Some(tenant) => Applied::Ignored,
            _ => Applied::Reload,
        },
    );
    let region = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        // Swaps may overlap (one waits while someone types): only the latest one swaps.
        let latest = std::rc::Rc::new(std::cell::Cell::new(0u64));
        Effect::new(move |seen: Option<()>| {
            live.tick();
            if let Some(region) = region.get_untracked() {
                if seen.is_none() {
                    client::follow_ends(&region);
                } else {
                    latest.set(latest.get() + 1);
                    leptos::task::spawn_local(client::swap(region, poll, latest.clone()));
                }
            }
        });
    }
    view! {
        <div
            class="live-region"
            data-live-region=""
            data-poll=poll_attribute(poll.get_untracked())
            node_ref=region
        >
            {children()}
        </div>
    }
}

fn poll_attribute(poll: Poll) -> String {
    match poll {
        Poll::Stop => "stop".into(),
        Poll::EverySecs(secs) => secs.to_string(),
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use super::Poll;
    use crate::components::live::client::page_again;
    use leptos::prelude::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Element, HtmlDetailsElement, HtmlDivElement};

    /// The attribute marking the region in the page, and in the page loaded again.
    const REGION: &str = "data-live-region";
    /// Someone typing here would lose what they typed: try again in a moment.
    const WAIT_WHILE_TYPING: Duration = Duration::from_secs(2);

    fn typing_in(region: &Element) -> bool {
        document().active_element().is_some_and(|focused| {
            region.contains(Some(&focused))
                && matches!(focused.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        })
    }

    fn details(region: &Element) -> Vec<HtmlDetailsElement> {
        let Ok(found) = region.query_selector_all("details") else { return Vec::new() };
        (0..found.length()).filter_map(|n| found.item(n)?.dyn_into().ok()).collect()
    }

    /// Lists that follow new lines (a console) show their end.
    pub fn follow_ends(region: &Element) {
        let Ok(found) = region.query_selector_all("[data-follow-end]") else { return };
        for list in (0..found.length()).filter_map(|n| found.item(n)?.dyn_into::<Element>().ok()) {
            list.set_scroll_top(list.scroll_height());
        }
    }

    /// The region as the page renders it now.
    async fn region_now() -> Option<Element> {
        page_again().await?.query_selector(&format!("[{REGION}]")).ok()?
    }

    async fn sleep(duration: Duration) {
        let mut wake = |resolve: js_sys::Function, _reject: js_sys::Function| {
            let _ = window()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, duration.as_millis() as i32);
        };
        let _ = JsFuture::from(js_sys::Promise::new(&mut wake)).await;
    }

    /// Swaps `region` for its new rendering, unless a later swap (`latest` moved on) has begun.
    pub async fn swap(region: HtmlDivElement, poll: RwSignal<Poll>, latest: Rc<Cell<u64>>) {
        let this = latest.get();
        let fresh = loop {
            let Some(fresh) = region_now().await else { return };
            if latest.get() != this {
                return;
            }
            if !typing_in(&region) {
                break fresh;
            }
            sleep(WAIT_WHILE_TYPING).await;
        };
        let open: Vec<bool> = details(&region).iter().map(HtmlDetailsElement::open).collect();
        region.set_inner_html(&fresh.inner_html());
        let now = details(&region);
        // The same disclosures (the page's shape unchanged): keep open what was open.
        if now.len() == open.len() {
            for (disclosure, was_open) in now.iter().zip(open) {
                disclosure.set_open(was_open);
            }
        }
        follow_ends(&region);
        poll.set(match fresh.get_attribute("data-poll").and_then(|secs| secs.parse().ok()) {
            Some(secs) => Poll::EverySecs(secs),
            None => Poll::Stop,
        });
    }
}
