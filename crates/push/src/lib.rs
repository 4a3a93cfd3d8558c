//! Push notifications: devices users register (`/v1/push/subscriptions`),
//! sends from admins (`POST /v1/admin/push`), functions and triggers
//! (`push(uid, notification)`), delivered from the durable outbox.
//!
//! A send is one outbox row (`push.send`) written in the transaction of
//! whatever asked for it. The dispatcher turns it into one row per device
//! (`push.device`) in a transaction that also marks the send's row done,
//! so a crash neither loses a device nor fans out twice. Each device's row
//! is then delivered at least once, retried like a webhook, through Web
//! Push (RFC 8030, RFC 8291 `aes128gcm`, RFC 8292 VAPID), FCM HTTP v1 or
//! APNs (HTTP/2, token auth). A device the push service says is gone is
//! removed.
#![forbid(unsafe_code)]

mod apns;
mod fcm;
mod routes;
mod webpush;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use basalt_core::{Code, Error, Timestamp};
use basalt_store::outbox::{self, Attempt, Delivery, Due, Finish, TargetKind};
use basalt_store::{Backend, Db, Param};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use routes::api;

/// The outbox event of a send, before it is one row per device.
pub const SEND_EVENT: &str = "push.send";
/// The outbox event of one device's copy of a send.
pub const DEVICE_EVENT: &str = "push.device";
/// Users one send may address.
pub const MAX_USERS: usize = 1000;
/// What a push service takes at most, in bytes: the APNs payload, the FCM
/// message's notification and data, and the encrypted Web Push record.
pub const MAX_PAYLOAD: usize = 4096;
/// The longest a push service keeps a notification for an offline device
/// (and the default): 28 days, as FCM.
pub const MAX_TTL: u32 = 28 * 24 * 3600;

/// Settings of the push slice.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The VAPID `sub` claim: a `mailto:` or `https:` contact for push services.
    pub vapid_subject: String,
    /// A Firebase service account's JSON key, to send through FCM.
    pub fcm_credentials: Option<PathBuf>,
    /// FCM's base URL (tests point it at a local server).
    pub fcm_url: String,
    /// APNs token auth: the `.p8` key, its key id and the team id.
    pub apns_key: Option<PathBuf>,
    pub apns_key_id: Option<String>,
    pub apns_team_id: Option<String>,
    /// APNs's base URL: production, or `https://api.sandbox.push.apple.com`.
    pub apns_url: String,
    /// PEM certificates trusted for FCM and APNs besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Let Web Push endpoints be private or loopback addresses (tests, intranets).
    pub allow_private_net: bool,
    /// How long a push service has to answer.
    pub timeout: Duration,
    /// Waits before each retry of a device; the try after the last is `dead`.
    pub retry_delays: Vec<Duration>,
    /// Notifications one user gets at most per minute, over all senders
    /// (0: no limit). Past it a send skips the user and says so.
    pub rate_per_user: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vapid_subject: "mailto:admin@localhost".into(),
            fcm_credentials: None,
            fcm_url: "https://fcm.googleapis.com".into(),
            apns_key: None,
            apns_key_id: None,
            apns_team_id: None,
            apns_url: "https://api.push.apple.com".into(),
            ca_file: None,
            allow_private_net: false,
            timeout: Duration::from_secs(10),
            retry_delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(1800),
                Duration::from_secs(7200),
                Duration::from_secs(18_000),
                Duration::from_secs(36_000),
            ],
            rate_per_user: 60,
        }
    }
}

/// The push slice's state. Cloning shares it.
#[derive(Clone)]
pub struct Push {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Web Push endpoints come from browsers: the guarded client.
    web: basalt_net::Client,
    vapid: webpush::Vapid,
    fcm: Option<fcm::Fcm>,
    apns: Option<apns::Apns>,
    retry_delays: Vec<Duration>,
    rate_per_user: u32,
    allow_private_net: bool,
    counters: Counters,
}

impl Inner {
    /// Whether a Web Push endpoint may be plain http:// (with private
    /// addresses allowed: tests and intranets).
    fn allows_plain_http(&self) -> bool {
        self.allow_private_net
    }
}

#[derive(Default)]
struct Counters {
    sends: AtomicU64,
    /// By kind (webpush, fcm, apns) and outcome (ok, failed, dead, removed).
    outcomes: [[AtomicU64; 4]; 3],
    limited: AtomicU64,
}

