//! `/v1/auth/*`: sign-up, sign-in, sessions, the user's own account, and
//! the mail flows (verification, password reset, magic links).

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path};
use basalt_core::rate_limit::RateLimiter;
use basalt_core::{Caller, Error, Secret, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::email::Email;
use crate::mail::Mail;
use crate::one_time::{self, Kind};
use crate::sessions::{self, Origin, SessionInfo, SessionTokens};
use crate::users::{self, NewUser, User, check_profile, merge_patch};
use crate::{Auth, password};

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let public = |r: Route<S>| r.tag("auth").access(Access::Public);
    let user = |r: Route<S>| r.tag("auth").access(Access::User);
    Api::new()
        .route(
            public(Route::post("/v1/auth/signup", signup))
                .summary("Sign up with email and password")
                .body::<SignupRequest>()
                .response::<SessionTokens>(
                    201,
                    "Signed up and in (or `{user, session: null}` when email confirmation is required)",
                ),
        )
        .route(
            public(Route::post("/v1/auth/login", login))
                .summary("Sign in with email and password")
                .body::<LoginRequest>()
                .response::<SessionTokens>(
                    200,
                    "A session, or `{mfa_required: true, mfa_token}` when MFA is on",
                ),
        )
        .route(
            public(Route::post("/v1/auth/anonymous", anonymous))
                .summary("Sign in as a new anonymous user")
                .body::<Empty>()
                .response::<SessionTokens>(201, "A session of an anonymous user"),
        )
        .route(
            public(Route::post("/v1/auth/refresh", refresh))
                .summary("Exchange a refresh token for a new session (the old token stops working)")
                .body::<RefreshRequest>()
                .response::<SessionTokens>(200, "A new session"),
        )
        .route(
            user(Route::post("/v1/auth/logout", logout))
                .summary("End this session")
                .empty(204, "Signed out"),
        )
        .route(
            user(Route::get("/v1/auth/user", get_user))
                .summary("The signed-in user")
                .response::<User>(200, "The user"),
        )
        .route(
            user(Route::patch("/v1/auth/user", update_user))
                .summary("Update the signed-in user's email, password or profile data")
                .body::<UpdateUser>()
                .response::<User>(200, "The updated user"),
        )
        .route(
            user(Route::get("/v1/auth/sessions", list_sessions))
                .summary("The signed-in user's sessions")
                .response::<SessionList>(200, "Live sessions, newest first"),
        )
        .route(
            user(Route::delete("/v1/auth/sessions/{id}", delete_session))
                .summary("End one of the user's sessions")
                .empty(204, "Ended"),
        )
        .route(
            public(Route::post("/v1/auth/verify/send", send_verification))
                .summary("Mail an email-verification link (always 202)")
                .body::<EmailRequest>()
                .empty(202, "Accepted"),
        )
        .route(
            public(Route::post("/v1/auth/verify", verify))
                .summary("Confirm an email address with the mailed token")
                .body::<TokenRequest>()
                .response::<User>(200, "The user, with email_verified true"),
        )
        .route(
            public(Route::post("/v1/auth/password/forgot", forgot_password))
                .summary("Mail a password-reset link (always 202)")
                .body::<EmailRequest>()
                .empty(202, "Accepted"),
        )
        .route(
            public(Route::post("/v1/auth/password/reset", reset_password))
                .summary("Set a new password with the mailed token; ends every session")
                .body::<ResetRequest>()
                .response::<User>(200, "The user"),
        )
        .route(
            public(Route::post("/v1/auth/magic-link", magic_link))
                .summary("Mail a sign-in link (always 202)")
                .body::<MagicLinkRequest>()
                .empty(202, "Accepted"),
        )
        .route(
            public(Route::post("/v1/auth/magic-link/verify", magic_link_verify))
                .summary("Sign in with a mailed magic-link token")
                .body::<TokenRequest>()
                .response::<SessionTokens>(200, "A session"),
        )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: String,
    /// 8 to 256 characters.
    #[schemars(length(min = 8, max = 256))]
    password: Secret<String>,
    /// Initial profile data.
    #[serde(default)]
    data: Map<String, Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: String,
    password: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: Option<String>,
    #[schemars(length(min = 8, max = 256))]
    password: Option<Secret<String>>,
    /// Required to change an existing password.
    current_password: Option<Secret<String>>,
    /// A JSON Merge Patch (RFC 7396) of the profile data.
    data: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    token: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    token: Secret<String>,
    #[schemars(length(min = 8, max = 256))]
    password: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MagicLinkRequest {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: String,
    /// Where the mailed link leads; must be on an allowed origin.
    #[schemars(regex(pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+([/?#]\S*)?$"), extend("format" = "uri"))]
    redirect_to: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionList {
    pub(crate) sessions: Vec<SessionInfo>,
}

/// How recent a sign-in must be to change the email of a passwordless account.
const RECENT_SIGN_IN_MS: i64 = 10 * 60 * 1000;

/// Proves that the caller is the holder of the account, not merely someone
/// holding its access token: its password (`current_password`) when it has
/// one, else a sign-in less than 10 minutes old. `with_password` and
/// `passwordless` complete the refusal ("… to turn on MFA").
pub(crate) async fn reauthenticate(
    auth: &Auth,
    user_id: &str,
    session_id: &str,
    password_hash: Option<&str>,
    current_password: Option<Secret<String>>,
    with_password: &str,
    passwordless: &str,
) -> Result<(), Error> {
    if let Some(hash) = password_hash {
        let current = current_password.ok_or_else(|| {
            Error::invalid_argument(format!("`current_password` is required to {with_password}"))
        })?;
        auth.inner
            .login_limiter
            .check(&format!("reauth:user:{user_id}"))?;
        if !auth.hasher().verify(current, Some(hash.to_owned())).await? {
            return Err(Error::permission_denied("`current_password` is wrong"));
        }
        return Ok(());
    }
    let row = auth
        .db()
        .fetch_optional(
            "SELECT created_at FROM sessions WHERE id = $1",
            &[session_id.into()],
        )
        .await?;
    let signed_in_at = match row {
        Some(r) => r.int(0)?,
        None => 0,
    };
    if Timestamp::now().millis() - signed_in_at > RECENT_SIGN_IN_MS {
        return Err(Error::permission_denied(format!(
            "sign in again (within the last 10 minutes) to {passwordless}"
        )));
    }
    Ok(())
}

/// Spends one attempt of `what` for the client address and, if given, the email.
fn limit(auth: &Auth, what: &str, ip: std::net::IpAddr, email: Option<&Email>) -> Result<(), Error> {
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key(&format!("{what}:ip"), ip))?;
    if let Some(email) = email {
        auth.inner
            .login_limiter
            .check(&format!("{what}:email:{}", email.as_str()))?;
    }
    Ok(())
}

fn signed_in(caller: &Caller) -> Result<&basalt_core::caller::UserIdentity, Error> {
    match caller {
        Caller::User(u) => Ok(u),
        _ => Err(Error::unauthenticated("this endpoint needs a signed-in user")),
    }
}

async fn signup(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SignupRequest>,
) -> Result<(StatusCode, Json<Value>), Error> {
    let email = Email::parse(&body.email)?;
    password::validate(body.password.expose())?;
    check_profile(&body.data, "data")?;
    limit(&auth, "signup", ip, Some(&email))?;
    let hash = auth.hasher().hash(body.password).await?;
    let user = users::sign_up(
        &auth,
        NewUser {
            email: Some(email.as_str()),
            email_verified: false,
            password_hash: Some(&hash),
            anonymous: false,
            data: &body.data,
            claims: &Map::new(),
        },
    )
    .await?;
    if auth.inner.require_email_confirmation {
        mail_verification_later(&auth, user.id.clone(), email.as_str().to_owned());
        return Ok((StatusCode::CREATED, Json(json!({"user": user, "session": null}))));
    }
    let session = sessions::start(&auth, user, 1, &Origin::of(&headers, ip)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(session).map_err(Error::internal)?),
    ))
}

