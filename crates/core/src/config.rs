//! The resolved configuration every slice reads. Loading and layering
//! (file, then `BASALT_*` environment, then flags) lives in the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub http: SocketAddr,
    /// Where the SQLite database and local files live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; `None` for SQLite in `data_dir`.
    pub database_url: Option<Secret<String>>,
    /// The key that seals secrets stored in the database; `None` stores them as they are.
    pub master_key: Option<Secret<String>>,
    /// Keys that sealed secrets before a rotation: they open, never seal.
    pub master_key_previous: Vec<Secret<String>>,
    /// The URL clients reach this server at; the `iss` of every token.
    pub public_url: String,
    /// Where the app lives: the base of links in mails [default: `public_url`].
    pub site_url: Option<String>,
    /// Browser origins allowed by CORS; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest request body read into memory, in bytes.
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Time a client has to send a request's headers; also how long an idle
    /// keep-alive connection stays open.
    pub header_timeout: Duration,
    /// HTTP connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Realtime sockets open at once from one client address; 0 for no cap.
    pub realtime_max_sockets_per_ip: u32,
    /// How long in-flight requests may run after SIGINT/SIGTERM.
    pub shutdown_timeout: Duration,
    /// After a stop signal, how long the server answers not-ready while it
    /// still serves, before it stops accepting (for load balancers).
    pub shutdown_delay: Duration,
    /// Cron (5 or 6 fields, UTC) of scheduled backups; `None`: none.
    pub backup_schedule: Option<String>,
    /// Where scheduled backups go: a directory or `s3://bucket/prefix`.
    pub backup_to: Option<String>,
    /// Scheduled backups kept; older ones are deleted.
    pub backup_keep: u32,
    pub admin_token_ttl: Duration,
    /// Lifetime of app users' access tokens.
    pub access_token_ttl: Duration,
    /// Users must confirm their email before they can sign in.
    pub require_email_confirmation: bool,
    /// `smtp://user:pass@host:587?tls=required` or `smtps://…`; `None` keeps mail in the outbox.
    pub smtp_url: Option<Secret<String>>,
    /// The sender of every mail, e.g. `My App <no-reply@app.example>`.
    pub mail_from: String,
    /// Where file bytes go: `None` for `<data_dir>/files`, a directory path,
    /// or `s3://bucket` (with the `s3_*` settings or the AWS_* environment).
    pub files_url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret<String>>,
    /// Allow plain http:// S3 endpoints (a local S3-compatible server).
    pub s3_allow_http: bool,
    /// OAuth / OpenID Connect providers users may sign in with, by name.
    pub oauth: Vec<OAuthProvider>,
    /// Origins (`https://app.example`) that mailed links and OAuth may send users back to.
    pub redirect_origins: Vec<String>,
    /// Attempts per minute per client address and per email on login-like endpoints.
    pub login_rate_limit: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// Connections in the PostgreSQL pool, or SQLite readers.
    pub db_max_connections: u32,
    /// Largest document `data`, in bytes of JSON.
    pub document_max_bytes: usize,
    /// How long committed changes stay in the change feed for realtime resume.
    pub change_retention: Duration,
    /// Realtime heartbeats: how often the server pings, and how long a
    /// silent socket lives (fixed at 30 s and 90 s; tests shorten them).
    pub realtime_ping: Duration,
    pub realtime_silence: Duration,
    /// Keep every request in the request log (`GET /v1/admin/logs`).
    pub request_log: bool,
    /// How long request log entries are kept.
    pub log_retention: Duration,
    /// At most this many request log entries are kept, whatever their age.
    pub log_max_entries: u64,
    /// `env.NAME` in functions: every `BASALT_FN_NAME` variable (never logged).
    pub functions_env: std::collections::BTreeMap<String, String>,
    /// Let `http.fetch`, webhooks and push reach private and loopback
    /// addresses (tests, intranets).
    pub functions_allow_private_net: bool,
    /// How long a webhook's receiver has to answer.
    pub webhook_timeout: Duration,
    /// Waits before each retry of an outbox delivery; the try after the
    /// last is `dead` (API.md's schedule; tests shorten it).
    pub outbox_retry_delays: Vec<Duration>,
    /// The VAPID `sub` claim push services may contact [default: `mailto:` nobody, the public URL].
    pub push_vapid_subject: Option<String>,
    /// A Firebase service account's JSON key: sends to FCM tokens.
    pub push_fcm_credentials_file: Option<PathBuf>,
    pub push_fcm_url: String,
    /// APNs token auth: the `.p8` key, its key id, the team id.
    pub push_apns_key_file: Option<PathBuf>,
    pub push_apns_key_id: Option<String>,
    pub push_apns_team_id: Option<String>,
    pub push_apns_url: String,
    /// PEM certificates trusted for FCM and APNs besides the system's.
    pub push_ca_file: Option<PathBuf>,
    /// Notifications one user gets at most per minute (0: no limit).
    pub push_rate_per_user: u32,
}

