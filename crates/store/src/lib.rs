//! The database handle: SQLite (a read pool and one writer) or PostgreSQL,
//! chosen once at start-up, with embedded migrations and a small portable
//! query API for system tables whose SQL is the same on both backends.
//! Slices whose SQL differs per dialect match on [`Db::pools`].
#![forbid(unsafe_code)]

pub mod audit;
mod db;
mod error;
mod migrate;
pub mod outbox;
mod value;
pub mod vault;

pub use db::{Backend, Db, Listener, Pools, Tx, sqlite_integrity, sqlite_snapshot};
pub use error::StoreError;
pub use migrate::{MIGRATIONS, Migration};
pub use value::{Param, Row};
