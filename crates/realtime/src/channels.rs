//! Broadcast channels with presence, and their rules per channel pattern.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{Json, Path};
use basalt_core::{AdminCaller, Caller, Error, Timestamp};
use basalt_rules::{Rule, RuleContext, auth_value, json_value, request_value};
use basalt_store::Param;
use basalt_store::audit::{self, Actor, Change};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Realtime;
use crate::socket::Conn;

/// How long another node's change to channel rules may go unseen here.
const RULES_TTL: Duration = Duration::from_secs(2);

/// The rules of a channel pattern, as stored and shown.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChannelRules {
    /// `room:1` (one channel) or `room:*` (every channel starting with `room:`).
    pub pattern: String,
    /// Who may join; missing denies.
    pub join: Option<String>,
    /// Who may broadcast; missing denies.
    pub broadcast: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutChannelRules {
    join: Option<String>,
    broadcast: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ChannelRulesList {
    channels: Vec<ChannelRules>,
}

struct Compiled {
    pattern: String,
    join: Option<Rule>,
    broadcast: Option<Rule>,
}

struct Member {
    conn: Arc<Conn>,
    presence: Value,
}

/// A member connected to another node, as last announced.
struct Remote {
    presence: Value,
    seen: Instant,
}

/// Largest presence or broadcast payload that crosses nodes (a PostgreSQL
/// notification carries at most 8000 bytes).
pub const MAX_RELAYED: usize = 7000;
/// Nodes re-announce their members this often; a member not heard of for
/// three rounds (its node died) leaves.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(30);
const REMOTE_TTL: Duration = Duration::from_secs(90);

pub struct Channels {
    members: Mutex<HashMap<String, HashMap<String, Member>>>,
    remote: Mutex<HashMap<String, HashMap<String, Remote>>>,
    rules: RwLock<Option<(Instant, Arc<Vec<Compiled>>)>>,
    /// This process, in messages to other nodes.
    node: String,
    /// Messages to other nodes (PostgreSQL only).
    relay: Option<tokio::sync::mpsc::Sender<String>>,
}

impl Channels {
    pub fn new(relay: Option<tokio::sync::mpsc::Sender<String>>) -> Channels {
        Channels {
            members: Mutex::default(),
            remote: Mutex::default(),
            rules: RwLock::default(),
            node: basalt_core::id::new_id(),
            relay,
        }
    }
}

/// A channel member as the inspector shows it.
pub struct Listed {
    pub member: String,
    pub presence: Value,
    /// Connected to this node (else to another, as it last announced).
    pub here: bool,
}

impl Channels {
    /// This node's id in messages to other nodes.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Every channel with a member anywhere, by name, with its members.
    pub fn listing(&self) -> std::collections::BTreeMap<String, Vec<Listed>> {
        let mut out: std::collections::BTreeMap<String, Vec<Listed>> = Default::default();
        {
            let all = self.members.lock().unwrap_or_else(|e| e.into_inner());
            for (channel, members) in all.iter() {
                let list = out.entry(channel.clone()).or_default();
                list.extend(members.iter().map(|(id, m)| Listed {
                    member: id.clone(),
                    presence: m.presence.clone(),
                    here: true,
                }));
            }
        }
        let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
        for (channel, members) in remote.iter() {
            let list = out.entry(channel.clone()).or_default();
            list.extend(members.iter().map(|(id, r)| Listed {
                member: id.clone(),
                presence: r.presence.clone(),
                here: false,
            }));
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| a.member.cmp(&b.member));
        }
        out
    }
}

pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a channel name is 1 to 128 printable ASCII characters without spaces",
        ))
    }
}

fn check_pattern(pattern: &str) -> Result<(), Error> {
    check_name(pattern)?;
    if pattern.strip_suffix('*').unwrap_or(pattern).contains('*') {
        return Err(Error::invalid_argument("`*` may only end a channel pattern"));
    }
    Ok(())
}

fn covers(pattern: &str, channel: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => channel.starts_with(prefix),
        None => pattern == channel,
    }
}