async fn login(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Json<Value>, Error> {
    let email = Email::parse(&body.email)?;
    limit(&auth, "login", ip, Some(&email))?;
    let record = users::by_email(auth.db(), email.as_str()).await?;
    let hash = record.as_ref().and_then(|r| r.password_hash.clone());
    let ok = auth.hasher().verify(body.password, hash).await?;
    let record = match record {
        Some(r) if ok => r,
        _ => return Err(Error::unauthenticated("invalid email or password")),
    };
    if record.user.disabled {
        return Err(Error::permission_denied("this account is disabled"));
    }
    if auth.inner.require_email_confirmation && !record.user.email_verified {
        return Err(Error::permission_denied(
            "confirm your email address before signing in",
        ));
    }
    if record.user.mfa_enabled {
        let token = one_time::issue(auth.db(), Kind::Mfa, Some(&record.user.id), None, None).await?;
        return Ok(Json(json!({"mfa_required": true, "mfa_token": token})));
    }
    let session = sessions::start(&auth, record.user, 1, &Origin::of(&headers, ip)).await?;
    Ok(Json(serde_json::to_value(session).map_err(Error::internal)?))
}

async fn anonymous(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(_): Json<Empty>,
) -> Result<(StatusCode, Json<SessionTokens>), Error> {
    limit(&auth, "anonymous", ip, None)?;
    let empty = Map::new();
    let user = users::insert(
        auth.db(),
        NewUser {
            email: None,
            email_verified: false,
            password_hash: None,
            anonymous: true,
            data: &empty,
            claims: &empty,
        },
    )
    .await?;
    let session = sessions::start(&auth, user, 1, &Origin::of(&headers, ip)).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

async fn refresh(
    State(auth): State<Auth>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<SessionTokens>, Error> {
    sessions::refresh(&auth, body.refresh_token.expose())
        .await
        .map(Json)
}

async fn logout(caller: Caller, State(auth): State<Auth>) -> Result<StatusCode, Error> {
    let user = signed_in(&caller)?;
    sessions::revoke(&auth, &user.uid, &user.session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_user(caller: Caller, State(auth): State<Auth>) -> Result<Json<User>, Error> {
    let user = signed_in(&caller)?;
    let record = users::by_id(auth.db(), &user.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    Ok(Json(record.user))
}

async fn update_user(
    caller: Caller,
    State(auth): State<Auth>,
    Json(body): Json<UpdateUser>,
) -> Result<Json<User>, Error> {
    let me = signed_in(&caller)?;
    let record = users::by_id(auth.db(), &me.uid)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such user"))?;
    let mut user = record.user;
    let read_at = user.updated_at.millis();
    let mut password_hash = record.password_hash;
    let mut password_changed = false;
    let mut email_changed = false;
    if let Some(patch) = &body.data {
        merge_patch(&mut user.data, patch);
        check_profile(&user.data, "data")?;
    }
    if let Some(p) = &body.password {
        password::validate(p.expose())?;
    }
    let new_email = match &body.email {
        Some(email) => Some(Email::parse(email)?).filter(|e| user.email.as_deref() != Some(e.as_str())),
        None => None,
    };
    // Changing the password or the email needs proof beyond the access
    // token: a stolen token alone cannot take over the account.
    if (body.password.is_some() || new_email.is_some()) && (password_hash.is_some() || !user.anonymous) {
        reauthenticate(
            &auth,
            &user.id,
            &me.session_id,
            password_hash.as_deref(),
            body.current_password,
            "change the password or email",
            "change the email or set a password",
        )
        .await?;
    }
    if let Some(new_password) = body.password {
        password_hash = Some(auth.hasher().hash(new_password).await?);
        password_changed = true;
    }
    if let Some(email) = new_email {
        user.email = Some(email.as_str().to_owned());
        user.email_verified = false;
        email_changed = true;
    }
    // An anonymous user with an email and a password is now a permanent user, same id.
    if user.anonymous && user.email.is_some() && password_hash.is_some() {
        user.anonymous = false;
    }
    user.updated_at = Timestamp::now();
    let data = Value::Object(user.data.clone()).to_string();
    auth.db()
        .execute(
            "UPDATE users SET email = $1, email_verified = $2, password_hash = $3, anonymous = $4, data = $5,
                              updated_at = $6 WHERE id = $7 AND updated_at = $8",
            &[
                user.email.as_deref().into(),
                user.email_verified.into(),
                password_hash.as_deref().into(),
                user.anonymous.into(),
                (&data).into(),
                user.updated_at.millis().into(),
                (&user.id).into(),
                read_at.into(),
            ],
        )
        .await
        .map_err(users::email_taken)
        .and_then(users::changed_once)?;
    if password_changed {
        sessions::revoke_all(&auth, &user.id, Some(&me.session_id)).await?;
    }
    if email_changed && let Some(email) = user.email.clone() {
        mail_verification_later(&auth, user.id.clone(), email);
    }
    Ok(Json(user))
}

async fn list_sessions(caller: Caller, State(auth): State<Auth>) -> Result<Json<SessionList>, Error> {
    let me = signed_in(&caller)?;
    Ok(Json(SessionList {
        sessions: sessions::list(&auth, &me.uid, &me.session_id).await?,
    }))
}

async fn delete_session(
    caller: Caller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let me = signed_in(&caller)?;
    if !sessions::revoke(&auth, &me.uid, &id).await? {
        return Err(Error::not_found("no such session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The link a mail carries: the app's page with the token in the query.
fn link(auth: &Auth, redirect_to: Option<&str>, kind: &str, token: &str) -> String {
    let base = redirect_to.unwrap_or(auth.site_url());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}type={kind}&token={token}")
}

async fn mail_verification(auth: &Auth, user_id: &str, email: &str) -> Result<(), Error> {
    let token = one_time::issue(auth.db(), Kind::Verify, Some(user_id), Some(email), None).await?;
    let text = format!(
        "Confirm your email address by opening this link:\n\n{}\n\nOr use this code: {token}\n\nIt works once, for 24 hours.",
        link(auth, None, "verify", &token)
    );
    let mail = Mail {
        to: email,
        subject: "Confirm your email address",
        text,
        token: Some(&token),
    };
    auth.mailer().send(auth.db(), mail).await
}

/// Mails a verification link in the background.
fn mail_verification_later(auth: &Auth, user_id: String, email: String) {
    let owned = auth.clone();
    auth.send_later(async move { mail_verification(&owned, &user_id, &email).await });
}

async fn send_verification(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<EmailRequest>,
) -> Result<StatusCode, Error> {
    let email = Email::parse(&body.email)?;
    limit(&auth, "verify", ip, Some(&email))?;
    // Everything that depends on whether the account exists happens after the answer.
    let owned = auth.clone();
    auth.send_later(async move {
        if let Some(record) = users::by_email(owned.db(), email.as_str()).await?
            && !record.user.email_verified
            && !record.user.disabled
        {
            mail_verification(&owned, &record.user.id, email.as_str()).await?;
        }
        Ok(())
    });
    Ok(StatusCode::ACCEPTED)
}

async fn verify(State(auth): State<Auth>, Json(body): Json<TokenRequest>) -> Result<Json<User>, Error> {
    let redeemed = one_time::redeem(auth.db(), Kind::Verify, body.token.expose()).await?;
    let (Some(user_id), Some(email)) = (redeemed.user_id, redeemed.email) else {
        return Err(Error::invalid_argument("the token is invalid or has expired"));
    };
    // Only the address the mail went to: a later email change needs its own confirmation.
    let n = auth
        .db()
        .execute(
            "UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3 AND email = $4",
            &[
                true.into(),
                Timestamp::now().millis().into(),
                (&user_id).into(),
                (&email).into(),
            ],
        )
        .await?;
    if n != 1 {
        return Err(Error::invalid_argument("the token is invalid or has expired"));
    }
    let record = users::by_id(auth.db(), &user_id)
        .await?
        .ok_or_else(|| Error::not_found("no such user"))?;
    Ok(Json(record.user))
}

async fn forgot_password(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<EmailRequest>,
) -> Result<StatusCode, Error> {
    let email = Email::parse(&body.email)?;
    limit(&auth, "forgot", ip, Some(&email))?;
    let owned = auth.clone();
    auth.send_later(async move {
        let Some(record) = users::by_email(owned.db(), email.as_str()).await? else { return Ok(()) };
        if record.user.disabled {
            return Ok(());
        }
        let token = one_time::issue(owned.db(), Kind::Reset, Some(&record.user.id), Some(email.as_str()), None).await?;
        let text = format!(
            "Someone asked to reset the password of this account. To choose a new one, open:\n\n{}\n\nOr use this code: {token}\n\nIt works once, for one hour. If it was not you, ignore this mail.",
            link(&owned, None, "reset", &token)
        );
        let mail = Mail { to: email.as_str(), subject: "Reset your password", text, token: Some(&token) };
        owned.mailer().send(owned.db(), mail).await
    });
    Ok(StatusCode::ACCEPTED)
}

async fn reset_password(
    State(auth): State<Auth>,
    Json(body): Json<ResetRequest>,
) -> Result<Json<User>, Error> {
    password::validate(body.password.expose())?;
    let redeemed = one_time::redeem(auth.db(), Kind::Reset, body.token.expose()).await?;
    let (Some(user_id), Some(email)) = (redeemed.user_id, redeemed.email) else {
        return Err(Error::invalid_argument("the token is invalid or has expired"));
    };
    let hash = auth.hasher().hash(body.password).await?;
    // Only while the account still has the address the link went to.
    let changed = auth
        .db()
        .execute(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND email = $4",
            &[
                (&hash).into(),
                Timestamp::now().millis().into(),
                (&user_id).into(),
                (&email).into(),
            ],
        )
        .await?;
    if changed != 1 {
        return Err(Error::invalid_argument("the token is invalid or has expired"));
    }
    sessions::revoke_all(&auth, &user_id, None).await?;
    let record = users::by_id(auth.db(), &user_id)
        .await?
        .ok_or_else(|| Error::not_found("no such user"))?;
    Ok(Json(record.user))
}

async fn magic_link(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<MagicLinkRequest>,
) -> Result<StatusCode, Error> {
    let email = Email::parse(&body.email)?;
    if let Some(to) = &body.redirect_to {
        auth.check_redirect(to)?;
    }
    limit(&auth, "magic", ip, Some(&email))?;
    let owned = auth.clone();
    auth.send_later(async move {
        let existing = users::by_email(owned.db(), email.as_str()).await?;
        // Disabled accounts get nothing; MFA accounts cannot sign in by link alone.
        if existing.as_ref().is_some_and(|r| r.user.disabled || (r.user.mfa_enabled && r.user.email_verified)) {
            return Ok(());
        }
        let user_id = existing.as_ref().map(|r| r.user.id.as_str());
        let redirect_to = body.redirect_to.as_deref();
        let token = one_time::issue(owned.db(), Kind::Magic, user_id, Some(email.as_str()), redirect_to).await?;
        let text = format!(
            "Sign in by opening this link:\n\n{}\n\nOr use this code: {token}\n\nIt works once, for 15 minutes. If it was not you, ignore this mail.",
            link(&owned, redirect_to, "magiclink", &token)
        );
        let mail = Mail { to: email.as_str(), subject: "Your sign-in link", text, token: Some(&token) };
        owned.mailer().send(owned.db(), mail).await
    });
    Ok(StatusCode::ACCEPTED)
}

async fn magic_link_verify(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<TokenRequest>,
) -> Result<Json<SessionTokens>, Error> {
    let redeemed = one_time::redeem(auth.db(), Kind::Magic, body.token.expose()).await?;
    let email = redeemed
        .email
        .ok_or_else(|| Error::invalid_argument("the token is invalid or has expired"))?;
    let user = match users::by_email(auth.db(), &email).await? {
        Some(record) => {
            if !record.user.email_verified {
                // Opening the mailed link proves the address; whoever registered it
                // without proving it loses every way in (MFA included).
                users::owner_proved(&auth, &record.user.id).await?;
            } else if record.user.mfa_enabled {
                return Err(Error::permission_denied(
                    "this account uses MFA: sign in with a password and a code",
                ));
            }
            users::by_id(auth.db(), &record.user.id)
                .await?
                .ok_or_else(|| Error::not_found("no such user"))?
                .user
        }
        None => {
            let empty = Map::new();
            users::sign_up(
                &auth,
                NewUser {
                    email: Some(&email),
                    email_verified: true,
                    password_hash: None,
                    anonymous: false,
                    data: &empty,
                    claims: &empty,
                },
            )
            .await?
        }
    };
    if user.mfa_enabled {
        return Err(Error::permission_denied(
            "this account uses MFA: sign in with a password and a code",
        ));
    }
    sessions::start(&auth, user, 1, &Origin::of(&headers, ip))
        .await
        .map(Json)
}
