//! Layered configuration: flag > `BASALT_*` environment > TOML file > default.
//! One struct serves as the flags (clap reads flag and environment) and as
//! the file; merging takes the first value that is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use basalt_core::Secret;
use basalt_core::config::{Config, OAuthKind, OAuthProvider};
use clap::Args;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on [default: 127.0.0.1:8090]
    #[arg(long, env = "BASALT_HTTP", value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Directory for the SQLite database and local files [default: ./basalt_data]
    #[arg(long, env = "BASALT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… for PostgreSQL [default: SQLite in the data directory]
    #[arg(long, env = "BASALT_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<Secret<String>>,
    /// Key that seals the secrets kept in the database (signing keys, MFA and webhook secrets): 32 bytes as base64 or hex, from `basalt master-key generate` [default: none, stored unsealed]
    #[arg(long, env = "BASALT_MASTER_KEY", value_name = "KEY", hide_env_values = true)]
    pub master_key: Option<Secret<String>>,
    /// File holding the master key (a systemd credential, a mounted secret) instead of BASALT_MASTER_KEY
    #[arg(long, env = "BASALT_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Master keys used before a rotation, comma-separated: secrets they sealed are sealed again with the master key at start
    #[arg(
        long,
        env = "BASALT_MASTER_KEY_PREVIOUS",
        value_name = "KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub master_key_previous: Option<Vec<Secret<String>>>,
    /// URL clients use to reach this server; the issuer of tokens [default: http://<http>]
    #[arg(long, env = "BASALT_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Where your app lives: mailed links point there [default: the public URL]
    #[arg(long, env = "BASALT_SITE_URL", value_name = "URL")]
    pub site_url: Option<String>,
    /// Allowed browser origins, comma-separated, `*` for any [default: *]
    #[arg(
        long,
        env = "BASALT_CORS_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Largest request body read into memory, in bytes [default: 2097152]
    #[arg(long, env = "BASALT_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Largest document data, in bytes of JSON [default: 1048576]
    #[arg(long, env = "BASALT_DOCUMENT_MAX_BYTES", value_name = "BYTES")]
    pub document_max_bytes: Option<usize>,
    /// Seconds committed changes stay in the change feed for realtime resume [default: 300]
    #[arg(long, env = "BASALT_CHANGE_RETENTION", value_name = "SECS")]
    pub change_retention: Option<u64>,
    /// Seconds a request may take [default: 30]
    #[arg(long, env = "BASALT_REQUEST_TIMEOUT", value_name = "SECS")]
    pub request_timeout: Option<u64>,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive connection stays open [default: 15]
    #[arg(long, env = "BASALT_HEADER_TIMEOUT", value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// HTTP connections open at once; more are closed as they arrive [default: 10000]
    #[arg(long, env = "BASALT_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Realtime sockets open at once from one client address; 0 for no cap [default: 1000]
    #[arg(long, env = "BASALT_REALTIME_MAX_SOCKETS_PER_IP", value_name = "N")]
    pub realtime_max_sockets_per_ip: Option<u32>,
    /// Seconds in-flight requests get after SIGINT/SIGTERM [default: 10]
    #[arg(long, env = "BASALT_SHUTDOWN_TIMEOUT", value_name = "SECS")]
    pub shutdown_timeout: Option<u64>,
    /// Seconds after SIGINT/SIGTERM during which /v1/health/ready answers 503 while requests are still served, so a load balancer moves traffic away first [default: 0]
    #[arg(long, env = "BASALT_SHUTDOWN_DELAY", value_name = "SECS")]
    pub shutdown_delay: Option<f64>,
    /// Cron of scheduled backups (5 fields, or 6 with seconds; UTC), e.g. "0 3 * * *"; SQLite only [default: none]
    #[arg(long, env = "BASALT_BACKUP_SCHEDULE", value_name = "CRON")]
    pub backup_schedule: Option<String>,
    /// Where scheduled backups go: a directory or s3://bucket/prefix; each run makes a folder named by its time
    #[arg(long, env = "BASALT_BACKUP_TO", value_name = "PLACE")]
    pub backup_to: Option<String>,
    /// Scheduled backups kept; older ones are deleted [default: 7]
    #[arg(long, env = "BASALT_BACKUP_KEEP", value_name = "N")]
    pub backup_keep: Option<u32>,
    /// Lifetime of admin tokens in seconds [default: 43200]
    #[arg(long, env = "BASALT_ADMIN_TOKEN_TTL", value_name = "SECS")]
    pub admin_token_ttl: Option<u64>,
    /// Lifetime of app users' access tokens in seconds [default: 3600]
    #[arg(long, env = "BASALT_ACCESS_TOKEN_TTL", value_name = "SECS")]
    pub access_token_ttl: Option<u64>,
    /// Users must confirm their email before they can sign in [default: false]
    #[arg(long, env = "BASALT_REQUIRE_EMAIL_CONFIRMATION", value_name = "BOOL")]
    pub require_email_confirmation: Option<bool>,
    /// Origins mailed links and OAuth may redirect to, comma-separated (the public URL always may)
    #[arg(
        long,
        env = "BASALT_REDIRECT_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub redirect_origins: Option<Vec<String>>,
    /// SMTP server for mail: smtp://user:pass@host:587?tls=required or smtps://… [default: none, mail stays in the outbox]
    #[arg(long, env = "BASALT_SMTP_URL", value_name = "URL", hide_env_values = true)]
    pub smtp_url: Option<Secret<String>>,
    /// Sender of every mail [default: Basalt <no-reply@localhost>]
    #[arg(long, env = "BASALT_MAIL_FROM", value_name = "MAILBOX")]
    pub mail_from: Option<String>,
    /// Login attempts per minute per client address and per email; 0 disables [default: 10]
    #[arg(long, env = "BASALT_LOGIN_RATE_LIMIT", value_name = "N")]
    pub login_rate_limit: Option<u32>,
    /// Take the client address from X-Forwarded-For (only behind your own proxy) [default: false]
    #[arg(long, env = "BASALT_TRUST_PROXY", value_name = "BOOL")]
    pub trust_proxy: Option<bool>,
    /// PostgreSQL pool size (at least 2), or SQLite reader connections [default: 8]
    #[arg(long, env = "BASALT_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,
    /// Where file bytes go: a directory, or s3://bucket [default: <data-dir>/files]
    #[arg(long, env = "BASALT_FILES_URL", value_name = "URL")]
    pub files_url: Option<String>,
    /// S3 endpoint for an S3-compatible server, e.g. http://127.0.0.1:9000 [default: AWS]
    #[arg(long, env = "BASALT_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION, else us-east-1]
    #[arg(long, env = "BASALT_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,
    /// S3 access key id [default: AWS_ACCESS_KEY_ID]
    #[arg(long, env = "BASALT_S3_ACCESS_KEY_ID", value_name = "ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key [default: AWS_SECRET_ACCESS_KEY]
    #[arg(
        long,
        env = "BASALT_S3_SECRET_ACCESS_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<Secret<String>>,
    /// Allow an http:// S3 endpoint [default: false]
    #[arg(long, env = "BASALT_S3_ALLOW_HTTP", value_name = "BOOL")]
    pub s3_allow_http: Option<bool>,
    /// OAuth / OpenID Connect providers (config file only: `[oauth.<name>]` tables)
    #[arg(skip)]
    #[serde(default)]
    pub oauth: Option<BTreeMap<String, OAuthSettings>>,
    /// Log filter, e.g. `info` or `warn,basalt=debug` [default: info]
    #[arg(long, env = "BASALT_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Server log lines as `text` or `json` (one object per line) [default: text]
    #[arg(long, env = "BASALT_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Keep every request in the request log, for GET /v1/admin/logs and the charts [default: true]
    #[arg(long, env = "BASALT_REQUEST_LOG", value_name = "BOOL")]
    pub request_log: Option<bool>,
    /// Seconds request log entries are kept [default: 604800, 7 days]
    #[arg(long, env = "BASALT_LOG_RETENTION", value_name = "SECS")]
    pub log_retention: Option<u64>,
    /// Request log entries kept at most, whatever their age [default: 1000000]
    #[arg(long, env = "BASALT_LOG_MAX_ENTRIES", value_name = "N")]
    pub log_max_entries: Option<u64>,
    /// Let http.fetch, webhooks and push reach private and loopback addresses [default: false]
    #[arg(long, env = "BASALT_FUNCTIONS_ALLOW_PRIVATE_NET", value_name = "BOOL")]
    pub functions_allow_private_net: Option<bool>,
    /// Seconds a webhook's receiver has to answer [default: 10]
    #[arg(long, env = "BASALT_WEBHOOK_TIMEOUT", value_name = "SECS")]
    pub webhook_timeout: Option<u64>,
    /// Seconds before each retry of an after-trigger, job or webhook delivery, comma-separated; the try after the last is dead [default: 5,300,1800,7200,18000,36000]
    #[arg(
        long,
        env = "BASALT_OUTBOX_RETRY_DELAYS",
        value_name = "SECS,...",
        value_delimiter = ','
    )]
    pub outbox_retry_delays: Option<Vec<f64>>,
    /// The VAPID contact push services see: mailto:… or https://… [default: the public URL]
    #[arg(long, env = "BASALT_PUSH_VAPID_SUBJECT", value_name = "URI")]
    pub push_vapid_subject: Option<String>,
    /// A Firebase service account's JSON key file, to send to FCM tokens
    #[arg(long, env = "BASALT_PUSH_FCM_CREDENTIALS_FILE", value_name = "PATH")]
    pub push_fcm_credentials_file: Option<PathBuf>,
    /// FCM's base URL [default: https://fcm.googleapis.com]
    #[arg(long, env = "BASALT_PUSH_FCM_URL", value_name = "URL")]
    pub push_fcm_url: Option<String>,
    /// The APNs token-auth key (.p8 file), to send to APNs tokens
    #[arg(long, env = "BASALT_PUSH_APNS_KEY_FILE", value_name = "PATH")]
    pub push_apns_key_file: Option<PathBuf>,
    /// The APNs key's id (10 characters, from Apple)
    #[arg(long, env = "BASALT_PUSH_APNS_KEY_ID", value_name = "ID")]
    pub push_apns_key_id: Option<String>,
    /// The Apple developer team id
    #[arg(long, env = "BASALT_PUSH_APNS_TEAM_ID", value_name = "ID")]
    pub push_apns_team_id: Option<String>,
    /// APNs's base URL; https://api.sandbox.push.apple.com for development builds [default: https://api.push.apple.com]
    #[arg(long, env = "BASALT_PUSH_APNS_URL", value_name = "URL")]
    pub push_apns_url: Option<String>,
    /// PEM certificates trusted for FCM and APNs besides the system's (a proxy, a test)
    #[arg(long, env = "BASALT_PUSH_CA_FILE", value_name = "PATH")]
    pub push_ca_file: Option<PathBuf>,
    /// Notifications one user gets at most per minute, from all senders; 0 for no limit [default: 60]
    #[arg(long, env = "BASALT_PUSH_RATE_PER_USER", value_name = "N")]
    pub push_rate_per_user: Option<u32>,
}

