use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::AdminRole;
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path};
use basalt_core::{AdminCaller, Caller, Error, Secret};
use basalt_store::audit::Actor;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Auth;
use crate::admins::{self, Admin, AdminChange, RoleName};
use crate::email::Email;
use crate::service_keys::{self, NewServiceKey, ServiceKey};
use basalt_core::rate_limit::RateLimiter;

/// Admin login, service keys and the JWKS.
pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    Api::new()
        .route(
            Route::post("/v1/admin/login", admin_login)
                .tag("admin")
                .summary("Sign in as an admin")
                .access(Access::Public)
                .body::<LoginRequest>()
                .response::<crate::admin_mfa::AdminLogin>(
                    200,
                    "An admin token, or `{mfa_required: true, mfa_token}` when the admin has MFA on",
                ),
        )
        .route(
            Route::get("/v1/admin/keys", list_keys)
                .tag("admin")
                .role(AdminRole::Owner)
                .summary("List service keys")
                .access(Access::Admin)
                .response::<KeyList>(200, "Service keys, without their secrets"),
        )
        .route(
            Route::post("/v1/admin/keys", create_key)
                .tag("admin")
                .role(AdminRole::Owner)
                .summary("Create a service key (its secret is shown once)")
                .access(Access::Admin)
                .body::<CreateKey>()
                .link(
                    "revoke",
                    "delete_admin_keys_by_id",
                    &[("id", "$response.body#/id")],
                )
                .response::<NewServiceKey>(201, "The new key"),
        )
        .route(
            Route::delete("/v1/admin/keys/{id}", revoke_key)
                .tag("admin")
                .role(AdminRole::Owner)
                .summary("Revoke a service key")
                .access(Access::Admin)
                .empty(204, "Revoked"),
        )
        .route(
            Route::get("/v1/admin/me", me)
                .tag("admin")
                .summary("The signed-in admin, with their role")
                .access(Access::Admin)
                .response::<Admin>(200, "The admin"),
        )
        .route(
            Route::get("/v1/admin/admins", list_admins)
                .tag("admin")
                .summary("List admins")
                .access(Access::Admin)
                .role(AdminRole::Owner)
                .response::<AdminList>(200, "Every admin"),
        )
        .route(
            Route::post("/v1/admin/admins", create_admin)
                .tag("admin")
                .summary("Create an admin")
                .access(Access::Admin)
                .role(AdminRole::Owner)
                .body::<CreateAdmin>()
                .response::<Admin>(201, "The new admin"),
        )
        .route(
            Route::patch("/v1/admin/admins/{id}", update_admin)
                .tag("admin")
                .summary("Change an admin's role, email or password (a new email or password signs them out)")
                .access(Access::Admin)
                .role(AdminRole::Owner)
                .body::<UpdateAdmin>()
                .response::<Admin>(200, "The admin"),
        )
        .route(
            Route::delete("/v1/admin/admins/{id}", delete_admin)
                .tag("admin")
                .summary("Delete an admin (never the last owner)")
                .access(Access::Admin)
                .role(AdminRole::Owner)
                .empty(204, "Deleted"),
        )
        .route(
            Route::get("/v1/auth/jwks.json", jwks)
                .tag("auth")
                .summary("Public keys that verify Basalt's tokens (JWKS)")
                .access(Access::Public)
                .response::<Value>(200, "A JSON Web Key Set"),
        )
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

async fn admin_login(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> Result<Json<crate::admin_mfa::AdminLogin>, Error> {
    let email = Email::parse(&body.email)?;
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key("admin-login:ip", ip))?;
    auth.inner
        .login_limiter
        .check(&format!("admin-login:email:{}", email.as_str()))?;
    let verified = match admins::verify_password(&auth, &email, body.password).await {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(%ip, "admin login refused");
            return Err(e);
        }
    };
    crate::admin_mfa::after_password(&auth, verified).await.map(Json)
}

#[derive(Serialize, JsonSchema)]
pub struct KeyList {
    keys: Vec<ServiceKey>,
}

async fn list_keys(_: AdminCaller, State(auth): State<Auth>) -> Result<Json<KeyList>, Error> {
    Ok(Json(KeyList {
        keys: service_keys::list(auth.db()).await?,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What the key is for, e.g. "billing worker": 1 to 100 characters,
    /// not all spaces, no control characters.
    #[schemars(
        regex(
            pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
        ),
        length(min = 1, max = 100)
    )]
    name: String,
}

async fn create_key(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CreateKey>,
) -> Result<(StatusCode, Json<NewServiceKey>), Error> {
    let key = service_keys::create(auth.db(), &body.name, Actor::of(&caller.0)).await?;
    tracing::info!(key_id = %key.id, by = caller.0.role(), "service key created");
    Ok((StatusCode::CREATED, Json(key)))
}

async fn revoke_key(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    service_keys::revoke(auth.db(), &id, Actor::of(&caller.0)).await?;
    tracing::info!(key_id = %id, by = caller.0.role(), "service key revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn me(caller: AdminCaller, State(auth): State<Auth>) -> Result<Json<Admin>, Error> {
    match &caller.0 {
        Caller::Admin(a) => Ok(Json(admins::get(auth.db(), &a.id).await?)),
        _ => Err(Error::permission_denied("a service key is not an admin")),
    }
}

#[derive(Serialize, JsonSchema)]
pub struct AdminList {
    admins: Vec<Admin>,
}

async fn list_admins(State(auth): State<Auth>) -> Result<Json<AdminList>, Error> {
    Ok(Json(AdminList {
        admins: admins::list(auth.db()).await?,
    }))
}

fn parse_role(role: &str) -> Result<AdminRole, Error> {
    AdminRole::parse(role).ok_or_else(|| Error::invalid_argument("`role` must be owner, developer or viewer"))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAdmin {
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
    #[schemars(with = "RoleName")]
    role: String,
}

async fn create_admin(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CreateAdmin>,
) -> Result<(StatusCode, Json<Admin>), Error> {
    let email = Email::parse(&body.email)?;
    let role = parse_role(&body.role)?;
    let admin = admins::create(&auth, &email, body.password, role, Actor::of(&caller.0)).await?;
    Ok((StatusCode::CREATED, Json(admin)))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAdmin {
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    email: Option<String>,
    #[schemars(length(min = 8, max = 256))]
    password: Option<Secret<String>>,
    #[schemars(with = "Option<RoleName>")]
    role: Option<String>,
}

async fn update_admin(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
    Json(body): Json<UpdateAdmin>,
) -> Result<Json<Admin>, Error> {
    let change = AdminChange {
        email: body.email.as_deref().map(Email::parse).transpose()?,
        password: body.password,
        role: body.role.as_deref().map(parse_role).transpose()?,
    };
    Ok(Json(
        admins::update(&auth, &id, change, Actor::of(&caller.0)).await?,
    ))
}

async fn delete_admin(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    admins::delete(auth.db(), &id, Actor::of(&caller.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn jwks(State(auth): State<Auth>) -> Json<Value> {
    Json(auth.keys().jwks())
}
