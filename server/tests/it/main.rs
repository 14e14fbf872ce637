//! The server's integration tests, in one binary (one link of the whole stack, not one per
//! suite): every suite runs on SQLite and PostgreSQL, in process or as real processes, with real
//! HTTP to the provider simulator and test tools. `common` is what they share.

mod assignment_api;
mod cli;
mod common;
mod crash;
mod egress;
mod http;
mod metrics;
mod monitoring_api;
mod openapi;
mod operations;
mod pipeline_api;
mod provider;
mod replicas;
mod schedules_api;
mod secrets;
mod tenant_api;
mod tokens;
