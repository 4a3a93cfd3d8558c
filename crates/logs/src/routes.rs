//! `/v1/admin/logs`, `/v1/admin/stats/series` and `/v1/admin/audit`.

use axum::extract::{FromRef, State};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{Json, Query};
use basalt_core::{Code, Error, Timestamp};
use basalt_store::Db;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RequestLog;
use crate::series::Minute;
use crate::store::Filter;

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    RequestLog: FromRef<S>,
    Db: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("admin").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/logs", list))
                .summary("The request log, newest first")
                .query::<LogQuery>()
                .response::<LogPage>(200, "A page of log entries"),
        )
        .route(
            admin(Route::get("/v1/admin/stats/series", series))
                .summary("Requests, server errors or p95 latency over the last hour, day or week")
                .query::<SeriesQuery>()
                .response::<Series>(200, "Points, oldest first, ending with the current interval"),
        )
        .route(
            admin(Route::get("/v1/admin/audit", audit))
                .summary("Changes made by admins and service keys, newest first")
                .query::<AuditQuery>()
                .response::<AuditPage>(200, "A page of audit entries"),
        )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// RFC 3339 time: entries at or after it.
    #[schemars(extend("format" = "date-time"))]
    since: Option<String>,
    /// RFC 3339 time: entries before it.
    #[schemars(extend("format" = "date-time"))]
    until: Option<String>,
    /// A status (`404`) or a class (`4xx`, `5xx`).
    #[schemars(regex(pattern = r"^[1-5]([0-9]{2}|xx)$"))]
    status: Option<String>,
    /// A route template, as in the entries (`/v1/db/{collection}/{id}`).
    route: Option<String>,
    #[schemars(regex(pattern = r"^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|OTHER)$"))]
    method: Option<String>,
    /// A caller kind (`anon`, `user`, `admin`, `service`), or `kind:id`.
    #[schemars(regex(pattern = r"^(anon|user|admin|service)(:.*)?$"))]
    caller: Option<String>,
    /// Part of the path, or a whole request id or error code.
    q: Option<String>,
    /// 1 to 1000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct LogCaller {
    /// `anon`, `user`, `admin` or `service`.
    kind: &'static str,
    id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct LogEntry {
    id: String,
    time: Timestamp,
    method: &'static str,
    /// The route template; `unmatched` for paths no route serves.
    route: String,
    /// The path without its query string, at most 512 bytes.
    path: String,
    status: u16,
    duration_ms: f64,
    caller: LogCaller,
    ip: String,
    request_id: String,
    /// The error code of a failed request.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

#[derive(Serialize, JsonSchema)]
pub struct LogPage {
    entries: Vec<LogEntry>,
    /// Pass as `after` for the next page; null on the last page.
    next_cursor: Option<String>,
}

fn time_param(v: Option<&str>, name: &str) -> Result<Option<i64>, Error> {
    v.map(|s| {
        Timestamp::parse(s)
            .map(Timestamp::millis)
            .ok_or_else(|| Error::invalid_argument(format!("`{name}` must be an RFC 3339 time")))
    })
    .transpose()
}

async fn list(State(log): State<RequestLog>, Query(q): Query<LogQuery>) -> Result<Json<LogPage>, Error> {
    let limit = q.limit.unwrap_or(100) as usize;
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1000"));
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) if s.len() == 3 && s.ends_with("xx") && (b'1'..=b'5').contains(&s.as_bytes()[0]) => {
            let class = i64::from(s.as_bytes()[0] - b'0') * 100;
            Some((class, class + 99))
        }
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (100..=599).contains(&n) => Some((n, n)),
            _ => {
                return Err(Error::invalid_argument(
                    "`status` must be a status such as 404 or a class such as 5xx",
                ));
            }
        },
    };
    let (caller_kind, caller_id) = match q.caller.as_deref() {
        None => (None, None),
        Some(c) => {
            let (kind, id) = c.split_once(':').map_or((c, None), |(k, i)| (k, Some(i)));
            if !matches!(kind, "anon" | "user" | "admin" | "service") {
                return Err(Error::invalid_argument(
                    "`caller` must be anon, user, admin or service, optionally followed by `:id`",
                ));
            }
            (Some(kind.to_owned()), id.map(str::to_owned))
        }
    };
    if let Some(m) = q.method.as_deref()
        && static_method(m) == "OTHER"
        && m != "OTHER"
    {
        return Err(Error::invalid_argument(
            "`method` must be an HTTP method in capitals",
        ));
    }
    let filter = Filter {
        since: time_param(q.since.as_deref(), "since")?,
        until: time_param(q.until.as_deref(), "until")?,
        status,
        route: q.route,
        method: q.method,
        caller_kind,
        caller_id,
        q: q.q.filter(|s| !s.is_empty()),
        after: q.after,
        limit,
    };
    log.settle(false).await;
    let Some(store) = log.store() else {
        return Ok(Json(LogPage {
            entries: Vec::new(),
            next_cursor: None,
        }));
    };
    let mut rows = store.list(&filter).await.map_err(unavailable)?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|e| e.id.clone())
    } else {
        None
    };
    let entries = rows
        .into_iter()
        .map(|e| LogEntry {
            id: e.id,
            time: Timestamp::from_millis(e.time),
            method: e.method,
            route: e.route,
            path: e.path,
            status: e.status,
            duration_ms: e.duration_us as f64 / 1000.0,
            caller: LogCaller {
                kind: e.caller_kind,
                id: e.caller_id,
            },
            ip: e.ip,
            request_id: e.request_id,
            error: e.error,
        })
        .collect();
    Ok(Json(LogPage { entries, next_cursor }))
}

