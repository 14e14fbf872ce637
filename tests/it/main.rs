//! The core's integration tests, in one binary: the store, the engine and backups on SQLite and
//! PostgreSQL, and the two backends' schemas side by side.

mod backups;
mod engine;
mod operations;
mod schedules;
mod schema;
mod store;
