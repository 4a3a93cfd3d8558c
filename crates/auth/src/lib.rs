//! Identity: signing keys and tokens, admins, service keys, and the
//! `Authenticate` implementation behind every request's `Caller`.
#![forbid(unsafe_code)]

pub mod admin_mfa;
mod admin_users;
pub mod admins;
mod authenticator;
pub mod email;
pub mod mail;
pub mod mfa;
pub mod oauth;
pub mod one_time;
pub mod password;
mod routes;
pub mod service_keys;
pub mod sessions;
pub mod signing;
pub mod tokens;
mod user_routes;
pub mod users;

use std::sync::Arc;

use basalt_core::config::Config;
use basalt_core::rate_limit::RateLimiter;
use basalt_store::Db;

pub use authenticator::authenticator;

/// Every route of the auth slice.
pub fn api<S>() -> basalt_core::api::Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: axum::extract::FromRef<S>,
    basalt_core::caller::Authenticator: axum::extract::FromRef<S>,
{
    routes::api()
        .merge(user_routes::api())
        .merge(mfa::api())
        .merge(oauth::api())
        .merge(admin_users::api())
        .merge(admin_mfa::api())
}

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
    access_token_ttl: std::time::Duration,
    require_email_confirmation: bool,
    redirect_origins: Vec<String>,
    site_url: String,
    mailer: mail::Mailer,
    oauth: oauth::OAuth,
    active_sessions: sessions::ActiveSessions,
    verified_tokens: tokens::VerifiedTokens,
    login_limiter: RateLimiter,
    hasher: password::Hasher,
    key_uses: service_keys::UseRecorder,
    /// The `before_signup` trigger, once the functions slice is up.
    signup_hook: std::sync::OnceLock<Arc<dyn SignupHook>>,
}

/// A user's profile `data` or `claims`.
pub type Profile = serde_json::Map<String, serde_json::Value>;

/// The `auth` `before_signup` trigger, set by the functions slice.
pub trait SignupHook: Send + Sync + 'static {
    /// Whether a trigger listens (in memory).
    fn listens(&self) -> bool;
    /// The profile `data` and `claims` to store, or the refusal.
    fn run(
        &self,
        email: String,
        data: Profile,
        claims: Profile,
    ) -> basalt_core::caller::BoxFuture<'static, basalt_core::Result<(Profile, Profile)>>;
}

impl Auth {
    /// Sets the `before_signup` trigger (once; later calls are ignored).
    pub fn set_signup_hook(&self, hook: Arc<dyn SignupHook>) {
        let _ = self.inner.signup_hook.set(hook);
    }

