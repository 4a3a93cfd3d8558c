//! The `basalt` binary's library: configuration, the router with its
//! middleware, process concerns (listener, signals) and the CLI.
#![forbid(unsafe_code)]

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
#[cfg(feature = "dashboard")]
mod dashboard;
mod listen;
mod logging;
mod middleware;
mod ops;
mod settings;
pub mod transfer;

pub use app::{App, AppState, api, openapi};
pub use middleware::with_middleware;
