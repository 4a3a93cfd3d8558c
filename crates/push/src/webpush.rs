//! Web Push: a POST to the browser's push service (RFC 8030) with the
//! payload encrypted for the browser's key (RFC 8291, `aes128gcm`, by the
//! `web-push-native` crate) and a VAPID token (RFC 8292) signed with the
//! server's P-256 key, made once and kept sealed like the other server keys.

use std::collections::HashMap;
use std::sync::Mutex;

use basalt_core::{Error, Timestamp};
use basalt_store::Db;
use base64::Engine as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;

use crate::{Answer, Device, Message};

pub(crate) const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// What a browser's base64url may carry: padded or not.
const B64URL_LAX: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);
/// The server key the VAPID key pair is made from.
const KEY_NAME: &str = "vapid_key";
/// How long a VAPID token is valid (RFC 8292 allows 24 h).
const TOKEN_LIFE_S: i64 = 12 * 3600;
/// A cached token is made again this long before it ends.
const TOKEN_MARGIN_S: i64 = 3600;

/// The size of the single `aes128gcm` record a payload of `len` bytes
/// becomes: the 86-byte header (salt, record size, the sender's key), the
/// payload, its delimiter and the 16-byte tag.
pub(crate) fn record_len(len: usize) -> usize {
    86 + len + 1 + 16
}

/// The server's VAPID key pair and its tokens per push service origin.
pub(crate) struct Vapid {
    db: Db,
    subject: String,
    key: tokio::sync::OnceCell<Key>,
    tokens: Mutex<HashMap<String, (String, i64)>>,
}

struct Key {
    signing: jsonwebtoken::EncodingKey,
    /// The uncompressed public point, base64url: `applicationServerKey`.
    public: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    exp: i64,
    sub: &'a str,
}

impl Vapid {
    pub fn new(db: Db, subject: String) -> Vapid {
        Vapid {
            db,
            subject,
            key: tokio::sync::OnceCell::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    async fn load(&self) -> Result<&Key, Error> {
        self.key
            .get_or_try_init(|| async {
                let bytes = basalt_store::vault::server_key(&self.db, KEY_NAME).await?;
                // 32 random bytes are a valid P-256 scalar but for odds of about 2^-32.
                let secret = p256::SecretKey::from_slice(&bytes)
                    .map_err(|_| Error::internal("the VAPID key is not a P-256 key"))?;
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|_| Error::internal("the VAPID key does not encode"))?;
                let public = secret.public_key().as_affine().to_encoded_point(false);
                Ok(Key {
                    signing: jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
                    public: B64URL.encode(public.as_bytes()),
                })
            })
            .await
    }

    /// The public key a browser subscribes with.
    pub async fn key(&self) -> Result<String, Error> {
        Ok(self.load().await?.public.clone())
    }

    /// `vapid t=<token>,k=<public key>` for the push service at `origin`.
    async fn authorization(&self, origin: &str) -> Result<String, Error> {
        let key = self.load().await?;
        let now = Timestamp::now().seconds();
        if let Some((token, exp)) = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(origin)
            && *exp - TOKEN_MARGIN_S > now
        {
            return Ok(format!("vapid t={token},k={}", key.public));
        }
        let exp = now + TOKEN_LIFE_S;
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        let claims = Claims {
            aud: origin,
            exp,
            sub: &self.subject,
        };
        let token = jsonwebtoken::encode(&header, &claims, &key.signing)
            .map_err(|_| Error::internal("the VAPID token could not be signed"))?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() > 1000 {
            tokens.clear();
        }
        tokens.insert(origin.to_owned(), (token.clone(), exp));
        Ok(format!("vapid t={token},k={}", key.public))
    }
}

/// The browser's key and auth secret, checked: a P-256 point and 16 bytes.
pub(crate) fn keys(p256dh: &str, auth: &str) -> Result<(p256::PublicKey, web_push_native::Auth), String> {
    let point = B64URL_LAX
        .decode(p256dh)
        .map_err(|_| "`keys.p256dh` is not base64url".to_owned())?;
    let public = p256::PublicKey::from_sec1_bytes(&point)
        .map_err(|_| "`keys.p256dh` is not a P-256 public key".to_owned())?;
    let secret = B64URL_LAX
        .decode(auth)
        .map_err(|_| "`keys.auth` is not base64url".to_owned())?;
    if secret.len() != 16 {
        return Err("`keys.auth` must be 16 bytes".into());
    }
    let mut auth = web_push_native::Auth::default();
    auth.copy_from_slice(&secret);
    Ok((public, auth))
}

pub(crate) async fn send(
    web: &basalt_net::Client,
    vapid: &Vapid,
    device: &Device,
    message: &Message,
) -> Answer {
    let url = match web.check(&device.address) {
        Ok(url) => url,
        Err(e) => return Answer::Refused(None, format!("the endpoint is refused: {e}")),
    };
    let (public, auth) = match keys(
        device.p256dh.as_deref().unwrap_or(""),
        device.auth.as_deref().unwrap_or(""),
    ) {
        Ok(k) => k,
        Err(e) => return Answer::Refused(None, e),
    };
    // Two P-256 operations (about 0.25 ms): off the async workers, so a
    // send to many devices does not hold up requests.
    let payload = message.web_payload();
    let body =
        match tokio::task::spawn_blocking(move || web_push_native::encrypt(payload, &public, &auth)).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Answer::Refused(None, format!("the payload could not be encrypted: {e}")),
            Err(_) => return Answer::Retry(None, "the encryption did not finish".into()),
        };
    let origin = url.origin().ascii_serialization();
    let authorization = match vapid.authorization(&origin).await {
        Ok(a) => a,
        Err(e) => return Answer::Retry(None, e.message().to_owned()),
    };
    let sent = web
        .http
        .post(url)
        .header("authorization", authorization)
        .header("ttl", message.ttl.to_string())
        .header("urgency", message.urgency.as_str())
        .header("content-encoding", "aes128gcm")
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => return Answer::Retry(None, basalt_net::describe(e)),
    };
    let status = res.status().as_u16();
    match status {
        200..=299 => Answer::Sent(status),
        404 | 410 => Answer::Gone(
            status,
            format!("the push service answered {status}: the subscription ended"),
        ),
        s if crate::retryable(s) => Answer::Retry(
            Some(s),
            format!("answered {s}: {}", crate::answer_text(res).await),
        ),
        s if (300..400).contains(&s) => {
            Answer::Refused(Some(s), format!("answered {s}; redirects are not followed"))
        }
        s => Answer::Refused(
            Some(s),
            format!("answered {s}: {}", crate::answer_text(res).await),
        ),
    }
}
