//! TOTP for admins: the second step of `POST /v1/admin/login`, an admin's
//! own enrolment, and an owner's reset of another admin's MFA.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::{AdminIdentity, AdminRole, Authenticator};
use basalt_core::extract::{ClientIp, Json, Path};
use basalt_core::rate_limit::RateLimiter;
use basalt_core::{AdminCaller, Caller, Error, Secret};
use basalt_store::audit::{Actor, Change};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Auth;
use crate::admins::{self, Admin, AdminSession, Verified};
use crate::mfa::{self, ADMIN, Enrolment};
use crate::one_time::{self, Kind};

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    // Every admin may secure their own account, viewers included.
    let own = |r: Route<S>| r.tag("admin").access(Access::Admin).role(AdminRole::Viewer);
    Api::new()
        .route(
            Route::post("/v1/admin/mfa/verify", verify)
                .tag("admin")
                .access(Access::Public)
                .summary("Finish an admin sign-in that answered mfa_required, with a TOTP or recovery code")
                .body::<VerifyRequest>()
                .response::<AdminSession>(200, "An admin token"),
        )
        .route(
            own(Route::post("/v1/admin/mfa/totp/enroll", enroll))
                .summary("Start TOTP enrolment for the signed-in admin")
                .response::<Enrolment>(200, "Show the secret as a QR code; keep the recovery codes"),
        )
        .route(
            own(Route::post("/v1/admin/mfa/totp/confirm", confirm))
                .summary("Confirm enrolment with a current code; sign-in then asks for one")
                .body::<CodeRequest>()
                .response::<Admin>(200, "The admin, with mfa_enabled true"),
        )
        .route(
            own(Route::delete("/v1/admin/mfa/totp", disable))
                .summary("Turn the signed-in admin's MFA off (with a current or recovery code)")
                .body::<CodeRequest>()
                .empty(204, "MFA is off"),
        )
        .route(
            Route::delete("/v1/admin/admins/{id}/mfa", reset)
                .tag("admin")
                .access(Access::Admin)
                .role(AdminRole::Owner)
                .summary("Remove another admin's MFA (a lost authenticator); signs them out")
                .empty(204, "MFA removed"),
        )
}

/// What `POST /v1/admin/login` answers: a token, or the MFA step.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AdminLogin {
    Session(AdminSession),
    Mfa(MfaChallenge),
}

#[derive(Serialize, JsonSchema)]
pub struct MfaChallenge {
    /// Always true: send `mfa_token` and a code to `POST /v1/admin/mfa/verify`.
    mfa_required: bool,
    /// Single use, for five minutes.
    mfa_token: String,
}

/// The answer to a checked password: a session, or a challenge when the
/// admin has MFA on.
pub async fn after_password(auth: &Auth, verified: Verified) -> Result<AdminLogin, Error> {
    if verified.mfa_secret.is_some() {
        let email = verified.admin.email.as_str();
        let token = one_time::issue(auth.db(), Kind::AdminMfa, None, Some(email), None).await?;
        return Ok(AdminLogin::Mfa(MfaChallenge {
            mfa_required: true,
            mfa_token: token,
        }));
    }
    admins::session(auth, verified).map(AdminLogin::Session)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    mfa_token: Secret<String>,
    /// A 6-digit TOTP code or a recovery code.
    code: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code (or, to turn MFA off, a recovery code).
    code: Secret<String>,
}

async fn verify(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<VerifyRequest>,
) -> Result<Json<AdminSession>, Error> {
    // The token is single use: a wrong code means signing in again.
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key("admin-mfa:ip", ip))?;
    let again = || Error::unauthenticated("the MFA token is invalid or has expired; sign in again");
    let redeemed = one_time::redeem(auth.db(), Kind::AdminMfa, body.mfa_token.expose())
        .await
        .map_err(|_| again())?;
    let email = redeemed.email.ok_or_else(again)?;
    auth.inner
        .login_limiter
        .check(&format!("admin-mfa:email:{email}"))?;
    // Read again: the admin may have been deleted or changed meanwhile.
    let verified = admins::verified_by_email(auth.db(), &email)
        .await?
        .ok_or_else(again)?;
    let ok = match &verified.mfa_secret {
        Some(secret) => mfa::check_code(&auth, ADMIN, &verified.admin.id, secret, body.code.expose()).await?,
        None => false,
    };
    if !ok {
        tracing::info!(%ip, "admin MFA code refused");
        return Err(Error::unauthenticated("the code is wrong; sign in again"));
    }
    admins::session(&auth, verified).map(Json)
}

