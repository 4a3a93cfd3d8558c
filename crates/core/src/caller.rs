//! Who is making a request. The server resolves the `Authorization` header
//! once, through the `Authenticate` implementation the auth slice provides;
//! a bad credential is a 401 before the handler runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub enum Caller {
    /// No `Authorization` header. Role `anon`.
    Anonymous,
    /// An app user with a valid access token.
    User(Arc<UserIdentity>),
    /// A dashboard admin with a valid admin token. Bypasses rules.
    Admin(Arc<AdminIdentity>),
    /// A service key. Bypasses rules.
    Service(Arc<ServiceIdentity>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    Authenticated,
    AnonymousUser,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Authenticated => "authenticated",
            UserRole::AnonymousUser => "anonymous_user",
        }
    }
}

/// What an access token says about its user.
#[derive(Debug, Clone)]
pub struct UserIdentity {
    pub uid: String,
    pub session_id: String,
    pub role: UserRole,
    pub email: Option<String>,
    pub email_verified: bool,
    pub aal: u8,
    pub claims: Map<String, Value>,
    /// When the access token expires (seconds since the epoch); long-lived
    /// connections stop acting for the user then.
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct AdminIdentity {
    pub id: String,
    pub email: String,
    pub role: AdminRole,
    /// When the admin token ends (seconds since the epoch); a long-lived
    /// connection stops acting for the admin then.
    pub expires_at: i64,
}

/// What an admin may do, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminRole {
    /// Reads only, and no secrets.
    Viewer,
    /// Everything but managing admins and service keys.
    Developer,
    /// Everything.
    Owner,
}

impl AdminRole {
    pub const ALL: [AdminRole; 3] = [AdminRole::Viewer, AdminRole::Developer, AdminRole::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Developer => "developer",
            AdminRole::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<AdminRole> {
        AdminRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    pub key_id: String,
    pub name: String,
}

impl Caller {
    pub fn role(&self) -> &'static str {
        match self {
            Caller::Anonymous => "anon",
            Caller::User(u) => u.role.as_str(),
            Caller::Admin(_) => "admin",
            Caller::Service(_) => "service",
        }
    }

    /// The admin role a privileged caller acts with: an admin's own, and
    /// `developer` for service keys (they may not manage admins or keys).
    pub fn admin_role(&self) -> Option<AdminRole> {
        match self {
            Caller::Admin(a) => Some(a.role),
            Caller::Service(_) => Some(AdminRole::Developer),
            _ => None,
        }
    }

    /// `(kind, id)` as the request log names callers.
    pub fn log_identity(&self) -> (&'static str, Option<&str>) {
        match self {
            Caller::Anonymous => ("anon", None),
            Caller::User(u) => ("user", Some(&u.uid)),
            Caller::Admin(a) => ("admin", Some(&a.id)),
            Caller::Service(s) => ("service", Some(&s.key_id)),
        }
    }

    /// Admins and service keys bypass rules.
    pub fn is_privileged(&self) -> bool {
        matches!(self, Caller::Admin(_) | Caller::Service(_))
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a bearer credential into a caller, or refuses it with 401.
pub trait Authenticate: Send + Sync + 'static {
    fn authenticate<'a>(&'a self, bearer: &'a str) -> BoxFuture<'a, Result<Caller>>;
}

/// The application's authenticator, taken from state by the `Caller` extractor.
#[derive(Clone)]
pub struct Authenticator(pub Arc<dyn Authenticate>);

impl Authenticator {
    /// Resolves an `Authorization` header value (or its absence).
    pub async fn resolve(&self, authorization: Option<&[u8]>) -> Result<Caller> {
        let Some(value) = authorization else {
            return Ok(Caller::Anonymous);
        };
        let token = std::str::from_utf8(value)
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::unauthenticated("expected `Authorization: Bearer <token>`"))?;
        self.0.authenticate(token).await
    }
}

impl Caller {
    /// The request's caller, resolved once and then kept in its extensions.
    pub async fn from_parts(parts: &mut Parts, authenticator: &Authenticator) -> Result<Caller> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let authorization = parts.headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let caller = authenticator.resolve(authorization).await?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }

    /// Admins and service keys pass; 401 without credentials, 403 for an app user.
    pub fn require_admin(self) -> Result<Caller> {
        match self {
            Caller::Anonymous => Err(Error::unauthenticated(
                "this endpoint needs an admin token or a service key",
            )),
            Caller::User(_) => Err(Error::permission_denied(
                "this endpoint needs an admin token or a service key",
            )),
            caller => Ok(caller),
        }
    }

    /// App users pass; 401 without credentials, 403 for admins and service keys.
    pub fn require_user(self) -> Result<Caller> {
        match self {
            Caller::Anonymous => Err(Error::unauthenticated("this endpoint needs a signed-in user")),
            Caller::User(_) => Ok(self),
            _ => Err(Error::permission_denied("this endpoint is for app users")),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Caller::from_parts(parts, &Authenticator::from_ref(state)).await
    }
}

/// A caller that must be an admin or a service key: 401 without
/// credentials, 403 for an app user.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

impl<S> FromRequestParts<S> for AdminCaller
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_admin()
            .map(AdminCaller)
    }
}
