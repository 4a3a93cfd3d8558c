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

#[derive(Default)]
pub struct Channels {
    members: Mutex<HashMap<String, HashMap<String, Member>>>,
    rules: RwLock<Option<(Instant, Arc<Vec<Compiled>>)>>,
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
    if pattern.trim_end_matches('*').contains('*') {
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
        let mut all = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let members = all.entry(channel.to_owned()).or_default();
        members.insert(
            conn.id.clone(),
            Member {
                conn: conn.clone(),
                presence: presence.clone(),
            },
        );
        let everyone: serde_json::Map<String, Value> = members
            .iter()
            .map(|(id, m)| (id.clone(), m.presence.clone()))
            .collect();
        conn.send(
            json!({"type": "joined", "channel": channel, "member_id": conn.id, "presence": everyone})
                .to_string(),
        );
        let joins = json!({"type": "presence", "channel": channel, "joins": {conn.id.clone(): presence}, "leaves": {}})
            .to_string();
        for (id, m) in members.iter() {
            if *id != conn.id {
                m.conn.send(joins.clone());
            }
        }
        Ok(())
    }

    pub fn leave(&self, conn: &Conn, channel: &str) {
        let mut all = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let Some(members) = all.get_mut(channel) else {
            return;
        };
        let Some(gone) = members.remove(&conn.id) else {
            return;
        };
        let leaves = json!({"type": "presence", "channel": channel, "joins": {}, "leaves": {conn.id.clone(): gone.presence}})
            .to_string();
        for m in members.values() {
            m.conn.send(leaves.clone());
        }
        if members.is_empty() {
            all.remove(channel);
        }
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
        self.allowed(rt, conn, channel, "broadcast", &payload).await?;
        let message = json!({"type": "broadcast", "channel": channel, "event": event, "payload": payload, "from": conn.id})
            .to_string();
        let all = self.members.lock().unwrap_or_else(|e| e.into_inner());
        for (id, m) in all.get(channel).into_iter().flatten() {
            if *id != conn.id {
                m.conn.send(message.clone());
            }
        }
        Ok(())
    }
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

async fn put_rules(
    _: AdminCaller,
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
    db.execute(
        "INSERT INTO channel_rules (pattern, join_rule, broadcast_rule, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (pattern) DO UPDATE SET join_rule = excluded.join_rule, broadcast_rule = excluded.broadcast_rule, updated_at = excluded.updated_at",
        &[
            Param::Text(&pattern),
            body.join.as_deref().into(),
            body.broadcast.as_deref().into(),
            now.into(),
        ],
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
    _: AdminCaller,
    State(rt): State<Realtime>,
    Path(pattern): Path<String>,
) -> Result<StatusCode, Error> {
    let n = rt
        .documents
        .db()
        .execute(
            "DELETE FROM channel_rules WHERE pattern = $1",
            &[Param::Text(&pattern)],
        )
        .await?;
    rt.channels.forget_rules();
    if n == 0 {
        return Err(Error::not_found(format!("no rules for the pattern `{pattern}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}
