//! `/v1/push/…` for signed-in users and `/v1/admin/push…` for admins.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::{Authenticator, UserIdentity};
use basalt_core::extract::{Json, Path, Query};
use basalt_core::{AdminCaller, Caller, Code, Error, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use basalt_store::outbox;
use basalt_store::{Db, Row, StoreError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Kind, Notification, Push, Urgency};

/// Devices one user may register.
pub const MAX_DEVICES: i64 = 50;
const ID_PATTERN: &str = "^[0-9A-Za-z_-]{1,64}$";

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Push: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let user = |r: Route<S>| r.tag("push").access(Access::User);
    let admin = |r: Route<S>| r.tag("push").access(Access::Admin);
    Api::new()
        .route(
            Route::get("/v1/push/vapid", vapid)
                .tag("push")
                .access(Access::Public)
                .summary("The server's VAPID public key, for the browser's pushManager.subscribe")
                .response::<VapidKey>(200, "The key"),
        )
        .route(
            user(Route::post("/v1/push/subscriptions", register))
                .summary("Register this device for the signed-in user (again: updates it)")
                .body::<Register>()
                .link(
                    "delete",
                    "delete_push_subscriptions_by_id",
                    &[("id", "$response.body#/id")],
                )
                .response::<Subscription>(201, "Registered")
                .response::<Subscription>(200, "Already registered: updated, and now the caller's"),
        )
        .route(
            user(Route::get("/v1/push/subscriptions", list_own))
                .summary("The signed-in user's devices")
                .response::<SubscriptionList>(200, "Every device of the caller"),
        )
        .route(
            user(Route::delete("/v1/push/subscriptions/{id}", delete_own))
                .summary("Remove one of the signed-in user's devices")
                .empty(204, "Removed"),
        )
        .route(
            admin(Route::post("/v1/admin/push", send))
                .summary("Send a notification to every device of some users, through the outbox")
                .body::<SendBody>()
                .link("get", "get_admin_push_by_id", &[("id", "$response.body#/id")])
                .response::<Queued>(202, "Queued: `GET /v1/admin/push/{id}` shows each device"),
        )
        .route(
            admin(Route::get("/v1/admin/push/subscriptions", list_all))
                .summary("Registered devices, of every user or of one")
                .query::<SubscriptionQuery>()
                .response::<SubscriptionPage>(200, "A page of devices"),
        )
        .route(
            admin(Route::delete("/v1/admin/push/subscriptions/{id}", delete_any))
                .summary("Remove a device")
                .empty(204, "Removed"),
        )
        .route(
            admin(Route::get("/v1/admin/push/{id}", report))
                .summary("A send and what each device's push service answered")
                .query::<ReportQuery>()
                .response::<Report>(200, "The send"),
        )
        .with_param("id", json!({"type": "string", "pattern": ID_PATTERN}))
}

#[derive(Serialize, JsonSchema)]
pub struct VapidKey {
    /// The uncompressed P-256 point, base64url: `applicationServerKey`.
    public_key: String,
}

