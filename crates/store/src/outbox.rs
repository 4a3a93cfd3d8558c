//! The durable outbox: work that must follow a change (after-triggers,
//! webhooks, enqueued jobs) is written as rows in the change's own
//! transaction, so a crash can neither lose the work nor leave work for a
//! change that never committed. A dispatcher (the functions slice) claims
//! due rows with a lease, delivers them at least once with the event id as
//! the idempotency key, retries with backoff and marks the last failure
//! `dead`.
//!
//! Which targets want which events is an in-memory directory every slice
//! reads through its [`crate::Db`] while it prepares a write, so a write
//! that nobody listens to costs nothing.

use std::sync::{Arc, RwLock};

use basalt_core::Timestamp;
use basalt_core::caller::BoxFuture;
use tokio::sync::Notify;

use crate::{Backend, Param, StoreError, Tx};

/// What a delivery runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A function (an after-trigger, or an enqueued job).
    Function,
    /// A webhook: a signed POST to an URL.
    Webhook,
    /// A push notification: a send to fan out (`push.send`), or one
    /// device's copy of it (`push.device`).
    Push,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Function => "function",
            TargetKind::Webhook => "webhook",
            TargetKind::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<TargetKind> {
        match s {
            "function" => Some(TargetKind::Function),
            "webhook" => Some(TargetKind::Webhook),
            "push" => Some(TargetKind::Push),
            _ => None,
        }
    }
}

/// One listener: `pattern` is an event type (`posts.create`), a prefix
/// with a star (`posts.*`), or `*` for every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub kind: TargetKind,
    pub name: String,
    pub pattern: String,
}

impl Subscriber {
    pub fn matches(&self, event_type: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => self.pattern == event_type,
        }
    }
}

/// The directory of listeners and the dispatcher's doorbell.
#[derive(Debug, Default)]
pub struct Directory {
    subscribers: RwLock<Arc<Vec<Subscriber>>>,
    wake: Notify,
}

impl Directory {
    /// Replaces every listener (the functions slice keeps it current).
    pub fn set(&self, subscribers: Vec<Subscriber>) {
        *self.subscribers.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(subscribers);
    }

    /// The listeners of one event type, each once.
    pub fn targets(&self, event_type: &str) -> Vec<Subscriber> {
        let all = self.subscribers.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out: Vec<Subscriber> = Vec::new();
        for s in all.iter().filter(|s| s.matches(event_type)) {
            if !out.iter().any(|o| o.kind == s.kind && o.name == s.name) {
                out.push(s.clone());
            }
        }
        out
    }