/// Where a command finds its configuration: the file plus flags and environment.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file; flags and BASALT_* variables override it
    #[arg(long, env = "BASALT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

/// One `[oauth.<name>]` table. A name of `google`, `microsoft`, `apple`,
/// `github` or `discord` fills in that provider's endpoints; otherwise give
/// `issuer` (OpenID Connect) or the three OAuth 2.0 URLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub issuer: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Microsoft: the tenant (`common`, `organizations`, `consumers` or an id).
    pub tenant: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub user_url: Option<String>,
    pub emails_url: Option<String>,
    pub id_field: Option<String>,
    pub email_field: Option<String>,
    pub verified_field: Option<String>,
}

impl OAuthSettings {
    fn resolve(self, name: &str) -> Result<OAuthProvider, String> {
        let valid_name = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(format!(
                "OAuth provider name `{name}`: use 1 to 32 of a-z, 0-9, - and _"
            ));
        }
        let oidc = |issuer: String, template: Option<String>, form_post: bool| OAuthKind::Oidc {
            issuer,
            issuer_template: template,
            form_post,
        };
        let oauth2 =
            |authorize: &str, token: &str, user: &str, emails: Option<&str>, verified: Option<&str>| {
                OAuthKind::OAuth2 {
                    authorize_url: authorize.to_owned(),
                    token_url: token.to_owned(),
                    user_url: user.to_owned(),
                    emails_url: emails.map(str::to_owned),
                    id_field: "id".to_owned(),
                    email_field: "email".to_owned(),
                    verified_field: verified.map(str::to_owned),
                }
            };
        let (kind, default_scopes): (OAuthKind, &[&str]) = if let Some(issuer) = self.issuer.clone() {
            (
                oidc(issuer.trim_end_matches('/').to_owned(), None, false),
                &["openid", "email", "profile"],
            )
        } else if let Some(authorize) = &self.authorize_url {
            let (Some(token), Some(user)) = (&self.token_url, &self.user_url) else {
                return Err(format!(
                    "OAuth provider `{name}`: authorize_url needs token_url and user_url too"
                ));
            };
            let mut kind = oauth2(
                authorize,
                token,
                user,
                self.emails_url.as_deref(),
                self.verified_field.as_deref(),
            );
            if let OAuthKind::OAuth2 {
                id_field,
                email_field,
                ..
            } = &mut kind
            {
                if let Some(f) = &self.id_field {
                    id_field.clone_from(f);
                }
                if let Some(f) = &self.email_field {
                    email_field.clone_from(f);
                }
            }
            (kind, &[])
        } else {
            match name {
                "google" => (
                    oidc("https://accounts.google.com".into(), None, false),
                    &["openid", "email", "profile"],
                ),
                "microsoft" => {
                    let tenant = self.tenant.clone().unwrap_or_else(|| "common".into());
                    let template = Some("https://login.microsoftonline.com/{tenantid}/v2.0".to_owned());
                    (
                        oidc(
                            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                            template,
                            false,
                        ),
                        &["openid", "email", "profile"],
                    )
                }
                "apple" => (
                    oidc("https://appleid.apple.com".into(), None, true),
                    &["openid", "email", "name"],
                ),
                "github" => (
                    oauth2(
                        "https://github.com/login/oauth/authorize",
                        "https://github.com/login/oauth/access_token",
                        "https://api.github.com/user",
                        Some("https://api.github.com/user/emails"),
                        None,
                    ),
                    &["read:user", "user:email"],
                ),
                "discord" => (
                    oauth2(
                        "https://discord.com/oauth2/authorize",
                        "https://discord.com/api/oauth2/token",
                        "https://discord.com/api/users/@me",
                        None,
                        Some("verified"),
                    ),
                    &["identify", "email"],
                ),
                other => {
                    return Err(format!(
                        "OAuth provider `{other}`: give `issuer` (OpenID Connect) or authorize_url, token_url and user_url"
                    ));
                }
            }
        };
        Ok(OAuthProvider {
            name: name.to_owned(),
            client_id: self.client_id,
            client_secret: self.client_secret,
            scopes: self
                .scopes
                .unwrap_or_else(|| default_scopes.iter().map(|s| s.to_string()).collect()),
            kind,
        })
    }
}

