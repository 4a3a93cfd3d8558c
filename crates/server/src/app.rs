//! Composing the slices into one application.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use basalt_auth::Auth;
use basalt_core::api::Api;
use basalt_core::caller::Authenticator;
use basalt_core::config::Config;
use basalt_core::metrics::Metrics;
use basalt_documents::Documents;
use basalt_files::{Backing, Files};
use basalt_realtime::Realtime;
use basalt_rules::{Limits, RuleEngine, Rules};
use basalt_store::Db;
use serde_json::Value;
use tokio::net::TcpListener;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything handlers reach through `State`; each slice asks only for its
/// part. One pointer: the router clones the state for every request, and a
/// dozen reference counts bumped from both cores would cost more than the
/// request's own work on a fast route.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl std::ops::Deref for AppState {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

pub struct Parts {
    pub config: Arc<Config>,
    pub db: Db,
    pub auth: Auth,
    pub authenticator: Authenticator,
    pub metrics: Arc<Metrics>,
    pub rules: Rules,
    pub files: Files,
    pub documents: Documents,
    pub realtime: Realtime,
    pub request_log: basalt_logs::RequestLog,
    pub functions: basalt_functions::Functions,
    pub push: basalt_push::Push,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<[u8]>,
    /// Scheduled and requested backups.
    pub backups: Arc<crate::backup::Scheduler>,
    /// Set from a stop signal on: readiness answers 503.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl FromRef<AppState> for Auth {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}
impl FromRef<AppState> for Authenticator {
    fn from_ref(s: &AppState) -> Self {
        s.authenticator.clone()
    }
}
impl FromRef<AppState> for Rules {
    fn from_ref(s: &AppState) -> Self {
        s.rules.clone()
    }
}
impl FromRef<AppState> for Files {
    fn from_ref(s: &AppState) -> Self {
        s.files.clone()
    }
}
impl FromRef<AppState> for Documents {
    fn from_ref(s: &AppState) -> Self {
        s.documents.clone()
    }
}
impl FromRef<AppState> for Realtime {
    fn from_ref(s: &AppState) -> Self {
        s.realtime.clone()
    }
}
impl FromRef<AppState> for basalt_logs::RequestLog {
    fn from_ref(s: &AppState) -> Self {
        s.request_log.clone()
    }
}
impl FromRef<AppState> for basalt_functions::Functions {
    fn from_ref(s: &AppState) -> Self {
        s.functions.clone()
    }
}
impl FromRef<AppState> for basalt_push::Push {
    fn from_ref(s: &AppState) -> Self {
        s.push.clone()
    }
}
impl FromRef<AppState> for Db {
    fn from_ref(s: &AppState) -> Self {
        s.db.clone()
    }
}

/// Every route of the API: one line per slice.
pub fn api() -> Api<AppState> {
    Api::new()
        .merge(crate::ops::api())
        .merge(crate::settings::api())
        .merge(crate::backup::api())
        .merge(basalt_auth::api())
        .merge(basalt_rules::api())
        .merge(basalt_documents::api())
        .merge(basalt_documents::cases_api())
        .merge(basalt_realtime::api())
        .merge(basalt_files::api())
        .merge(basalt_logs::api())
        .merge(basalt_functions::api())
        .merge(basalt_push::api())
}

/// The OpenAPI 3.1 document, built from the same registrations as the router.
pub fn openapi() -> Value {
    api().openapi("Basalt", VERSION)
}

/// The VAPID contact when none is set: the server's https:// URL, or a
/// `mailto:` at its host (push services want one or the other).
fn vapid_subject(public_url: &str) -> String {
    if public_url.starts_with("https://") {
        return public_url.trim_end_matches('/').to_owned();
    }
    let host = public_url
        .split("://")
        .nth(1)
        .unwrap_or("localhost")
        .split(['/', ':'])
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    format!("mailto:admin@{host}")
}

/// The S3 bucket `bucket` with the `s3_*` settings of `config`.
pub(crate) fn s3_backing(config: &Config, bucket: &str) -> Backing {
    Backing::S3 {
        bucket: bucket.to_owned(),
        endpoint: config.s3_endpoint.clone(),
        region: config.s3_region.clone(),
        access_key_id: config.s3_access_key_id.clone(),
        secret_access_key: config.s3_secret_access_key.clone(),
        allow_http: config.s3_allow_http,
    }
}

/// Where file bytes go, from `files_url`.
pub(crate) fn backing(config: &Config) -> Result<Backing, StartError> {
    match config.files_url.as_deref() {
        None => Ok(Backing::Local(config.data_dir.join("files"))),
        Some(url) if url.starts_with("s3://") => {
            let bucket = url.trim_start_matches("s3://").trim_end_matches('/');
            if bucket.is_empty() || bucket.contains('/') {
                return Err(StartError("files_url must be s3://<bucket>".into()));
            }
            Ok(s3_backing(config, bucket))
        }
        Some(url) if url.contains("://") && !url.starts_with("file://") => Err(StartError(format!(
            "files_url `{url}`: use a directory or s3://<bucket>"
        ))),
        Some(path) => Ok(Backing::Local(path.trim_start_matches("file://").into())),
    }
}

/// A started application: database open and migrated, keys loaded.
pub struct App {
    pub state: AppState,
}

#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The vault of `config`'s master keys.
fn vault(config: &Config) -> Result<basalt_store::vault::Vault, StartError> {
    use basalt_store::vault::{MasterKey, Vault};
    let parse = |k: &basalt_core::Secret<String>| MasterKey::parse(k.expose()).map_err(StartError);
    let current = config.master_key.as_ref().map(parse).transpose()?;
    let previous = config
        .master_key_previous
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Vault::new(current, previous))
}

