//! The document store (in progress): so far the query language's AST, its
//! validation, and the in-memory evaluator that realtime matching and the
//! SQL compilers are checked against.
#![forbid(unsafe_code)]

pub mod filter;
pub mod order;
pub mod patch;
pub mod sql;