/// The few settings commands other than `serve` take: where the database is.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// TOML configuration file; flags and BASALT_* variables override it
    #[arg(long, env = "BASALT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and local files [default: ./basalt_data]
    #[arg(long, env = "BASALT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… for PostgreSQL [default: SQLite in the data directory]
    #[arg(long, env = "BASALT_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<Secret<String>>,
    /// Key that seals the secrets kept in the database (signing keys, MFA and webhook secrets): 32 bytes as base64 or hex, from `basalt master-key generate` [default: none, stored unsealed]
    #[arg(long, env = "BASALT_MASTER_KEY", value_name = "KEY", hide_env_values = true)]
    pub master_key: Option<Secret<String>>,
    /// File holding the master key (a systemd credential, a mounted secret) instead of BASALT_MASTER_KEY
    #[arg(long, env = "BASALT_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Master keys used before a rotation, comma-separated: secrets they sealed are sealed again with the master key at start
    #[arg(
        long,
        env = "BASALT_MASTER_KEY_PREVIOUS",
        value_name = "KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub master_key_previous: Option<Vec<Secret<String>>>,
}

impl StoreArgs {
    pub fn config_args(&self) -> ConfigArgs {
        ConfigArgs {
            config: self.config.clone(),
            settings: Settings {
                data_dir: self.data_dir.clone(),
                database_url: self.database_url.clone(),
                master_key: self.master_key.clone(),
                master_key_file: self.master_key_file.clone(),
                master_key_previous: self.master_key_previous.clone(),
                ..Settings::default()
            },
        }
    }
}

