//! Keeping live pages current, in their islands. The server pushes each changed run's summary
//! (server-sent events, already filtered to what the viewer may see, each run at most every
//! 250 ms). An island that shows runs patches them in place and asks for a reload only when a
//! change may alter which runs it lists; a `LiveRegion` reloads on every change of its tenant's
//! runs. Reloads move a refresh counter, at most once a second: an island then calls its server
//! function again (`refreshed`), a region loads its page again and swaps itself. While push is
//! unavailable, a poll that adapts to the runs shown moves it instead: every second while the
//! youngest active run is under 10 s old, every 5 s under a minute, then every 10 s; paused
//! while the tab is hidden, and stopped once every shown run has completed. When the stream
//! opens (or reopens), the island reloads once: a change made before it was listening would
//! otherwise never show.
//! A stream the server closes (`closed`: signed out, or too many open) is not reopened.
//! On the server (and with JavaScript off) the counter never moves: the page is rendered as is.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tenantpilot_core::operations::{OperationRun, RunChange};

/// How often to poll when push is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Poll {
    Stop,
    EverySecs(u32),
}

/// The poll for `runs` as they were at `now`.
pub fn poll_for<'a>(runs: impl IntoIterator<Item = &'a OperationRun>, now: DateTime<Utc>) -> Poll {
    let youngest_active =
        runs.into_iter().filter(|run| run.status.is_active()).map(|run| now - run.created_at).min();
    match youngest_active.map(|age| age.num_seconds()) {
        None => Poll::Stop,
        Some(age) if age < 10 => Poll::EverySecs(1),
        Some(age) if age < 60 => Poll::EverySecs(5),
        Some(_) => Poll::EverySecs(10),
    }
}

/// What a page did with a pushed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Shown in place: nothing to load.
    Patched,
    /// Nothing this page shows.
    Ignored,
    /// What the page lists may have changed (a run entered or left it): load it again.
    Reload,
}

/// Applies a pushed change to what an island shows (`apply` on it); whatever reads it hears of
/// it only when the change was patched in.
pub fn patch<T: Send + Sync + 'static>(shown: RwSignal<T>, apply: impl FnOnce(&mut T) -> Applied) -> Applied {
    shown
        .try_maybe_update(|value| {
            let applied = apply(value);
            (applied == Applied::Patched, applied)
        })
        .unwrap_or(Applied::Ignored)
}

/// How an island loads its data again: a server function's path and its arguments,
/// form-encoded as a form would post them.
pub struct Reload {
    pub function: &'static str,
    pub arguments: String,
}