    /// Whether anyone listens to anything (the common case of none costs
    /// a write one load).
    pub fn is_empty(&self) -> bool {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Tells this process's dispatcher that rows were committed.
    pub fn ring(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Directory::ring`].
    pub async fn rung(&self) {
        self.wake.notified().await;
    }
}

/// One row to append: the event for one target.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Unique per row.
    pub id: String,
    /// The event's id, shared by its rows: the idempotency key a receiver sees.
    pub event_id: String,
    pub kind: TargetKind,
    pub target: String,
    /// `posts.create`, `auth.signup`, `job`, …
    pub event_type: String,
    /// The event as JSON.
    pub payload: Arc<str>,
    /// Milliseconds since the epoch: not before this.
    pub due: i64,
}

impl Delivery {
    /// The rows of one event, one per listener.
    pub fn for_event(
        targets: &[Subscriber],
        event_id: &str,
        event_type: &str,
        payload: Arc<str>,
        due: i64,
    ) -> Vec<Delivery> {
        targets
            .iter()
            .map(|t| Delivery {
                id: basalt_core::id::new_id(),
                event_id: event_id.to_owned(),
                kind: t.kind,
                target: t.name.clone(),
                event_type: event_type.to_owned(),
                payload: payload.clone(),
                due,
            })
            .collect()
    }
}

/// Appends the event `event_type` for its listeners inside `tx`: its
/// payload is `#{id, type, timestamp}` and `fields`. Nothing when nobody
/// listens. `true` when rows were written: ring the directory after the
/// commit, so this node's dispatcher looks at once.
pub async fn emit(
    tx: &mut Tx,
    directory: &Directory,
    event_type: &str,
    fields: serde_json::Map<String, serde_json::Value>,
) -> Result<bool, StoreError> {
    if directory.is_empty() {
        return Ok(false);
    }
    let targets = directory.targets(event_type);
    if targets.is_empty() {
        return Ok(false);
    }
    let id = basalt_core::id::new_id();
    let now = Timestamp::now();
    let mut payload = serde_json::Map::new();
    payload.insert("id".into(), id.as_str().into());
    payload.insert("type".into(), event_type.into());
    payload.insert("timestamp".into(), now.to_string().into());
    payload.extend(fields);
    let payload = serde_json::Value::Object(payload).to_string();
    let rows = Delivery::for_event(&targets, &id, event_type, payload.into(), now.millis());
    append(tx, &rows).await?;
    Ok(true)
}

/// The channel that wakes dispatchers on every node (PostgreSQL).
pub const CHANNEL: &str = "basalt_outbox";

const INSERT_SQLITE: &str = "INSERT INTO deliveries (id, event_id, target_kind, target, event_type, payload, \
     status, attempts, next_at, lease_until, created_at, updated_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, 'pending', 0, \
     value ->> 6, 0, value ->> 7, value ->> 7 FROM json_each($1) WHERE true";
const INSERT_POSTGRES: &str = "INSERT INTO deliveries (id, event_id, target_kind, target, event_type, payload, \
     status, attempts, next_at, lease_until, created_at, updated_at) \
     SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, r ->> 4, r ->> 5, 'pending', 0, \
     (r ->> 6)::bigint, 0, (r ->> 7)::bigint, (r ->> 7)::bigint FROM json_array_elements($1::json) AS r";

/// Appends rows inside the caller's transaction (one statement). On
/// PostgreSQL the dispatchers of every node are woken at commit.
pub async fn append(tx: &mut Tx, rows: &[Delivery]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now().millis();
    let json = rows_json(rows, now);
    match tx.backend() {
        Backend::Sqlite => tx.execute(INSERT_SQLITE, &[Param::Text(&json)]).await?,
        Backend::Postgres => {
            tx.execute(INSERT_POSTGRES, &[Param::Text(&json)]).await?;
            tx.execute("SELECT pg_notify($1, '')", &[CHANNEL.into()]).await?
        }
    };
    Ok(())
}

fn rows_json(rows: &[Delivery], now: i64) -> String {
    let mut out = String::with_capacity(rows.iter().map(|r| r.payload.len() + 128).sum());
    out.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for s in [
            r.id.as_str(),
            &r.event_id,
            r.kind.as_str(),
            &r.target,
            &r.event_type,
            &r.payload,
        ] {
            json_string(&mut out, s);
            out.push(',');
        }
        out.push_str(&r.due.to_string());
        out.push(',');
        out.push_str(&now.to_string());
        out.push(']');
    }
    out.push(']');
    out
}

/// Writes `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A claimed delivery: its row and the lease that proves the claim.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: String,
    /// `lease_until` as the claim set it; a later claim sets another.
    pub lease: i64,
}

/// A claimed delivery with what it carries.
#[derive(Debug, Clone)]
pub struct Due {
    pub claim: Claim,
    pub event_id: String,
    pub kind: TargetKind,
    pub target: String,
    pub event_type: String,
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub created_at: i64,
}

/// One delivery as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub event_id: String,
    pub kind: TargetKind,
    pub target: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub duration_us: Option<i64>,
}

const DUE_SQLITE: &str = "UPDATE deliveries SET lease_until = $2, attempts = attempts + 1, updated_at = $1 \
     WHERE id IN (SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_at <= $1 \
     AND lease_until < $1 ORDER BY next_at LIMIT $3) \
     RETURNING id, event_id, target_kind, target, event_type, payload, attempts, created_at";
const DUE_POSTGRES: &str = "UPDATE deliveries SET lease_until = $2, attempts = attempts + 1, updated_at = $1 \
     WHERE id IN (SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_at <= $1 \
     AND lease_until < $1 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, event_id, target_kind, target, event_type, payload, attempts, created_at";

/// Claims up to `limit` due deliveries for `lease` milliseconds. Nodes
/// claiming at once get different rows (`FOR UPDATE SKIP LOCKED`); a row
/// whose claimer died is claimed again when its lease runs out.
pub async fn claim_due(db: &crate::Db, lease: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
    let now = Timestamp::now().millis();
    let sql = match db.backend() {
        Backend::Sqlite => DUE_SQLITE,
        Backend::Postgres => DUE_POSTGRES,
    };
    // A write: on SQLite it must go through the writer.
    let mut tx = db.begin().await?;
    let rows = tx
        .fetch_all(sql, &[now.into(), (now + lease).into(), limit.into()])
        .await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = r.text(2)?;
        let Some(kind) = TargetKind::parse(&kind) else {
            continue;
        };
        out.push(Due {
            claim: Claim {
                id: r.text(0)?,
                lease: now + lease,
            },
            event_id: r.text(1)?,
            kind,
            target: r.text(3)?,
            event_type: r.text(4)?,
            payload: r.text(5)?,
            attempt: r.int(6)?,
            created_at: r.int(7)?,
        });
    }
    // Oldest first, as they were written.
    out.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.claim.id.cmp(&b.claim.id))
    });
    Ok(out)
}