/// A device kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    WebPush,
    Fcm,
    Apns,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::WebPush => "webpush",
            Kind::Fcm => "fcm",
            Kind::Apns => "apns",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "webpush" => Some(Kind::WebPush),
            "fcm" => Some(Kind::Fcm),
            "apns" => Some(Kind::Apns),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a device shows.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// 1 to 256 characters.
    #[schemars(length(min = 1, max = 256))]
    pub title: String,
    /// Up to 2,048 characters.
    #[serde(default)]
    #[schemars(length(max = 2048))]
    pub body: String,
    /// Anything the app reads when it handles the notification (FCM gets
    /// each value as a string: strings as they are, others as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// What a click opens: `https://…`, `http://…` or a path from `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub url: Option<String>,
}

/// How soon a push service should wake the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    VeryLow,
    Low,
    #[default]
    Normal,
    High,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Urgency::VeryLow => "very-low",
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// A send, as its outbox row carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Send {
    id: String,
    sender: String,
    users: Vec<String>,
    notification: Notification,
    ttl: u32,
    urgency: Urgency,
    created_at: i64,
}

/// What each device's delivery carries.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Message {
    /// The send's id.
    pub id: String,
    pub notification: Notification,
    pub ttl: u32,
    pub urgency: Urgency,
}

impl Message {
    /// What a browser's service worker gets: `{id, title, body, data?, url?}`.
    pub(crate) fn web_payload(&self) -> Vec<u8> {
        let mut out = Map::new();
        out.insert("id".into(), self.id.as_str().into());
        out.insert("title".into(), self.notification.title.as_str().into());
        out.insert("body".into(), self.notification.body.as_str().into());
        if let Some(d) = &self.notification.data {
            out.insert("data".into(), Value::Object(d.clone()));
        }
        if let Some(u) = &self.notification.url {
            out.insert("url".into(), u.as_str().into());
        }
        serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
    }
}

/// An id of ours: a user's, a device's or a send's.
pub(crate) fn check_id(what: &str, id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid_argument(format!(
            "`{what}` must be 1 to 64 letters, digits, `-` or `_`"
        )));
    }
    Ok(())
}

