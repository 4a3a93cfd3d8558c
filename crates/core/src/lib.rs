//! Basalt's shared vocabulary: the error envelope, ids, time, the `Caller`,
//! configuration types, metrics and the route registry that feeds OpenAPI.
#![forbid(unsafe_code)]

pub mod api;
pub mod caller;
pub mod config;
pub mod error;
pub mod extract;
pub mod id;
pub mod json;
pub mod metrics;
pub mod rate_limit;
pub mod secret;
pub mod time;
pub mod url;

pub use caller::{AdminCaller, Caller};
pub use error::{Code, Error, Result};
pub use secret::Secret;
pub use time::Timestamp;