macro_rules! first {
    ($flags:expr, $file:expr, $($field:ident),*) => {
        Settings { $($field: $flags.$field.or($file.$field)),* }
    };
}

impl Settings {
    /// `self` (flags and environment) over `file`.
    pub fn over(self, file: Settings) -> Settings {
        first!(
            self,
            file,
            http,
            data_dir,
            database_url,
            master_key,
            master_key_file,
            master_key_previous,
            public_url,
            site_url,
            cors_origins,
            body_limit,
            document_max_bytes,
            change_retention,
            request_timeout,
            header_timeout,
            max_connections,
            realtime_max_sockets_per_ip,
            shutdown_timeout,
            shutdown_delay,
            backup_schedule,
            backup_to,
            backup_keep,
            admin_token_ttl,
            access_token_ttl,
            require_email_confirmation,
            redirect_origins,
            smtp_url,
            mail_from,
            login_rate_limit,
            trust_proxy,
            db_max_connections,
            oauth,
            files_url,
            s3_endpoint,
            s3_region,
            s3_access_key_id,
            s3_secret_access_key,
            s3_allow_http,
            log,
            log_format,
            request_log,
            log_retention,
            log_max_entries,
            functions_allow_private_net,
            webhook_timeout,
            outbox_retry_delays,
            push_vapid_subject,
            push_fcm_credentials_file,
            push_fcm_url,
            push_apns_key_file,
            push_apns_key_id,
            push_apns_team_id,
            push_apns_url,
            push_ca_file,
            push_rate_per_user
        )
    }