/// Checks a notification and what each push service would be sent.
fn check_notification(n: &Notification, ttl: u32) -> Result<(), Error> {
    let chars = |s: &str| s.chars().count();
    if n.title.trim().is_empty() || chars(&n.title) > 256 {
        return Err(Error::invalid_argument(
            "`notification.title` needs 1 to 256 characters",
        ));
    }
    if chars(&n.body) > 2048 {
        return Err(Error::invalid_argument(
            "`notification.body` has at most 2,048 characters",
        ));
    }
    if let Some(url) = &n.url {
        let ok = url.len() <= 2048
            && (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
            && !url.chars().any(char::is_control);
        if !ok {
            return Err(Error::invalid_argument(
                "`notification.url` must be an https:// or http:// URL or a path from `/`, at most 2,048 bytes",
            ));
        }
    }
    if ttl > MAX_TTL {
        return Err(Error::invalid_argument(format!(
            "`ttl` is seconds, at most {MAX_TTL} (28 days)"
        )));
    }
    let message = Message {
        id: basalt_core::id::new_id(),
        notification: n.clone(),
        ttl,
        urgency: Urgency::Normal,
    };
    let sizes = [
        ("Web Push", webpush::record_len(message.web_payload().len())),
        ("FCM", fcm::payload_len(&message)),
        ("APNs", apns::payload(&message).len()),
    ];
    if let Some((service, bytes)) = sizes.iter().find(|(_, b)| *b > MAX_PAYLOAD) {
        return Err(Error::new(
            Code::PayloadTooLarge,
            format!(
                "the notification is {bytes} bytes as {service} sends it, past the {MAX_PAYLOAD} a push service takes; shorten `body` or `data`"
            ),
        )
        .with_details(json!({"service": service, "bytes": bytes, "limit": MAX_PAYLOAD})));
    }
    Ok(())
}

/// The outbox row of a send from `sender` to `users`, checked; write it in
/// the transaction of whatever asked for the send, and ring the outbox's
/// directory after the commit. Returns the send's id with it.
pub fn send_row(
    sender: &str,
    users: &[String],
    notification: Notification,
    ttl: Option<u32>,
    urgency: Option<Urgency>,
) -> Result<(String, Delivery), Error> {
    if users.is_empty() || users.len() > MAX_USERS {
        return Err(Error::invalid_argument(format!(
            "a send needs 1 to {MAX_USERS} users"
        )));
    }
    for u in users {
        check_id("user_id", u)?;
    }
    let ttl = ttl.unwrap_or(MAX_TTL);
    check_notification(&notification, ttl)?;
    let mut seen = HashSet::new();
    let users: Vec<String> = users
        .iter()
        .filter(|u| seen.insert(u.as_str()))
        .cloned()
        .collect();
    let now = Timestamp::now().millis();
    let send = Send {
        id: basalt_core::id::new_id(),
        sender: sender.to_owned(),
        users,
        notification,
        ttl,
        urgency: urgency.unwrap_or_default(),
        created_at: now,
    };
    let payload = serde_json::to_string(&send).map_err(Error::internal)?;
    let row = Delivery {
        id: basalt_core::id::new_id(),
        event_id: send.id.clone(),
        kind: TargetKind::Push,
        target: send.id.clone(),
        event_type: SEND_EVENT.into(),
        payload: payload.into(),
        due: now,
    };
    Ok((send.id, row))
}

/// How one device's attempt went.
pub(crate) enum Answer {
    /// Accepted by the push service.
    Sent(u16),
    /// The device is gone (404, 410, `UNREGISTERED`, `BadDeviceToken`):
    /// its subscription is removed.
    Gone(u16, String),
    /// Refused for good (the payload, the credentials): no retry.
    Refused(Option<u16>, String),
    /// Worth another try (a timeout, 429, 5xx).
    Retry(Option<u16>, String),
}

/// A device's row, as delivery needs it.
pub(crate) struct Device {
    pub kind: Kind,
    pub address: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub topic: Option<String>,
}

impl Push {
    /// Reads the FCM and APNs credentials; a file that does not parse
    /// stops the start with a clear message.
    pub fn new(db: Db, settings: Settings) -> Result<Push, String> {
        let web = basalt_net::Client::new(settings.allow_private_net, settings.timeout)?;
        let services = services_client(&settings)?;
        let fcm = match &settings.fcm_credentials {
            Some(path) => Some(fcm::Fcm::load(path, &settings.fcm_url, services.clone())?),
            None => None,
        };
        let apns = match (&settings.apns_key, &settings.apns_key_id, &settings.apns_team_id) {
            (None, None, None) => None,
            (Some(key), Some(key_id), Some(team_id)) => Some(apns::Apns::load(
                key,
                key_id,
                team_id,
                &settings.apns_url,
                services,
            )?),
            _ => {
                return Err(
                    "APNs needs all of push_apns_key_file, push_apns_key_id and push_apns_team_id".into(),
                );
            }
        };
        Ok(Push {
            inner: Arc::new(Inner {
                vapid: webpush::Vapid::new(db.clone(), settings.vapid_subject.clone()),
                db,
                web,
                fcm,
                apns,
                retry_delays: settings.retry_delays,
                rate_per_user: settings.rate_per_user,
                allow_private_net: settings.allow_private_net,
                counters: Counters::default(),
            }),
        })
    }

    /// Which services this server can send through.
    pub fn services(&self) -> Vec<&'static str> {
        let mut out = vec!["webpush"];
        if self.inner.fcm.is_some() {
            out.push("fcm");
        }
        if self.inner.apns.is_some() {
            out.push("apns");
        }
        out
    }

    /// Makes the VAPID key if there is none yet, so every node agrees on it
    /// from the start.
    pub async fn prepare(&self) -> Result<(), Error> {
        self.inner.vapid.key().await.map(|_| ())
    }

    /// Delivers a claimed `push` row: fans a send out, or sends one device's copy.
    pub async fn deliver(&self, due: Due) {
        match due.event_type.as_str() {
            SEND_EVENT => self.fan_out(due).await,
            DEVICE_EVENT => self.send_device(due).await,
            other => give_up(&self.inner.db, &due, &format!("unknown push event `{other}`")).await,
        }
    }

    /// One send → one row per device of its users, in the transaction that
    /// marks the send's row done.
    async fn fan_out(&self, due: Due) {
        let db = &self.inner.db;
        let send: Send = match serde_json::from_str(&due.payload) {
            Ok(s) => s,
            Err(e) => return give_up(db, &due, &format!("the send does not read: {e}")).await,
        };
        let started = std::time::Instant::now();
        match self.try_fan_out(&send, &due).await {
            Ok(true) => {
                db.outbox().ring();
            }
            Ok(false) => {}
            Err(e) => {
                let error = format!("fanning out failed: {e}");
                let attempt = Attempt {
                    http_status: None,
                    error: Some(&error),
                    duration_us: started.elapsed().as_micros() as i64,
                };
                let finish = outbox::after_failure(&self.inner.retry_delays, due.attempt);
                let _ = outbox::finish(db, &due.claim, &attempt, finish).await;
            }
        }
    }

    async fn try_fan_out(&self, send: &Send, due: &Due) -> Result<bool, basalt_store::StoreError> {
        let db = &self.inner.db;
        let now = Timestamp::now().millis();
        let mut tx = db.begin().await?;
        record_send(&mut tx, send).await?;
        let mut allowed = Vec::with_capacity(send.users.len());
        let mut limited = Vec::new();
        let window = now - now.rem_euclid(60_000);
        for user in &send.users {
            if self.inner.rate_per_user == 0 {
                allowed.push(user.as_str());
                continue;
            }
            let row = tx
                .fetch_optional(
                    "INSERT INTO push_rates (user_id, window_start, sent) VALUES ($1, $2, 1) \
                     ON CONFLICT (user_id) DO UPDATE SET \
                     sent = CASE WHEN push_rates.window_start = excluded.window_start THEN push_rates.sent + 1 ELSE 1 END, \
                     window_start = excluded.window_start RETURNING sent",
                    &[user.as_str().into(), window.into()],
                )
                .await?;
            let sent = row.map(|r| r.int(0)).transpose()?.unwrap_or(1);
            if sent <= i64::from(self.inner.rate_per_user) {
                allowed.push(user.as_str());
            } else {
                limited.push(user.as_str());
            }
        }
        let users = serde_json::to_string(&allowed).unwrap_or_else(|_| "[]".into());
        let sql = match tx.backend() {
            Backend::Sqlite => {
                "SELECT id, kind, user_id FROM push_subscriptions WHERE user_id IN (SELECT value FROM json_each($1)) ORDER BY id"
            }
            Backend::Postgres => {
                "SELECT id, kind, user_id FROM push_subscriptions WHERE user_id IN (SELECT json_array_elements_text($1::json)) ORDER BY id"
            }
        };
        let devices = if allowed.is_empty() {
            Vec::new()
        } else {
            tx.fetch_all(sql, &[Param::Text(&users)]).await?
        };
        let message = Message {
            id: send.id.clone(),
            notification: send.notification.clone(),
            ttl: send.ttl,
            urgency: send.urgency,
        };
        let payload: Arc<str> = serde_json::to_string(&message).unwrap_or_default().into();
        let mut rows = Vec::with_capacity(devices.len());
        for d in &devices {
            rows.push(Delivery {
                id: basalt_core::id::new_id(),
                event_id: send.id.clone(),
                kind: TargetKind::Push,
                // The user too: a device that moves to another user (signed in
                // on a shared browser) before it is sent does not get this one.
                target: format!("{}:{}:{}", d.text(1)?, d.text(0)?, d.text(2)?),
                event_type: DEVICE_EVENT.into(),
                payload: payload.clone(),
                due: now,
            });
        }
        for chunk in rows.chunks(500) {
            outbox::append(&mut tx, chunk).await?;
        }
        let limited_json = (!limited.is_empty()).then(|| serde_json::to_string(&limited).unwrap_or_default());
        tx.execute(
            "UPDATE push_sends SET devices = $2, fanned_out_at = $3, limited = $4 WHERE id = $1",
            &[
                send.id.as_str().into(),
                (rows.len() as i64).into(),
                now.into(),
                limited_json.as_deref().into(),
            ],
        )
        .await?;
        if !outbox::complete(&mut tx, &due.claim).await? {
            // Another node took the send over: its fan-out is the one that counts.
            return Ok(false);
        }
        tx.commit().await?;
        let c = &self.inner.counters;
        c.sends.fetch_add(1, Ordering::Relaxed);
        c.limited.fetch_add(limited.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    async fn send_device(&self, due: Due) {
        let db = &self.inner.db;
        let started = std::time::Instant::now();
        let mut parts = due.target.splitn(3, ':');
        let (Some(kind), Some(id), Some(user)) =
            (parts.next().and_then(Kind::parse), parts.next(), parts.next())
        else {
            return give_up(db, &due, "not a device").await;
        };
        let device = match load_device(db, id, user).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                return give_up(
                    db,
                    &due,
                    "the device was unsubscribed, or registered by another user, before it was sent",
                )
                .await;
            }
            // The database is away: the lease runs out and the row runs again.
            Err(_) => return,
        };
        let message: Message = match serde_json::from_str(&due.payload) {
            Ok(m) => m,
            Err(e) => return give_up(db, &due, &format!("the notification does not read: {e}")).await,
        };
        let answer = match device.kind {
            Kind::WebPush => webpush::send(&self.inner.web, &self.inner.vapid, &device, &message).await,
            Kind::Fcm => match &self.inner.fcm {
                Some(f) => f.send(&device, &message).await,
                None => Answer::Refused(None, "FCM is not configured (push_fcm_credentials_file)".into()),
            },
            Kind::Apns => match &self.inner.apns {
                Some(a) => a.send(&device, &message).await,
                None => Answer::Refused(
                    None,
                    "APNs is not configured (push_apns_key_file, push_apns_key_id, push_apns_team_id)".into(),
                ),
            },
        };
        let duration_us = started.elapsed().as_micros() as i64;
        let counters = &self.inner.counters.outcomes[kind.index()];
        let (status, error, finish, outcome) = match answer {
            Answer::Sent(status) => (Some(status), None, Finish::Done, 0),
            Answer::Gone(status, why) => {
                if let Err(e) = db
                    .execute("DELETE FROM push_subscriptions WHERE id = $1", &[id.into()])
                    .await
                {
                    tracing::debug!(error = %e, "push: could not remove a gone device; it is tried again");
                    return;
                }
                (Some(status), Some(format!("removed: {why}")), Finish::Dead, 3)
            }
            Answer::Refused(status, why) => (status, Some(why), Finish::Dead, 2),
            Answer::Retry(status, why) => {
                let finish = outbox::after_failure(&self.inner.retry_delays, due.attempt);
                let outcome = if matches!(finish, Finish::Dead) { 2 } else { 1 };
                (status, Some(why), finish, outcome)
            }
        };
        counters[outcome].fetch_add(1, Ordering::Relaxed);
        let attempt = Attempt {
            http_status: status.map(i64::from),
            error: error.as_deref(),
            duration_us,
        };
        if let Err(e) = outbox::finish(db, &due.claim, &attempt, finish).await {
            tracing::debug!(error = %e, "push: could not record an attempt; the device may get it again");
        }
    }

    /// Prometheus text for `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let c = &self.inner.counters;
        let _ = writeln!(
            out,
            "# HELP basalt_push_sends_total Push sends fanned out to their users' devices.\n\
             # TYPE basalt_push_sends_total counter\n\
             basalt_push_sends_total {}\n\
             # HELP basalt_push_rate_limited_total Users a send skipped: over push_rate_per_user.\n\
             # TYPE basalt_push_rate_limited_total counter\n\
             basalt_push_rate_limited_total {}\n\
             # HELP basalt_push_deliveries_total Attempts to deliver to one device, by service and outcome.\n\
             # TYPE basalt_push_deliveries_total counter",
            c.sends.load(Ordering::Relaxed),
            c.limited.load(Ordering::Relaxed),
        );
        for kind in [Kind::WebPush, Kind::Fcm, Kind::Apns] {
            for (i, outcome) in ["ok", "failed", "dead", "removed"].iter().enumerate() {
                let _ = writeln!(
                    out,
                    "basalt_push_deliveries_total{{service=\"{}\",outcome=\"{outcome}\"}} {}",
                    kind.as_str(),
                    c.outcomes[kind.index()][i].load(Ordering::Relaxed)
                );
            }
        }
    }
}