impl Channels {
    async fn compiled(&self, rt: &Realtime) -> Result<Arc<Vec<Compiled>>, Error> {
        if let Some((at, rules)) = &*self.rules.read().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < RULES_TTL
        {
            return Ok(rules.clone());
        }
        let rows = rt
            .documents
            .db()
            .fetch_all(
                "SELECT pattern, join_rule, broadcast_rule FROM channel_rules",
                &[],
            )
            .await?;
        let mut list = Vec::with_capacity(rows.len());
        for r in rows {
            let compile = |s: Option<String>| -> Result<Option<Rule>, Error> {
                s.map(|s| rt.engine.compile(&s).map_err(Error::from)).transpose()
            };
            list.push(Compiled {
                pattern: r.text(0)?,
                join: compile(r.opt_text(1)?)?,
                broadcast: compile(r.opt_text(2)?)?,
            });
        }
        // The most specific pattern first: exact names, then longer prefixes.
        list.sort_by_key(|c| (c.pattern.ends_with('*'), std::cmp::Reverse(c.pattern.len())));
        let list = Arc::new(list);
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), list.clone()));
        Ok(list)
    }

    fn forget_rules(&self) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// `join` or `broadcast` allowed? Without a matching pattern, any signed-in caller may.
    async fn allowed(
        &self,
        rt: &Realtime,
        conn: &Conn,
        channel: &str,
        operation: &str,
        data: &Value,
    ) -> Result<(), Error> {
        let caller = conn.caller();
        if caller.is_privileged() {
            return Ok(());
        }
        let rules = self.compiled(rt).await?;
        let Some(rules) = rules.iter().find(|c| covers(&c.pattern, channel)) else {
            return match caller {
                Caller::Anonymous => Err(Error::permission_denied(format!(
                    "sign in to {operation} on channels"
                ))),
                _ => Ok(()),
            };
        };
        let rule = if operation == "join" {
            &rules.join
        } else {
            &rules.broadcast
        };
        let denied = || {
            Error::permission_denied(format!(
                "the `{}` channel rules do not allow this {operation}",
                rules.pattern
            ))
        };
        let Some(rule) = rule else { return Err(denied()) };
        let ctx = RuleContext::new(
            auth_value(&caller),
            request_value("WS", Timestamp::now().millis(), &conn.ip.to_string(), operation),
        )
        .with_channel(channel)
        .with_data(json_value(data));
        let decision = rt.engine.evaluate(rule, &ctx, &rt.documents).await;
        if decision.allowed { Ok(()) } else { Err(denied()) }
    }

    pub async fn join(
        &self,
        rt: &Realtime,
        conn: &Arc<Conn>,
        channel: &str,
        presence: Value,
    ) -> Result<(), Error> {
        check_name(channel)?;
        self.allowed(rt, conn, channel, "join", &presence).await?;
        if self.relay.is_some() && presence.to_string().len() > MAX_RELAYED {
            return Err(Error::new(
                basalt_core::Code::PayloadTooLarge,
                format!("presence is at most {MAX_RELAYED} bytes of JSON"),
            ));
        }
        {
            let mut all = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let members = all.entry(channel.to_owned()).or_default();
            members.insert(
                conn.id.clone(),
                Member {
                    conn: conn.clone(),
                    presence: presence.clone(),
                },
            );
            let mut everyone: serde_json::Map<String, Value> = members
                .iter()
                .map(|(id, m)| (id.clone(), m.presence.clone()))
                .collect();
            let remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
            for (id, r) in remote.get(channel).into_iter().flatten() {
                everyone.insert(id.clone(), r.presence.clone());
            }
            conn.send(
                json!({"type": "joined", "channel": channel, "member_id": conn.id, "presence": everyone})
                    .to_string(),
            );
            let joins = presence_message(channel, Some((&conn.id, &presence)), None);
            for (id, m) in members.iter() {
                if *id != conn.id {
                    m.conn.send(joins.clone());
                }
            }
        }
        self.relay(json!({"k": "join", "c": channel, "m": conn.id, "p": presence}));
        Ok(())
    }

    pub fn leave(&self, conn: &Conn, channel: &str) {
        {
            let mut all = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let Some(members) = all.get_mut(channel) else {
                return;
            };
            let Some(gone) = members.remove(&conn.id) else {
                return;
            };
            let leaves = presence_message(channel, None, Some((&conn.id, &gone.presence)));
            for m in members.values() {
                m.conn.send(leaves.clone());
            }
            if members.is_empty() {
                all.remove(channel);
            }
        }
        self.relay(json!({"k": "leave", "c": channel, "m": conn.id}));
    }

    pub async fn broadcast(
        &self,
        rt: &Realtime,
        conn: &Arc<Conn>,
        channel: &str,
        event: &str,
        payload: Value,
    ) -> Result<(), Error> {
        if event.is_empty() || event.len() > 128 {
            return Err(Error::invalid_argument("`event` is 1 to 128 characters"));
        }
        if self.relay.is_some() && payload.to_string().len() > MAX_RELAYED {
            return Err(Error::new(
                basalt_core::Code::PayloadTooLarge,
                format!("a broadcast payload is at most {MAX_RELAYED} bytes of JSON"),
            ));
        }
        self.allowed(rt, conn, channel, "broadcast", &payload).await?;
        self.deliver_broadcast(channel, event, &payload, &conn.id);
        self.relay(json!({"k": "bc", "c": channel, "e": event, "p": payload, "m": conn.id}));
        Ok(())
    }

    fn deliver_broadcast(&self, channel: &str, event: &str, payload: &Value, from: &str) {
        let message = json!({"type": "broadcast", "channel": channel, "event": event, "payload": payload, "from": from})
            .to_string();
        let all = self.members.lock().unwrap_or_else(|e| e.into_inner());
        for (id, m) in all.get(channel).into_iter().flatten() {
            if id != from {
                m.conn.send(message.clone());
            }
        }
    }

    /// Tells the other nodes (PostgreSQL `NOTIFY`), if there are any.
    fn relay(&self, mut message: Value) {
        if let Some(relay) = &self.relay {
            message["n"] = Value::String(self.node.clone());
            // Bounded: a burst that outruns the database drops events for the
            // other nodes rather than growing without limit.
            if relay.try_send(message.to_string()).is_err() {
                tracing::warn!("too many channel events for other nodes; dropping one");
            }
        }
    }

    /// A message from another node.
    pub fn hear_from_other_node(&self, text: &str) {
        let Ok(m) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let str_of = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        if str_of("n") == self.node {
            return;
        }
        let (kind, channel, member) = (str_of("k"), str_of("c"), str_of("m"));
        match kind.as_str() {
            "join" | "here" => {
                let presence = m.get("p").cloned().unwrap_or_default();
                let is_new = {
                    let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
                    remote
                        .entry(channel.clone())
                        .or_default()
                        .insert(
                            member.clone(),
                            Remote {
                                presence: presence.clone(),
                                seen: Instant::now(),
                            },
                        )
                        .is_none_or(|old| old.presence != presence)
                };
                if is_new {
                    self.tell_locals(
                        &channel,
                        &presence_message(&channel, Some((&member, &presence)), None),
                    );
                }
                // A node that just joined learns who is here.
                if kind == "join" {
                    self.announce(Some(&channel));
                }
            }
            "leave" => {
                let gone = {
                    let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
                    remote.get_mut(&channel).and_then(|c| c.remove(&member))
                };
                if let Some(gone) = gone {
                    self.tell_locals(
                        &channel,
                        &presence_message(&channel, None, Some((&member, &gone.presence))),
                    );
                }
            }
            "bc" => {
                let payload = m.get("p").cloned().unwrap_or_default();
                self.deliver_broadcast(&channel, &str_of("e"), &payload, &member);
            }
            _ => {}
        }
    }

    fn tell_locals(&self, channel: &str, message: &str) {
        let all = self.members.lock().unwrap_or_else(|e| e.into_inner());
        for m in all.get(channel).into_iter().flatten().map(|(_, m)| m) {
            m.conn.send(message.to_owned());
        }
    }

    /// Re-announces this node's members (of one channel, or all) so other
    /// nodes keep them, and forgets remote members no node announced lately.
    pub fn announce(&self, only: Option<&str>) {
        let mine: Vec<(String, String, Value)> = {
            let all = self.members.lock().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .filter(|(c, _)| only.is_none_or(|o| o == c.as_str()))
                .flat_map(|(c, ms)| {
                    ms.iter()
                        .map(|(id, m)| (c.clone(), id.clone(), m.presence.clone()))
                })
                .collect()
        };
        for (c, id, p) in mine {
            self.relay(json!({"k": "here", "c": c, "m": id, "p": p}));
        }
        if only.is_none() {
            let expired: Vec<(String, String, Value)> = {
                let mut remote = self.remote.lock().unwrap_or_else(|e| e.into_inner());
                let mut out = Vec::new();
                for (c, members) in remote.iter_mut() {
                    members.retain(|id, r| {
                        let keep = r.seen.elapsed() < REMOTE_TTL;
                        if !keep {
                            out.push((c.clone(), id.clone(), r.presence.clone()));
                        }
                        keep
                    });
                }
                remote.retain(|_, m| !m.is_empty());
                out
            };
            for (c, id, p) in expired {
                self.tell_locals(&c, &presence_message(&c, None, Some((&id, &p))));
            }
        }
    }
}

