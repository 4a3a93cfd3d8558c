use std::fmt;

/// What a slice may need to tell apart; everything else is internal.
#[derive(Debug)]
pub enum StoreError {
    /// A unique constraint refused the write.
    UniqueViolation,
    /// The database did not answer (down, pool exhausted, connection lost).
    Unavailable(sqlx::Error),
    /// Anything else: a bug or a broken database.
    Other(sqlx::Error),
    /// A stored value had an unexpected shape.
    Decode(String),
    /// The disk of the database is full.
    Full(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            sqlx::Error::Database(db) if is_disk_full(db.as_ref()) => StoreError::Full(e),
            sqlx::Error::Database(db) if is_connection_failure(db.as_ref()) => StoreError::Unavailable(e),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            _ => StoreError::Other(e),
        }
    }
}

/// SQLite's SQLITE_FULL (13, whatever its extended code) and PostgreSQL's
/// `disk_full` (53100).
fn is_disk_full(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg.code() == "53100";
    }
    db.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 13)
}

/// A database error that says the connection or server is gone rather than
/// that the statement was wrong.
fn is_connection_failure(db: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        use sqlx::postgres::PgSeverity;
        // FATAL and PANIC end the session; classes 08 (connection), 53
        // (resources) and 57P (shutdown, cannot connect now) are transient.
        let code = pg.code();
        return matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)
            || code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P");
    }
    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) outlasted the busy timeout.
    matches!(db.code().as_deref(), Some("5" | "6"))
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::UniqueViolation => f.write_str("unique constraint violated"),
            StoreError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            StoreError::Other(e) => write!(f, "database error: {e}"),
            StoreError::Decode(e) => write!(f, "unexpected stored value: {e}"),
            StoreError::Full(e) => write!(f, "no space left: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// The statement named a table that does not exist (dropped meanwhile).
    pub fn is_missing_table(&self) -> bool {
        let StoreError::Other(sqlx::Error::Database(db)) = self else {
            return false;
        };
        db.code().as_deref() == Some("42P01") || db.message().contains("no such table")
    }
}

impl From<StoreError> for basalt_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UniqueViolation => basalt_core::Error::already_exists("already exists"),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                basalt_core::Error::unavailable("the database is unavailable, try again")
            }
            StoreError::Full(_) => basalt_core::Error::disk_full(),
            other => basalt_core::Error::internal(other),
        }
    }
}
