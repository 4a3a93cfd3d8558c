//! One WebSocket connection: its caller, its outgoing queue, its
//! subscriptions and channels, and the protocol of API.md.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use basalt_core::{Caller, Error};
use basalt_documents::Filter;
use basalt_documents::live::{ALL_COLLECTIONS, MAX_REPLAY};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::hub::{Event, Reader, State, Subscription, deliver};
use crate::{METRICS, Realtime};

/// Messages waiting to go out on one socket before it is a slow consumer.
pub const QUEUE: usize = 1024;
/// Largest message a client may send.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most subscriptions per socket.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Most channels per socket.
pub const MAX_CHANNELS: usize = 50;

/// The shared side of a connection: what fan-out needs.
pub struct Conn {
    /// Unique per connection; a channel member's id.
    pub id: String,
    pub ip: IpAddr,
    pub connected_at: basalt_core::Timestamp,
    reader: RwLock<Reader>,
    queue: mpsc::Sender<String>,
    /// Set when the queue overflowed: the socket is closed.
    slow: AtomicBool,
    kill: Notify,
}

impl Conn {
    pub fn caller(&self) -> Caller {
        self.reader().caller
    }

    /// The caller as rules see it now: once a user's access token has
    /// expired, the connection acts as anonymous until it sends `auth` again.
    pub fn reader(&self) -> Reader {
        let reader = self.reader.read().unwrap_or_else(|e| e.into_inner()).clone();
        let expires_at = match &reader.caller {
            Caller::User(u) => Some(u.expires_at),
            Caller::Admin(a) => Some(a.expires_at),
            _ => None,
        };
        if expires_at.is_some_and(|at| at < basalt_core::Timestamp::now().seconds()) {
            self.set_caller(Caller::Anonymous);
            self.send(error(
                None,
                "unauthenticated",
                "the access token expired; the connection now acts as anonymous until it sends a new one with auth",
            ));
            return Reader::of(Caller::Anonymous, self.ip);
        }
        reader
    }

    /// The caller as it last authenticated, expired or not, without acting on it.
    pub fn peek_caller(&self) -> Caller {
        self.reader
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .caller
            .clone()
    }

    fn set_caller(&self, caller: Caller) {
        *self.reader.write().unwrap_or_else(|e| e.into_inner()) = Reader::of(caller, self.ip);
    }

    /// Queues a message, waiting for room: for what a client asked for itself
    /// (a snapshot, a replay), where waiting holds up only that client.
    pub async fn send_wait(&self, message: String) {
        if !self.slow.load(Ordering::Relaxed) {
            let _ = self.queue.send(message).await;
        }
    }

    /// Queues a message; a full queue marks the consumer slow and closes it.
    /// Never waits: writers and fan-out must not block on a reader.
    pub fn send(&self, message: String) {
        if self.slow.load(Ordering::Relaxed) {
            return;
        }
        if self.queue.try_send(message).is_err() {
            self.slow.store(true, Ordering::Relaxed);
            METRICS.dropped.fetch_add(1, Ordering::Relaxed);
            self.kill.notify_one();
        }
    }
}

impl Reader {
    fn of(caller: Caller, ip: IpAddr) -> Reader {
        Reader {
            auth: basalt_rules::auth_value(&caller),
            caller,
            ip: ip.to_string(),
        }
    }
}

/// A message from the client on `/v1/realtime`.
#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(rename = "RealtimeClientMessage")]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// A new access token for this socket (after a refresh).
    Auth {
        token: String,
    },
    /// Watch one document (`doc_id`) or a collection's documents matching
    /// `where`; `*` watches every collection (admins and service keys only).
    Subscribe {
        /// The client's name for it, 1 to 128 characters.
        id: String,
        collection: String,
        doc_id: Option<String>,
        /// A query filter, as in `POST /v1/db/{collection}/query`.
        #[serde(rename = "where")]
        filter: Option<Value>,
        /// Start with the matching documents.
        #[serde(default)]
        snapshot: bool,
        /// Replay the changes after this `seq` (from a change, `subscribed`
        /// or a `checkpoint`); answered `resync_required` when they are gone.
        resume_from: Option<i64>,
    },
    Unsubscribe {
        id: String,
    },
    /// Join a broadcast channel with an optional presence state.
    Join {
        channel: String,
        presence: Option<Value>,
    },
    Leave {
        channel: String,
    },
    Broadcast {
        channel: String,
        event: String,
        #[serde(default)]
        payload: Value,
    },
    Ping {
        id: Option<Value>,
    },
}

/// Reads a client message, or answers the error frame to send back (naming the message's `id`
/// when it had one).
pub fn parse_message(text: &str) -> Result<ClientMessage, String> {
    serde_json::from_str(text).map_err(|e| {
        let id = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
        error(
            id.as_deref(),
            "invalid_argument",
            &format!("not a message this server understands: {e}"),
        )
    })
}

