//! The `tenantpilot` server: configuration, the HTTP router (Leptos pages, server functions,
//! JSON routes), sessions, the same-origin check, and the command line.
#![recursion_limit = "256"]

pub mod api;
pub mod cli;
pub mod config;
pub mod form_outcome;
pub mod health;
pub mod logging;
pub mod origin;
pub mod provider_sim;
pub mod router;
pub mod sessions;
