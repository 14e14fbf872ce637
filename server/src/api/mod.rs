//! The JSON routes: the assignment-operations contract and the JSON twins of page actions.
//! Each handler takes the one guard (`SignedIn`), calls the same core function the pages'
//! server functions call, and answers errors through `AppError`.

mod monitoring;

use axum::routing::get;
use axum::Router;

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin/monitoring/operations", get(monitoring::list))
        .route("/admin/monitoring/operations/{operation_run}", get(monitoring::detail))
}
