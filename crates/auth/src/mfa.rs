//! TOTP multi-factor authentication (RFC 6238: HMAC-SHA1, 6 digits, 30 s)
//! with single-use recovery codes.

use axum::extract::{FromRef, State};
use axum::http::HeaderMap;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, OptionalJson};
use basalt_core::rate_limit::RateLimiter;
use basalt_core::{Caller, Error, Secret, Timestamp};
use basalt_store::Param;
use basalt_store::audit::{self, Actor, Change};
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Auth;
use crate::one_time::{self, Kind};
use crate::sessions::{self, Origin, SessionTokens};
use crate::users::{self, User};
use basalt_core::url::encode_component;

const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
const RECOVERY_CODES: usize = 10;

/// The 6-digit code for time step `step`.
pub fn totp(secret: &[u8], step: i64) -> u32 {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(DIGITS)
}

/// The step `code` matches within one step of `now` (clock skew), if any.
fn matching_step(secret: &[u8], code: &str, now_secs: i64) -> Option<i64> {
    let code: u32 = code
        .trim()
        .parse()
        .ok()
        .filter(|_| code.trim().len() == DIGITS as usize)?;
    let current = now_secs.div_euclid(STEP_SECS);
    let mut found = None;
    // Check every candidate so the time taken does not depend on which matched.
    for step in [current - 1, current, current + 1] {
        let candidate = totp(secret, step);
        if bool::from(candidate.to_be_bytes().ct_eq(&code.to_be_bytes())) {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(BASE32[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = BASE32.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

fn code_hash(code: &str) -> [u8; 32] {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    Sha256::digest(normalised.as_bytes()).into()
}

/// Whose second factor: a user's or an admin's. The scheme is the same;
/// each keeps its secret in its own table and its recovery codes in another.
#[derive(Clone, Copy)]
pub(crate) struct Holder {
    table: &'static str,
    codes: &'static str,
    key: &'static str,
}

pub(crate) const USER: Holder = Holder {
    table: "users",
    codes: "mfa_recovery_codes",
    key: "user_id",
};
pub(crate) const ADMIN: Holder = Holder {
    table: "admins",
    codes: "admin_mfa_recovery_codes",
    key: "admin_id",
};

/// A new secret and recovery codes for `label`, stored for `id` (replacing
/// an unconfirmed enrolment); MFA is on only once a code confirms it.
pub(crate) async fn enrol(auth: &Auth, holder: Holder, id: &str, label: &str) -> Result<Enrolment, Error> {
    let mut secret = [0u8; 20];
    basalt_core::secret::fill_random(&mut secret);
    let secret = base32(&secret);
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let hex = basalt_core::secret::random_hex(5);
            format!("{}-{}", &hex[..5], &hex[5..])
        })
        .collect();
    let Holder {
        table,
        codes: codes_table,
        key,
    } = holder;
    let stored = auth
        .db()
        .vault()
        .seal_text(&format!("{table}.mfa_secret"), &secret);
    let mut tx = auth.db().begin().await?;
    tx.execute(
        &format!("UPDATE {table} SET mfa_secret = $1, mfa_last_step = NULL, updated_at = $2 WHERE id = $3"),
        &[(&stored).into(), Timestamp::now().millis().into(), id.into()],
    )
    .await?;
    tx.execute(
        &format!("DELETE FROM {codes_table} WHERE {key} = $1"),
        &[id.into()],
    )
    .await?;
    for code in &codes {
        tx.execute(
            &format!("INSERT INTO {codes_table} ({key}, code_hash) VALUES ($1, $2)"),
            &[id.into(), Param::Bytes(&code_hash(code))],
        )
        .await?;
    }
    tx.commit().await?;
    let issuer = "Basalt";
    let otpauth_url = format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        encode_component(issuer),
        encode_component(label),
        encode_component(issuer)
    );
    Ok(Enrolment {
        secret,
        otpauth_url,
        recovery_codes: codes,
    })
}

/// Checks a TOTP code against the `secret` as stored (sealed or not) and
/// records its step so it cannot be replayed.
async fn accept_totp(auth: &Auth, holder: Holder, id: &str, secret: &str, code: &str) -> Result<bool, Error> {
    let secret = auth
        .db()
        .vault()
        .open_text(&format!("{}.mfa_secret", holder.table), secret)?;
    let key = base32_decode(&secret).ok_or_else(|| Error::internal("a stored MFA secret is not base32"))?;
    let Some(step) = matching_step(&key, code, Timestamp::now().seconds()) else {
        return Ok(false);
    };
    let n = auth
        .db()
        .execute(
            &format!(
                "UPDATE {} SET mfa_last_step = $1 WHERE id = $2 AND (mfa_last_step IS NULL OR mfa_last_step < $1)",
                holder.table
            ),
            &[step.into(), id.into()],
        )
        .await?;
    Ok(n == 1)
}

/// Turns MFA on after a code for the enrolled `secret` checks out.
/// With `audit`, the change is recorded in the same transaction.
pub(crate) async fn confirm_enrolment(
    auth: &Auth,
    holder: Holder,
    id: &str,
    secret: &str,
    code: &str,
    audit: Option<(Actor<'_>, Change<'_>)>,
) -> Result<(), Error> {
    if !accept_totp(auth, holder, id, secret, code).await? {
        return Err(Error::invalid_argument("the code is wrong or has expired"));
    }
    // Only the secret the code was checked against: a concurrent re-enrolment wins.
    let sql = format!(
        "UPDATE {} SET mfa_enabled = $1, updated_at = $2 WHERE id = $3 AND mfa_secret = $4",
        holder.table
    );
    let params = [
        true.into(),
        Timestamp::now().millis().into(),
        id.into(),
        secret.into(),
    ];
    let enabled = match audit {
        Some((actor, change)) => audit::execute(auth.db(), &sql, &params, actor, change).await?,
        None => auth.db().execute(&sql, &params).await?,
    };
    if enabled != 1 {
        return Err(Error::new(
            basalt_core::Code::Aborted,
            "MFA was enrolled again meanwhile; confirm the new secret",
        ));
    }
    Ok(())
}

/// Whether `code` is a current TOTP code or an unused recovery code (which
/// it then uses up).
pub(crate) async fn check_code(
    auth: &Auth,
    holder: Holder,
    id: &str,
    secret: &str,
    code: &str,
) -> Result<bool, Error> {
    Ok(accept_totp(auth, holder, id, secret, code).await?
        || auth
            .db()
            .execute(
                &format!(
                    "DELETE FROM {} WHERE {} = $1 AND code_hash = $2",
                    holder.codes, holder.key
                ),
                &[id.into(), Param::Bytes(&code_hash(code))],
            )
            .await?
            == 1)
}

/// Removes a TOTP secret and its recovery codes; with `audit`, recorded in
/// the same transaction.
pub(crate) async fn remove(
    auth: &Auth,
    holder: Holder,
    id: &str,
    audit: Option<(Actor<'_>, Change<'_>)>,
) -> Result<(), Error> {
    let mut tx = auth.db().begin().await?;
    if let Some((actor, change)) = audit {
        audit::record(&mut tx, actor, change).await?;
    }
    tx.execute(
        &format!(
            "UPDATE {} SET mfa_enabled = $1, mfa_secret = NULL, mfa_last_step = NULL, updated_at = $2 WHERE id = $3",
            holder.table
        ),
        &[false.into(), Timestamp::now().millis().into(), id.into()],
    )
    .await?;
    tx.execute(
        &format!("DELETE FROM {} WHERE {} = $1", holder.codes, holder.key),
        &[id.into()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    Api::new()
        .route(
            Route::post("/v1/auth/mfa/totp/enroll", enroll)
                .tag("auth")
                .access(Access::User)
                .summary("Start TOTP enrolment: a secret, its otpauth:// URL and recovery codes")
                .optional_body::<EnrolRequest>()
                .response::<Enrolment>(200, "Show the secret as a QR code; keep the recovery codes"),
        )
        .route(
            Route::post("/v1/auth/mfa/totp/confirm", confirm)
                .tag("auth")
                .access(Access::User)
                .summary("Confirm enrolment with a current code; MFA is then required at sign-in")
                .body::<CodeRequest>()
                .response::<User>(200, "The user, with mfa_enabled true"),
        )
        .route(
            Route::delete("/v1/auth/mfa/totp", disable)
                .tag("auth")
                .access(Access::User)
                .summary("Turn MFA off (needs a session verified with MFA, aal 2)")
                .response::<User>(200, "The user, with mfa_enabled false"),
        )
        .route(
            Route::post("/v1/auth/mfa/verify", verify)
                .tag("auth")
                .access(Access::Public)
                .summary("Finish a sign-in that answered mfa_required, with a TOTP or recovery code")
                .body::<VerifyRequest>()
                .response::<SessionTokens>(200, "A session with aal 2"),
        )
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Enrolment {
    /// Base32, for manual entry into an authenticator app.
    secret: String,
    otpauth_url: String,
    /// Each works once in place of a code. Shown only now.
    recovery_codes: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    code: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    mfa_token: Secret<String>,
    /// A 6-digit TOTP code or a recovery code.
    code: Secret<String>,
}

fn user_of(caller: &Caller) -> Result<&basalt_core::caller::UserIdentity, Error> {
    match caller {
        Caller::User(u) => Ok(u),
        _ => Err(Error::unauthenticated("this endpoint needs a signed-in user")),
    }
}

/// Proof that the caller holds the account (see `reauthenticate`).
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
struct EnrolRequest {
    /// Required when the account has a password; without one, a sign-in
    /// less than 10 minutes old is needed instead.
    current_password: Option<Secret<String>>,
}

async fn enroll(
    caller: Caller,
    State(auth): State<Auth>,
    OptionalJson(body): OptionalJson<EnrolRequest>,
) -> Result<Json<Enrolment>, Error> {
    let me = user_of(&caller)?;
    let record = users::by_id(auth.db(), &me.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    if record.user.mfa_enabled {
        return Err(Error::already_exists("MFA is already enabled for this account"));
    }
    if record.user.anonymous {
        return Err(Error::permission_denied("anonymous users cannot enable MFA"));
    }
    // Whoever turns MFA on can lock the holder out: a stolen access token
    // alone must not be enough.
    crate::user_routes::reauthenticate(
        &auth,
        &me.uid,
        &me.session_id,
        record.password_hash.as_deref(),
        body.current_password,
        "turn on MFA",
        "turn on MFA",
    )
    .await?;
    let label = record.user.email.unwrap_or_else(|| record.user.id.clone());
    enrol(&auth, USER, &me.uid, &label).await.map(Json)
}

async fn confirm(
    caller: Caller,
    State(auth): State<Auth>,
    Json(body): Json<CodeRequest>,
) -> Result<Json<User>, Error> {
    let me = user_of(&caller)?;
    auth.inner.login_limiter.check(&format!("mfa:user:{}", me.uid))?;
    let record = users::by_id(auth.db(), &me.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    if record.user.mfa_enabled {
        return Err(Error::already_exists("MFA is already enabled for this account"));
    }
    let secret = record
        .mfa_secret
        .ok_or_else(|| Error::invalid_argument("start with POST /v1/auth/mfa/totp/enroll"))?;
    confirm_enrolment(&auth, USER, &me.uid, &secret, &body.code, None).await?;
    let record = users::by_id(auth.db(), &me.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    Ok(Json(record.user))
}

async fn disable(caller: Caller, State(auth): State<Auth>) -> Result<Json<User>, Error> {
    let me = user_of(&caller)?;
    if me.aal < 2 {
        return Err(Error::permission_denied(
            "turning MFA off needs a session signed in with MFA (aal 2)",
        ));
    }
    reset(&auth, &me.uid, None).await?;
    let record = users::by_id(auth.db(), &me.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    Ok(Json(record.user))
}

/// Removes a user's TOTP secret and recovery codes (the user, or an admin
/// with `audit`).
pub async fn reset(auth: &Auth, user_id: &str, audit: Option<(Actor<'_>, Change<'_>)>) -> Result<(), Error> {
    remove(auth, USER, user_id, audit).await
}

async fn verify(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<VerifyRequest>,
) -> Result<Json<SessionTokens>, Error> {
    // The mfa_token is single use: a wrong code means signing in again, and
    // attempts are rate limited per address and per user on top.
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key("mfa:ip", ip))?;
    let redeemed = one_time::redeem(auth.db(), Kind::Mfa, body.mfa_token.expose())
        .await
        .map_err(|_| Error::unauthenticated("the MFA token is invalid or has expired; sign in again"))?;
    let user_id = redeemed
        .user_id
        .ok_or_else(|| Error::unauthenticated("the MFA token is invalid"))?;
    auth.inner.login_limiter.check(&format!("mfa:user:{user_id}"))?;
    let record = users::by_id(auth.db(), &user_id)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    let code = body.code.expose();
    let ok = match &record.mfa_secret {
        Some(secret) if record.user.mfa_enabled => check_code(&auth, USER, &user_id, secret, code).await?,
        _ => false,
    };
    if !ok {
        return Err(Error::unauthenticated("the code is wrong; sign in again"));
    }
    let origin = Origin::of(&headers, ip);
    sessions::start(&auth, record.user, 2, &origin).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 key, 8-digit values reduced to 6 digits.
        let key = b"12345678901234567890";
        for (time, expected) in [
            (59, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            assert_eq!(totp(key, time / 30), expected % 1_000_000, "t={time}");
        }
    }

    #[test]
    fn base32_round_trips() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32(bytes)).unwrap(), bytes);
        }
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert!(base32_decode("not base32!").is_none());
    }

    #[test]
    fn codes_match_within_one_step() {
        let key = b"12345678901234567890";
        let now = 1_700_000_000;
        let code = format!("{:06}", totp(key, now / 30 - 1));
        assert_eq!(matching_step(key, &code, now), Some(now / 30 - 1));
        let stale = format!("{:06}", totp(key, now / 30 - 3));
        assert_eq!(matching_step(key, &stale, now), None);
        assert_eq!(matching_step(key, "12345", now), None);
        assert_eq!(matching_step(key, "abcdef", now), None);
    }
}