fn error(id: Option<&str>, code: &str, message: &str) -> String {
    match id {
        Some(id) => json!({"type": "error", "id": id, "code": code, "message": message}),
        None => json!({"type": "error", "code": code, "message": message}),
    }
    .to_string()
}

/// An error about a channel names it, so a client knows which join or broadcast failed.
fn channel_error(channel: &str, code: &str, message: &str) -> String {
    json!({"type": "error", "channel": channel, "code": code, "message": message}).to_string()
}

fn error_of(id: Option<&str>, e: &Error) -> String {
    error(id, e.code().as_str(), e.message())
}

/// Runs a connection until it closes.
pub async fn run(rt: Realtime, socket: WebSocket, caller: Caller, token: Option<String>, ip: IpAddr) {
    let (queue, outgoing) = mpsc::channel::<String>(QUEUE);
    let conn = Arc::new(Conn {
        id: basalt_core::id::new_id(),
        ip,
        connected_at: basalt_core::Timestamp::now(),
        reader: RwLock::new(Reader::of(caller, ip)),
        queue,
        slow: AtomicBool::new(false),
        kill: Notify::new(),
    });
    METRICS.sockets.fetch_add(1, Ordering::Relaxed);
    rt.inspector.open(&conn);
    let mut session = Session {
        rt: rt.clone(),
        conn: conn.clone(),
        subscriptions: HashMap::new(),
        channels: HashMap::new(),
        token,
    };
    // A signed-out session or a disabled user ends the socket's rights too.
    let mut recheck = tokio::time::interval(rt.heartbeat.0);
    recheck.tick().await;
    let (sink, mut stream) = {
        use futures_util::StreamExt;
        socket.split()
    };
    let born = Instant::now();
    let heard = Arc::new(AtomicU64::new(0));
    // Writing has its own task, so handling a message (a snapshot, a replay)
    // never stops the queue from draining, and a stalled reader never stops
    // heartbeats or the slow-consumer close.
    let mut writer = tokio::spawn(write(
        conn.clone(),
        sink,
        outgoing,
        heard.clone(),
        born,
        rt.heartbeat,
    ));
    loop {
        use futures_util::StreamExt;
        tokio::select! {
            _ = &mut writer => break,
            _ = recheck.tick() => session.recheck().await,
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                heard.store(born.elapsed().as_millis() as u64, Ordering::Relaxed);
                match frame {
                    Message::Text(text) => {
                        METRICS.received.fetch_add(1, Ordering::Relaxed);
                        session.handle(text.as_str()).await;
                    }
                    Message::Binary(_) => conn.send(error(None, "invalid_argument", "messages are JSON text frames")),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
        }
    }
    writer.abort();
    session.close();
    rt.inspector.close(&conn.id);
    METRICS.sockets.fetch_sub(1, Ordering::Relaxed);
}

/// Tells a slow consumer why it is being closed, if it reads within a while.
async fn farewell(sink: &mut futures_util::stream::SplitSink<WebSocket, Message>) {
    use futures_util::SinkExt;
    let bye = async {
        let text = error(
            None,
            "slow_consumer",
            "this connection could not keep up with its messages",
        );
        sink.send(Message::Text(text.into())).await?;
        sink.send(Message::Close(Some(CloseFrame {
            code: 1008,
            reason: Utf8Bytes::from_static("slow consumer"),
        })))
        .await
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, bye).await;
}

/// Longest one frame may take to go out before the connection is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

async fn write(
    conn: Arc<Conn>,
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut outgoing: mpsc::Receiver<String>,
    heard: Arc<AtomicU64>,
    born: Instant,
    (ping_every, silent_for): (Duration, Duration),
) {
    use futures_util::SinkExt;
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    loop {
        let message = tokio::select! {
            biased;
            () = conn.kill.notified() => return farewell(&mut sink).await,
            m = outgoing.recv() => match m {
                Some(text) => {
                    METRICS.sent.fetch_add(1, Ordering::Relaxed);
                    Message::Text(text.into())
                }
                None => return,
            },
            _ = ping.tick() => {
                let silent = born.elapsed().saturating_sub(Duration::from_millis(heard.load(Ordering::Relaxed)));
                if silent >= silent_for {
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close(1001, "silent for too long"))).await;
                    return;
                }
                Message::Ping(Default::default())
            }
        };
        tokio::select! {
            r = tokio::time::timeout(SEND_TIMEOUT, sink.send(message)) => {
                if !matches!(r, Ok(Ok(()))) {
                    return;
                }
            }
            // The queue overflowed while this frame waited on the network.
            () = conn.kill.notified() => return farewell(&mut sink).await,
        }
    }
}

