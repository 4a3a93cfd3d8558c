//! Realtime over WebSockets (`/v1/realtime`): live queries on collections and
//! documents fed by the change feed in commit order, broadcast channels with
//! presence, and resume from a feed position.
//!
//! Every node tails the change feed (`seq` order is commit order), woken by
//! its own commits and, on PostgreSQL, by `LISTEN/NOTIFY` from other nodes,
//! so a change committed anywhere reaches subscribers everywhere, once.
#![forbid(unsafe_code)]

mod channels;
mod hub;
mod inspector;
mod messages;
mod socket;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRef, State};
use axum::response::Response;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Query};
use basalt_core::{Caller, Code, Error};
use basalt_documents::Documents;
use basalt_rules::RuleEngine;
use schemars::JsonSchema;
use serde::Deserialize;

pub use channels::ChannelRules;

/// The message parsing of `/v1/realtime` and its channel names, for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::channels::check_name as check_channel;
    pub use crate::socket::{ClientMessage, parse_message};
}

/// Commit → queued on the subscriber's socket, for every delivered change.
pub static FANOUT_LATENCY: std::sync::LazyLock<basalt_core::metrics::Histogram> =
    std::sync::LazyLock::new(basalt_core::metrics::Histogram::default);

/// Counters for `/metrics`.
pub struct Metrics {
    pub sockets: AtomicI64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub fanout: AtomicU64,
}

pub static METRICS: Metrics = Metrics {
    sockets: AtomicI64::new(0),
    sent: AtomicU64::new(0),
    received: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    fanout: AtomicU64::new(0),
};

/// The realtime slice's state.
#[derive(Clone)]
pub struct Realtime {
    inner: Arc<Inner>,
}

pub struct Inner {
    documents: Documents,
    authenticator: Authenticator,
    engine: Arc<RuleEngine>,
    hub: hub::Hub,
    channels: channels::Channels,
    /// This node's open connections, for the admins' inspector.
    inspector: inspector::Connections,
    /// How often to ping, and how long a silent socket lives.
    heartbeat: (Duration, Duration),
    /// Sockets open per client address, and the most one address may hold.
    per_address: Arc<PerAddress>,
}

/// Counts open sockets per client address, so that one address cannot hold
/// every socket a node can serve.
#[derive(Default)]
struct PerAddress {
    cap: u32,
    open: std::sync::Mutex<HashMap<IpAddr, u32>>,
}

/// One socket's place in its address's count, given back when dropped.
struct AddressSlot {
    counts: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// A slot for `ip`, or `None` when it already holds `cap` sockets.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if self.cap != 0 && *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl std::ops::Deref for Realtime {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl Realtime {
    pub async fn start(
        documents: Documents,
        authenticator: Authenticator,
        engine: Arc<RuleEngine>,
        heartbeat: (Duration, Duration),
        max_sockets_per_ip: u32,
    ) -> Result<Realtime, Error> {
        let db = documents.db().clone();
        // Channels cross nodes through PostgreSQL notifications.
        let peers = db.listen("basalt_channels").await?;
        let relay = match peers {
            Some(_) => {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(10_000);
                let db = db.clone();
                tokio::spawn(async move {
                    while let Some(message) = rx.recv().await {
                        if let Err(e) = db
                            .execute(
                                "SELECT pg_notify('basalt_channels', $1)",
                                &[message.as_str().into()],
                            )
                            .await
                        {
                            tracing::warn!(error = %e, "could not tell other nodes about a channel event");
                        }
                    }
                });
                Some(tx)
            }
            None => None,
        };
        let rt = Realtime {
            inner: Arc::new(Inner {
                documents,
                authenticator,
                engine,
                hub: hub::Hub::default(),
                channels: channels::Channels::new(relay),
                inspector: inspector::Connections::default(),
                heartbeat,
                per_address: Arc::new(PerAddress {
                    cap: max_sockets_per_ip,
                    open: Default::default(),
                }),
            }),
        };
        let start = rt.documents.last_seq().await?;
        let listener = db.listen("basalt_changes").await?;
        tokio::spawn(tail(
            Arc::downgrade(&rt.inner),
            rt.documents.changes(),
            listener,
            start,
            checkpoint_interval(rt.documents.change_retention()),
        ));
        if let Some(mut peers) = peers {
            let inner = Arc::downgrade(&rt.inner);
            tokio::spawn(async move {
                let mut announce = tokio::time::interval(channels::ANNOUNCE_EVERY);
                loop {
                    tokio::select! {
                        m = peers.recv() => {
                            let Some(inner) = inner.upgrade() else { return };
                            match m {
                                Ok(Some(text)) => inner.channels.hear_from_other_node(&text),
                                Ok(None) => return,
                                Err(e) => {
                                    tracing::warn!(error = %e, "channel notifications interrupted");
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                }
                            }
                        }
                        _ = announce.tick() => {
                            let Some(inner) = inner.upgrade() else { return };
                            inner.channels.announce(None);
                        }
                    }
                }
            });
        }
        Ok(rt)
    }

    async fn authenticate(&self, token: &str) -> Result<Caller, Error> {
        self.authenticator
            .resolve(Some(format!("Bearer {token}").as_bytes()))
            .await
    }

    /// Open realtime connections on this node.
    pub fn connections(&self) -> i64 {
        METRICS.sockets.load(Ordering::Relaxed)
    }