fn presence_message(
    channel: &str,
    join: Option<(&String, &Value)>,
    leave: Option<(&String, &Value)>,
) -> String {
    let map = |x: Option<(&String, &Value)>| {
        let mut m = serde_json::Map::new();
        if let Some((id, p)) = x {
            m.insert(id.clone(), p.clone());
        }
        Value::Object(m)
    };
    json!({"type": "presence", "channel": channel, "joins": map(join), "leaves": map(leave)}).to_string()
}

// ---- admin API --------------------------------------------------------------

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Realtime: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("realtime").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/channels", list_rules))
                .summary("Channel rules, by pattern")
                .response::<ChannelRulesList>(200, "Every pattern's rules"),
        )
        .route(
            admin(Route::put("/v1/admin/channels/{pattern}", put_rules))
                .summary("Set the join and broadcast rules of a channel pattern (`room:*`)")
                .body::<PutChannelRules>()
                .response::<ChannelRules>(200, "The pattern's rules"),
        )
        .route(
            admin(Route::delete("/v1/admin/channels/{pattern}", delete_rules))
                .summary("Remove a pattern's rules")
                .empty(204, "Removed"),
        )
        .with_param(
            "pattern",
            json!({"type": "string", "pattern": r"^(?=[!-~]{1,128}$)[!-)+-~]*\*?$"}),
        )
}

