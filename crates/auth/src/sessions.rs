//! Sign-in sessions: an access JWT plus an opaque refresh token
//! (`<session id>.<counter>.<secret>`) that rotates on every refresh.
//! Only SHA-256 of each refresh secret is stored. Presenting a refresh token
//! older than the newest revokes the whole session (reuse detection).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use basalt_core::{Error, Timestamp};
use basalt_store::Param;
use basalt_store::audit::{self, Actor, Change};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Auth;
use crate::tokens::{AccessClaims, USER_AUDIENCE, lifetime};
use crate::users::{self, User};

/// A replay of the token just rotated away, within this window, is refused
/// without revoking the session: two tabs refreshing at once is not theft.
const REUSE_GRACE_MS: i64 = 10_000;
/// How many past refresh tokens of a session are remembered for reuse detection.
const KEPT_TOKENS: i64 = 20;

/// The session object of API.md, returned by every sign-in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionTokens {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `POST /v1/auth/refresh`. Single use.
    pub refresh_token: String,
    pub user: User,
}

/// Where a sign-in came from, kept with the session.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Origin {
    /// The request's `User-Agent` and client address.
    pub fn of(headers: &axum::http::HeaderMap, ip: std::net::IpAddr) -> Origin {
        Origin {
            user_agent: headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ip: Some(ip.to_string()),
        }
    }
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A refresh failure with its machine-readable `details.reason`:
/// `invalid`, `ended`, `already_used` (a concurrent refresh won; adopt its
/// session) or `reused` (the session was revoked as a precaution).
fn refusal(reason: &str, message: &'static str) -> Error {
    Error::unauthenticated(message).with_details(serde_json::json!({ "reason": reason }))
}

fn invalid() -> Error {
    refusal("invalid", "invalid refresh token")
}