    /// Loads (or on first start creates) the signing keys.
    pub async fn start(db: Db, config: &Config) -> basalt_core::Result<Auth> {
        let keys = signing::SigningKeys::load_or_create(&db).await?;
        let auth = Auth {
            inner: Arc::new(Inner {
                db,
                keys,
                issuer: config.public_url.clone(),
                admin_token_ttl: config.admin_token_ttl,
                access_token_ttl: config.access_token_ttl,
                require_email_confirmation: config.require_email_confirmation,
                redirect_origins: config.redirect_origins.clone(),
                site_url: config
                    .site_url
                    .clone()
                    .unwrap_or_else(|| config.public_url.clone()),
                oauth: oauth::OAuth::new(&config.oauth).map_err(basalt_core::Error::invalid_argument)?,
                mailer: mail::Mailer::new(config.smtp_url.as_ref(), &config.mail_from)
                    .map_err(basalt_core::Error::invalid_argument)?,
                active_sessions: sessions::ActiveSessions::default(),
                verified_tokens: tokens::VerifiedTokens::default(),
                login_limiter: RateLimiter::per_minute(config.login_rate_limit),
                hasher: password::Hasher::new(),
                key_uses: service_keys::UseRecorder::default(),
                signup_hook: std::sync::OnceLock::new(),
            }),
        };
        spawn_maintenance(Arc::downgrade(&auth.inner));
        Ok(auth)
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// How many users there are (for admin stats).
    pub async fn user_count(&self) -> Result<i64, basalt_core::Error> {
        let row = self
            .db()
            .fetch_optional("SELECT count(*) FROM users", &[])
            .await?;
        Ok(row.map(|r| r.int(0)).transpose()?.unwrap_or(0))
    }

    pub fn keys(&self) -> &signing::SigningKeys {
        &self.inner.keys
    }

    /// Sends a mail in the background: the request that caused it answers at
    /// once and in the same time whether or not a mail goes out.
    pub fn send_later(
        &self,
        work: impl std::future::Future<Output = basalt_core::Result<()>> + Send + 'static,
    ) {
        tokio::spawn(async move {
            if let Err(e) = work.await {
                tracing::warn!(error = %e, "a mail could not be sent");
            }
        });
    }

    pub fn oauth(&self) -> &oauth::OAuth {
        &self.inner.oauth
    }

    pub fn mailer(&self) -> &mail::Mailer {
        &self.inner.mailer
    }

    pub fn hasher(&self) -> &password::Hasher {
        &self.inner.hasher
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `redirect_to` must be on the origin of the public URL, the site URL,
    /// or one of `redirect_origins`.
    pub fn check_redirect(&self, url: &str) -> basalt_core::Result<()> {
        if url.contains('#') {
            // Tokens come back in the fragment; the URL may not bring its own.
            return Err(basalt_core::Error::invalid_argument(
                "`redirect_to` may not contain a fragment (#)",
            ));
        }
        let wanted = origin_of(url)
            .ok_or_else(|| basalt_core::Error::invalid_argument("`redirect_to` is not an http(s) URL"))?;
        let allowed = [self.inner.issuer.as_str(), self.inner.site_url.as_str()]
            .into_iter()
            .chain(self.inner.redirect_origins.iter().map(String::as_str))
            .filter_map(origin_of)
            .any(|o| o == wanted);
        if allowed {
            Ok(())
        } else {
            Err(basalt_core::Error::invalid_argument(
                "`redirect_to` is not on an allowed origin",
            ))
        }
    }

    /// The base of links in mails: where the app lives.
    pub fn site_url(&self) -> &str {
        &self.inner.site_url
    }
}

/// `scheme://host[:port]` of an http(s) URL, lowercased, without a default port.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https") {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if host.is_empty() || host.contains('@') || host.contains('\\') {
        return None;
    }
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h.to_owned(),
        _ => host,
    };
    Some(format!("{scheme}://{host}"))
}

/// Deletes what has expired, every ten minutes, while the slice lives.
fn spawn_maintenance(inner: std::sync::Weak<Inner>) {
    // Signing keys: a rotation made by `basalt signing-keys rotate` (or on
    // another node) reaches this node within `RELOAD_EVERY`.
    let keys = inner.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(signing::RELOAD_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = keys.upgrade() else { return };
            match inner.keys.reload(&inner.db).await {
                Ok(true) => inner.verified_tokens.clear(),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e.message(), "could not read the signing keys again"),
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            let now = basalt_core::Timestamp::now().millis();
            let day = 24 * 3600 * 1000;
            let sweeps: [(&str, i64); 4] = [
                ("DELETE FROM one_time_tokens WHERE expires_at < $1", now - day),
                ("DELETE FROM oauth_flows WHERE expires_at < $1", now),
                ("DELETE FROM outbox WHERE created_at < $1", now - 7 * day),
                ("DELETE FROM sessions WHERE revoked_at < $1", now - 30 * day),
            ];
            for (sql, before) in sweeps {
                if let Err(e) = inner.db.execute(sql, &[before.into()]).await {
                    tracing::warn!(error = %e, "auth maintenance failed");
                }
            }
            if let Err(e) = signing::delete_retired(&inner.db).await {
                tracing::warn!(error = %e.message(), "could not delete retired signing keys");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin_of("HTTPS://App.Example:443/x?y#z").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            origin_of("http://app.example:80").as_deref(),
            Some("http://app.example")
        );
        assert_eq!(
            origin_of("http://app.example:8080/").as_deref(),
            Some("http://app.example:8080")
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "https://user@evil.example",
            "//evil.example",
            "https://a\\b",
        ] {
            assert_eq!(origin_of(bad), None, "{bad}");
        }
    }
}