    pub fn from_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
    }

    /// Fills in defaults and checks values.
    pub fn resolve(self) -> Result<Config, String> {
        let mut config = Config::with_data_dir(self.data_dir.unwrap_or_else(|| PathBuf::from("basalt_data")));
        if let Some(http) = self.http {
            config.http = http;
        }
        config.public_url = self
            .public_url
            .unwrap_or_else(|| format!("http://{}", config.http))
            .trim_end_matches('/')
            .to_owned();
        if !(config.public_url.starts_with("http://") || config.public_url.starts_with("https://")) {
            return Err("public_url must start with http:// or https://".into());
        }
        if let Some(site) = self.site_url {
            if !(site.starts_with("http://") || site.starts_with("https://")) {
                return Err("site_url must start with http:// or https://".into());
            }
            config.site_url = Some(site.trim_end_matches('/').to_owned());
        }
        config.database_url = self.database_url.filter(|u| !u.expose().is_empty());
        config.master_key = match (
            self.master_key.filter(|k| !k.expose().is_empty()),
            self.master_key_file,
        ) {
            (Some(_), Some(_)) => return Err("give master_key or master_key_file, not both".into()),
            (Some(key), None) => Some(key),
            (None, Some(path)) => Some(Secret::new(
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read master_key_file {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            )),
            (None, None) => None,
        };
        config.master_key_previous = self
            .master_key_previous
            .unwrap_or_default()
            .into_iter()
            .filter(|k| !k.expose().trim().is_empty())
            .collect();
        if let Some(origins) = self.cors_origins {
            config.cors_origins = origins
                .into_iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(v) = self.body_limit {
            config.body_limit = v;
        }
        if let Some(v) = self.document_max_bytes {
            if v < 1024 {
                return Err("document_max_bytes must be at least 1024".into());
            }
            config.document_max_bytes = v;
        }
        let secs = |v: Option<u64>, default: Duration, name: &str| -> Result<Duration, String> {
            match v {
                Some(0) => Err(format!("{name} must be at least 1 second")),
                Some(s) => Ok(Duration::from_secs(s)),
                None => Ok(default),
            }
        };
        config.request_timeout = secs(self.request_timeout, config.request_timeout, "request_timeout")?;
        config.header_timeout = secs(self.header_timeout, config.header_timeout, "header_timeout")?;
        if let Some(v) = self.max_connections {
            config.max_connections = v.max(1);
        }
        if let Some(v) = self.realtime_max_sockets_per_ip {
            config.realtime_max_sockets_per_ip = v;
        }
        config.change_retention = secs(self.change_retention, config.change_retention, "change_retention")?;
        config.log_retention = secs(self.log_retention, config.log_retention, "log_retention")?;
        config.webhook_timeout = secs(self.webhook_timeout, config.webhook_timeout, "webhook_timeout")?;
        if let Some(v) = self.functions_allow_private_net {
            config.functions_allow_private_net = v;
        }
        if let Some(delays) = self.outbox_retry_delays {
            if delays.len() > 20 || delays.iter().any(|d| !(0.01..=7.0 * 86_400.0).contains(d)) {
                return Err("outbox_retry_delays: at most 20 waits, each from 0.01 to 604800 seconds".into());
            }
            config.outbox_retry_delays = delays.into_iter().map(Duration::from_secs_f64).collect();
        }
        if let Some(v) = self.request_log {
            config.request_log = v;
        }
        if let Some(subject) = self.push_vapid_subject.filter(|s| !s.is_empty()) {
            if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
                return Err("push_vapid_subject must be a mailto: or https:// URI".into());
            }
            config.push_vapid_subject = Some(subject);
        }
        config.push_fcm_credentials_file = self.push_fcm_credentials_file;
        config.push_apns_key_file = self.push_apns_key_file;
        config.push_apns_key_id = self.push_apns_key_id.filter(|s| !s.is_empty());
        config.push_apns_team_id = self.push_apns_team_id.filter(|s| !s.is_empty());
        config.push_ca_file = self.push_ca_file;
        for (value, slot, name) in [
            (self.push_fcm_url, &mut config.push_fcm_url, "push_fcm_url"),
            (self.push_apns_url, &mut config.push_apns_url, "push_apns_url"),
        ] {
            if let Some(url) = value.filter(|u| !u.is_empty()) {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!("{name} must be an http:// or https:// URL"));
                }
                *slot = url;
            }
        }
        if let Some(n) = self.push_rate_per_user {
            config.push_rate_per_user = n;
        }
        if let Some(v) = self.log_max_entries {
            config.log_max_entries = v.max(1);
        }
        // Functions see `BASALT_FN_NAME` as `env.NAME`.
        config.functions_env = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("BASALT_FN_").map(|name| (name.to_owned(), v)))
            .filter(|(name, _)| !name.is_empty())
            .collect();
        if let Some(f) = self.log_format.as_deref()
            && f != "text"
            && f != "json"
        {
            return Err(format!("log_format `{f}`: use text or json"));
        }
        config.shutdown_timeout = secs(self.shutdown_timeout, config.shutdown_timeout, "shutdown_timeout")?;
        if let Some(d) = self.shutdown_delay {
            if !(0.0..=300.0).contains(&d) {
                return Err("shutdown_delay: from 0 to 300 seconds".into());
            }
            config.shutdown_delay = Duration::from_secs_f64(d);
        }
        config.backup_schedule = self.backup_schedule.filter(|s| !s.trim().is_empty());
        config.backup_to = self.backup_to.filter(|s| !s.trim().is_empty());
        if config.backup_schedule.is_some() != config.backup_to.is_some() {
            return Err("backup_schedule and backup_to go together: give both or neither".into());
        }
        if let Some(keep) = self.backup_keep {
            if keep == 0 {
                return Err("backup_keep must be at least 1".into());
            }
            config.backup_keep = keep;
        }
        config.admin_token_ttl = secs(self.admin_token_ttl, config.admin_token_ttl, "admin_token_ttl")?;
        config.access_token_ttl = secs(self.access_token_ttl, config.access_token_ttl, "access_token_ttl")?;
        if let Some(v) = self.require_email_confirmation {
            config.require_email_confirmation = v;
        }
        config.smtp_url = self.smtp_url.filter(|u| !u.expose().is_empty());
        if let Some(from) = self.mail_from {
            config.mail_from = from;
        }
        config.files_url = self.files_url.filter(|u| !u.is_empty());
        config.s3_endpoint = self.s3_endpoint;
        config.s3_region = self.s3_region;
        config.s3_access_key_id = self.s3_access_key_id;
        config.s3_secret_access_key = self.s3_secret_access_key;
        config.s3_allow_http = self.s3_allow_http.unwrap_or(false);
        for (name, provider) in self.oauth.unwrap_or_default() {
            config.oauth.push(provider.resolve(&name)?);
        }
        if let Some(origins) = self.redirect_origins {
            config.redirect_origins = origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(v) = self.login_rate_limit {
            config.login_rate_limit = v;
        }
        if let Some(v) = self.trust_proxy {
            config.trust_proxy = v;
        }
        if let Some(v) = self.db_max_connections {
            config.db_max_connections = v.max(1);
        }
        Ok(config)
    }
}

