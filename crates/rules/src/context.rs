//! Turning callers, documents and requests into the values rules see.
//! Values are read-only, and each evaluation works on its own copy, so no
//! rule can change what the next run or the next rule sees.

use basalt_core::Caller;
use rhai::{Dynamic, ImmutableString, Map};
use serde_json::Value;

/// The variables one evaluation sees. Absent ones are `()`.
#[derive(Clone, Default)]
pub struct RuleContext {
    pub auth: Dynamic,
    pub doc: Dynamic,
    pub data: Dynamic,
    pub request: Dynamic,
    pub collection: Dynamic,
    pub object: Dynamic,
    /// Realtime channel rules: the channel's name.
    pub channel: Dynamic,
}

impl RuleContext {
    pub fn new(auth: Dynamic, request: Dynamic) -> Self {
        RuleContext {
            auth,
            request,
            ..Default::default()
        }
    }
    pub fn with_collection(mut self, name: &str) -> Self {
        self.collection = Dynamic::from(ImmutableString::from(name));
        self
    }
    pub fn with_doc(mut self, doc: Dynamic) -> Self {
        self.doc = doc;
        self
    }
    pub fn with_data(mut self, data: Dynamic) -> Self {
        self.data = data;
        self
    }
    pub fn with_object(mut self, object: Dynamic) -> Self {
        self.object = object;
        self
    }
    pub fn with_channel(mut self, name: &str) -> Self {
        self.channel = Dynamic::from(ImmutableString::from(name));
        self
    }
}

/// Any JSON value as a (read-only) rule value.
pub fn json_value(value: &Value) -> Dynamic {
    match rhai::serde::to_dynamic(value) {
        Ok(d) => frozen(d),
        Err(_) => Dynamic::UNIT,
    }
}

/// Read-only: what a variable of a rule holds. Not shared (reference-counted): a rule that
/// added a property to a shared `auth` left it there for the next evaluation, and the script
/// engine panicked when a script changed a copy of a map holding a shared value (both found by
/// `fuzz/`).
fn frozen(value: Dynamic) -> Dynamic {
    value.into_read_only()
}

/// `auth`: `()` for anonymous callers, else `#{uid, role, email,
/// email_verified, anonymous, aal, claims}`.
pub fn auth_value(caller: &Caller) -> Dynamic {
    let mut map = Map::new();
    match caller {
        Caller::Anonymous => return Dynamic::UNIT,
        Caller::User(u) => {
            map.insert("uid".into(), u.uid.as_str().into());
            map.insert("role".into(), u.role.as_str().into());
            map.insert(
                "email".into(),
                u.email.as_deref().map_or(Dynamic::UNIT, |e| e.into()),
            );
            map.insert("email_verified".into(), u.email_verified.into());
            map.insert(
                "anonymous".into(),
                (u.role == basalt_core::caller::UserRole::AnonymousUser).into(),
            );
            map.insert("aal".into(), rhai::INT::from(u.aal).into());
            map.insert("claims".into(), json_value(&Value::Object(u.claims.clone())));
        }
        Caller::Admin(a) => {
            map.insert("uid".into(), a.id.as_str().into());
            map.insert("role".into(), "admin".into());
            map.insert("email".into(), a.email.as_str().into());
        }
        Caller::Service(k) => {
            map.insert("uid".into(), k.key_id.as_str().into());
            map.insert("role".into(), "service".into());
        }
    }
    frozen(Dynamic::from_map(map))
}

/// `doc`: `#{id, version, created_at, updated_at, data}`, times in ms since the epoch.
pub fn doc_value(id: &str, version: i64, created_at_ms: i64, updated_at_ms: i64, data: &Value) -> Dynamic {
    let mut map = Map::new();
    map.insert("id".into(), id.into());
    map.insert("version".into(), version.into());
    map.insert("created_at".into(), created_at_ms.into());
    map.insert("updated_at".into(), updated_at_ms.into());
    map.insert("data".into(), json_value(data));
    frozen(Dynamic::from_map(map))
}

/// `doc` from the stored JSON text of its data, read straight into rule
/// values (no JSON tree in between).
pub fn doc_value_from_text(
    id: &str,
    version: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
    data: &str,
) -> Dynamic {
    let mut map = Map::new();
    map.insert("id".into(), id.into());
    map.insert("version".into(), version.into());
    map.insert("created_at".into(), created_at_ms.into());
    map.insert("updated_at".into(), updated_at_ms.into());
    let data = serde_json::from_str::<Dynamic>(data).map_or(Dynamic::UNIT, frozen);
    map.insert("data".into(), data);
    frozen(Dynamic::from_map(map))
}

/// `request`: `#{method, time, ip, operation}`, `time` in ms since the epoch.
pub fn request_value(method: &str, time_ms: i64, ip: &str, operation: &str) -> Dynamic {
    let mut map = Map::new();
    map.insert("method".into(), method.into());
    map.insert("time".into(), time_ms.into());
    map.insert("ip".into(), ip.into());
    map.insert("operation".into(), operation.into());
    frozen(Dynamic::from_map(map))
}
