//! Firebase Cloud Messaging, HTTP v1: a service account's RS256 assertion
//! is exchanged for an OAuth2 access token at its `token_uri` (cached until
//! a minute before it ends), and each device gets a `messages:send`.

use std::path::Path;

use basalt_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Answer, Device, Message, Urgency};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The fields of a service account's JSON key that sending needs.
#[derive(Deserialize)]
struct ServiceAccount {
    project_id: String,
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

pub(crate) struct Fcm {
    project_id: String,
    client_email: String,
    key_id: Option<String>,
    key: jsonwebtoken::EncodingKey,
    token_uri: String,
    send_url: String,
    http: reqwest::Client,
    /// The access token and when it ends (ms); one exchange at a time.
    token: tokio::sync::Mutex<Option<(String, i64)>>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    expires_in: Option<i64>,
}

/// The `message` of a `messages:send` for `token`.
fn body(token: &str, message: &Message) -> Value {
    let n = &message.notification;
    // FCM's data is a map of strings: strings as they are, others as JSON.
    let mut data = Map::new();
    for (k, v) in n.data.iter().flatten() {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        data.insert(k.clone(), Value::String(text));
    }
    if let Some(url) = &n.url {
        data.insert("url".into(), Value::String(url.clone()));
    }
    data.insert("push_id".into(), Value::String(message.id.clone()));
    let priority = match message.urgency {
        Urgency::High | Urgency::Normal => "HIGH",
        Urgency::Low | Urgency::VeryLow => "NORMAL",
    };
    json!({"message": {
        "token": token,
        "notification": {"title": n.title, "body": n.body},
        "data": data,
        "android": {"ttl": format!("{}s", message.ttl), "priority": priority},
    }})
}

/// How big a message is, as FCM counts it (its notification and data).
pub(crate) fn payload_len(message: &Message) -> usize {
    let b = body("", message);
    b["message"]["notification"].to_string().len() + b["message"]["data"].to_string().len()
}

impl Fcm {
    pub fn load(path: &Path, base: &str, http: reqwest::Client) -> Result<Fcm, String> {
        let what = |e: &dyn std::fmt::Display| format!("push_fcm_credentials_file {}: {e}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| what(&e))?;
        let account: ServiceAccount = serde_json::from_str(&text).map_err(|e| what(&e))?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|_| what(&"`private_key` is not an RSA private key in PEM"))?;
        let ok_id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_id(&account.project_id) {
            return Err(what(&"`project_id` is not a project id"));
        }
        if !(account.token_uri.starts_with("https://") || account.token_uri.starts_with("http://")) {
            return Err(what(&"`token_uri` is not an URL"));
        }
        Ok(Fcm {
            send_url: format!(
                "{}/v1/projects/{}/messages:send",
                base.trim_end_matches('/'),
                account.project_id
            ),
            project_id: account.project_id,
            client_email: account.client_email,
            key_id: account.private_key_id,
            key,
            token_uri: account.token_uri,
            http,
            token: tokio::sync::Mutex::new(None),
        })
    }

    async fn access_token(&self) -> Result<String, String> {
        let mut held = self.token.lock().await;
        let now = Timestamp::now().millis();
        if let Some((token, until)) = held.as_ref()
            && *until > now
        {
            return Ok(token.clone());
        }
        let iat = now / 1000;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = jsonwebtoken::encode(
            &header,
            &Assertion {
                iss: &self.client_email,
                scope: SCOPE,
                aud: &self.token_uri,
                iat,
                exp: iat + 3600,
            },
            &self.key,
        )
        .map_err(|_| "the FCM assertion could not be signed".to_owned())?;
        let res = self
            .http
            .post(&self.token_uri)
            .form(&[("grant_type", GRANT), ("assertion", assertion.as_str())])
            .send()
            .await
            .map_err(|e| format!("the FCM token exchange failed: {}", basalt_net::describe(e)))?;
        let status = res.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(format!(
                "the FCM token exchange answered {status}: {}",
                crate::answer_text(res).await
            ));
        }
        let token: Token = res
            .json()
            .await
            .map_err(|_| "the FCM token exchange answered no token".to_owned())?;
        // A minute before it ends, exchange again.
        let life = token.expires_in.unwrap_or(3600).clamp(60, 24 * 3600);
        *held = Some((token.access_token.clone(), now + (life - 60) * 1000));
        Ok(token.access_token)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    pub async fn send(&self, device: &Device, message: &Message) -> Answer {
        let token = match self.access_token().await {
            Ok(t) => t,
            Err(e) => return Answer::Retry(None, e),
        };
        let sent = self
            .http
            .post(&self.send_url)
            .bearer_auth(token)
            .json(&body(&device.address, message))
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => return Answer::Retry(None, basalt_net::describe(e)),
        };
        let status = res.status().as_u16();
        if (200..300).contains(&status) {
            return Answer::Sent(status);
        }
        let text = crate::answer_text(res).await;
        let code = fcm_error_code(&text);
        match (status, code.as_deref()) {
            (404, _) | (_, Some("UNREGISTERED")) => Answer::Gone(
                status,
                format!("FCM answered {status} UNREGISTERED: the app was removed or the token expired"),
            ),
            // The token was refused (revoked, or the key rotated): exchange again.
            (401, _) => {
                self.forget_token().await;
                Answer::Retry(
                    Some(status),
                    format!("FCM answered 401 for project {}: {text}", self.project_id),
                )
            }
            (s, _) if crate::retryable(s) => Answer::Retry(Some(s), format!("FCM answered {s}: {text}")),
            (s, _) => Answer::Refused(Some(s), format!("FCM answered {s}: {text}")),
        }
    }
}

/// The `errorCode` of an FCM error's `FcmError` detail.
fn fcm_error_code(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    v["error"]["details"]
        .as_array()?
        .iter()
        .find_map(|d| d["errorCode"].as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read() {
        let gone = r#"{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
        assert_eq!(fcm_error_code(gone).as_deref(), Some("UNREGISTERED"));
        assert_eq!(fcm_error_code("not json"), None);
    }
}