/// The earliest time a delivery is due, if any is waiting.
pub async fn next_due(db: &crate::Db) -> Result<Option<i64>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT MIN(CASE WHEN lease_until > next_at THEN lease_until ELSE next_at END) FROM deliveries \
             WHERE status IN ('pending', 'retrying')",
            &[],
        )
        .await?;
    match row {
        Some(r) => r.opt_int(0),
        None => Ok(None),
    }
}

/// What an attempt came to.
pub struct Attempt<'a> {
    /// The HTTP status a webhook's receiver answered.
    pub http_status: Option<i64>,
    pub error: Option<&'a str>,
    pub duration_us: i64,
}

/// Work that a commit completes in its own transaction, so the writes of
/// the work and its being done happen together or not at all: an outbox
/// delivery, a schedule's slot. `false` when the claim was lost (someone
/// else took the work over), and then nothing of the commit is written.
pub trait Completion: Send + Sync {
    fn complete<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, Result<bool, StoreError>>;
}

impl Completion for Claim {
    fn complete<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(complete(tx, self))
    }
}

/// Marks a claimed delivery done inside `tx` (with the writes it made, so
/// they apply once). `false` when the claim was lost.
pub async fn complete(tx: &mut Tx, claim: &Claim) -> Result<bool, StoreError> {
    let now = Timestamp::now().millis();
    let n = tx
        .execute(
            "UPDATE deliveries SET status = 'ok', lease_until = 0, updated_at = $3, last_error = NULL \
             WHERE id = $1 AND lease_until = $2 AND status IN ('pending', 'retrying')",
            &[Param::Text(&claim.id), claim.lease.into(), now.into()],
        )
        .await?;
    Ok(n == 1)
}

/// Records an attempt's outcome: `done`, or again at `retry_at`, or
/// `dead` when there is none. `false` when the claim was lost.
pub async fn finish(
    db: &crate::Db,
    claim: &Claim,
    attempt: &Attempt<'_>,
    outcome: Finish,
) -> Result<bool, StoreError> {
    let now = Timestamp::now().millis();
    let (status, next_at) = match outcome {
        Finish::Done => ("ok", 0),
        Finish::RetryAt(at) => ("retrying", at),
        Finish::Dead => ("dead", 0),
    };
    let n = db
        .execute(
            "UPDATE deliveries SET status = $3, next_at = CASE WHEN $4 > 0 THEN $4 ELSE next_at END, \
             lease_until = 0, updated_at = $5, last_status = $6, last_error = $7, duration_us = $8 \
             WHERE id = $1 AND lease_until = $2 AND status IN ('pending', 'retrying')",
            &[
                Param::Text(&claim.id),
                claim.lease.into(),
                status.into(),
                next_at.into(),
                now.into(),
                attempt.http_status.into(),
                attempt.error.into(),
                attempt.duration_us.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// How an attempt ends.
#[derive(Debug, Clone, Copy)]
pub enum Finish {
    Done,
    RetryAt(i64),
    Dead,
}

/// When attempt `attempt` (from 1) failed: the next try after the wait
/// `delays[attempt - 1]` with ±20 % jitter (so deliveries that failed
/// together do not retry together), or `Dead` after the last.
pub fn after_failure(delays: &[std::time::Duration], attempt: i64) -> Finish {
    let Some(wait) = usize::try_from(attempt - 1).ok().and_then(|i| delays.get(i)) else {
        return Finish::Dead;
    };
    let jitter = (basalt_core::secret::random_u64() % 401) as f64 / 1000.0 - 0.2;
    let wait = wait.as_millis() as f64 * (1.0 + jitter);
    Finish::RetryAt(Timestamp::now().millis() + wait as i64)
}

/// Makes a dead delivery due again now, with its attempts counted afresh.
/// `false` when there is no dead delivery with this id.
pub async fn replay(db: &crate::Db, id: &str) -> Result<bool, StoreError> {
    let now = Timestamp::now().millis();
    let n = db
        .execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = $2, lease_until = 0, updated_at = $2 \
             WHERE id = $1 AND status = 'dead'",
            &[id.into(), now.into()],
        )
        .await?;
    if n == 1 {
        db.outbox().ring();
    }
    Ok(n == 1)
}

/// Deliveries of one target, newest first, after the cursor `after`.
pub async fn list(
    db: &crate::Db,
    kind: TargetKind,
    target: &str,
    status: Option<&str>,
    limit: i64,
    after: Option<&str>,
) -> Result<Vec<Listed>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT id, event_id, target_kind, target, event_type, status, attempts, next_at, created_at, \
             updated_at, last_status, last_error, duration_us FROM deliveries \
             WHERE target_kind = $1 AND target = $2 AND ($3 = '' OR status = $3) AND ($4 = '' OR id < $4) \
             ORDER BY id DESC LIMIT $5",
            &[
                kind.as_str().into(),
                target.into(),
                status.unwrap_or("").into(),
                after.unwrap_or("").into(),
                limit.into(),
            ],
        )
        .await?;
    rows.iter().map(listed).collect()
}