/// A device: a browser's push subscription, or an FCM or APNs token.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Register {
    /// What the browser's `PushSubscription.toJSON()` gives.
    Webpush {
        /// The push service's URL for this browser (https).
        #[schemars(length(min = 1, max = 2048))]
        endpoint: String,
        keys: WebKeys,
        /// Ignored: the browser's own expiry, if it has one.
        #[serde(default, rename = "expirationTime")]
        #[allow(dead_code)]
        expiration_time: Option<f64>,
    },
    /// An FCM registration token (Android, iOS through Firebase, or the web).
    Fcm {
        #[schemars(length(min = 1, max = 4096))]
        token: String,
    },
    /// An APNs device token and the app's bundle id.
    Apns {
        #[schemars(regex(pattern = r"^[0-9A-Fa-f]{32,200}$"))]
        token: String,
        #[schemars(regex(pattern = r"^[A-Za-z0-9.-]{1,255}$"))]
        topic: String,
    },
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebKeys {
    /// The browser's P-256 public key, base64url.
    p256dh: String,
    /// The 16-byte auth secret, base64url.
    auth: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Subscription {
    id: String,
    /// `webpush`, `fcm` or `apns`.
    kind: String,
    /// The Web Push endpoint, or the FCM or APNs token.
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<String>,
    user_id: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct SubscriptionList {
    subscriptions: Vec<Subscription>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionQuery {
    /// Only this user's devices.
    #[schemars(regex(pattern = r"^[0-9A-Za-z_-]{1,64}$"))]
    user_id: Option<String>,
    /// 1 to 500, default 100.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[schemars(regex(pattern = r"^[0-9A-Za-z_-]{1,64}$"))]
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SubscriptionPage {
    subscriptions: Vec<Subscription>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Exactly one of the two, and not null (a null one counts as left out).
#[schemars(extend("oneOf" = [
    {"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
    {"required": ["user_ids"], "properties": {"user_ids": {"type": "array"}}},
]))]
pub struct SendBody {
    /// One user, or
    #[schemars(regex(pattern = r"^[0-9A-Za-z_-]{1,64}$"))]
    user_id: Option<String>,
    /// up to 1,000 (not both).
    #[schemars(length(min = 1, max = 1000))]
    user_ids: Option<Vec<String>>,
    notification: Notification,
    /// Seconds a push service keeps it for an offline device: 0 to 2,419,200 (28 days, the default).
    #[schemars(range(min = 0, max = 2_419_200))]
    ttl: Option<u32>,
    /// `very-low`, `low`, `normal` (default) or `high`.
    urgency: Option<Urgency>,
}

#[derive(Serialize, JsonSchema)]
pub struct Queued {
    id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Devices per page: 1 to 1,000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[schemars(regex(pattern = r"^[0-9A-Za-z_-]{1,64}$"))]
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Report {
    id: String,
    created_at: Timestamp,
    /// `admin:<id>`, `service:<id>` or `function:<name>`.
    sender: String,
    user_ids: Vec<String>,
    notification: Value,
    ttl: i64,
    urgency: String,
    /// `queued` (not yet one delivery per device), `sending` or `done`.
    status: String,
    /// Devices the send reached when it fanned out.
    devices: Option<i64>,
    /// Users skipped because they were over push_rate_per_user.
    rate_limited: Vec<String>,
    /// Devices by the state of their delivery, over the whole send.
    counts: Counts,
    /// A page of devices, in the order they were queued.
    results: Vec<DeviceResult>,
    next_cursor: Option<String>,
}

#[derive(Serialize, JsonSchema, Default)]
pub struct Counts {
    pending: i64,
    retrying: i64,
    ok: i64,
    dead: i64,
    /// Of the dead: devices the push service said were gone, now removed.
    removed: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct DeviceResult {
    /// The delivery's id (`POST /v1/admin/deliveries/{id}/retry` sends a dead one again).
    delivery_id: String,
    subscription_id: String,
    kind: String,
    /// `pending`, `retrying`, `ok` or `dead`.
    status: String,
    /// The push service said the device is gone; its subscription was removed.
    removed: bool,
    attempts: i64,
    /// The push service's HTTP status, last time.
    response_status: Option<i64>,
    error: Option<String>,
    updated_at: Timestamp,
}

fn signed_in(caller: &Caller) -> Result<&UserIdentity, Error> {
    match caller {
        Caller::User(u) => Ok(u),
        Caller::Anonymous => Err(Error::unauthenticated("this endpoint needs a signed-in user")),
        _ => Err(Error::permission_denied(
            "devices belong to app users; admins use /v1/admin/push/subscriptions",
        )),
    }
}

const COLUMNS: &str = "id, kind, address, topic, user_id, created_at, updated_at";

fn subscription(r: &Row) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: r.text(0)?,
        kind: r.text(1)?,
        address: r.text(2)?,
        topic: r.opt_text(3)?,
        user_id: r.text(4)?,
        created_at: Timestamp::from_millis(r.int(5)?),
        updated_at: Timestamp::from_millis(r.int(6)?),
    })
}

async fn vapid(State(push): State<Push>) -> Result<Json<VapidKey>, Error> {
    Ok(Json(VapidKey {
        public_key: push.inner.vapid.key().await?,
    }))
}

async fn register(
    caller: Caller,
    State(push): State<Push>,
    Json(body): Json<Register>,
) -> Result<Response, Error> {
    let user = signed_in(&caller)?;
    let (kind, address, p256dh, auth, topic) = match body {
        Register::Webpush { endpoint, keys, .. } => {
            push.inner
                .web
                .check(&endpoint)
                .map_err(|e| Error::invalid_argument(format!("`endpoint`: {e}")))?;
            if !push.inner.allows_plain_http() && !endpoint.starts_with("https://") {
                return Err(Error::invalid_argument("`endpoint`: push services are https://"));
            }
            crate::webpush::keys(&keys.p256dh, &keys.auth).map_err(Error::invalid_argument)?;
            (Kind::WebPush, endpoint, Some(keys.p256dh), Some(keys.auth), None)
        }
        Register::Fcm { token } => {
            if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::invalid_argument(
                    "an FCM `token` is 1 to 4,096 printable characters",
                ));
            }
            (Kind::Fcm, token, None, None, None)
        }
        Register::Apns { token, topic } => {
            crate::apns::check_token(&token).map_err(Error::invalid_argument)?;
            crate::apns::check_topic(&topic).map_err(Error::invalid_argument)?;
            (Kind::Apns, token.to_ascii_lowercase(), None, None, Some(topic))
        }
    };
    let db = &push.inner.db;
    let mut tx = db.begin().await?;
    let count = tx
        .fetch_optional(
            "SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1 AND NOT (kind = $2 AND address = $3)",
            &[
                user.uid.as_str().into(),
                kind.as_str().into(),
                address.as_str().into(),
            ],
        )
        .await?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    if count >= MAX_DEVICES {
        return Err(Error::new(
            Code::FailedPrecondition,
            format!("a user has at most {MAX_DEVICES} devices; remove one first"),
        ));
    }
    let now = Timestamp::now().millis();
    let id = basalt_core::id::new_id();
    // The same device again (even signed in as someone else now) is one
    // row: it moves to the caller with its new keys.
    let row = tx
        .fetch_optional(
            &format!(
                "INSERT INTO push_subscriptions (id, user_id, kind, address, p256dh, auth, topic, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                 ON CONFLICT (kind, address) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, \
                 auth = excluded.auth, topic = excluded.topic, updated_at = excluded.updated_at \
                 RETURNING {COLUMNS}"
            ),
            &[
                id.as_str().into(),
                user.uid.as_str().into(),
                kind.as_str().into(),
                address.as_str().into(),
                p256dh.as_deref().into(),
                auth.as_deref().into(),
                topic.as_deref().into(),
                now.into(),
            ],
        )
        .await?
        .ok_or_else(|| Error::internal("the subscription was not stored"))?;
    tx.commit().await?;
    let saved = subscription(&row)?;
    let status = if saved.id == id {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(saved)).into_response())
}

