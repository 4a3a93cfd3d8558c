//! `/v1/admin/users` and the outbox: user management for admins and
//! service keys.

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::AdminCaller;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{Json, Path, Query};
use basalt_core::{Error, Secret, Timestamp};
use basalt_store::audit::{self, Actor, Change};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::email::Email;
use crate::mail::{self, OutboxItem};
use crate::users::{self, NewUser, User, check_profile};
use crate::{Auth, password, sessions};

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    let admin = |r: Route<S>| r.tag("admin").access(Access::Admin);
    Api::new()
        .route(
            admin(Route::get("/v1/admin/users", list))
                .summary("List or search users")
                .query::<ListQuery>()
                .response::<UserPage>(200, "A page of users ordered by id"),
        )
        .route(
            admin(Route::post("/v1/admin/users", create))
                .summary("Create a user")
                .body::<CreateUser>()
                .response::<User>(201, "The new user"),
        )
        .route(
            admin(Route::get("/v1/admin/users/{id}", get))
                .summary("One user")
                .response::<User>(200, "The user"),
        )
        .route(
            admin(Route::patch("/v1/admin/users/{id}", update))
                .summary("Change a user's email, password, verification, disabled flag, data or claims")
                .body::<AdminUpdate>()
                .response::<User>(200, "The updated user"),
        )
        .route(
            admin(Route::delete("/v1/admin/users/{id}", delete))
                .summary("Delete a user")
                .empty(204, "Deleted"),
        )
        .route(
            admin(Route::post("/v1/admin/users/{id}/logout", force_logout))
                .summary("End every session of a user")
                .empty(204, "Signed out everywhere"),
        )
        .route(
            admin(Route::get("/v1/admin/users/{id}/sessions", list_sessions))
                .summary("A user's live sessions, newest first")
                .response::<crate::user_routes::SessionList>(200, "Sessions"),
        )
        .route(
            admin(Route::delete(
                "/v1/admin/users/{id}/sessions/{session_id}",
                revoke_session,
            ))
            .summary("End one session of a user")
            .empty(204, "Ended"),
        )
        .route(
            admin(Route::delete("/v1/admin/users/{id}/mfa", reset_mfa))
                .summary("Remove a user's MFA (a lost authenticator); signs them out everywhere")
                .empty(204, "MFA removed"),
        )
        .route(
            admin(Route::get("/v1/admin/outbox", outbox))
                // Mails carry sign-in tokens: not for viewers.
                .role(basalt_core::caller::AdminRole::Developer)
                .summary("Mail kept when no SMTP server is configured, newest first")
                .response::<Outbox>(200, "Outbox items"),
        )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Matches part of the email, or the whole id.
    q: Option<String>,
    /// 1 to 1000, default 50.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct UserPage {
    users: Vec<User>,
    /// Pass as `after` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: String,
    #[schemars(length(min = 8, max = 256))]
    password: Option<Secret<String>>,
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    data: Map<String, Value>,
    #[serde(default)]
    claims: Map<String, Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdate {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: Option<String>,
    #[schemars(length(min = 8, max = 256))]
    password: Option<Secret<String>>,
    email_verified: Option<bool>,
    /// Disabling ends every session; a disabled user cannot sign in.
    disabled: Option<bool>,
    /// Replaces the profile data.
    data: Option<Map<String, Value>>,
    /// Replaces the custom claims (in the user's next access token).
    claims: Option<Map<String, Value>>,
    /// `false` removes the user's MFA (a lost phone and lost recovery codes).
    mfa_enabled: Option<bool>,
}

#[derive(Serialize, JsonSchema)]
pub struct Outbox {
    items: Vec<OutboxItem>,
}

fn check_claims(claims: &Map<String, Value>) -> Result<(), Error> {
    if Value::Object(claims.clone()).to_string().len() > 8 * 1024 {
        return Err(Error::invalid_argument(
            "`claims` must be at most 8 KiB of JSON: they travel in every token",
        ));
    }
    Ok(())
}