/// What an island shows, kept current: first what the server rendered it with, then, each time
/// something `changed` reads moves, what `reload` brings (the latest load wins; a failed one
/// leaves what is shown). The browser calls the server function with a plain `fetch` and reads
/// its JSON with the reader the island's props already use: it carries no server-function
/// client.
pub fn refreshed<T>(
    view: T,
    changed: impl Fn() + 'static,
    reload: impl Fn() -> Reload + 'static,
) -> RwSignal<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let shown = RwSignal::new(view);
    #[cfg(feature = "hydrate")]
    {
        let latest = std::rc::Rc::new(std::cell::Cell::new(0u64));
        Effect::new(move |seen: Option<()>| {
            changed();
            if seen.is_none() {
                return;
            }
            let (this, latest, reload) = (latest.get() + 1, latest.clone(), reload());
            latest.set(this);
            leptos::task::spawn_local(async move {
                let view = client::call::<T>(reload.function, &reload.arguments).await;
                if let (Some(view), true) = (view, latest.get() == this) {
                    shown.set(view);
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (changed, reload);
    shown
}

/// An island kept current: what it shows reloads when `tick()` moves, which it does whenever
/// that may have changed; `follow_patching` says how often to poll, derived from what it shows.
#[derive(Clone, Copy)]
pub struct LiveRefresh {
    ticks: ReadSignal<u64>,
    set_ticks: WriteSignal<u64>,
}

impl LiveRefresh {
    #[allow(clippy::new_without_default)]
    pub fn new() -> LiveRefresh {
        let (ticks, set_ticks) = signal(0u64);
        LiveRefresh { ticks, set_ticks }
    }

    /// The counter, tracked: whatever reads it (`refreshed`) reloads each time it moves.
    pub fn tick(&self) -> u64 {
        self.ticks.get()
    }

    /// Polls as often as `poll` says (it reads what is shown: a memo of it, never a signal set
    /// while rendering); each pushed change goes to `apply` first, which patches what is shown
    /// in place and says whether the island must reload.
    pub fn follow_patching(
        self,
        poll: impl Fn() -> Poll + Send + Sync + 'static,
        apply: impl Fn(&RunChange) -> Applied + Send + Sync + 'static,
    ) {
        let poll = Memo::new(move |_| poll());
        let apply: Arc<dyn Fn(&RunChange) -> Applied + Send + Sync> = Arc::new(apply);
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| client::follow(poll.into(), self.set_ticks, apply.clone()));
        #[cfg(not(feature = "hydrate"))]
        let _ = (poll, self.set_ticks, apply);
    }
}

#[cfg(feature = "hydrate")]
pub(super) mod client {
    use super::{Applied, Poll};
    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use serde::de::DeserializeOwned;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::time::Duration;
    use tenantpilot_core::operations::RunChange;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{DomParser, Response, SupportedType};
    use web_sys::{EventSource, MessageEvent};

    const EVENTS: &str = "/admin/monitoring/events";
    /// A busy fleet changes runs all the time: reload at most this often.
    const RELOAD_EVERY_MS: f64 = 1000.0;

    /// Moves the counter at once when the last reload was long enough ago, else once when it is.
    fn reloader(bump: Rc<dyn Fn()>) -> Rc<dyn Fn()> {
        let (last, waiting) = (Rc::new(Cell::new(f64::MIN)), Rc::new(Cell::new(false)));
        Rc::new(move || {
            if waiting.get() {
                return;
            }
            let wait = last.get() + RELOAD_EVERY_MS - js_sys::Date::now();
            if wait <= 0.0 {
                last.set(js_sys::Date::now());
                bump();
                return;
            }
            waiting.set(true);
            let (last, waiting, bump) = (last.clone(), waiting.clone(), bump.clone());
            set_timeout(
                move || {
                    waiting.set(false);
                    last.set(js_sys::Date::now());
                    bump()
                },
                Duration::from_millis(wait.ceil() as u64),
            );
        })
    }

    /// The text `url` answers a request with `headers` (and, given, `body` posted); none when
    /// it answers anything but 2xx (signed out, gone) or cannot be reached.
    async fn text_of(url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Option<String> {
        let init = web_sys::RequestInit::new();
        let sent = web_sys::Headers::new().ok()?;
        for (name, value) in headers {
            sent.set(name, value).ok()?;
        }
        init.set_headers(&sent);
        if let Some(body) = body {
            init.set_method("POST");
            init.set_body(&wasm_bindgen::JsValue::from_str(body));
        }
        let response: Response =
            JsFuture::from(window().fetch_with_str_and_init(url, &init)).await.ok()?.dyn_into().ok()?;
        if !response.ok() {
            return None;
        }
        JsFuture::from(response.text().ok()?).await.ok()?.as_string()
    }

    /// The page as the server renders it now.
    pub async fn page_again() -> Option<web_sys::Document> {
        let page = text_of(&window().location().href().ok()?, &[("Accept", "text/html")], None).await?;
        DomParser::new().ok()?.parse_from_string(&page, SupportedType::TextHtml).ok()
    }

    /// What server function `function` answers `arguments`, read from its JSON.
    pub async fn call<T: DeserializeOwned>(function: &str, arguments: &str) -> Option<T> {
        let headers = [("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded")];
        serde_json::from_str(&text_of(function, &headers, Some(arguments)).await?).ok()
    }

    pub fn follow(
        poll: Signal<Poll>,
        set_ticks: WriteSignal<u64>,
        apply: Arc<dyn Fn(&RunChange) -> Applied + Send + Sync>,
    ) {
        let pushing = Rc::new(Cell::new(false));
        let bump: Rc<dyn Fn()> = Rc::new(move || set_ticks.update(|ticks| *ticks += 1));
        let reload = reloader(bump.clone());
        let source = EventSource::new(EVENTS).ok();
        let mut listeners: Vec<Closure<dyn FnMut(web_sys::Event)>> = Vec::new();
        if let Some(source) = &source {
            // Whatever changed between the page's render and the stream's start (or while the
            // browser reconnected) was not pushed: catch up once, then follow the pushes.
            let on_open = {
                let (pushing, reload) = (pushing.clone(), reload.clone());
                move |_| {
                    pushing.set(true);
                    reload()
                }
            };
            // The browser reconnects by itself; until it has, polling covers.
            let on_error = {
                let pushing = pushing.clone();
                move |_| pushing.set(false)
            };
            // A run's new summary: patched in place where the page can, else a reload.
            let on_run = {
                let reload = reload.clone();
                move |event: web_sys::Event| {
                    let change = event
                        .dyn_ref::<MessageEvent>()
                        .and_then(|message| message.data().as_string())
                        .and_then(|data| serde_json::from_str::<RunChange>(&data).ok());
                    match change.map(|change| apply(&change)) {
                        Some(Applied::Patched | Applied::Ignored) => {}
                        Some(Applied::Reload) | None => reload(),
                    }
                }
            };
            // Changes were missed: only a reload tells what they were.
            let on_resync = {
                let reload = reload.clone();
                move |_| reload()
            };
            // The server ended the stream for good (signed out, or too many open): no reconnecting;
            // polling covers from here.
            let on_closed = {
                let (pushing, source) = (pushing.clone(), source.clone());
                move |_| {
                    source.close();
                    pushing.set(false)
                }
            };
            for (event, listener) in [
                ("open", Closure::<dyn FnMut(web_sys::Event)>::new(on_open)),
                ("error", Closure::new(on_error)),
                ("closed", Closure::new(on_closed)),
                ("run", Closure::new(on_run)),
                ("resync", Closure::new(on_resync)),
            ] {
                let _ = source.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
                listeners.push(listener);
            }
        }
        let quiet_secs = Rc::new(Cell::new(0u32));
        let interval = set_interval_with_handle(
            move || {
                let hidden = document().hidden();
                if pushing.get() || hidden {
                    quiet_secs.set(0);
                    return;
                }
                quiet_secs.set(quiet_secs.get() + 1);
                if let Poll::EverySecs(every) = poll.get_untracked() {
                    if quiet_secs.get() >= every {
                        quiet_secs.set(0);
                        bump();
                    }
                }
            },
            Duration::from_secs(1),
        )
        .ok();
        let held = SendWrapper::new((source, listeners, interval));
        on_cleanup(move || {
            let (source, _listeners, interval) = held.take();
            if let Some(source) = source {
                source.close();
            }
            if let Some(interval) = interval {
                interval.clear();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tenantpilot_core::ids::{RunId, TenantId, WorkspaceId};
    use tenantpilot_core::operations::{Counters, Initiator, OperationKind, RunOutcome, RunStatus};

    fn run(status: RunStatus, age_secs: i64, now: DateTime<Utc>) -> OperationRun {
        OperationRun {
            id: RunId(1),
            workspace_id: WorkspaceId(1),
            tenant_id: Some(TenantId(1)),
            kind: OperationKind::Fetch,
            status,
            outcome: RunOutcome::Pending,
            identity: String::new(),
            target: None,
            context: Default::default(),
            counters: Counters::default(),
            failures: Vec::new(),
            initiator: Initiator::System,
            attempt: 1,
            created_at: now - chrono::Duration::seconds(age_secs),
            started_at: None,
            completed_at: None,
            heartbeat_at: None,
            cancel_requested: false,
            retry_of: None,
        }
    }

    #[test]
    fn polling_slows_as_runs_age_and_stops_when_all_are_done() {
        let now = Utc::now();
        let done = run(RunStatus::Completed, 1, now);
        assert_eq!(poll_for([&done], now), Poll::Stop);
        assert_eq!(poll_for([], now), Poll::Stop);
        assert_eq!(poll_for([&done, &run(RunStatus::Running, 3, now)], now), Poll::EverySecs(1));
        assert_eq!(poll_for([&run(RunStatus::Queued, 30, now)], now), Poll::EverySecs(5));
        let old = run(RunStatus::Running, 600, now);
        assert_eq!(poll_for([&old], now), Poll::EverySecs(10));
        assert_eq!(
            poll_for([&old, &run(RunStatus::Queued, 2, now)], now),
            Poll::EverySecs(1),
            "the youngest decides"
        );
    }
}