struct Session {
    rt: Realtime,
    conn: Arc<Conn>,
    subscriptions: HashMap<String, Arc<Subscription>>,
    /// Channels joined, with this member's presence.
    channels: HashMap<String, Value>,
    /// The token the caller came from, to check its session again.
    token: Option<String>,
}

impl Session {
    /// Checks the caller's token (and session) again; a refused one leaves
    /// the connection anonymous.
    async fn recheck(&mut self) {
        let Some(token) = &self.token else { return };
        if !matches!(self.conn.caller(), Caller::User(_)) {
            return;
        }
        if let Err(e) = self.rt.authenticate(token).await {
            self.token = None;
            self.conn.set_caller(Caller::Anonymous);
            self.conn.send(error(
                None,
                "unauthenticated",
                &format!(
                    "{}; the connection now acts as anonymous until it sends a new token with auth",
                    e.message()
                ),
            ));
        }
    }

    async fn handle(&mut self, text: &str) {
        let message = match parse_message(text) {
            Ok(m) => m,
            Err(frame) => return self.conn.send(frame),
        };
        match message {
            ClientMessage::Ping { id } => {
                let pong = match id {
                    Some(id) => json!({"type": "pong", "id": id}),
                    None => json!({"type": "pong"}),
                };
                self.conn.send(pong.to_string());
            }
            ClientMessage::Auth { token } => match self.rt.authenticate(&token).await {
                Ok(caller) => {
                    self.conn.set_caller(caller);
                    self.token = Some(token);
                    self.conn.send(json!({"type": "authenticated"}).to_string());
                }
                Err(e) => self.conn.send(error_of(None, &e)),
            },
            ClientMessage::Subscribe {
                id,
                collection,
                doc_id,
                filter,
                snapshot,
                resume_from,
            } => {
                if let Err(e) = self
                    .subscribe(&id, collection, doc_id, filter, snapshot, resume_from)
                    .await
                {
                    self.conn.send(error_of(Some(&id), &e));
                }
            }
            ClientMessage::Unsubscribe { id } => match self.subscriptions.remove(&id) {
                Some(sub) => {
                    self.rt.hub.remove(&sub);
                    self.conn
                        .send(json!({"type": "unsubscribed", "id": id}).to_string());
                }
                None => self
                    .conn
                    .send(error(Some(&id), "not_found", "no subscription with this id")),
            },
            ClientMessage::Join { channel, presence } => {
                let presence = presence.unwrap_or_else(|| json!({}));
                if !self.channels.contains_key(&channel) && self.channels.len() >= MAX_CHANNELS {
                    return self.conn.send(channel_error(
                        &channel,
                        "invalid_argument",
                        &format!("a connection joins at most {MAX_CHANNELS} channels"),
                    ));
                }
                match self
                    .rt
                    .channels
                    .join(&self.rt, &self.conn, &channel, presence.clone())
                    .await
                {
                    Ok(()) => {
                        self.channels.insert(channel, presence);
                    }
                    Err(e) => self
                        .conn
                        .send(channel_error(&channel, e.code().as_str(), e.message())),
                }
            }
            ClientMessage::Leave { channel } => {
                if self.channels.remove(&channel).is_some() {
                    self.rt.channels.leave(&self.conn, &channel);
                    self.conn
                        .send(json!({"type": "left", "channel": channel}).to_string());
                } else {
                    self.conn.send(channel_error(
                        &channel,
                        "not_found",
                        "this connection is not in that channel",
                    ));
                }
            }
            ClientMessage::Broadcast {
                channel,
                event,
                payload,
            } => {
                if !self.channels.contains_key(&channel) {
                    return self.conn.send(channel_error(
                        &channel,
                        "failed_precondition",
                        "join the channel before broadcasting on it",
                    ));
                }
                if let Err(e) = self
                    .rt
                    .channels
                    .broadcast(&self.rt, &self.conn, &channel, &event, payload)
                    .await
                {
                    self.conn
                        .send(channel_error(&channel, e.code().as_str(), e.message()));
                }
            }
        }
    }

