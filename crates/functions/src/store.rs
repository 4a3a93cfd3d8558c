//! Stored functions, their versions and their executions.

use basalt_core::{Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::{Db, Param, Row, StoreError};
use schemars::JsonSchema;
use serde::Serialize;

/// What an admin saves: the kind, the script and what it listens to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Spec {
    /// `http`, `trigger` or `schedule`.
    pub kind: String,
    pub source: String,
    /// Who may call an http function; without one only admins and service keys may.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke: Option<String>,
    /// A trigger's collection, or `auth` / `storage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// A trigger's event: `before_create`, `after_update`, `signup`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A schedule's cron expression (5 fields, or 6 with seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// A schedule's time zone (IANA name); UTC without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Function {
    pub name: String,
    #[serde(flatten)]
    pub spec: Spec,
    /// 1 for the first save, one more for each save after.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Version {
    pub version: i64,
    #[serde(flatten)]
    pub spec: Spec,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Execution {
    pub id: String,
    pub function: String,
    /// The function's version that ran.
    pub version: i64,
    /// `http` for a call of `POST /v1/functions/{name}`.
    pub trigger: String,
    /// `ok` or `error`.
    pub status: String,
    pub attempts: i64,
    pub started_at: Timestamp,
    pub duration_ms: f64,
    /// What the script logged (`log(…)`, `print`), at most 100 lines.
    pub logs: Vec<String>,
    pub error: Option<String>,
    /// The outbox delivery the run belonged to (after-triggers): what
    /// `POST /v1/admin/executions/{id}/retry` sends again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

const COLUMNS: &str =
    "name, version, created_at, updated_at, kind, source, invoke, collection, event, cron, timezone";
const SPEC_COLUMNS: &str = "kind, source, invoke, collection, event, cron, timezone";

/// The spec in the columns from `at` on (in [`SPEC_COLUMNS`]' order).
fn spec(r: &Row, at: usize) -> Result<Spec, StoreError> {
    Ok(Spec {
        kind: r.text(at)?,
        source: r.text(at + 1)?,
        invoke: r.opt_text(at + 2)?,
        collection: r.opt_text(at + 3)?,
        event: r.opt_text(at + 4)?,
        cron: r.opt_text(at + 5)?,
        timezone: r.opt_text(at + 6)?,
    })
}

fn spec_params(s: &Spec) -> [Param<'_>; 7] {
    [
        s.kind.as_str().into(),
        s.source.as_str().into(),
        s.invoke.as_deref().into(),
        s.collection.as_deref().into(),
        s.event.as_deref().into(),
        s.cron.as_deref().into(),
        s.timezone.as_deref().into(),
    ]
}

fn function(r: &Row) -> Result<Function, StoreError> {
    Ok(Function {
        name: r.text(0)?,
        version: r.int(1)?,
        created_at: Timestamp::from_millis(r.int(2)?),
        updated_at: Timestamp::from_millis(r.int(3)?),
        spec: spec(r, 4)?,
    })
}

/// What the audit log keeps of a function.
fn snapshot(f: &Function) -> String {
    let mut v = serde_json::to_value(&f.spec).unwrap_or_default();
    v["version"] = f.version.into();
    v.to_string()
}

pub async fn get(db: &Db, name: &str) -> Result<Option<Function>, Error> {
    let row = db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM functions WHERE name = $1"),
            &[name.into()],
        )
        .await?;
    Ok(row.as_ref().map(function).transpose()?)
}

pub async fn list(db: &Db) -> Result<Vec<Function>, Error> {
    let rows = db
        .fetch_all(&format!("SELECT {COLUMNS} FROM functions ORDER BY name"), &[])
        .await?;
    Ok(rows.iter().map(function).collect::<Result<_, _>>()?)
}

pub async fn versions(db: &Db, name: &str, limit: i64) -> Result<Vec<Version>, Error> {
    let rows = db
        .fetch_all(
            &format!(
                "SELECT version, created_at, {SPEC_COLUMNS} FROM function_versions WHERE name = $1
                 ORDER BY version DESC LIMIT {limit}"
            ),
            &[name.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Version {
                version: r.int(0)?,
                created_at: Timestamp::from_millis(r.int(1)?),
                spec: spec(r, 2)?,
            })
        })
        .collect::<Result<_, StoreError>>()
        .map_err(Into::into)
}

