//! `GET /v1/admin/settings` (the effective configuration, secrets shown
//! only as set or not set) and `POST /v1/admin/settings/test-mail`.

use axum::extract::State;
use basalt_auth::email::Email;
use basalt_auth::mail::{Mail, Mailer};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::AdminRole;
use basalt_core::config::{Config, OAuthKind};
use basalt_core::extract::Json;
use basalt_core::{AdminCaller, Error};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::AppState;

pub fn api() -> Api<AppState> {
    Api::new()
        .route(
            Route::get("/v1/admin/settings", settings)
                .tag("admin")
                .summary("The effective configuration; secrets are shown only as set or not set")
                .access(Access::Admin)
                .response::<Effective>(200, "Every setting, mail and the OAuth providers"),
        )
        .route(
            Route::post("/v1/admin/settings/test-mail", test_mail)
                .tag("admin")
                .summary("Send a test mail through the configured mail transport")
                .access(Access::Admin)
                .role(AdminRole::Developer)
                .body::<TestMail>()
                .response::<Sent>(200, "Delivered to the SMTP server, or kept in the outbox"),
        )
}

#[derive(Serialize, JsonSchema)]
pub struct Effective {
    /// In the order of docs/configuration.md.
    settings: Vec<Setting>,
    mail: MailInfo,
    oauth_providers: Vec<Provider>,
}

#[derive(Serialize, JsonSchema)]
pub struct Setting {
    /// The name in the config file (`BASALT_<KEY>` in the environment).
    key: &'static str,
    /// The value in effect; null for a secret or a setting left unset.
    value: Value,
    /// A secret's value is never shown.
    secret: bool,
    /// Whether a value is in effect (for a secret: whether it is configured).
    set: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct MailInfo {
    /// `smtp`, or `outbox` when no SMTP server is configured.
    transport: &'static str,
    from: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Provider {
    name: String,
    /// `oidc` (OpenID Connect) or `oauth2`.
    kind: &'static str,
    issuer: Option<String>,
    client_id: String,
    scopes: Vec<String>,
}

/// The configuration as admins may see it.
pub fn effective(config: &Config) -> Effective {
    fn plain(key: &'static str, value: Value) -> Setting {
        Setting {
            key,
            set: !value.is_null(),
            value,
            secret: false,
        }
    }
    fn secret(key: &'static str, set: bool) -> Setting {
        Setting {
            key,
            value: Value::Null,
            secret: true,
            set,
        }
    }
    let secs = |d: std::time::Duration| json!(d.as_secs());
    let c = config;
    let settings = vec![
        plain("http", json!(c.http.to_string())),
        plain("data_dir", json!(c.data_dir.display().to_string())),
        // A URL that may carry a password: shown only as set.
        secret("database_url", c.database_url.is_some()),
        secret("master_key", c.master_key.is_some()),
        plain("master_key_previous", json!(c.master_key_previous.len())),
        plain("public_url", json!(c.public_url)),
        plain("site_url", json!(c.site_url)),
        plain("cors_origins", json!(c.cors_origins)),
        plain("body_limit", json!(c.body_limit)),
        plain("document_max_bytes", json!(c.document_max_bytes)),
        plain("change_retention", secs(c.change_retention)),
        plain("request_timeout", secs(c.request_timeout)),
        plain("header_timeout", secs(c.header_timeout)),
        plain("max_connections", json!(c.max_connections)),
        plain(
            "realtime_max_sockets_per_ip",
            json!(c.realtime_max_sockets_per_ip),
        ),
        plain("shutdown_timeout", secs(c.shutdown_timeout)),
        plain("shutdown_delay", json!(c.shutdown_delay.as_secs_f64())),
        plain("backup_schedule", json!(c.backup_schedule)),
        plain("backup_to", json!(c.backup_to)),
        plain("backup_keep", json!(c.backup_keep)),
        plain("admin_token_ttl", secs(c.admin_token_ttl)),
        plain("access_token_ttl", secs(c.access_token_ttl)),
        plain("require_email_confirmation", json!(c.require_email_confirmation)),
        plain("redirect_origins", json!(c.redirect_origins)),
        secret("smtp_url", c.smtp_url.is_some()),
        plain("mail_from", json!(c.mail_from)),
        plain("login_rate_limit", json!(c.login_rate_limit)),
        plain("trust_proxy", json!(c.trust_proxy)),
        plain("db_max_connections", json!(c.db_max_connections)),
        plain("files_url", json!(c.files_url)),
        plain("s3_endpoint", json!(c.s3_endpoint)),
        plain("s3_region", json!(c.s3_region)),
        plain("s3_access_key_id", json!(c.s3_access_key_id)),
        secret("s3_secret_access_key", c.s3_secret_access_key.is_some()),
        plain("s3_allow_http", json!(c.s3_allow_http)),
        plain("request_log", json!(c.request_log)),
        plain("log_retention", secs(c.log_retention)),
        plain(
            "functions_allow_private_net",
            json!(c.functions_allow_private_net),
        ),
        plain("webhook_timeout", secs(c.webhook_timeout)),
        plain(
            "outbox_retry_delays",
            json!(
                c.outbox_retry_delays
                    .iter()
                    .map(std::time::Duration::as_secs_f64)
                    .collect::<Vec<_>>()
            ),
        ),
        plain("log_max_entries", json!(c.log_max_entries)),
    ];
    let oauth_providers = c
        .oauth
        .iter()
        .map(|p| {
            let (kind, issuer) = match &p.kind {
                OAuthKind::Oidc { issuer, .. } => ("oidc", Some(issuer.clone())),
                OAuthKind::OAuth2 { .. } => ("oauth2", None),
            };
            Provider {
                name: p.name.clone(),
                kind,
                issuer,
                client_id: p.client_id.clone(),
                scopes: p.scopes.clone(),
            }
        })
        .collect();
    Effective {
        settings,
        mail: MailInfo {
            transport: if c.smtp_url.is_some() { "smtp" } else { "outbox" },
            from: c.mail_from.clone(),
        },
        oauth_providers,
    }
}

async fn settings(_: AdminCaller, State(state): State<AppState>) -> Json<Effective> {
    Json(effective(&state.config))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMail {
    /// The address to send to.
    #[schemars(
        regex(
            pattern = r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]{1,64}@[^@\s.\u0000-\u001f\u007f-\u009f]+(\.[^@\s.\u0000-\u001f\u007f-\u009f]+)*\s*$"
        ),
        length(max = 254)
    )]
    to: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Sent {
    /// `smtp` (the SMTP server accepted it) or `outbox` (kept in the outbox).
    transport: &'static str,
}

async fn test_mail(
    _: AdminCaller,
    State(state): State<AppState>,
    Json(body): Json<TestMail>,
) -> Result<Json<Sent>, Error> {
    let to = Email::parse(&body.to)?;
    let mailer = state.auth.mailer();
    let text = format!(
        "This is a test mail from the Basalt server at {}.\n\nIf you can read it, mail from Basalt reaches this address.",
        state.config.public_url
    );
    let mail = Mail {
        to: to.as_str(),
        subject: "Basalt test mail",
        text,
        token: None,
    };
    mailer.send(&state.db, mail).await?;
    let transport = match mailer {
        Mailer::Outbox => "outbox",
        Mailer::Smtp(_) => "smtp",
    };
    Ok(Json(Sent { transport }))
}
