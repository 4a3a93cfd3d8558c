//! Embedded, numbered migrations, applied at start-up. On PostgreSQL an
//! advisory lock makes nodes that start together apply them once.

use basalt_core::Timestamp;

use crate::db::{Db, Pools};
use crate::error::StoreError;
use crate::value::Param;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../../migrations/sqlite/", $file)),
            postgres: include_str!(concat!("../../../migrations/postgres/", $file)),
        }
    };
}

/// Every migration, in order. A migration is never edited once released.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "system", "0001_system.sql"),
    migration!(2, "users", "0002_users.sql"),
    migration!(3, "oauth", "0003_oauth.sql"),
    migration!(4, "files", "0004_files.sql"),
    migration!(5, "documents", "0005_documents.sql"),
    migration!(6, "realtime", "0006_realtime.sql"),
    migration!(7, "observability", "0007_observability.sql"),
    migration!(8, "admin_mfa", "0008_admin_mfa.sql"),
    migration!(9, "functions", "0009_functions.sql"),
    migration!(10, "outbox", "0010_outbox.sql"),
    migration!(11, "rule_cases", "0011_rule_cases.sql"),
    migration!(12, "key_rotation", "0012_key_rotation.sql"),
    migration!(13, "url_key_rotation", "0013_url_key_rotation.sql"),
    migration!(14, "push", "0014_push.sql"),
];

/// Arbitrary but fixed: the advisory lock key Basalt's migrations hold.
const PG_MIGRATION_LOCK: i64 = 0x6261_7361_6c74_0001;

/// FNV-1a, to notice a migration that changed after it was applied.
fn checksum(sql: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Db {
    /// Applies the migrations this database has not seen, all in one
    /// transaction that first takes a lock (PostgreSQL: a transaction-scoped
    /// advisory lock; SQLite: `BEGIN IMMEDIATE`), so nodes or commands that
    /// start together apply each migration once, and a failure or a cancelled
    /// start leaves neither half a migration nor a lock behind.
    /// Returns how many ran.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut tx = self.begin().await?;
        if let crate::Tx::Postgres(t) = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK)
                .execute(&mut **t)
                .await?;
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS basalt_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at BIGINT NOT NULL
            )",
            &[],
        )
        .await?;
        let mut applied = std::collections::HashMap::new();
        for row in tx
            .fetch_all("SELECT version, checksum FROM basalt_migrations", &[])
            .await?
        {
            applied.insert(row.int(0)?, row.text(1)?);
        }
        let mut ran = 0;
        for m in MIGRATIONS {
            let sql = match self.pools() {
                Pools::Sqlite { .. } => m.sqlite,
                Pools::Postgres(_) => m.postgres,
            };
            let sum = checksum(sql);
            if let Some(seen) = applied.get(&m.version) {
                if *seen != sum {
                    return Err(StoreError::Decode(format!(
                        "migration {} ({}) changed after it was applied",
                        m.version, m.name
                    )));
                }
                continue;
            }
            match &mut tx {
                crate::Tx::Sqlite(t) => {
                    sqlx::raw_sql(sql).execute(&mut **t).await?;
                }
                crate::Tx::Postgres(t) => {
                    sqlx::raw_sql(sql).execute(&mut **t).await?;
                }
            }
            tx.execute(
                "INSERT INTO basalt_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                &[
                    Param::Int(m.version),
                    m.name.into(),
                    (&sum).into(),
                    Timestamp::now().millis().into(),
                ],
            )
            .await?;
            tracing::info!(version = m.version, name = m.name, "applying migration");
            ran += 1;
        }
        tx.commit().await?;
        Ok(ran)
    }
}