/// The client of FCM and APNs: URLs the operator set, HTTP/2 when the
/// server offers it (APNs requires it), and any extra trusted CA.
fn services_client(settings: &Settings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .user_agent("Basalt")
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("push_ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("push_ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("push_ca_file {}: no certificate in it", path.display()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the push services' HTTP client: {e}"))
}

/// Ends a delivery that can never succeed: `dead`, with why.
async fn give_up(db: &Db, due: &Due, error: &str) {
    let attempt = Attempt {
        http_status: None,
        error: Some(error),
        duration_us: 0,
    };
    let _ = outbox::finish(db, &due.claim, &attempt, Finish::Dead).await;
}

/// Keeps a send's row for `GET /v1/admin/push/{id}` (once).
async fn record_send(tx: &mut basalt_store::Tx, send: &Send) -> Result<(), basalt_store::StoreError> {
    let users = serde_json::to_string(&send.users).unwrap_or_default();
    let notification = serde_json::to_string(&send.notification).unwrap_or_default();
    tx.execute(
        "INSERT INTO push_sends (id, created_at, sender, users, notification, ttl, urgency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        &[
            send.id.as_str().into(),
            send.created_at.into(),
            send.sender.as_str().into(),
            users.as_str().into(),
            notification.as_str().into(),
            i64::from(send.ttl).into(),
            send.urgency.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}

/// The device `id`, if it is still `user`'s.
async fn load_device(db: &Db, id: &str, user: &str) -> Result<Option<Device>, basalt_store::StoreError> {
    let Some(r) = db
        .fetch_optional(
            "SELECT kind, address, p256dh, auth, topic FROM push_subscriptions WHERE id = $1 AND user_id = $2",
            &[id.into(), user.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    let Some(kind) = Kind::parse(&r.text(0)?) else {
        return Ok(None);
    };
    Ok(Some(Device {
        kind,
        address: r.text(1)?,
        p256dh: r.opt_text(2)?,
        auth: r.opt_text(3)?,
        topic: r.opt_text(4)?,
    }))
}

/// The first `KEPT` bytes of a push service's answer, for the delivery's error.
pub(crate) async fn answer_text(res: reqwest::Response) -> String {
    const KEPT: usize = 300;
    let mut text = res.text().await.unwrap_or_default();
    if text.len() > KEPT {
        let mut end = KEPT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// 429 and 5xx are worth another try; other refusals are not.
pub(crate) fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(title: &str, body: &str) -> Notification {
        Notification {
            title: title.into(),
            body: body.into(),
            data: None,
            url: None,
        }
    }

    #[test]
    fn sends_are_checked() {
        let users = vec!["u1".to_owned(), "u1".to_owned(), "u2".to_owned()];
        let (id, row) = send_row("admin:a", &users, note("Hi", "there"), None, None).unwrap();
        assert_eq!(row.event_id, id);
        let send: Send = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(send.users, ["u1", "u2"], "users once each");
        assert_eq!(send.ttl, MAX_TTL);
        assert!(send_row("a", &[], note("Hi", ""), None, None).is_err());
        assert!(send_row("a", &["bad id".into()], note("Hi", ""), None, None).is_err());
        assert!(send_row("a", &users, note("", "x"), None, None).is_err());
        assert!(send_row("a", &users, note("Hi", ""), Some(MAX_TTL + 1), None).is_err());
        let mut linked = note("Hi", "");
        linked.url = Some("javascript:alert(1)".into());
        assert!(send_row("a", &users, linked, None, None).is_err());
        let too_many: Vec<String> = (0..=MAX_USERS).map(|i| format!("u{i}")).collect();
        assert!(send_row("a", &too_many, note("Hi", ""), None, None).is_err());
    }

    #[test]
    fn the_size_is_what_the_services_get() {
        let users = vec!["u1".to_owned()];
        // 2,048 characters of body fit; data that makes it too big does not.
        assert!(send_row("a", &users, note("Hi", &"x".repeat(2048)), None, None).is_ok());
        let mut big = note("Hi", "x");
        big.data = Some(serde_json::from_value(json!({"blob": "y".repeat(4000)})).unwrap());
        let e = send_row("a", &users, big, None, None).unwrap_err();
        assert_eq!(e.code(), Code::PayloadTooLarge);
        assert!(e.message().contains("Web Push"), "{}", e.message());
    }
}