async fn list(State(auth): State<Auth>, Query(q): Query<ListQuery>) -> Result<Json<UserPage>, Error> {
    let limit = i64::from(q.limit.unwrap_or(50));
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_argument("`limit` must be 1 to 1000"));
    }
    let after = q.after.unwrap_or_default();
    let pattern = q.q.as_deref().map(|s| {
        let escaped = s
            .trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let sql = format!(
        "SELECT {} FROM users WHERE id > $1 AND ($2 = '' OR email LIKE $2 ESCAPE '\\' OR id = $3)
         ORDER BY id LIMIT $4",
        users::COLUMNS
    );
    let rows = auth
        .db()
        .fetch_all(
            &sql,
            &[
                (&after).into(),
                pattern.as_deref().unwrap_or("").into(),
                q.q.as_deref().unwrap_or("").trim().into(),
                (limit + 1).into(),
            ],
        )
        .await?;
    let mut list: Vec<User> = rows
        .iter()
        .map(|r| users::from_row(r).map(|u| u.user))
        .collect::<Result<_, _>>()?;
    let next_cursor = if list.len() as i64 > limit {
        list.truncate(limit as usize);
        list.last().map(|u| u.id.clone())
    } else {
        None
    };
    Ok(Json(UserPage {
        users: list,
        next_cursor,
    }))
}

async fn create(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, Json<User>), Error> {
    let email = Email::parse(&body.email)?;
    check_profile(&body.data, "data")?;
    check_claims(&body.claims)?;
    let hash = match body.password {
        Some(p) => {
            password::validate(p.expose())?;
            Some(auth.hasher().hash(p).await?)
        }
        None => None,
    };
    let user = users::insert_as(
        auth.db(),
        NewUser {
            email: Some(email.as_str()),
            email_verified: body.email_verified,
            password_hash: hash.as_deref(),
            anonymous: false,
            data: &body.data,
            claims: &body.claims,
        },
        Some(Actor::of(&caller.0)),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn load(auth: &Auth, id: &str) -> Result<users::UserRecord, Error> {
    users::by_id(auth.db(), id)
        .await?
        .ok_or_else(|| Error::not_found("no such user"))
}

async fn get(State(auth): State<Auth>, Path(id): Path<String>) -> Result<Json<User>, Error> {
    Ok(Json(load(&auth, &id).await?.user))
}

async fn update(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
    Json(body): Json<AdminUpdate>,
) -> Result<Json<User>, Error> {
    let record = load(&auth, &id).await?;
    let before = audit_view(&record.user);
    let mut user = record.user;
    let read_at = user.updated_at.millis();
    let mut hash = record.password_hash;
    let mut sign_out = false;
    if let Some(email) = &body.email {
        let email = Email::parse(email)?;
        if user.email.as_deref() != Some(email.as_str()) {
            user.email = Some(email.as_str().to_owned());
            user.email_verified = false;
        }
    }
    if let Some(verified) = body.email_verified {
        user.email_verified = verified;
    }
    let password_set = body.password.is_some();
    if let Some(p) = body.password {
        password::validate(p.expose())?;
        hash = Some(auth.hasher().hash(p).await?);
        sign_out = true;
    }
    if let Some(disabled) = body.disabled {
        sign_out |= disabled && !user.disabled;
        user.disabled = disabled;
    }
    if let Some(data) = body.data {
        check_profile(&data, "data")?;
        user.data = data;
    }
    if let Some(claims) = body.claims {
        check_claims(&claims)?;
        user.claims = claims;
    }
    if user.anonymous && user.email.is_some() && hash.is_some() {
        user.anonymous = false;
    }
    match body.mfa_enabled {
        Some(true) if !user.mfa_enabled => {
            return Err(Error::invalid_argument(
                "MFA is turned on by the user, with their authenticator",
            ));
        }
        _ => {}
    }
    // Applied after the main update succeeds, so a refused update changes nothing.
    let reset_mfa = body.mfa_enabled == Some(false) && user.mfa_enabled;
    user.updated_at = Timestamp::now();
    let (data, claims) = (
        Value::Object(user.data.clone()).to_string(),
        Value::Object(user.claims.clone()).to_string(),
    );
    let mut after = audit_view(&user);
    if password_set {
        // That it changed, never what it is.
        after["password"] = "changed".into();
    }
    if reset_mfa {
        after["mfa_enabled"] = false.into();
    }
    audit::execute(
            auth.db(),
            "UPDATE users SET email = $1, email_verified = $2, password_hash = $3, disabled = $4, data = $5,
                              claims = $6, anonymous = $7, updated_at = $8 WHERE id = $9 AND updated_at = $10",
            &[
                user.email.as_deref().into(),
                user.email_verified.into(),
                hash.as_deref().into(),
                user.disabled.into(),
                (&data).into(),
                (&claims).into(),
                user.anonymous.into(),
                user.updated_at.millis().into(),
                (&user.id).into(),
                read_at.into(),
            ],
            Actor::of(&caller.0),
            Change {
                action: "user.update",
                target: &id,
                before: Some(before.to_string()),
                after: Some(after.to_string()),
            },
        )
        .await
        .map_err(users::email_taken)
        .and_then(users::changed_once)?;
    if reset_mfa {
        crate::mfa::reset(&auth, &user.id, None).await?;
        user.mfa_enabled = false;
        sign_out = true;
    }
    if sign_out {
        sessions::revoke_all(&auth, &user.id, None).await?;
    }
    Ok(Json(user))
}

async fn delete(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let before = load(&auth, &id)
        .await
        .map(|r| audit_view(&r.user).to_string())
        .ok();
    sessions::revoke_all(&auth, &id, None).await?;
    if audit::execute(
        auth.db(),
        "DELETE FROM users WHERE id = $1",
        &[(&id).into()],
        Actor::of(&caller.0),
        Change {
            action: "user.delete",
            target: &id,
            before,
            after: None,
        },
    )
    .await?
        == 0
    {
        return Err(Error::not_found("no such user"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn force_logout(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    load(&auth, &id).await?;
    sessions::revoke_all_recorded(
        &auth,
        &id,
        Actor::of(&caller.0),
        Change {
            action: "user.logout",
            target: &id,
            before: None,
            after: None,
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sessions(
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<Json<crate::user_routes::SessionList>, Error> {
    load(&auth, &id).await?;
    Ok(Json(crate::user_routes::SessionList {
        sessions: sessions::list(&auth, &id, "").await?,
    }))
}

async fn revoke_session(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    load(&auth, &id).await?;
    let change = Change {
        action: "user.session.revoke",
        target: &id,
        before: Some(serde_json::json!({ "session": session_id }).to_string()),
        after: None,
    };
    if !sessions::revoke_recorded(&auth, &id, &session_id, Actor::of(&caller.0), change).await? {
        return Err(Error::not_found("no such session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_mfa(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let record = load(&auth, &id).await?;
    if !record.user.mfa_enabled && record.mfa_secret.is_none() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let change = Change {
        action: "user.mfa.reset",
        target: &id,
        before: Some(serde_json::json!({ "mfa_enabled": record.user.mfa_enabled }).to_string()),
        after: Some(serde_json::json!({ "mfa_enabled": false }).to_string()),
    };
    crate::mfa::reset(&auth, &id, Some((Actor::of(&caller.0), change))).await?;
    sessions::revoke_all(&auth, &id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the audit log keeps of a user: the profile, never a hash.
fn audit_view(user: &User) -> Value {
    serde_json::json!({
        "id": user.id, "email": user.email, "email_verified": user.email_verified,
        "disabled": user.disabled, "data": user.data, "claims": user.claims, "mfa_enabled": user.mfa_enabled,
    })
}

async fn outbox(State(auth): State<Auth>) -> Result<Json<Outbox>, Error> {
    Ok(Json(Outbox {
        items: mail::outbox(auth.db(), 100).await?,
    }))
}
