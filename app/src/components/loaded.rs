//! A page's data, loaded: the one "loading, then the page or what went wrong" block pages share.

use crate::components::{ErrorView, NotFound};
use crate::error::AppError;
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What a page's data resource holds: the page's value, or what to show in its place. A
/// `None` is a page whose address names nothing (an id that is no number): 404.
pub trait Loadable: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {
    type Value;
    fn shown(self) -> Result<Self::Value, AnyView>;
}

impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Loadable for Result<T, AppError> {
    type Value = T;
    fn shown(self) -> Result<T, AnyView> {
        self.map_err(|error| view! { <ErrorView error /> }.into_any())
    }
}

impl<T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static> Loadable
    for Option<Result<T, AppError>>
{
    type Value = T;
    fn shown(self) -> Result<T, AnyView> {
        match self {
            Some(loaded) => loaded.shown(),
            None => Err(view! { <NotFound /> }.into_any()),
        }
    }
}

/// "Loading…" until `resource` has loaded, then `children` with its value, or the error view.
/// What was shown stays while the resource reloads (polling, pushed changes), so nothing flashes.
#[component]
pub fn Loaded<R, F, V>(resource: Resource<R>, children: F) -> impl IntoView
where
    R: Loadable,
    F: Fn(R::Value) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match resource.await.shown() {
                        Ok(value) => children(value).into_any(),
                        Err(shown) => shown,
                    }
                })
            }}
        </Transition>
    }
}
