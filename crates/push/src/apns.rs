//! Apple Push Notification service: HTTP/2 with token auth, an ES256 JWT
//! made from the team's `.p8` key (kept 40 minutes: Apple refuses tokens
//! older than an hour and ones made more often than every 20 minutes).

use std::path::Path;
use std::sync::Mutex;

use basalt_core::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{Answer, Device, Message, Urgency};

/// How long one provider token is used.
const TOKEN_LIFE_S: i64 = 40 * 60;

pub(crate) struct Apns {
    key: jsonwebtoken::EncodingKey,
    key_id: String,
    team_id: String,
    base: String,
    http: reqwest::Client,
    token: Mutex<Option<(String, i64)>>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

/// The JSON body APNs gets: the alert in `aps`, the app's `data`, `url`
/// and the send's id beside it.
pub(crate) fn payload(message: &Message) -> Vec<u8> {
    let n = &message.notification;
    let mut body = json!({"aps": {"alert": {"title": n.title, "body": n.body}}, "push_id": message.id});
    if let Some(d) = &n.data {
        body["data"] = Value::Object(d.clone());
    }
    if let Some(u) = &n.url {
        body["url"] = Value::String(u.clone());
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A device token: hexadecimal (64 characters today).
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    if !(32..=200).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("an APNs `token` is 32 to 200 hexadecimal characters".into());
    }
    Ok(())
}

/// The app's bundle id, which APNs calls the topic.
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty()
        || topic.len() > 255
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err("an APNs `topic` is the app's bundle id: letters, digits, `.` and `-`".into());
    }
    Ok(())
}

impl Apns {
    pub fn load(
        path: &Path,
        key_id: &str,
        team_id: &str,
        base: &str,
        http: reqwest::Client,
    ) -> Result<Apns, String> {
        let pem = std::fs::read(path).map_err(|e| format!("push_apns_key_file {}: {e}", path.display()))?;
        let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).map_err(|_| {
            format!(
                "push_apns_key_file {}: not a P-256 private key in PEM (the .p8 file from Apple)",
                path.display()
            )
        })?;
        let ok = |s: &str| (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok(key_id) || !ok(team_id) {
            return Err("push_apns_key_id and push_apns_team_id are Apple's 10-character ids".into());
        }
        Ok(Apns {
            key,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            http,
            token: Mutex::new(None),
        })
    }

    fn provider_token(&self) -> Result<String, String> {
        let now = Timestamp::now().seconds();
        let mut held = self.token.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, made)) = held.as_ref()
            && now - made < TOKEN_LIFE_S
        {
            return Ok(token.clone());
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(
            &header,
            &Claims {
                iss: &self.team_id,
                iat: now,
            },
            &self.key,
        )
        .map_err(|_| "the APNs token could not be signed".to_owned())?;
        *held = Some((token.clone(), now));
        Ok(token)
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub async fn send(&self, device: &Device, message: &Message) -> Answer {
        let Some(topic) = device.topic.as_deref() else {
            return Answer::Refused(None, "the device has no APNs topic".into());
        };
        let token = match self.provider_token() {
            Ok(t) => t,
            Err(e) => return Answer::Refused(None, e),
        };
        let expiration = if message.ttl == 0 {
            0
        } else {
            Timestamp::now().seconds() + i64::from(message.ttl)
        };
        let priority = match message.urgency {
            Urgency::High | Urgency::Normal => "10",
            Urgency::Low => "5",
            Urgency::VeryLow => "1",
        };
        let sent = self
            .http
            .post(format!("{}/3/device/{}", self.base, device.address))
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", topic)
            .header("apns-push-type", "alert")
            .header("apns-expiration", expiration.to_string())
            .header("apns-priority", priority)
            .header("content-type", "application/json")
            .body(payload(message))
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => return Answer::Retry(None, basalt_net::describe(e)),
        };
        let status = res.status().as_u16();
        if status == 200 {
            return Answer::Sent(status);
        }
        let text = crate::answer_text(res).await;
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_default();
        match (status, reason.as_str()) {
            (410, _) | (400, "BadDeviceToken") => Answer::Gone(
                status,
                format!("APNs answered {status} {reason}: the token is no longer valid"),
            ),
            (403, "ExpiredProviderToken") => {
                self.forget_token();
                Answer::Retry(Some(status), "APNs answered 403 ExpiredProviderToken".into())
            }
            (s, _) if crate::retryable(s) => Answer::Retry(Some(s), format!("APNs answered {s} {reason}")),
            (s, _) => Answer::Refused(Some(s), format!("APNs answered {s} {reason}")),
        }
    }
}