/// Saves a new version; `(function, created)`. Two saves at once: one wins,
/// the other gets 409 and saves again.
pub async fn save(db: &Db, name: &str, spec: &Spec, actor: Actor<'_>) -> Result<(Function, bool), Error> {
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let before = tx
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM functions WHERE name = $1"),
            &[name.into()],
        )
        .await?
        .as_ref()
        .map(function)
        .transpose()?;
    let f = Function {
        name: name.to_owned(),
        spec: spec.clone(),
        version: before.as_ref().map_or(1, |b| b.version + 1),
        created_at: before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
    };
    let mut params: Vec<Param<'_>> = vec![
        name.into(),
        f.version.into(),
        f.created_at.millis().into(),
        now.millis().into(),
    ];
    params.extend(spec_params(spec));
    let written = match &before {
        None => tx
            .execute(
                &format!(
                    "INSERT INTO functions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                &params,
            )
            .await
            .map(|_| 1),
        Some(b) => {
            params.push(b.version.into());
            tx.execute(
                "UPDATE functions SET version = $2, updated_at = $4, kind = $5, source = $6, invoke = $7,
                 collection = $8, event = $9, cron = $10, timezone = $11
                 WHERE name = $1 AND version = $12 AND created_at = $3",
                &params,
            )
            .await
        }
    };
    let conflict = || {
        Error::new(
            basalt_core::Code::Aborted,
            "the function was saved meanwhile; save again",
        )
    };
    match written {
        Ok(1) => {}
        Ok(_) | Err(StoreError::UniqueViolation) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    }
    let mut params: Vec<Param<'_>> = vec![name.into(), f.version.into(), now.millis().into()];
    params.extend(spec_params(spec));
    tx.execute(
        &format!(
            "INSERT INTO function_versions (name, version, created_at, {SPEC_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &params,
    )
    .await
    .map_err(|e| match e {
        StoreError::UniqueViolation => conflict(),
        e => e.into(),
    })?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "function.save",
            target: name,
            before: before.as_ref().map(snapshot),
            after: Some(snapshot(&f)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((f, before.is_none()))
}

pub async fn delete(db: &Db, name: &str, actor: Actor<'_>) -> Result<bool, Error> {
    let Some(before) = get(db, name).await? else {
        return Ok(false);
    };
    let mut tx = db.begin().await?;
    let n = tx
        .execute("DELETE FROM functions WHERE name = $1", &[name.into()])
        .await?;
    tx.execute("DELETE FROM function_versions WHERE name = $1", &[name.into()])
        .await?;
    if n > 0 {
        audit::record(
            &mut tx,
            actor,
            Change {
                action: "function.delete",
                target: name,
                before: Some(snapshot(&before)),
                after: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

/// The table of executions in a database of their own: written by every
/// run, it would otherwise share SQLite's one writer with the documents.
const EXECUTIONS_SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS executions (
        id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        version INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        duration_us INTEGER NOT NULL,
        logs TEXT NOT NULL,
        error TEXT,
        delivery TEXT
    ) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS executions_function ON executions (function, id)",
];

const EXECUTION_COLUMNS: &str =
    "id, function, version, trigger, status, attempts, started_at, duration_us, logs, error, delivery";

/// Where executions are kept: on PostgreSQL the main database; on SQLite
/// `executions.db` in `data_dir`, its own file with its own writer, so
/// recording runs never waits for (or holds up) the writes of documents.
/// Executions an earlier version kept in the main file move there once.
pub async fn open_executions(main: &Db, data_dir: &std::path::Path) -> Result<Db, StoreError> {
    if main.backend() == basalt_store::Backend::Postgres {
        return Ok(main.clone());
    }
    let url = format!("sqlite:{}", data_dir.join("executions.db").display());
    let db = Db::connect(Some(&url), std::path::Path::new(""), 2).await?;
    for statement in EXECUTIONS_SCHEMA {
        db.execute(statement, &[]).await?;
    }
    if main
        .fetch_optional("SELECT 1 FROM executions LIMIT 1", &[])
        .await?
        .is_some()
    {
        // On the new file's one writing connection: attach, copy, detach.
        // A crash before the old rows are deleted copies them again next
        // time, and the copies are ignored.
        db.execute("ATTACH DATABASE $1 AS earlier", &[main.location().into()])
            .await?;
        let copied = db
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO executions ({EXECUTION_COLUMNS}) \
                     SELECT {EXECUTION_COLUMNS} FROM earlier.executions"
                ),
                &[],
            )
            .await;
        db.execute("DETACH DATABASE earlier", &[]).await?;
        copied?;
        main.execute("DELETE FROM executions", &[]).await?;
    }
    Ok(db)
}

/// Executions of `function`, newest first.
pub async fn executions(
    db: &Db,
    function: &str,
    status: Option<&str>,
    limit: usize,
    after: Option<&str>,
) -> Result<Vec<Execution>, Error> {
    let mut sql = String::from(
        "SELECT id, function, version, trigger, status, attempts, started_at, duration_us, logs, error, delivery \
         FROM executions WHERE function = $1",
    );
    let mut params: Vec<Param<'_>> = vec![function.into()];
    if let Some(s) = status {
        params.push(s.into());
        sql.push_str(&format!(" AND status = ${}", params.len()));
    }
    if let Some(a) = after {
        params.push(a.into());
        sql.push_str(&format!(" AND id < ${}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let rows = db.fetch_all(&sql, &params).await?;
    rows.iter()
        .map(|r| {
            Ok(Execution {
                id: r.text(0)?,
                function: r.text(1)?,
                version: r.int(2)?,
                trigger: r.text(3)?,
                status: r.text(4)?,
                attempts: r.int(5)?,
                started_at: Timestamp::from_millis(r.int(6)?),
                duration_ms: r.int(7)? as f64 / 1000.0,
                logs: serde_json::from_str(&r.text(8)?).unwrap_or_default(),
                error: r.opt_text(9)?,
                delivery: r.opt_text(10)?,
            })
        })
        .collect::<Result<_, StoreError>>()
        .map_err(Into::into)
}

/// Removes executions that started before `cutoff` (ms since the epoch).
pub async fn sweep(db: &Db, cutoff: i64) -> Result<u64, Error> {
    Ok(db
        .execute(
            "DELETE FROM executions WHERE id < $1",
            &[basalt_core::id::floor(cutoff).as_str().into()],
        )
        .await?)
}

/// An execution's status and the delivery it ran for, if it was a run of one.
pub async fn delivery_of(db: &Db, execution: &str) -> Result<Option<(String, Option<String>)>, Error> {
    let row = db
        .fetch_optional(
            "SELECT status, delivery FROM executions WHERE id = $1",
            &[execution.into()],
        )
        .await?;
    Ok(row
        .map(|r| Ok::<_, StoreError>((r.text(0)?, r.opt_text(1)?)))
        .transpose()?)
}