async fn list_own(caller: Caller, State(push): State<Push>) -> Result<Json<SubscriptionList>, Error> {
    let user = signed_in(&caller)?;
    let rows = push
        .inner
        .db
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY id"),
            &[user.uid.as_str().into()],
        )
        .await?;
    Ok(Json(SubscriptionList {
        subscriptions: rows.iter().map(subscription).collect::<Result<_, _>>()?,
    }))
}

async fn delete_own(
    caller: Caller,
    State(push): State<Push>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let user = signed_in(&caller)?;
    crate::check_id("id", &id)?;
    let n = push
        .inner
        .db
        .execute(
            "DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2",
            &[id.as_str().into(), user.uid.as_str().into()],
        )
        .await?;
    // Someone else's device answers as a missing one.
    if n == 0 {
        return Err(Error::not_found("no device of yours with this id"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_all(
    State(push): State<Push>,
    Query(q): Query<SubscriptionQuery>,
) -> Result<Json<SubscriptionPage>, Error> {
    let limit = i64::from(q.limit.unwrap_or(100));
    if !(1..=500).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 500"));
    }
    if let Some(u) = &q.user_id {
        crate::check_id("user_id", u)?;
    }
    if let Some(a) = &q.after {
        crate::check_id("after", a)?;
    }
    let mut rows = push
        .inner
        .db
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM push_subscriptions WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR id > $2) \
                 ORDER BY id LIMIT $3"
            ),
            &[
                q.user_id.as_deref().unwrap_or("").into(),
                q.after.as_deref().unwrap_or("").into(),
                (limit + 1).into(),
            ],
        )
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.text(0)).transpose()?
    } else {
        None
    };
    Ok(Json(SubscriptionPage {
        subscriptions: rows.iter().map(subscription).collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

async fn delete_any(
    caller: AdminCaller,
    State(push): State<Push>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    crate::check_id("id", &id)?;
    let db = &push.inner.db;
    let mut tx = db.begin().await?;
    let n = tx
        .execute(
            "DELETE FROM push_subscriptions WHERE id = $1",
            &[id.as_str().into()],
        )
        .await?;
    if n == 0 {
        return Err(Error::not_found("no device with this id"));
    }
    audit::record(
        &mut tx,
        Actor::of(&caller.0),
        Change {
            action: "push.subscription.delete",
            target: &id,
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who a send is from, as its report says.
fn sender(caller: &Caller) -> String {
    match caller {
        Caller::Admin(a) => format!("admin:{}", a.id),
        Caller::Service(s) => format!("service:{}", s.key_id),
        Caller::User(u) => format!("user:{}", u.uid),
        Caller::Anonymous => "anonymous".into(),
    }
}

async fn send(
    caller: AdminCaller,
    State(push): State<Push>,
    Json(body): Json<SendBody>,
) -> Result<(StatusCode, Json<Queued>), Error> {
    let users = match (body.user_id, body.user_ids) {
        (Some(one), None) => vec![one],
        (None, Some(many)) => many,
        _ => {
            return Err(Error::invalid_argument(
                "give `user_id` or `user_ids`, one of them",
            ));
        }
    };
    let from = sender(&caller.0);
    let (id, row) = crate::send_row(&from, &users, body.notification, body.ttl, body.urgency)?;
    let db = &push.inner.db;
    let mut tx = db.begin().await?;
    let send: crate::Send = serde_json::from_str(&row.payload).map_err(Error::internal)?;
    crate::record_send(&mut tx, &send).await?;
    outbox::append(&mut tx, std::slice::from_ref(&row)).await?;
    audit::record(
        &mut tx,
        Actor::of(&caller.0),
        Change {
            action: "push.send",
            target: &id,
            before: None,
            after: Some(json!({"users": send.users.len(), "title": send.notification.title}).to_string()),
        },
    )
    .await?;
    tx.commit().await?;
    db.outbox().ring();
    Ok((StatusCode::ACCEPTED, Json(Queued { id })))
}

async fn report(
    State(push): State<Push>,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Report>, Error> {
    crate::check_id("id", &id)?;
    let limit = i64::from(q.limit.unwrap_or(100));
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1,000"));
    }
    if let Some(a) = &q.after {
        crate::check_id("after", a)?;
    }
    let db = &push.inner.db;
    let row = db
        .fetch_optional(
            "SELECT id, created_at, sender, users, notification, ttl, urgency, devices, limited \
             FROM push_sends WHERE id = $1",
            &[id.as_str().into()],
        )
        .await?
        .ok_or_else(|| Error::not_found("no send with this id"))?;
    let devices = row.opt_int(7)?;
    let counts = counts(db, &id).await?;
    let mut listed = outbox::list_event(db, &id, crate::DEVICE_EVENT, limit + 1, q.after.as_deref()).await?;
    let next_cursor = if listed.len() as i64 > limit {
        listed.truncate(limit as usize);
        listed.last().map(|l| l.id.clone())
    } else {
        None
    };
    let status = match devices {
        None => "queued",
        Some(_) if counts.pending + counts.retrying > 0 => "sending",
        Some(_) => "done",
    };
    Ok(Json(Report {
        id: row.text(0)?,
        created_at: Timestamp::from_millis(row.int(1)?),
        sender: row.text(2)?,
        user_ids: serde_json::from_str(&row.text(3)?).unwrap_or_default(),
        notification: serde_json::from_str(&row.text(4)?).unwrap_or(Value::Null),
        ttl: row.int(5)?,
        urgency: row.text(6)?,
        status: status.into(),
        devices,
        rate_limited: row
            .opt_text(8)?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        counts,
        results: listed
            .into_iter()
            .map(|l| {
                // `kind:subscription:user`.
                let mut parts = l.target.splitn(3, ':');
                let (kind, subscription) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                DeviceResult {
                    removed: l.status == "dead"
                        && l.last_error.as_deref().is_some_and(|e| e.starts_with("removed:")),
                    delivery_id: l.id,
                    subscription_id: subscription.to_owned(),
                    kind: kind.to_owned(),
                    status: l.status,
                    attempts: l.attempts,
                    response_status: l.last_status,
                    error: l.last_error,
                    updated_at: Timestamp::from_millis(l.updated_at),
                }
            })
            .collect(),
        next_cursor,
    }))
}

async fn counts(db: &Db, id: &str) -> Result<Counts, Error> {
    let rows = db
        .fetch_all(
            "SELECT status, CAST(CASE WHEN last_error LIKE 'removed:%' THEN 1 ELSE 0 END AS BIGINT), COUNT(*) FROM deliveries \
             WHERE event_id = $1 AND event_type = $2 GROUP BY 1, 2",
            &[id.into(), crate::DEVICE_EVENT.into()],
        )
        .await?;
    let mut c = Counts::default();
    for r in rows {
        let n = r.int(2)?;
        match r.text(0)?.as_str() {
            "pending" => c.pending += n,
            "retrying" => c.retrying += n,
            "ok" => c.ok += n,
            _ => {
                c.dead += n;
                if r.int(1)? == 1 {
                    c.removed += n;
                }
            }
        }
    }
    Ok(c)
}
