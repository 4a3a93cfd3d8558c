//! The shapes of the server's realtime messages, published in the OpenAPI
//! document (`RealtimeServerMessage`) so clients can generate their types.
//! The socket writes them directly (a change around the stored JSON of its
//! document); these types describe what it writes.

#![allow(dead_code)]

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde_json::Value;

/// A message from the server on `/v1/realtime`.
#[derive(JsonSchema)]
#[schemars(rename = "RealtimeServerMessage")]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The subscription is live: every change after `seq` reaches it.
    Subscribed {
        id: String,
        seq: i64,
    },
    /// The matching documents when the subscription asked for a snapshot.
    Snapshot {
        id: String,
        documents: Vec<Value>,
        seq: i64,
    },
    /// One committed change, in commit order. `delete` carries the last
    /// document; a document that enters the subscription's view arrives as
    /// `create`, one that leaves it as `delete`.
    Change {
        id: String,
        op: ChangeOp,
        document: Value,
        seq: i64,
    },
    /// Nothing for this subscription at or before `seq` is still to come:
    /// `resume_from: seq` is a valid position. Sent every 30 s at most (and
    /// at least four times per change retention) while the feed moves on.
    Checkpoint {
        id: String,
        seq: i64,
    },
    Unsubscribed {
        id: String,
    },
    /// A new token from `auth` is in effect.
    Authenticated {},
    /// Joined a channel; `presence` is every member's state by member id.
    Joined {
        channel: String,
        member_id: String,
        presence: BTreeMap<String, Value>,
    },
    Left {
        channel: String,
    },
    /// Members who joined, changed their state, or left.
    Presence {
        channel: String,
        joins: BTreeMap<String, Value>,
        leaves: BTreeMap<String, Value>,
    },
    Broadcast {
        channel: String,
        event: String,
        payload: Value,
        /// The sender's member id.
        from: String,
    },
    Pong {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
    },
    /// `code` from the API's error table, or `slow_consumer`,
    /// `resync_required`; `id` names the subscription, `channel` the channel.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        code: String,
        message: String,
    },
}

#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Create,
    Update,
    Delete,
}