fn unavailable(e: basalt_store::StoreError) -> Error {
    tracing::warn!(error = %e, "request log store unavailable");
    Error::unavailable("the request log is unavailable, try again")
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Requests answered.
    Requests,
    /// Requests answered with a 5xx status.
    Errors,
    /// Requests answered with a 4xx status.
    ClientErrors,
    /// The 95th percentile of latency, in milliseconds.
    LatencyP95,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
pub enum Range {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    metric: Metric,
    /// `1h` (60 points of a minute), `24h` (96 of 15 minutes) or `7d` (168 of an hour); default `1h`.
    range: Option<Range>,
}

#[derive(Serialize, JsonSchema)]
pub struct Point {
    /// The start of the interval.
    time: Timestamp,
    /// Requests in the interval, or milliseconds for `latency_p95` (null without requests).
    value: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct Series {
    /// Minutes per point.
    step_minutes: i64,
    points: Vec<Point>,
}

async fn series(State(log): State<RequestLog>, Query(q): Query<SeriesQuery>) -> Result<Json<Series>, Error> {
    let (points, step) = match q.range.unwrap_or(Range::Hour) {
        Range::Hour => (60, 1),
        Range::Day => (96, 15),
        Range::Week => (168, 60),
    };
    let now_minute = Timestamp::now().millis().div_euclid(60_000);
    let last = now_minute - now_minute.rem_euclid(step);
    let first = last - (points - 1) * step;
    let mut buckets = vec![Minute::default(); points as usize];
    log.settle(true).await;
    if let Some(store) = log.store() {
        for (minute, m) in store.minutes(first, last + step).await.map_err(unavailable)? {
            let i = ((minute - first) / step) as usize;
            if let Some(b) = buckets.get_mut(i) {
                b.add(&m);
            }
        }
    }
    let points = buckets
        .iter()
        .enumerate()
        .map(|(i, m)| Point {
            time: Timestamp::from_millis((first + i as i64 * step) * 60_000),
            value: match q.metric {
                Metric::Requests => Some(m.requests as f64),
                Metric::Errors => Some(m.errors as f64),
                Metric::ClientErrors => Some(m.client_errors as f64),
                Metric::LatencyP95 => m.p95_ms().map(|v| (v * 1000.0).round() / 1000.0),
            },
        })
        .collect();
    Ok(Json(Series {
        step_minutes: step,
        points,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1 to 1000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
    /// Only entries whose action starts with this (`collection.`, `key.create`).
    action: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditActor {
    /// `admin`, `service` or `cli` (a command run on the server).
    kind: String,
    /// The admin's id or the service key's id.
    id: Option<String>,
    /// The admin's email, or the service key's name.
    email: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditEntry {
    id: String,
    time: Timestamp,
    admin: AuditActor,
    /// What was done: `collection.create`, `key.revoke`, `admin.update`, …
    action: String,
    /// What it was done to: a collection name, a key id, an admin's email, …
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

async fn audit(State(db): State<Db>, Query(q): Query<AuditQuery>) -> Result<Json<AuditPage>, Error> {
    let limit = i64::from(q.limit.unwrap_or(100));
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1000"));
    }
    let prefix = q.action.as_deref().unwrap_or("");
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let after = q.after.as_deref().unwrap_or("");
    let rows = db
        .fetch_all(
            "SELECT id, time, actor_kind, actor_id, actor_name, action, target, before_json, after_json
             FROM audit_log WHERE ($1 = '' OR id < $1) AND action LIKE $2 ESCAPE '\\'
             ORDER BY id DESC LIMIT $3",
            &[after.into(), (&pattern).into(), (limit + 1).into()],
        )
        .await?;
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    let mut entries = rows
        .into_iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.text(0)?,
                time: Timestamp::from_millis(r.int(1)?),
                admin: AuditActor {
                    kind: r.text(2)?,
                    id: r.opt_text(3)?,
                    email: r.opt_text(4)?,
                },
                action: r.text(5)?,
                target: r.text(6)?,
                before: parse(r.opt_text(7)?),
                after: parse(r.opt_text(8)?),
            })
        })
        .collect::<Result<Vec<_>, basalt_store::StoreError>>()?;
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(Json(AuditPage { entries, next_cursor }))
}

pub(crate) use basalt_core::metrics::static_method;

pub(crate) fn static_kind(k: &str) -> &'static str {
    match k {
        "user" => "user",
        "admin" => "admin",
        "service" => "service",
        _ => "anon",
    }
}

pub(crate) fn static_code(c: &str) -> &'static str {
    Code::ALL
        .iter()
        .map(|c| c.as_str())
        .find(|s| *s == c)
        .unwrap_or("internal")
}