impl ConfigArgs {
    /// Flags and environment over the file over defaults.
    pub fn load(&self) -> Result<(Config, Settings), String> {
        let file = match &self.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        let merged = self.settings.clone().over(file);
        Ok((merged.clone().resolve()?, merged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_over_defaults() {
        let file: Settings = toml::from_str(
            "http = \"0.0.0.0:9000\"\npublic_url = \"https://file.example/\"\nlogin_rate_limit = 3\n",
        )
        .unwrap();
        let flags = Settings {
            public_url: Some("https://flag.example".into()),
            ..Settings::default()
        };
        let config = flags.over(file).resolve().unwrap();
        assert_eq!(config.http.to_string(), "0.0.0.0:9000");
        assert_eq!(config.public_url, "https://flag.example");
        assert_eq!(config.login_rate_limit, 3);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert!(config.database_url.is_none());
    }

    #[test]
    fn file_typos_and_bad_values_are_refused() {
        assert!(toml::from_str::<Settings>("htpp = \"x\"").is_err());
        let bad = Settings {
            request_timeout: Some(0),
            ..Settings::default()
        };
        assert!(bad.resolve().is_err());
        let bad = Settings {
            public_url: Some("ftp://x".into()),
            ..Settings::default()
        };
        assert!(bad.resolve().is_err());
    }

    #[test]
    fn database_url_is_redacted_in_debug_output() {
        let s = Settings {
            database_url: Some(Secret::new("postgres://u:hunter22@db/x".into())),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter22"));
        let config = s.resolve().unwrap();
        assert!(!format!("{config:?}").contains("hunter22"));
    }
}