fn rules_of(r: &basalt_store::Row) -> Result<ChannelRules, Error> {
    Ok(ChannelRules {
        pattern: r.text(0)?,
        join: r.opt_text(1)?,
        broadcast: r.opt_text(2)?,
        created_at: Timestamp::from_millis(r.int(3)?),
        updated_at: Timestamp::from_millis(r.int(4)?),
    })
}

const COLUMNS: &str = "pattern, join_rule, broadcast_rule, created_at, updated_at";

async fn list_rules(_: AdminCaller, State(rt): State<Realtime>) -> Result<Json<ChannelRulesList>, Error> {
    let rows = rt
        .documents
        .db()
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM channel_rules ORDER BY pattern"),
            &[],
        )
        .await?;
    Ok(Json(ChannelRulesList {
        channels: rows.iter().map(rules_of).collect::<Result<_, _>>()?,
    }))
}

/// A pattern's stored rules as JSON, for the audit log.
async fn stored_json(db: &basalt_store::Db, pattern: &str) -> Result<Option<String>, Error> {
    Ok(db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM channel_rules WHERE pattern = $1"),
            &[Param::Text(pattern)],
        )
        .await?
        .map(|r| rules_of(&r))
        .transpose()?
        .and_then(|r| serde_json::to_string(&r).ok()))
}

async fn put_rules(
    caller: AdminCaller,
    State(rt): State<Realtime>,
    Path(pattern): Path<String>,
    Json(body): Json<PutChannelRules>,
) -> Result<Json<ChannelRules>, Error> {
    check_pattern(&pattern)?;
    for rule in [&body.join, &body.broadcast].into_iter().flatten() {
        rt.engine.compile(rule)?;
    }
    let now = Timestamp::now().millis();
    let db = rt.documents.db();
    let before = stored_json(db, &pattern).await?;
    audit::execute(
        db,
        "INSERT INTO channel_rules (pattern, join_rule, broadcast_rule, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (pattern) DO UPDATE SET join_rule = excluded.join_rule, broadcast_rule = excluded.broadcast_rule, updated_at = excluded.updated_at",
        &[
            Param::Text(&pattern),
            body.join.as_deref().into(),
            body.broadcast.as_deref().into(),
            now.into(),
        ],
        Actor::of(&caller.0),
        Change {
            action: "channel.put",
            target: &pattern,
            before,
            after: Some(json!({"pattern": pattern, "join": body.join, "broadcast": body.broadcast}).to_string()),
        },
    )
    .await?;
    rt.channels.forget_rules();
    let row = db
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM channel_rules WHERE pattern = $1"),
            &[Param::Text(&pattern)],
        )
        .await?
        .ok_or_else(|| Error::internal("channel rules vanished"))?;
    Ok(Json(rules_of(&row)?))
}

async fn delete_rules(
    caller: AdminCaller,
    State(rt): State<Realtime>,
    Path(pattern): Path<String>,
) -> Result<StatusCode, Error> {
    let db = rt.documents.db();
    let before = stored_json(db, &pattern).await?;
    let n = audit::execute(
        db,
        "DELETE FROM channel_rules WHERE pattern = $1",
        &[Param::Text(&pattern)],
        Actor::of(&caller.0),
        Change {
            action: "channel.delete",
            target: &pattern,
            before,
            after: None,
        },
    )
    .await?;
    rt.channels.forget_rules();
    if n == 0 {
        return Err(Error::not_found(format!("no rules for the pattern `{pattern}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}