fn own_identity(caller: &Caller) -> Result<&AdminIdentity, Error> {
    match caller {
        Caller::Admin(a) => Ok(a),
        _ => Err(Error::permission_denied(
            "a service key has no MFA; sign in as an admin",
        )),
    }
}

async fn enroll(caller: AdminCaller, State(auth): State<Auth>) -> Result<Json<Enrolment>, Error> {
    let me = own_identity(&caller.0)?;
    let (enabled, _) = admins::mfa_state(auth.db(), &me.id).await?;
    if enabled {
        return Err(Error::already_exists("MFA is already on for this admin"));
    }
    mfa::enrol(&auth, ADMIN, &me.id, &me.email).await.map(Json)
}

async fn confirm(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CodeRequest>,
) -> Result<Json<Admin>, Error> {
    let me = own_identity(&caller.0)?;
    auth.inner
        .login_limiter
        .check(&format!("admin-mfa:admin:{}", me.id))?;
    let (enabled, secret) = admins::mfa_state(auth.db(), &me.id).await?;
    if enabled {
        return Err(Error::already_exists("MFA is already on for this admin"));
    }
    let secret =
        secret.ok_or_else(|| Error::invalid_argument("start with POST /v1/admin/mfa/totp/enroll"))?;
    let change = Change {
        action: "admin.mfa.enable",
        target: &me.email,
        before: None,
        after: Some(serde_json::json!({"mfa_enabled": true}).to_string()),
    };
    mfa::confirm_enrolment(
        &auth,
        ADMIN,
        &me.id,
        &secret,
        body.code.expose(),
        Some((Actor::of(&caller.0), change)),
    )
    .await?;
    Ok(Json(admins::get(auth.db(), &me.id).await?))
}

async fn disable(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CodeRequest>,
) -> Result<StatusCode, Error> {
    let me = own_identity(&caller.0)?;
    auth.inner
        .login_limiter
        .check(&format!("admin-mfa:admin:{}", me.id))?;
    let (enabled, secret) = admins::mfa_state(auth.db(), &me.id).await?;
    let secret = match secret {
        Some(s) if enabled => s,
        _ => {
            return Err(Error::new(
                basalt_core::Code::FailedPrecondition,
                "MFA is not on for this admin",
            ));
        }
    };
    if !mfa::check_code(&auth, ADMIN, &me.id, &secret, body.code.expose()).await? {
        return Err(Error::invalid_argument("the code is wrong or has expired"));
    }
    let change = Change {
        action: "admin.mfa.disable",
        target: &me.email,
        before: Some(serde_json::json!({"mfa_enabled": true}).to_string()),
        after: Some(serde_json::json!({"mfa_enabled": false}).to_string()),
    };
    mfa::remove(&auth, ADMIN, &me.id, Some((Actor::of(&caller.0), change))).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let admin = admins::get(auth.db(), &id).await?;
    remove_from(&auth, &admin, Actor::of(&caller.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an admin's MFA and signs them out (an owner, or `basalt admin
/// reset-mfa` on the server when no owner can sign in).
pub async fn remove_from(auth: &Auth, admin: &Admin, actor: Actor<'_>) -> Result<(), Error> {
    let change = Change {
        action: "admin.mfa.reset",
        target: &admin.email,
        before: Some(serde_json::json!({"mfa_enabled": admin.mfa_enabled}).to_string()),
        after: Some(serde_json::json!({"mfa_enabled": false}).to_string()),
    };
    mfa::remove(auth, ADMIN, &admin.id, Some((actor, change))).await?;
    admins::sign_out(auth.db(), &admin.id).await
}
