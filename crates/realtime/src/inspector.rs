//! `GET /v1/admin/realtime`: what the dashboard's realtime inspector shows —
//! this node's open connections with their callers, subscriptions and
//! channels, and every channel's presence across the nodes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, State};
use basalt_core::api::{Access, Api, Route};
use basalt_core::extract::{Json, Query};
use basalt_core::{Error, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Realtime;
use crate::socket::Conn;

/// This node's open connections, by id.
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<String, Arc<Conn>>>,
}

impl Connections {
    pub fn open(&self, conn: &Arc<Conn>) {
        self.lock().insert(conn.id.clone(), conn.clone());
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectQuery {
    /// Most connections and most channels listed, 1 to 1000, default 200.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
pub struct Inspection {
    /// The node that answered; connections are this node's, presence is every node's.
    node: String,
    /// Open connections on this node (all of them, also past `limit`).
    sockets: i64,
    /// The longest-open first.
    connections: Vec<ConnectionInfo>,
    /// Channels with at least one member, by name.
    channels: Vec<ChannelInfo>,
    /// More connections or channels than `limit` exist.
    truncated: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct ConnectionInfo {
    /// Also its member id in channels.
    id: String,
    /// `anon`, `user`, `admin` or `service`, as the connection last authenticated.
    caller: &'static str,
    /// The user's, admin's or key's id.
    caller_id: Option<String>,
    email: Option<String>,
    ip: String,
    connected_at: Timestamp,
    subscriptions: Vec<SubscriptionInfo>,
    /// Channels it has joined.
    channels: Vec<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SubscriptionInfo {
    /// The client's name for it.
    id: String,
    /// `*` for every collection.
    collection: String,
    doc_id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ChannelInfo {
    name: String,
    members: Vec<MemberInfo>,
}

#[derive(Serialize, JsonSchema)]
pub struct MemberInfo {
    /// The member's connection id.
    id: String,
    presence: Value,
    /// Connected to the node that answered; else to another node, as it last announced.
    here: bool,
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Realtime: FromRef<S>,
{
    Api::new().route(
        Route::get("/v1/admin/realtime", inspect)
            .tag("realtime")
            .access(Access::Admin)
            .summary("Open realtime connections of this node, and channels with their presence")
            .query::<InspectQuery>()
            .response::<Inspection>(200, "Connections and channels"),
    )
}

async fn inspect(
    State(rt): State<Realtime>,
    Query(q): Query<InspectQuery>,
) -> Result<Json<Inspection>, Error> {
    let limit = q.limit.unwrap_or(200) as usize;
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1000"));
    }
    let mut open: Vec<Arc<Conn>> = rt.inspector.lock().values().cloned().collect();
    open.sort_by(|a, b| (a.connected_at, &a.id).cmp(&(b.connected_at, &b.id)));
    let sockets = open.len() as i64;
    let mut truncated = open.len() > limit;
    open.truncate(limit);

    let mut subscriptions = rt.hub.by_connection();
    let listing = rt.channels.listing();
    let mut joined: HashMap<&str, Vec<String>> = HashMap::new();
    for (channel, members) in &listing {
        for m in members.iter().filter(|m| m.here) {
            joined.entry(m.member.as_str()).or_default().push(channel.clone());
        }
    }
    let connections = open
        .iter()
        .map(|conn| {
            let caller = conn.peek_caller();
            let (kind, id) = caller.log_identity();
            let email = match &caller {
                basalt_core::Caller::User(u) => u.email.clone(),
                basalt_core::Caller::Admin(a) => Some(a.email.clone()),
                _ => None,
            };
            let mut subs: Vec<SubscriptionInfo> = subscriptions
                .remove(&conn.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(id, collection, doc_id)| SubscriptionInfo {
                    id,
                    collection,
                    doc_id,
                })
                .collect();
            subs.sort_by(|a, b| a.id.cmp(&b.id));
            ConnectionInfo {
                id: conn.id.clone(),
                caller: kind,
                caller_id: id.map(str::to_owned),
                email,
                ip: conn.ip.to_string(),
                connected_at: conn.connected_at,
                subscriptions: subs,
                channels: joined.remove(conn.id.as_str()).unwrap_or_default(),
            }
        })
        .collect();
    truncated |= listing.len() > limit;
    let channels = listing
        .into_iter()
        .take(limit)
        .map(|(name, members)| ChannelInfo {
            name,
            members: members
                .into_iter()
                .map(|m| MemberInfo {
                    id: m.member,
                    presence: m.presence,
                    here: m.here,
                })
                .collect(),
        })
        .collect();
    Ok(Json(Inspection {
        node: rt.channels.node().to_owned(),
        sockets,
        connections,
        channels,
        truncated,
    }))
}