    async fn subscribe(
        &mut self,
        id: &str,
        collection: String,
        doc_id: Option<String>,
        filter: Option<Value>,
        snapshot: bool,
        resume_from: Option<i64>,
    ) -> Result<(), Error> {
        if id.is_empty() || id.len() > 128 {
            return Err(Error::invalid_argument(
                "a subscription id is 1 to 128 characters",
            ));
        }
        if self.subscriptions.contains_key(id) {
            return Err(Error::already_exists(
                "a subscription with this id is live on this connection",
            ));
        }
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(Error::invalid_argument(format!(
                "a connection holds at most {MAX_SUBSCRIPTIONS} subscriptions"
            )));
        }
        let filter = match &filter {
            None | Some(Value::Null) => Filter::And(Vec::new()),
            Some(f) => Filter::parse(f)?,
        };
        let documents = &self.rt.documents;
        let caller = self.conn.caller();
        documents.check_subscribable(&collection, &caller).await?;
        if collection == ALL_COLLECTIONS && (doc_id.is_some() || snapshot) {
            return Err(Error::invalid_argument(
                "a subscription to every collection takes neither doc_id nor snapshot",
            ));
        }
        if let Some(d) = &doc_id {
            basalt_documents::live::check_id(d)?;
        }
        if let Some(r) = resume_from
            && !documents.retains_after(r).await?
        {
            self.conn.send(error(
                Some(id),
                "resync_required",
                "the changes after this seq are no longer retained; subscribe again with a snapshot",
            ));
            return Ok(());
        }
        let sub = Arc::new(Subscription {
            conn: self.conn.clone(),
            id: id.to_owned(),
            collection: collection.clone(),
            doc_id: doc_id.clone(),
            filter,
            state: std::sync::Mutex::new(State::Pending(Vec::new())),
        });
        // Registered first: every change committed from here on reaches it.
        self.rt.hub.add(sub.clone());
        self.subscriptions.insert(id.to_owned(), sub.clone());
        match self.start(&sub, snapshot, resume_from, &caller).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.rt.hub.remove(&sub);
                self.subscriptions.remove(id);
                Err(e)
            }
        }
    }

    /// Sends what comes before live changes (`subscribed`, and a snapshot or
    /// a replay), then turns the subscription live.
    async fn start(
        &self,
        sub: &Arc<Subscription>,
        snapshot: bool,
        resume_from: Option<i64>,
        caller: &Caller,
    ) -> Result<(), Error> {
        let documents = &self.rt.documents;
        let subscribed = |seq: i64| json!({"type": "subscribed", "id": sub.id, "seq": seq}).to_string();
        let start = if let Some(from) = resume_from {
            self.conn.send_wait(subscribed(from)).await;
            // Replay what was missed, then go on from there.
            let mut at = from;
            loop {
                let missed = documents.changes_after(at, MAX_REPLAY).await?;
                let Some(last) = missed.last().map(|c| c.seq) else {
                    break;
                };
                for c in &missed {
                    let concerns = (c.collection == sub.collection || sub.collection == ALL_COLLECTIONS)
                        && sub.doc_id.as_ref().is_none_or(|d| *d == c.id);
                    if concerns
                        && let Some(m) = deliver(documents, sub, c, &Event::of(documents, c).await).await
                    {
                        self.conn.send_wait(m).await;
                    }
                }
                at = last;
                if missed.len() < MAX_REPLAY {
                    break;
                }
            }
            at
        } else if snapshot {
            let (docs, seq) = documents
                .snapshot(
                    &sub.collection,
                    &sub.filter,
                    sub.doc_id.as_deref(),
                    caller,
                    self.conn.ip,
                )
                .await?;
            self.conn.send_wait(subscribed(seq)).await;
            let docs: Vec<Value> = docs
                .iter()
                .filter_map(|d| d.to_json(&sub.collection).ok())
                .filter_map(|j| serde_json::from_str(&j).ok())
                .collect();
            self.conn
                .send_wait(
                    json!({"type": "snapshot", "id": sub.id, "documents": docs, "seq": seq}).to_string(),
                )
                .await;
            seq
        } else {
            // Read before `subscribed` goes out: every change after that message is newer.
            let seq = documents.last_seq().await?;
            self.conn.send_wait(subscribed(seq)).await;
            seq
        };
        // Live from `start`: what waited and is newer goes out first, in
        // order; the subscription turns live only once nothing waits, so
        // fan-out cannot overtake it.
        let mut after = start;
        loop {
            let waiting = {
                let mut state = sub.state.lock().unwrap_or_else(|e| e.into_inner());
                match &mut *state {
                    State::Pending(w) if w.is_empty() => {
                        *state = State::Live { after };
                        break;
                    }
                    State::Pending(w) => std::mem::take(w),
                    State::Live { .. } => break,
                }
            };
            for c in &waiting {
                if c.seq > after {
                    if let Some(m) = deliver(documents, sub, c, &Event::of(documents, c).await).await {
                        self.conn.send_wait(m).await;
                    }
                    after = c.seq;
                }
            }
        }
        Ok(())
    }

    fn close(&mut self) {
        for (_, sub) in self.subscriptions.drain() {
            self.rt.hub.remove(&sub);
        }
        for (channel, _) in self.channels.drain() {
            self.rt.channels.leave(&self.conn, &channel);
        }
    }
}