impl Config {
    /// Defaults with the given data directory; handy for tests and tools.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let http: SocketAddr = ([127, 0, 0, 1], 8090).into();
        Config {
            http,
            data_dir: data_dir.into(),
            database_url: None,
            public_url: format!("http://{http}"),
            site_url: None,
            cors_origins: vec!["*".into()],
            body_limit: 2 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(15),
            max_connections: 10_000,
            realtime_max_sockets_per_ip: 1000,
            shutdown_timeout: Duration::from_secs(10),
            shutdown_delay: Duration::ZERO,
            backup_schedule: None,
            backup_to: None,
            backup_keep: 7,
            admin_token_ttl: Duration::from_secs(12 * 3600),
            access_token_ttl: Duration::from_secs(3600),
            require_email_confirmation: false,
            redirect_origins: Vec::new(),
            smtp_url: None,
            oauth: Vec::new(),
            files_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            master_key: None,
            master_key_previous: Vec::new(),
            mail_from: "Basalt <no-reply@localhost>".into(),
            login_rate_limit: 10,
            document_max_bytes: 1024 * 1024,
            change_retention: Duration::from_secs(300),
            realtime_ping: Duration::from_secs(30),
            realtime_silence: Duration::from_secs(90),
            request_log: true,
            log_retention: Duration::from_secs(7 * 24 * 3600),
            log_max_entries: 1_000_000,
            functions_env: std::collections::BTreeMap::new(),
            functions_allow_private_net: false,
            webhook_timeout: Duration::from_secs(10),
            outbox_retry_delays: [5, 300, 1800, 7200, 18_000, 36_000]
                .map(Duration::from_secs)
                .to_vec(),
            push_vapid_subject: None,
            push_fcm_credentials_file: None,
            push_fcm_url: "https://fcm.googleapis.com".into(),
            push_apns_key_file: None,
            push_apns_key_id: None,
            push_apns_team_id: None,
            push_apns_url: "https://api.push.apple.com".into(),
            push_ca_file: None,
            push_rate_per_user: 60,
            trust_proxy: false,
            db_max_connections: 8,
        }
    }
}

/// One OAuth 2.0 / OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct OAuthProvider {
    /// The name in `/v1/auth/oauth/{name}/…`.
    pub name: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub scopes: Vec<String>,
    pub kind: OAuthKind,
}

#[derive(Debug, Clone)]
pub enum OAuthKind {
    /// Endpoints from `{issuer}/.well-known/openid-configuration`; the ID token is verified.
    Oidc {
        issuer: String,
        /// A template for the expected `iss` when it varies per tenant
        /// (`{tenantid}` is replaced by the token's `tid`).
        issuer_template: Option<String>,
        /// Providers that post the callback (`response_mode=form_post`).
        form_post: bool,
    },
    /// Plain OAuth 2.0: the user comes from a JSON user endpoint.
    OAuth2 {
        authorize_url: String,
        token_url: String,
        user_url: String,
        /// GitHub-style list of addresses, when the user endpoint may hide the email.
        emails_url: Option<String>,
        /// Field names in the user object: id, email, and whether the email is verified.
        id_field: String,
        email_field: String,
        verified_field: Option<String>,
    },
}