impl App {
    /// Connects to the database, applies migrations and loads the signing keys.
    pub async fn start(config: Config) -> Result<App, StartError> {
        let db = Db::connect(
            config.database_url.as_ref().map(|u| u.expose().as_str()),
            &config.data_dir,
            config.db_max_connections,
        )
        .await
        .map_err(|e| StartError(format!("cannot open the database: {e}")))?
        .with_vault(vault(&config)?);
        db.migrate()
            .await
            .map_err(|e| StartError(format!("cannot migrate the database: {e}")))?;
        let resealed = basalt_store::vault::reseal(&db)
            .await
            .map_err(|e| StartError(format!("cannot open the stored secrets: {e}")))?;
        if resealed.sealed > 0 {
            tracing::info!(
                secrets = resealed.sealed,
                master_key = db.vault().current_id().unwrap_or("none"),
                "stored secrets brought to the master key"
            );
        }
        let auth = Auth::start(db.clone(), &config)
            .await
            .map_err(|e| StartError(format!("cannot load signing keys: {e}")))?;
        let metrics = Arc::new(Metrics::default());
        crate::ops::register_metrics(&metrics, &db);
        metrics.register(crate::listen::render_metrics);
        let backups = Arc::new(crate::backup::Scheduler::default());
        let for_metrics = backups.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let engine = Arc::new(RuleEngine::new(Limits::default()));
        let for_metrics = engine.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let documents = Documents::start(
            db.clone(),
            engine.clone(),
            basalt_documents::Settings {
                max_document_bytes: config.document_max_bytes,
                change_retention: config.change_retention,
            },
        )
        .await
        .map_err(|e| StartError(format!("cannot start the document store: {}", e.message())))?;
        // Rules read documents (get(), exists()) and collection rules (the playground) from the store.
        let rules = Rules {
            engine,
            documents: Arc::new(documents.clone()),
            source: Arc::new(documents.clone()),
        };
        let authenticator = basalt_auth::authenticator(auth.clone());
        let realtime = Realtime::start(
            documents.clone(),
            authenticator.clone(),
            rules.engine.clone(),
            (config.realtime_ping, config.realtime_silence),
            config.realtime_max_sockets_per_ip,
        )
        .await
        .map_err(|e| StartError(format!("cannot start realtime: {}", e.message())))?;
        let for_metrics = realtime.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let files = Files::start(db.clone(), &backing(&config)?, rules.clone())
            .await
            .map_err(|e| StartError(format!("cannot open the file store: {}", e.message())))?;
        let request_log = if config.request_log {
            basalt_logs::RequestLog::start(
                &db,
                &config.data_dir,
                basalt_logs::Settings {
                    retention: config.log_retention,
                    max_entries: config.log_max_entries,
                    ..basalt_logs::Settings::default()
                },
            )
        } else {
            basalt_logs::RequestLog::off()
        };
        let for_metrics = request_log.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let executions = basalt_functions::open_executions(&db, &config.data_dir)
            .await
            .map_err(|e| StartError(format!("cannot open the executions store: {e}")))?;
        let push = basalt_push::Push::new(
            db.clone(),
            basalt_push::Settings {
                vapid_subject: config
                    .push_vapid_subject
                    .clone()
                    .unwrap_or_else(|| vapid_subject(&config.public_url)),
                fcm_credentials: config.push_fcm_credentials_file.clone(),
                fcm_url: config.push_fcm_url.clone(),
                apns_key: config.push_apns_key_file.clone(),
                apns_key_id: config.push_apns_key_id.clone(),
                apns_team_id: config.push_apns_team_id.clone(),
                apns_url: config.push_apns_url.clone(),
                ca_file: config.push_ca_file.clone(),
                allow_private_net: config.functions_allow_private_net,
                timeout: config.webhook_timeout,
                retry_delays: config.outbox_retry_delays.clone(),
                rate_per_user: config.push_rate_per_user,
            },
        )
        .map_err(StartError)?;
        push.prepare()
            .await
            .map_err(|e| StartError(format!("cannot make the VAPID key: {}", e.message())))?;
        let for_metrics = push.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let functions = basalt_functions::Functions::new(
            db.clone(),
            executions,
            documents.clone(),
            rules.engine.clone(),
            push.clone(),
            basalt_functions::Settings {
                env: config.functions_env.clone(),
                allow_private_net: config.functions_allow_private_net,
                webhook_timeout: config.webhook_timeout,
                retry_delays: config.outbox_retry_delays.clone(),
                ..basalt_functions::Settings::default()
            },
        )
        .map_err(StartError)?;
        functions.start_sweeper(basalt_functions::Settings::default().execution_retention);
        auth.set_signup_hook(functions.signup_hook());
        let for_metrics = functions.clone();
        metrics.register(move |out| for_metrics.render_metrics(out));
        let openapi = serde_json::to_vec(&openapi()).map_err(|e| StartError(e.to_string()))?;
        Ok(App {
            state: AppState(Arc::new(Parts {
                config: Arc::new(config),
                db,
                authenticator,
                auth,
                metrics,
                rules,
                files,
                documents,
                realtime,
                request_log,
                functions,
                push,
                openapi: openapi.into(),
                draining: Arc::default(),
                backups,
            })),
        })
    }

