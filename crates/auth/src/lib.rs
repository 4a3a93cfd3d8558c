//! Identity: signing keys and tokens, admins, service keys, and the
//! `Authenticate` implementation behind every request's `Caller`.
#![forbid(unsafe_code)]

pub mod admins;
mod authenticator;
pub mod email;
pub mod password;
mod routes;
pub mod service_keys;
pub mod signing;
pub mod tokens;

use std::sync::Arc;

use basalt_core::config::Config;
use basalt_core::rate_limit::RateLimiter;
use basalt_store::Db;

pub use authenticator::authenticator;
pub use routes::api;

/// The auth slice's state: what its routes and the authenticator share.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    keys: signing::SigningKeys,
    issuer: String,
    admin_token_ttl: std::time::Duration,
    login_limiter: RateLimiter,
    hasher: password::Hasher,
    key_uses: service_keys::UseRecorder,
}

impl Auth {
    /// Loads (or on first start creates) the signing keys.
    pub async fn start(db: Db, config: &Config) -> basalt_core::Result<Auth> {
        let keys = signing::SigningKeys::load_or_create(&db).await?;
        Ok(Auth {
            inner: Arc::new(Inner {
                db,
                keys,
                issuer: config.public_url.clone(),
                admin_token_ttl: config.admin_token_ttl,
                login_limiter: RateLimiter::per_minute(config.login_rate_limit),
                hasher: password::Hasher::new(),
                key_uses: service_keys::UseRecorder::default(),
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn keys(&self) -> &signing::SigningKeys {
        &self.inner.keys
    }

    pub fn hasher(&self) -> &password::Hasher {
        &self.inner.hasher
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }
}
