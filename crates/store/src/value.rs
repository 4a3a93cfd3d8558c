//! Parameters and rows for the portable query API.

use sqlx::Row as _;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Postgres, Sqlite};

use crate::error::StoreError;

/// A bound value. SQL text uses `$1`, `$2`, … on both backends.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(&'a [u8]),
    NullText,
    NullInt,
    NullBool,
    NullBytes,
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}
impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Param::NullText, Param::Text)
    }
}
impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::NullInt, Param::Int)
    }
}

pub(crate) fn bind_sqlite<'q>(
    mut q: Query<'q, Sqlite, SqliteArguments<'q>>,
    params: &[Param<'q>],
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    for p in params {
        q = match *p {
            Param::Text(v) => q.bind(v),
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Bytes(v) => q.bind(v),
            Param::NullText => q.bind(None::<&str>),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullBool => q.bind(None::<bool>),
            Param::NullBytes => q.bind(None::<&[u8]>),
        };
    }
    q
}

pub(crate) fn bind_pg<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    params: &[Param<'q>],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match *p {
            Param::Text(v) => q.bind(v),
            Param::Int(v) => q.bind(v),
            Param::Float(v) => q.bind(v),
            Param::Bool(v) => q.bind(v),
            Param::Bytes(v) => q.bind(v),
            Param::NullText => q.bind(None::<&str>),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullBool => q.bind(None::<bool>),
            Param::NullBytes => q.bind(None::<&[u8]>),
        };
    }
    q
}

/// A result row from either backend, read by column position.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

macro_rules! getter {
    ($name:ident, $ty:ty) => {
        pub fn $name(&self, index: usize) -> Result<$ty, StoreError> {
            let value = match self {
                Row::Sqlite(r) => r.try_get::<$ty, _>(index),
                Row::Postgres(r) => r.try_get::<$ty, _>(index),
            };
            value.map_err(|e| StoreError::Decode(e.to_string()))
        }
    };
}

impl Row {
    getter!(text, String);
    getter!(opt_text, Option<String>);
    getter!(int, i64);
    getter!(opt_int, Option<i64>);
    getter!(bool, bool);
    getter!(bytes, Vec<u8>);
    getter!(opt_bytes, Option<Vec<u8>>);
    getter!(opt_bool, Option<bool>);
    getter!(opt_float, Option<f64>);
}
