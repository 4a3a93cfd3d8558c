use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::extract::{ClientIp, Json, Path};
use basalt_core::{AdminCaller, Error, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Auth;
use crate::admins::{self, AdminSession};
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
                .response::<AdminSession>(200, "An admin token"),
        )
        .route(
            Route::get("/v1/admin/keys", list_keys)
                .tag("admin")
                .summary("List service keys")
                .access(Access::Admin)
                .response::<KeyList>(200, "Service keys, without their secrets"),
        )
        .route(
            Route::post("/v1/admin/keys", create_key)
                .tag("admin")
                .summary("Create a service key (its secret is shown once)")
                .access(Access::Admin)
                .body::<CreateKey>()
                .response::<NewServiceKey>(201, "The new key"),
        )
        .route(
            Route::delete("/v1/admin/keys/{id}", revoke_key)
                .tag("admin")
                .summary("Revoke a service key")
                .access(Access::Admin)
                .empty(204, "Revoked"),
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
    email: String,
    password: Secret<String>,
}

async fn admin_login(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> Result<Json<AdminSession>, Error> {
    let email = Email::parse(&body.email)?;
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key("admin-login:ip", ip))?;
    auth.inner
        .login_limiter
        .check(&format!("admin-login:email:{}", email.as_str()))?;
    let session = admins::login(&auth, &email, body.password).await;
    if session.is_err() {
        tracing::info!(%ip, "admin login refused");
    }
    session.map(Json)
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
    /// What the key is for, e.g. "billing worker".
    name: String,
}

async fn create_key(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Json(body): Json<CreateKey>,
) -> Result<(StatusCode, Json<NewServiceKey>), Error> {
    let key = service_keys::create(auth.db(), &body.name).await?;
    tracing::info!(key_id = %key.id, by = caller.0.role(), "service key created");
    Ok((StatusCode::CREATED, Json(key)))
}

async fn revoke_key(
    caller: AdminCaller,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    service_keys::revoke(auth.db(), &id).await?;
    tracing::info!(key_id = %id, by = caller.0.role(), "service key revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn jwks(State(auth): State<Auth>) -> Json<Value> {
    Json(auth.keys().jwks().clone())
}
