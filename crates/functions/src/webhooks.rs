//! Webhooks: events POSTed to an URL, signed as the Standard Webhooks
//! specification says (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256>`), delivered from the
//! durable outbox: at least once, the event id as `webhook-id` on every
//! try, retried on anything but a 2xx, disabled by a 410.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::extract::{Json, Path, Query};
use basalt_core::{AdminCaller, Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::outbox::{self, Attempt, Due, Finish, Subscriber, TargetKind};
use basalt_store::{Db, Row, StoreError};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

use crate::Functions;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Largest answer body kept in a delivery's error.
const KEPT_BODY: usize = 512;

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Functions: FromRef<S>,
    basalt_core::caller::Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("webhooks").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/webhooks", list))
                .summary("List webhooks (without their secrets)")
                .response::<WebhookList>(200, "Every webhook, by name"),
        )
        .route(
            admin(Route::put("/v1/admin/webhooks/{name}", save))
                .summary("Create or change a webhook; a new one answers its signing secret, once")
                .body::<SaveWebhook>()
                .link(
                    "get",
                    "get_admin_webhooks_by_name",
                    &[("name", "$request.path.name")],
                )
                .link(
                    "deliveries",
                    "get_admin_webhooks_by_name_deliveries",
                    &[("name", "$request.path.name")],
                )
                .link(
                    "delete",
                    "delete_admin_webhooks_by_name",
                    &[("name", "$request.path.name")],
                )
                .response::<Webhook>(200, "The webhook, changed")
                .response::<Webhook>(201, "The webhook, created, with `secret`"),
        )
        .route(
            admin(Route::get("/v1/admin/webhooks/{name}", get))
                .summary("One webhook (without its secret)")
                .response::<Webhook>(200, "The webhook"),
        )
        .route(
            admin(Route::delete("/v1/admin/webhooks/{name}", delete))
                .summary("Delete a webhook; its waiting deliveries are not sent")
                .empty(204, "Deleted"),
        )
        .route(
            admin(Route::get("/v1/admin/webhooks/{name}/deliveries", deliveries))
                .summary("Deliveries of a webhook, newest first")
                .query::<DeliveryQuery>()
                .response::<DeliveryPage>(200, "A page of deliveries"),
        )
        .route(
            admin(Route::post("/v1/admin/deliveries/{id}/retry", retry))
                .summary("Send a dead delivery again (webhooks and after-triggers)")
                .empty(202, "Queued again"),
        )
        .with_param(
            "name",
            json!({"type": "string", "pattern": crate::routes::NAME_PATTERN}),
        )
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    /// Event patterns: `posts.create`, `posts.*`, `*`.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the server turned it off (the receiver answered 410), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`): only in the answer that created or replaced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct WebhookList {
    webhooks: Vec<Webhook>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveWebhook {
    /// Where events are POSTed: http:// or https://.
    #[schemars(regex(pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#]\S*)?$"), extend("format" = "uri"))]
    url: String,
    /// Event patterns: `posts.create`, `posts.*` (every change of a collection), `*`.
    events: Vec<String>,
    /// A `whsec_…` secret (base64 of 24 to 64 bytes); one is made when a new webhook has none.
    secret: Option<String>,
    /// Default true; setting it true again also clears a 410's disabling.
    enabled: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `retrying`, `ok` or `dead`.
    #[schemars(extend("enum" = ["pending", "retrying", "ok", "dead", null]))]
    status: Option<String>,
    /// 1 to 100, default 50.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Delivery {
    id: String,
    /// The event's id: `webhook-id` on every try.
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    /// `pending`, `retrying`, `ok` or `dead`.
    status: String,
    attempts: i64,
    /// The next try, while it is `pending` or `retrying`.
    next_attempt_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The HTTP status of the last answer.
    response_status: Option<i64>,
    error: Option<String>,
    duration_ms: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct DeliveryPage {
    deliveries: Vec<Delivery>,
    next_cursor: Option<String>,
}

const COLUMNS: &str = "name, url, events, enabled, disabled_reason, created_at, updated_at";

fn webhook(r: &Row) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        name: r.text(0)?,
        url: r.text(1)?,
        events: serde_json::from_str(&r.text(2)?).unwrap_or_default(),
        enabled: r.int(3)? != 0,
        disabled_reason: r.opt_text(4)?,
        secret: None,
        created_at: Timestamp::from_millis(r.int(5)?),
        updated_at: Timestamp::from_millis(r.int(6)?),
    })
}

/// What a delivery needs of its webhook, read with the listeners (every
/// two seconds, and at once after a change on this node).
pub(crate) struct Target {
    url: String,
    secret: String,
    enabled: bool,
}