/// Signs an access token for `user` in session `sid`.
pub fn access_token(auth: &Auth, user: &User, sid: &str, aal: u8) -> Result<(String, u64), Error> {
    let ttl = auth.inner.access_token_ttl;
    let (iat, exp) = lifetime(ttl);
    let claims = AccessClaims {
        iss: auth.issuer().to_owned(),
        aud: USER_AUDIENCE.to_owned(),
        sub: user.id.clone(),
        sid: sid.to_owned(),
        role: if user.anonymous {
            "anonymous_user"
        } else {
            "authenticated"
        }
        .to_owned(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        aal,
        claims: user.claims.clone(),
        iat,
        exp,
    };
    Ok((auth.keys().sign(&claims)?, ttl.as_secs()))
}

/// Starts a session for `user` (who must not be disabled).
pub async fn start(auth: &Auth, user: User, aal: u8, origin: &Origin) -> Result<SessionTokens, Error> {
    if user.disabled {
        return Err(Error::permission_denied("this account is disabled"));
    }
    let sid = basalt_core::id::new_id();
    let secret = basalt_core::secret::random_hex(32);
    let now = Timestamp::now().millis();
    let mut tx = auth.db().begin().await?;
    tx.execute(
        "INSERT INTO sessions (id, user_id, aal, user_agent, ip, refresh_counter, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        &[
            (&sid).into(),
            (&user.id).into(),
            i64::from(aal).into(),
            origin.user_agent.as_deref().map(|ua| truncate(ua, 512)).into(),
            origin.ip.as_deref().into(),
            now.into(),
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO refresh_tokens (session_id, counter, secret_hash, created_at) VALUES ($1, 0, $2, $3)",
        &[(&sid).into(), Param::Bytes(&hash(&secret)), now.into()],
    )
    .await?;
    let mut fields = serde_json::Map::new();
    fields.insert(
        "user".into(),
        serde_json::to_value(&user).map_err(Error::internal)?,
    );
    fields.insert("session_id".into(), sid.as_str().into());
    fields.insert("aal".into(), aal.into());
    let queued = basalt_store::outbox::emit(&mut tx, auth.db().outbox(), "auth.login", fields).await?;
    tx.commit().await?;
    if queued {
        auth.db().outbox().ring();
    }
    let (access_token, expires_in) = access_token(auth, &user, &sid, aal)?;
    Ok(SessionTokens {
        access_token,
        token_type: "bearer",
        expires_in,
        refresh_token: format!("{sid}.0.{secret}"),
        user,
    })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Splits a refresh token as Basalt issues it, `{session id}.{counter}.{secret}`: a 26-character
/// id, the counter in decimal without a sign or leading zeros, 64 lowercase hex digits. Any other spelling
/// is not a token (so one token has one spelling).
pub fn parse_refresh_token(presented: &str) -> Option<(&str, i64, &str)> {
    let mut parts = presented.splitn(3, '.');
    let (sid, counter, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let canonical = |c: &str| {
        !c.is_empty()
            && c.len() <= 18
            && c.bytes().all(|b| b.is_ascii_digit())
            && (c == "0" || !c.starts_with('0'))
    };
    if !basalt_core::secret::is_token_part(sid, secret) || !canonical(counter) {
        return None;
    }
    Some((sid, counter.parse().ok()?, secret))
}

/// Exchanges a refresh token for a new session object.
pub async fn refresh(auth: &Auth, presented: &str) -> Result<SessionTokens, Error> {
    let (sid, counter, secret) = parse_refresh_token(presented).ok_or_else(invalid)?;
    let now = Timestamp::now().millis();
    let mut tx = auth.db().begin().await?;
    let row = tx
        .fetch_optional(
            "SELECT s.user_id, s.aal, s.refresh_counter, s.revoked_at, t.secret_hash,
                    (SELECT n.created_at FROM refresh_tokens n WHERE n.session_id = s.id AND n.counter = t.counter + 1)
             FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id AND t.counter = $2
             WHERE s.id = $1",
            &[sid.into(), counter.into()],
        )
        .await?;
    let Some(row) = row else { return Err(invalid()) };
    let stored = row.bytes(4)?;
    if !bool::from(hash(secret).as_slice().ct_eq(stored.as_slice())) {
        return Err(invalid());
    }
    if row.opt_int(3)?.is_some() {
        return Err(refusal("ended", "this session has ended"));
    }
    let current = row.int(2)?;
    if counter < current {
        let replaced_at = row.opt_int(5)?;
        if counter == current - 1 && replaced_at.is_some_and(|at| now - at < REUSE_GRACE_MS) {
            return Err(refusal("already_used", "refresh token already used"));
        }
        tx.execute(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2",
            &[now.into(), sid.into()],
        )
        .await?;
        tx.commit().await?;
        auth.inner.active_sessions.forget(sid);
        tracing::warn!(session = sid, "refresh token reused: session revoked");
        return Err(refusal("reused", "refresh token reused: the session is revoked"));
    }
    let user_id = row.text(0)?;
    let aal = u8::try_from(row.int(1)?).unwrap_or(1);
    let next = counter + 1;
    let fresh = basalt_core::secret::random_hex(32);
    tx.execute(
        "INSERT INTO refresh_tokens (session_id, counter, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
        &[sid.into(), next.into(), Param::Bytes(&hash(&fresh)), now.into()],
    )
    .await
    .map_err(|e| match e {
        // A concurrent refresh with the same token got there first.
        basalt_store::StoreError::UniqueViolation => refusal("already_used", "refresh token already used"),
        e => e.into(),
    })?;
    // Reuse is detected for the last KEPT_TOKENS tokens; older ones are simply invalid.
    tx.execute(
        "DELETE FROM refresh_tokens WHERE session_id = $1 AND counter < $2",
        &[sid.into(), (next - KEPT_TOKENS).into()],
    )
    .await?;
    let moved = tx
        .execute(
            "UPDATE sessions SET refresh_counter = $1, last_used_at = $2 WHERE id = $3 AND refresh_counter = $4",
            &[next.into(), now.into(), sid.into(), counter.into()],
        )
        .await?;
    if moved != 1 {
        return Err(refusal("already_used", "refresh token already used"));
    }
    let record = users::by_id_tx(&mut tx, &user_id).await?.ok_or_else(invalid)?;
    if record.user.disabled {
        return Err(Error::permission_denied("this account is disabled")
            .with_details(serde_json::json!({"reason": "disabled"})));
    }
    tx.commit().await?;
    let (access_token, expires_in) = access_token(auth, &record.user, sid, aal)?;
    Ok(SessionTokens {
        access_token,
        token_type: "bearer",
        expires_in,
        refresh_token: format!("{sid}.{next}.{fresh}"),
        user: record.user,
    })
}

/// Ends one session of `user_id`; false when there was no such live session.
pub async fn revoke(auth: &Auth, user_id: &str, sid: &str) -> Result<bool, Error> {
    revoke_with(auth, user_id, sid, None).await
}

/// [`revoke`], recorded in the audit log in the same transaction.
pub async fn revoke_recorded(
    auth: &Auth,
    user_id: &str,
    sid: &str,
    actor: Actor<'_>,
    change: Change<'_>,
) -> Result<bool, Error> {
    revoke_with(auth, user_id, sid, Some((actor, change))).await
}

async fn revoke_with(
    auth: &Auth,
    user_id: &str,
    sid: &str,
    audit: Option<(Actor<'_>, Change<'_>)>,
) -> Result<bool, Error> {
    let n = write(
        auth,
        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        &[Timestamp::now().millis().into(), sid.into(), user_id.into()],
        audit,
    )
    .await?;
    auth.inner.active_sessions.forget(sid);
    Ok(n == 1)
}

/// Ends every session of `user_id` except `keep`.
pub async fn revoke_all(auth: &Auth, user_id: &str, keep: Option<&str>) -> Result<(), Error> {
    revoke_all_with(auth, user_id, keep, None).await
}

/// Ends every session of `user_id`, recorded in the audit log in the same
/// transaction (nothing is recorded when there was no session).
pub async fn revoke_all_recorded(
    auth: &Auth,
    user_id: &str,
    actor: Actor<'_>,
    change: Change<'_>,
) -> Result<(), Error> {
    revoke_all_with(auth, user_id, None, Some((actor, change))).await
}

async fn revoke_all_with(
    auth: &Auth,
    user_id: &str,
    keep: Option<&str>,
    audit: Option<(Actor<'_>, Change<'_>)>,
) -> Result<(), Error> {
    write(
        auth,
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        &[
            Timestamp::now().millis().into(),
            user_id.into(),
            keep.unwrap_or("").into(),
        ],
        audit,
    )
    .await?;
    auth.inner.active_sessions.forget_user(user_id);
    Ok(())
}

/// One write, with its audit record in the same transaction when given.
async fn write(
    auth: &Auth,
    sql: &str,
    params: &[Param<'_>],
    audit: Option<(Actor<'_>, Change<'_>)>,
) -> Result<u64, Error> {
    Ok(match audit {
        Some((actor, change)) => audit::execute(auth.db(), sql, params, actor, change).await?,
        None => auth.db().execute(sql, params).await?,
    })
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

pub async fn list(auth: &Auth, user_id: &str, current: &str) -> Result<Vec<SessionInfo>, Error> {
    let rows = auth
        .db()
        .fetch_all(
            "SELECT id, created_at, last_used_at, user_agent, ip FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 100",
            &[user_id.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let id = r.text(0)?;
            Ok(SessionInfo {
                current: id == current,
                id,
                created_at: Timestamp::from_millis(r.int(1)?),
                last_used_at: Timestamp::from_millis(r.int(2)?),
                user_agent: r.opt_text(3)?,
                ip: r.opt_text(4)?,
            })
        })
        .collect()
}

/// Which sessions are live, remembered briefly so that checking an access
/// token costs a database read at most once per session per few seconds.
/// A revocation on this node takes effect at once; on other nodes within
/// `TTL`.
pub struct ActiveSessions {
    seen: Mutex<HashMap<String, (String, Instant)>>,
}

const TTL: Duration = Duration::from_secs(5);

impl Default for ActiveSessions {
    fn default() -> Self {
        ActiveSessions {
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl ActiveSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn forget(&self, sid: &str) {
        self.lock().remove(sid);
    }

    pub fn forget_user(&self, user_id: &str) {
        self.lock().retain(|_, (uid, _)| uid != user_id);
    }

    /// Whether session `sid` of `user_id` is live and its user enabled.
    pub async fn check(&self, auth: &Auth, sid: &str, user_id: &str) -> Result<bool, Error> {
        if let Some((uid, at)) = self.lock().get(sid)
            && at.elapsed() < TTL
        {
            return Ok(uid == user_id);
        }
        let row = auth
            .db()
            .fetch_optional(
                "SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.id = $1 AND s.revoked_at IS NULL AND u.disabled = $2",
                &[sid.into(), false.into()],
            )
            .await?;
        let Some(row) = row else {
            self.forget(sid);
            return Ok(false);
        };
        let uid = row.text(0)?;
        let mut seen = self.lock();
        if seen.len() > 100_000 {
            seen.retain(|_, (_, at)| at.elapsed() < TTL);
        }
        seen.insert(sid.to_owned(), (uid.clone(), Instant::now()));
        Ok(uid == user_id)
    }
}