    pub fn render_metrics(&self, out: &mut String) {
        let m = &METRICS;
        let lines = [
            (
                "basalt_realtime_sockets",
                "gauge",
                "Open realtime connections.",
                m.sockets.load(Ordering::Relaxed).to_string(),
            ),
            (
                "basalt_realtime_subscriptions",
                "gauge",
                "Live subscriptions.",
                self.hub.count().to_string(),
            ),
            (
                "basalt_realtime_messages_in_total",
                "counter",
                "Messages received from clients.",
                m.received.load(Ordering::Relaxed).to_string(),
            ),
            (
                "basalt_realtime_messages_out_total",
                "counter",
                "Messages sent to clients.",
                m.sent.load(Ordering::Relaxed).to_string(),
            ),
            (
                "basalt_realtime_changes_delivered_total",
                "counter",
                "Changes delivered to subscriptions.",
                m.fanout.load(Ordering::Relaxed).to_string(),
            ),
            (
                "basalt_realtime_slow_consumers_total",
                "counter",
                "Connections closed because their queue overflowed.",
                m.dropped.load(Ordering::Relaxed).to_string(),
            ),
        ];
        for (name, kind, help, value) in lines {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        let name = "basalt_realtime_fanout_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} From a change's commit to its message queued for a subscriber.\n# TYPE {name} histogram"
        );
        FANOUT_LATENCY.render(out, name, "");
    }
}

/// Reads the change feed after `last`, in order, and hands each change to
/// the hub: woken by this node's commits, other nodes' notifications, and
/// every second in case a notification was lost.
async fn tail(
    inner: std::sync::Weak<Inner>,
    mut local: tokio::sync::broadcast::Receiver<Arc<basalt_documents::Change>>,
    mut listener: Option<basalt_store::Listener>,
    mut last: i64,
    checkpoint_every: Duration,
) {
    let mut checkpointed = last;
    let mut next_checkpoint = tokio::time::Instant::now() + checkpoint_every;
    loop {
        let notified = async {
            match &mut listener {
                Some(l) => match l.recv().await {
                    Ok(Some(_)) => {}
                    // The database closed: fall back to the timer until the slice goes.
                    Ok(None) => std::future::pending::<()>().await,
                    Err(e) => {
                        tracing::warn!(error = %e, "change notifications interrupted");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = local.recv() => {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = r {
                    return;
                }
            }
            () = notified => {}
            () = tokio::time::sleep_until(next_checkpoint.min(tokio::time::Instant::now() + Duration::from_secs(1))) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let rt = Realtime { inner };
        loop {
            let changes = match rt.documents.changes_after(last, 1000).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e.message(), "could not read the change feed");
                    break;
                }
            };
            for c in &changes {
                rt.hub.publish(&rt.documents, c).await;
                last = c.seq;
            }
            if changes.len() < 1000 {
                break;
            }
        }
        // Between publishes, so every change up to `last` is already queued.
        if tokio::time::Instant::now() >= next_checkpoint {
            if last != checkpointed {
                rt.hub.checkpoint(last);
                checkpointed = last;
            }
            next_checkpoint = tokio::time::Instant::now() + checkpoint_every;
        }
    }
}

/// How often live subscriptions hear the feed's position: every 30 s, and
/// at least four times per change retention so a quiet subscription's
/// position is never swept before it hears a newer one.
pub fn checkpoint_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_millis(250), CHECKPOINT_EVERY)
}

/// The longest time between two checkpoints.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

#[derive(Deserialize, JsonSchema)]
pub struct Handshake {
    /// An access token; a bad one fails the handshake with 401. Or send `{"type":"auth"}` later.
    token: Option<String>,
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Realtime: FromRef<S>,
    Authenticator: FromRef<S>,
{
    Api::new()
        .route(
            Route::get("/v1/realtime", connect)
                .tag("realtime")
                .summary("The realtime WebSocket (see docs/realtime.md for the protocol)")
                .access(Access::Caller)
                .query::<Handshake>()
                // The WebSocket handshake (RFC 6455): without it, 400.
                .header("connection", true, "`Upgrade`", serde_json::json!({"type": "string", "pattern": "[Uu][Pp][Gg][Rr][Aa][Dd][Ee]"}))
                .header("upgrade", true, "`websocket`", serde_json::json!({"type": "string", "pattern": "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$"}))
                .header("sec-websocket-version", true, "`13`", serde_json::json!({"type": "string", "enum": ["13"]}))
                .header(
                    "sec-websocket-key",
                    true,
                    "16 random bytes in base64",
                    serde_json::json!({"type": "string", "pattern": "^[A-Za-z0-9+/]{22}==$"}),
                )
                .messages::<socket::ClientMessage, messages::ServerMessage>()
                .raw_response(101, "application/json", "Switching to the WebSocket protocol"),
        )
        .merge(channels::api())
        .merge(inspector::api())
}

async fn connect(
    caller: Caller,
    State(rt): State<Realtime>,
    ClientIp(ip): ClientIp,
    Query(q): Query<Handshake>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    // The token is kept to check the session again while the socket lives.
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let (caller, token) = match q.token {
        Some(t) => (rt.authenticate(&t).await?, Some(t)),
        None => (caller, header_token),
    };
    let Some(slot) = rt.per_address.take(ip) else {
        return Err(Error::new(
            Code::RateLimited,
            "too many realtime sockets are open from this address",
        ));
    };
    // Small buffers: most sockets are idle most of the time, and per-socket
    // memory is what limits how many a node holds (the defaults are 128 KiB).
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(socket::MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            socket::run(rt, socket, caller, token, ip).await
        }))
}