    /// The full router: routes, fallbacks and middleware.
    pub fn router(&self) -> Router {
        let routes = api().into_router();
        #[cfg(feature = "dashboard")]
        let routes = routes.merge(crate::dashboard::router());
        crate::middleware::with_middleware(routes, &self.state)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// for at most `shutdown_timeout` and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let limits = crate::listen::Limits {
            header_timeout: self.state.config.header_timeout,
            max_connections: self.state.config.max_connections,
            draining: self.state.draining.clone(),
        };
        let (draining, delay) = (self.state.draining.clone(), self.state.config.shutdown_delay);
        let server = crate::listen::serve(listener, self.router(), limits, async move {
            shutdown.await;
            if !delay.is_zero() {
                // Not ready, still serving: the balancer takes this node out
                // before it stops accepting.
                tracing::info!(
                    seconds = delay.as_secs_f64(),
                    "draining: not ready, still serving"
                );
                draining.store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(delay).await;
            }
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        });
        let grace = self.state.config.shutdown_timeout;
        let deadline = async move {
            let _ = stopping_rx.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {
                self.state.db.close().await;
            }
            () = deadline => {
                // Requests still running are cut off when the runtime stops;
                // the database sees their connections close.
                tracing::warn!("shutdown timeout reached: abandoning requests still running");
            }
        }
        Ok(())
    }
}