/// The deliveries of one event (a push send's devices), oldest first,
/// after the cursor `after`.
pub async fn list_event(
    db: &crate::Db,
    event_id: &str,
    event_type: &str,
    limit: i64,
    after: Option<&str>,
) -> Result<Vec<Listed>, StoreError> {
    let rows = db
        .fetch_all(
            "SELECT id, event_id, target_kind, target, event_type, status, attempts, next_at, created_at, \
             updated_at, last_status, last_error, duration_us FROM deliveries \
             WHERE event_id = $1 AND event_type = $2 AND ($3 = '' OR id > $3) ORDER BY id LIMIT $4",
            &[
                event_id.into(),
                event_type.into(),
                after.unwrap_or("").into(),
                limit.into(),
            ],
        )
        .await?;
    rows.iter().map(listed).collect()
}

fn listed(r: &crate::Row) -> Result<Listed, StoreError> {
    Ok(Listed {
        id: r.text(0)?,
        event_id: r.text(1)?,
        kind: TargetKind::parse(&r.text(2)?).unwrap_or(TargetKind::Function),
        target: r.text(3)?,
        event_type: r.text(4)?,
        status: r.text(5)?,
        attempts: r.int(6)?,
        next_at: r.int(7)?,
        created_at: r.int(8)?,
        updated_at: r.int(9)?,
        last_status: r.opt_int(10)?,
        last_error: r.opt_text(11)?,
        duration_us: r.opt_int(12)?,
    })
}

/// Deliveries waiting (pending or retrying), for metrics.
pub async fn depth(db: &crate::Db) -> Result<(i64, Option<i64>), StoreError> {
    let row = db
        .fetch_optional(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status IN ('pending', 'retrying')",
            &[],
        )
        .await?;
    match row {
        Some(r) => Ok((r.int(0)?, r.opt_int(1)?)),
        None => Ok((0, None)),
    }
}

/// Removes finished deliveries (done or dead) last changed before `cutoff`.
pub async fn sweep(db: &crate::Db, cutoff: i64) -> Result<u64, StoreError> {
    db.execute(
        "DELETE FROM deliveries WHERE status IN ('ok', 'dead') AND updated_at < $1",
        &[cutoff.into()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let s = |p: &str| Subscriber {
            kind: TargetKind::Webhook,
            name: "w".into(),
            pattern: p.into(),
        };
        assert!(s("posts.create").matches("posts.create"));
        assert!(!s("posts.create").matches("posts.update"));
        assert!(s("posts.*").matches("posts.delete"));
        assert!(!s("posts.*").matches("postsx.delete"));
        assert!(s("*").matches("auth.signup"));
    }

    #[test]
    fn rows_are_json() {
        let rows = Delivery::for_event(
            &[Subscriber {
                kind: TargetKind::Function,
                name: "f".into(),
                pattern: "*".into(),
            }],
            "e1",
            "posts.create",
            Arc::from("{\"a\":\"\\u0001\\n\"}"),
            5,
        );
        let json = rows_json(&rows, 7);
        let parsed: Vec<Vec<serde_json::Value>> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0][5], "{\"a\":\"\\u0001\\n\"}");
        assert_eq!(parsed[0][6], 5);
        assert_eq!(parsed[0][7], 7);
    }
}