/// The outbox listeners of every enabled webhook, and every webhook's target.
pub(crate) async fn subscribers(db: &Db) -> (Vec<Subscriber>, HashMap<String, Arc<Target>>) {
    let rows = match db
        .fetch_all(
            "SELECT name, events, url, secret, enabled FROM webhooks ORDER BY name",
            &[],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::debug!(error = %e, "webhooks: could not read them");
            return (Vec::new(), HashMap::new());
        }
    };
    let mut out = Vec::new();
    let mut targets = HashMap::new();
    for r in rows {
        let (Ok(name), Ok(events), Ok(url), Ok(secret), Ok(enabled)) =
            (r.text(0), r.text(1), r.text(2), r.text(3), r.int(4))
        else {
            continue;
        };
        let enabled = enabled != 0;
        if enabled {
            for pattern in serde_json::from_str::<Vec<String>>(&events).unwrap_or_default() {
                out.push(Subscriber {
                    kind: TargetKind::Webhook,
                    name: name.clone(),
                    pattern,
                });
            }
        }
        targets.insert(name, Arc::new(Target { url, secret, enabled }));
    }
    (out, targets)
}

/// `*`, `name.*` or `name.op`, names as collections have them.
fn check_pattern(p: &str) -> Result<(), Error> {
    let bad = || {
        Error::invalid_argument(format!(
            "event `{p}`: use `*`, `<collection>.*`, `<collection>.create|update|delete`, `auth.signup`, `auth.login`, `storage.upload` or `storage.delete`"
        ))
    };
    if p == "*" {
        return Ok(());
    }
    let (source, op) = p.split_once('.').ok_or_else(bad)?;
    basalt_documents::check_collection_name(source).map_err(|_| bad())?;
    let special = crate::routes::special_events(source);
    let after = !op.starts_with("before_") && special.contains(&op);
    if matches!(op, "*" | "create" | "update" | "delete") || after {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The key bytes of a `whsec_` secret.
/// The column webhook secrets are kept in, sealed with the master key if there is one.
const SECRET_COLUMN: &str = "webhooks.secret";

fn key(secret: &str) -> Option<Vec<u8>> {
    let bytes = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    (24..=64).contains(&bytes.len()).then_some(bytes)
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    basalt_core::secret::fill_random(&mut bytes);
    format!("whsec_{}", B64.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub(crate) fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

fn not_found() -> Error {
    Error::not_found("no webhook with this name")
}

async fn load(db: &Db, name: &str) -> Result<Option<Webhook>, Error> {
    let row = db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM webhooks WHERE name = $1"),
            &[name.into()],
        )
        .await?;
    Ok(row.as_ref().map(webhook).transpose()?)
}

async fn list(State(f): State<Functions>) -> Result<Json<WebhookList>, Error> {
    let rows = f
        .inner
        .db
        .fetch_all(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY name"), &[])
        .await?;
    Ok(Json(WebhookList {
        webhooks: rows.iter().map(webhook).collect::<Result<_, _>>()?,
    }))
}

async fn get(State(f): State<Functions>, Path(name): Path<String>) -> Result<Json<Webhook>, Error> {
    Ok(Json(load(&f.inner.db, &name).await?.ok_or_else(not_found)?))
}

/// What the audit log keeps of a webhook: never its secret.
fn snapshot(w: &Webhook) -> String {
    serde_json::json!({"url": w.url, "events": w.events, "enabled": w.enabled}).to_string()
}

async fn save(
    caller: AdminCaller,
    State(f): State<Functions>,
    Path(name): Path<String>,
    Json(body): Json<SaveWebhook>,
) -> Result<Response, Error> {
    crate::routes::check_name(&name, "webhook")?;
    f.inner
        .http
        .check(&body.url)
        .map_err(|e| Error::invalid_argument(format!("`url`: {e}")))?;
    if body.events.is_empty() || body.events.len() > 100 {
        return Err(Error::invalid_argument("`events` needs 1 to 100 patterns"));
    }
    for p in &body.events {
        check_pattern(p)?;
    }
    if let Some(s) = &body.secret
        && key(s).is_none()
    {
        return Err(Error::invalid_argument(
            "`secret` must be `whsec_` and the base64 of 24 to 64 bytes",
        ));
    }
    let db = &f.inner.db;
    let before = load(db, &name).await?;
    let now = Timestamp::now();
    let enabled = body.enabled.unwrap_or(true);
    let events = serde_json::to_string(&body.events).map_err(Error::internal)?;
    let shown = match (&before, &body.secret) {
        (None, None) => Some(new_secret()),
        (_, Some(s)) => Some(s.clone()),
        (Some(_), None) => None,
    };
    let stored = shown.as_deref().map(|s| db.vault().seal_text(SECRET_COLUMN, s));
    let mut tx = db.begin().await?;
    if before.is_none() {
        let secret = stored.clone().unwrap_or_default();
        let inserted = tx
            .execute(
                "INSERT INTO webhooks (name, url, events, secret, enabled, disabled_reason, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $6) ON CONFLICT (name) DO NOTHING",
                &[
                    name.as_str().into(),
                    body.url.as_str().into(),
                    events.as_str().into(),
                    secret.as_str().into(),
                    i64::from(enabled).into(),
                    now.millis().into(),
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(Error::new(
                basalt_core::Code::Aborted,
                "the webhook was created meanwhile; save again",
            ));
        }
    } else {
        tx.execute(
            "UPDATE webhooks SET url = $2, events = $3, secret = COALESCE($4, secret), enabled = $5,
             disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END, updated_at = $6 WHERE name = $1",
            &[
                name.as_str().into(),
                body.url.as_str().into(),
                events.as_str().into(),
                stored.as_deref().into(),
                i64::from(enabled).into(),
                now.millis().into(),
            ],
        )
        .await?;
    }
    let mut saved = Webhook {
        name: name.clone(),
        url: body.url,
        events: body.events,
        enabled,
        disabled_reason: None,
        secret: None,
        created_at: before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
    };
    audit::record(
        &mut tx,
        Actor::of(&caller.0),
        Change {
            action: "webhook.save",
            target: &name,
            before: before.as_ref().map(snapshot),
            after: Some(snapshot(&saved)),
        },
    )
    .await?;
    tx.commit().await?;
    f.inner.triggers_changed().await;
    saved.secret = shown;
    let status = if before.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(saved)).into_response())
}

async fn delete(
    caller: AdminCaller,
    State(f): State<Functions>,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    let db = &f.inner.db;
    let before = load(db, &name).await?.ok_or_else(not_found)?;
    let mut tx = db.begin().await?;
    tx.execute("DELETE FROM webhooks WHERE name = $1", &[name.as_str().into()])
        .await?;
    audit::record(
        &mut tx,
        Actor::of(&caller.0),
        Change {
            action: "webhook.delete",
            target: &name,
            before: Some(snapshot(&before)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    f.inner.triggers_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(f): State<Functions>,
    Path(name): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, Error> {
    crate::routes::check_name(&name, "webhook")?;
    let limit = i64::from(q.limit.unwrap_or(50));
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 100"));
    }
    if q.status
        .as_deref()
        .is_some_and(|s| !matches!(s, "pending" | "retrying" | "ok" | "dead"))
    {
        return Err(Error::invalid_argument(
            "`status` must be pending, retrying, ok or dead",
        ));
    }
    if load(&f.inner.db, &name).await?.is_none() {
        return Err(not_found());
    }
    let mut rows = outbox::list(
        &f.inner.db,
        TargetKind::Webhook,
        &name,
        q.status.as_deref(),
        limit + 1,
        q.after.as_deref(),
    )
    .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    Ok(Json(DeliveryPage {
        deliveries: rows
            .into_iter()
            .map(|r| Delivery {
                next_attempt_at: matches!(r.status.as_str(), "pending" | "retrying")
                    .then(|| Timestamp::from_millis(r.next_at)),
                id: r.id,
                event_id: r.event_id,
                event_type: r.event_type,
                status: r.status,
                attempts: r.attempts,
                created_at: Timestamp::from_millis(r.created_at),
                updated_at: Timestamp::from_millis(r.updated_at),
                response_status: r.last_status,
                error: r.last_error,
                duration_ms: r.duration_us.map(|us| us as f64 / 1000.0),
            })
            .collect(),
        next_cursor,
    }))
}

async fn retry(State(f): State<Functions>, Path(id): Path<String>) -> Result<StatusCode, Error> {
    if outbox::replay(&f.inner.db, &id).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(Error::not_found("no dead delivery with this id"))
    }
}

/// The body of a delivery: `{id, type, timestamp, data}`.
fn body(due: &Due) -> Vec<u8> {
    let mut event: Value = serde_json::from_str(&due.payload).unwrap_or(Value::Null);
    let mut data = serde_json::Map::new();
    if let Some(map) = event.as_object_mut() {
        for key in [
            "collection",
            "document",
            "previous",
            "user",
            "session_id",
            "aal",
            "object",
        ] {
            if let Some(v) = map.remove(key) {
                data.insert(key.into(), v);
            }
        }
    }
    let out = serde_json::json!({
        "id": due.event_id,
        "type": due.event_type,
        "timestamp": event.get("timestamp").cloned().unwrap_or(Value::Null),
        "data": data,
    });
    serde_json::to_vec(&out).unwrap_or_default()
}

impl Functions {
    pub(crate) async fn send_webhook(&self, due: Due) {
        let db = &self.inner.db;
        let cached = self
            .inner
            .webhooks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&due.target)
            .cloned();
        let (url, secret, enabled) = match cached {
            Some(t) => (t.url.clone(), t.secret.clone(), t.enabled),
            // Made on another node since the last read: ask the database.
            None => {
                let row = db
                    .fetch_optional(
                        "SELECT url, secret, enabled FROM webhooks WHERE name = $1",
                        &[due.target.as_str().into()],
                    )
                    .await;
                match row {
                    Ok(Some(r)) => match (r.text(0), r.text(1), r.int(2)) {
                        (Ok(u), Ok(s), Ok(e)) => (u, s, e != 0),
                        _ => return,
                    },
                    Ok(None) => {
                        let attempt = Attempt {
                            http_status: None,
                            error: Some("the webhook was deleted"),
                            duration_us: 0,
                        };
                        let _ = outbox::finish(db, &due.claim, &attempt, Finish::Dead).await;
                        return;
                    }
                    // The database is away: the lease runs out and the delivery runs again.
                    Err(_) => return,
                }
            }
        };
        if !enabled {
            let attempt = Attempt {
                http_status: None,
                error: Some("the webhook is disabled"),
                duration_us: 0,
            };
            let _ = outbox::finish(db, &due.claim, &attempt, Finish::Dead).await;
            return;
        }
        let secret = match db.vault().open_text(SECRET_COLUMN, &secret) {
            Ok(secret) => secret,
            Err(e) => {
                tracing::warn!(webhook = %due.target, error = %e, "webhook: its secret does not open");
                return;
            }
        };
        let Some(key) = key(&secret) else { return };
        let body = body(&due);
        let timestamp = Timestamp::now().millis() / 1000;
        let started = std::time::Instant::now();
        let checked = self.inner.http.check(&url);
        let sent = match checked {
            Ok(url) => self
                .inner
                .http
                .http
                .post(url)
                .header("content-type", "application/json")
                .header("webhook-id", &due.event_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature(&key, &due.event_id, timestamp, &body),
                )
                .body(body)
                .send()
                .await
                .map_err(basalt_net::describe),
            Err(e) => Err(e),
        };
        let duration_us = started.elapsed().as_micros() as i64;
        let counters = &self.inner.dispatch;
        match sent {
            Ok(res) if res.status().is_success() => {
                let attempt = Attempt {
                    http_status: Some(i64::from(res.status().as_u16())),
                    error: None,
                    duration_us,
                };
                if let Err(e) = outbox::finish(db, &due.claim, &attempt, Finish::Done).await {
                    tracing::debug!(error = %e, "webhooks: could not mark a delivery done; it may be sent again");
                }
                counters
                    .delivered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(res) if res.status() == reqwest::StatusCode::GONE => {
                let reason = "the receiver answered 410 Gone";
                let _ = db
                    .execute(
                        "UPDATE webhooks SET enabled = 0, disabled_reason = $2, updated_at = $3 WHERE name = $1",
                        &[
                            due.target.as_str().into(),
                            reason.into(),
                            Timestamp::now().millis().into(),
                        ],
                    )
                    .await;
                let attempt = Attempt {
                    http_status: Some(410),
                    error: Some("410 Gone: the webhook is disabled"),
                    duration_us,
                };
                let _ = outbox::finish(db, &due.claim, &attempt, Finish::Dead).await;
                counters.dead.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(webhook = %due.target, "webhook disabled: the receiver answered 410 Gone");
                self.inner.triggers_changed().await;
            }
            Ok(res) => {
                let status = res.status();
                let mut text = res.text().await.unwrap_or_default();
                if text.len() > KEPT_BODY {
                    let mut end = KEPT_BODY;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.truncate(end);
                }
                let error = if status.is_redirection() {
                    format!("answered {status}; redirects are not followed")
                } else {
                    format!("answered {status}: {text}")
                };
                self.failed(
                    &due,
                    Attempt {
                        http_status: Some(i64::from(status.as_u16())),
                        error: Some(&error),
                        duration_us,
                    },
                )
                .await;
            }
            Err(error) => {
                self.failed(
                    &due,
                    Attempt {
                        http_status: None,
                        error: Some(&error),
                        duration_us,
                    },
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_signatures() {
        let s = new_secret();
        assert!(key(&s).is_some());
        assert!(key("whsec_").is_none());
        assert!(key("nope").is_none());
        // The example of the Standard Webhooks specification.
        let k = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&k, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn patterns() {
        for ok in ["*", "posts.*", "posts.create", "my_posts.delete"] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "posts",
            "posts.read",
            ".create",
            "Posts.create",
            "posts.create.x",
        ] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }
}
