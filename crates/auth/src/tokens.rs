//! Token claims and verification. Only EdDSA with a known `kid`, the right
//! issuer and audience, and an unexpired `exp` gets through.

use basalt_core::caller::{UserIdentity, UserRole};
use basalt_core::{Error, Timestamp};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::signing::SigningKeys;

/// `aud` of app users' access tokens.
pub const USER_AUDIENCE: &str = "basalt";
/// `aud` of dashboard admin tokens; a user token can never pass as one.
pub const ADMIN_AUDIENCE: &str = "basalt-admin";
/// Clock skew tolerated on `exp`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub email: String,
    pub role: String,
    /// The admin's token version when issued; bumping it revokes the token.
    pub ver: i64,
    pub iat: i64,
    pub exp: i64,
}

/// The claims of an app user's access token (API.md, "Auth").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub role: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub aal: u8,
    #[serde(default)]
    pub claims: Map<String, Value>,
    pub iat: i64,
    pub exp: i64,
}

impl AccessClaims {
    pub fn identity(self) -> Result<UserIdentity, Error> {
        let role = match self.role.as_str() {
            "authenticated" => UserRole::Authenticated,
            "anonymous_user" => UserRole::AnonymousUser,
            _ => return Err(invalid()),
        };
        if !(1..=2).contains(&self.aal) {
            return Err(invalid());
        }
        Ok(UserIdentity {
            uid: self.sub,
            session_id: self.sid,
            role,
            email: self.email,
            email_verified: self.email_verified,
            aal: self.aal,
            expires_at: self.exp,
            claims: self.claims,
        })
    }
}

#[derive(Clone)]
pub enum Verified {
    Admin(AdminClaims),
    User(AccessClaims),
}

impl Verified {
    fn exp(&self) -> i64 {
        match self {
            Verified::Admin(c) => c.exp,
            Verified::User(c) => c.exp,
        }
    }
}

/// Tokens whose signature and claims were checked, kept until they expire:
/// an app sends the same token with every request, and checking an Ed25519
/// signature costs far more than the rest of a simple request. Only exact
/// token strings match; revocation is still checked on every request.
#[derive(Default)]
pub struct VerifiedTokens {
    tokens: std::sync::Mutex<std::collections::HashMap<Box<str>, Verified>>,
}

/// Most tokens remembered; past it the memory starts over.
const MAX_VERIFIED: usize = 10_000;

impl VerifiedTokens {
    /// Forgets every verification (a key was retired: what it signed must
    /// be checked again, and refused).
    pub fn clear(&self) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn verify(&self, keys: &SigningKeys, token: &str, issuer: &str) -> Result<Verified, Error> {
        let now = Timestamp::now().seconds();
        {
            let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(v) = tokens.get(token)
                && v.exp() + LEEWAY_SECS as i64 > now
            {
                return Ok(v.clone());
            }
        }
        let verified = keys.verify(token, issuer)?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= MAX_VERIFIED {
            tokens.retain(|_, v| v.exp() + LEEWAY_SECS as i64 > now);
            if tokens.len() >= MAX_VERIFIED {
                tokens.clear();
            }
        }
        tokens.insert(token.into(), verified.clone());
        Ok(verified)
    }
}

fn invalid() -> Error {
    Error::unauthenticated("invalid token")
}

/// `(iat, exp)` for a token issued now that lives `ttl`.
pub fn lifetime(ttl: std::time::Duration) -> (i64, i64) {
    let iat = Timestamp::now().seconds();
    (iat, iat + ttl.as_secs() as i64)
}

impl SigningKeys {
    /// Verifies a JWT's signature and standard claims.
    pub fn verify(&self, token: &str, issuer: &str) -> Result<Verified, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding_key(kid))
            .ok_or_else(invalid)?;
        let key = &key;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[USER_AUDIENCE, ADMIN_AUDIENCE]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => Error::unauthenticated("token has expired"),
                    _ => invalid(),
                }
            })?;
        let claims = Value::Object(data.claims);
        match claims.get("aud").and_then(Value::as_str) {
            Some(ADMIN_AUDIENCE) => serde_json::from_value(claims).map(Verified::Admin),
            Some(USER_AUDIENCE) => serde_json::from_value(claims).map(Verified::User),
            _ => return Err(invalid()),
        }
        .map_err(|_| invalid())
    }
}
