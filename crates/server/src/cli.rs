//! The `basalt` command line.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use basalt_auth::email::Email;
use basalt_auth::{Auth, admins, service_keys, signing};
use basalt_core::Secret;
use basalt_core::caller::AdminRole;
use basalt_core::config::Config;
use basalt_files::url_keys;
use basalt_store::audit::Actor;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::{App, VERSION};
use crate::config::{ConfigArgs, Settings, StoreArgs};

#[derive(Parser)]
#[command(
    name = "basalt",
    version,
    about = "Basalt: a self-hostable backend in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve(Box<ConfigArgs>),
    /// Apply database migrations and exit
    Migrate(StoreArgs),
    /// Manage dashboard admins
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage service keys
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Rotate the key that signs tokens, or list the signing keys
    SigningKeys {
        #[command(subcommand)]
        command: SigningKeysCommand,
    },
    /// Rotate the key that signs file URLs, or list those keys
    FileUrlKeys {
        #[command(subcommand)]
        command: FileUrlKeysCommand,
    },
    /// Back up a SQLite project (databases and files) while its server runs, to a directory or s3://bucket/prefix
    Backup {
        /// A new directory, or s3://bucket[/prefix] (with the S3 settings of the configuration)
        #[arg(long, value_name = "PLACE")]
        to: String,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Restore a backup into a new data directory (the server stopped)
    Restore {
        /// The directory or s3://bucket[/prefix] a backup was written to
        #[arg(long, value_name = "PLACE")]
        from: String,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Write the whole project (configuration, users, keys, documents, files) to a folder as NDJSON
    Export {
        /// A new folder
        #[arg(long, value_name = "DIR")]
        to: std::path::PathBuf,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Read an export into this project (refused if it is not empty, unless --merge)
    Import {
        /// The folder `basalt export` wrote
        #[arg(long, value_name = "DIR")]
        from: std::path::PathBuf,
        /// Add to a project that is not empty; rows that exist are kept as they are
        #[arg(long)]
        merge: bool,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Copy this project to another database (SQLite to PostgreSQL or back), with the server stopped
    MigrateDb {
        /// The database to copy to: postgres://… or sqlite:PATH (empty)
        #[arg(long, value_name = "URL")]
        to: String,
        /// Also copy the files' bytes to this store (a directory or s3://bucket), when files_url changes with the move
        #[arg(long, value_name = "URL")]
        files_to: Option<String>,
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Make a master key, which seals the secrets Basalt stores (BASALT_MASTER_KEY)
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Check a running server: exit 0 when /v1/health (or with --ready, /v1/health/ready) answers 200, for container health checks
    Health {
        /// Ask /v1/health/ready: the database and file store answer and the server is not draining
        #[arg(long)]
        ready: bool,
        /// The server's address [default: BASALT_HTTP, else 127.0.0.1:8090; 0.0.0.0 and [::] mean this machine]
        #[arg(long, env = "BASALT_HTTP", value_name = "ADDR")]
        http: Option<std::net::SocketAddr>,
        /// Seconds to wait for the answer
        #[arg(long, default_value_t = 3.0, value_name = "SECS")]
        timeout: f64,
    },
    /// Print the OpenAPI document
    Openapi,
    /// Print the version
    Version,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin (the password is read from stdin when --password is absent)
    Create {
        /// The admin's email address
        #[arg(long)]
        email: String,
        /// The password (8 to 256 characters); read from stdin when absent
        #[arg(long)]
        password: Option<String>,
        /// owner (everything), developer (all but admins and service keys) or viewer (reads only)
        #[arg(long, default_value = "owner")]
        role: String,
        #[command(flatten)]
        config: StoreArgs,
    },
    /// List admins and their roles
    List(StoreArgs),
    /// Set an admin's password and sign out their sessions
    ResetPassword {
        /// The admin's email address
        #[arg(long)]
        email: String,
        /// The new password; read from stdin when absent
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        config: StoreArgs,
    },
    /// Turn off an admin's two-factor sign-in (a lost authenticator) and sign them out
    ResetMfa {
        /// The admin's email address
        #[arg(long)]
        email: String,
        #[command(flatten)]
        config: StoreArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a service key and print it (shown this once)
    Create {
        /// What the key is for, e.g. "billing worker"
        #[arg(long)]
        name: String,
        #[command(flatten)]
        config: StoreArgs,
    },
    /// List service keys
    List(StoreArgs),
    /// Revoke a service key
    Revoke {
        /// The key's id (from `basalt keys list`)
        id: String,
        #[command(flatten)]
        config: StoreArgs,
    },
}

#[derive(Subcommand)]
enum SigningKeysCommand {
    /// Publish a new signing key: it is in the JWKS at once and signs new tokens after the
    /// grace; the keys it replaces verify until the last token they signed has expired
    Rotate {
        /// Seconds before the new key signs, so every verifier has its public key by then
        /// [default: the access-token lifetime]
        #[arg(long, value_name = "SECS", conflicts_with = "now")]
        grace: Option<u64>,
        /// For a leaked key: the new key signs at once and the old ones retire at once, so
        /// every token they signed stops working (sessions go on: their next refresh gets a
        /// token from the new key)
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        config: StoreArgs,
    },
    /// List the signing keys: which signs, which is next, and until when the others verify
    List(StoreArgs),
}

#[derive(Subcommand)]
enum FileUrlKeysCommand {
    /// Add a key that signs file URLs after the grace; the keys it replaces verify until
    /// every URL they can have signed has expired (7 days)
    Rotate {
        /// Seconds before the new key signs, so that every node has read it [default: 30]
        #[arg(long, value_name = "SECS", conflicts_with = "now")]
        grace: Option<u64>,
        /// For a leaked key: the new key signs at once and every URL the old ones signed
        /// stops working
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        config: StoreArgs,
    },
    /// List the keys of file URLs: which signs, which is next, until when the others verify
    List(StoreArgs),
}

#[derive(Subcommand)]
enum MasterKeyCommand {
    /// Print a new random master key (32 bytes, base64) for BASALT_MASTER_KEY
    Generate,
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let outcome = runtime.block_on(dispatch(cli.command));
    // Whatever a task still does (a background sweep), a command ends.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    crate::logging::flush(std::time::Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn dispatch(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::MasterKey {
            command: MasterKeyCommand::Generate,
        } => {
            println!("{}", basalt_store::vault::MasterKey::generate());
            Ok(())
        }
        Command::Migrate(args) => {
            let (mut config, _) = load(&args.config_args(), "warn")?;
            config.request_log = false;
            App::start(config).await.map_err(|e| e.to_string())?;
            println!("database is up to date");
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    role,
                    config,
                },
        } => {
            let role = AdminRole::parse(&role)
                .ok_or_else(|| format!("--role `{role}`: use owner, developer or viewer"))?;
            let (auth, _) = auth(&config).await?;
            let email = Email::parse(&email).map_err(|e| e.message().to_owned())?;
            let admin = admins::create(&auth, &email, password_or_stdin(password)?, role, Actor::CLI)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!(
                "admin {} created with role {} (id {})",
                admin.email,
                admin.role.as_str(),
                admin.id
            );
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::List(config),
        } => {
            let (auth, _) = auth(&config).await?;
            let list = admins::list(auth.db())
                .await
                .map_err(|e| e.message().to_owned())?;
            println!("{:<26}  {:<9}  {:<24}  EMAIL", "ID", "ROLE", "CREATED");
            for a in list {
                println!(
                    "{:<26}  {:<9}  {:<24}  {}",
                    a.id,
                    a.role.as_str(),
                    a.created_at.to_string(),
                    a.email
                );
            }
            Ok(())
        }
        Command::Admin {
            command:
                AdminCommand::ResetPassword {
                    email,
                    password,
                    config,
                },
        } => {
            let (auth, _) = auth(&config).await?;
            let email = Email::parse(&email).map_err(|e| e.message().to_owned())?;
            admins::reset_password(&auth, &email, password_or_stdin(password)?)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!(
                "password of {} changed; their existing tokens no longer work",
                email.as_str()
            );
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::ResetMfa { email, config },
        } => {
            let (auth, _) = auth(&config).await?;
            let email = Email::parse(&email).map_err(|e| e.message().to_owned())?;
            let admin = admins::list(auth.db())
                .await
                .map_err(|e| e.message().to_owned())?
                .into_iter()
                .find(|a| a.email == email.as_str())
                .ok_or_else(|| format!("no admin with the email {}", email.as_str()))?;
            basalt_auth::admin_mfa::remove_from(&auth, &admin, Actor::CLI)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!(
                "two-factor sign-in of {} is off; their existing tokens no longer work",
                email.as_str()
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Create { name, config },
        } => {
            let (auth, _) = auth(&config).await?;
            let key = service_keys::create(auth.db(), &name, Actor::CLI)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!("{}", key.key);
            eprintln!(
                "service key {} ({}) created; this is the only time it is shown",
                key.id, key.name
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List(config),
        } => {
            let (auth, _) = auth(&config).await?;
            let keys = service_keys::list(auth.db())
                .await
                .map_err(|e| e.message().to_owned())?;
            println!("{:<26}  {:<24}  {:<24}  NAME", "ID", "CREATED", "LAST USED");
            for k in keys {
                let last = k.last_used_at.map_or("never".to_owned(), |t| t.to_string());
                println!(
                    "{:<26}  {:<24}  {:<24}  {}",
                    k.id,
                    k.created_at.to_string(),
                    last,
                    k.name
                );
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Revoke { id, config },
        } => {
            let (auth, _) = auth(&config).await?;
            service_keys::revoke(auth.db(), &id, Actor::CLI)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!("service key {id} revoked");
            Ok(())
        }
        Command::SigningKeys {
            command: SigningKeysCommand::Rotate { grace, now, config },
        } => {
            let (auth, config) = auth(&config).await?;
            let retire = if now {
                signing::Retire::Now
            } else {
                signing::Retire::AfterLastToken(config.access_token_ttl.max(config.admin_token_ttl))
            };
            let grace = grace.map_or(config.access_token_ttl, std::time::Duration::from_secs);
            let key = signing::rotate(auth.db(), grace, retire)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!(
                "signing key {} published; it signs from {} (running servers read the keys every {} s)",
                key.kid,
                key.signs_from,
                signing::RELOAD_EVERY.as_secs()
            );
            print_signing_keys(&auth).await
        }
        Command::SigningKeys {
            command: SigningKeysCommand::List(config),
        } => {
            let (auth, _) = auth(&config).await?;
            print_signing_keys(&auth).await
        }
        Command::Export { to, config } => {
            let (config, _) = load(&config, "warn")?;
            let db = crate::transfer::open(&config).await?;
            let files = crate::transfer::files_of(&config)?;
            let manifest = crate::transfer::export(&db, files.as_ref(), &to).await?;
            db.close().await;
            println!(
                "exported to {}: {}",
                to.display(),
                crate::transfer::summary(&manifest)
            );
            Ok(())
        }
        Command::Import { from, merge, config } => {
            let (config, _) = load(&config, "warn")?;
            let db = crate::transfer::open(&config).await?;
            let files = crate::transfer::files_of(&config)?;
            let manifest = crate::transfer::import(&db, files.as_ref(), &from, merge).await?;
            db.close().await;
            println!(
                "imported from {}: {}",
                from.display(),
                crate::transfer::summary(&manifest)
            );
            Ok(())
        }
        Command::MigrateDb { to, files_to, config } => {
            let (config, _) = load(&config, "warn")?;
            let source = crate::transfer::open(&config).await?;
            let files = crate::transfer::files_of(&config)?;
            let scratch = crate::transfer::scratch(&config)?;
            let folder = scratch.path().join("export");
            let exported = crate::transfer::export(&source, files.as_ref(), &folder).await?;
            source.close().await;
            let mut target_config = config.clone();
            target_config.database_url = Some(Secret::new(to.clone()));
            if let Some(f) = &files_to {
                target_config.files_url = Some(f.clone());
            }
            let target = crate::transfer::open(&target_config).await?;
            let target_files = crate::transfer::files_of(&target_config)?;
            let imported = crate::transfer::import(&target, target_files.as_ref(), &folder, false).await?;
            target.close().await;
            println!(
                "copied to {}: {}; {} object(s) copied to the new file store",
                redact(&to),
                crate::transfer::summary(&exported),
                imported.objects
            );
            Ok(())
        }
        Command::Backup { to, config } => {
            let (config, _) = load(&config, "warn")?;
            let manifest = crate::backup::backup(&config, &to).await?;
            println!("backup written to {to}: {}", crate::backup::summary(&manifest));
            Ok(())
        }
        Command::Restore { from, config } => {
            let (config, _) = load(&config, "warn")?;
            let manifest = crate::backup::restore(&config, &from).await?;
            println!(
                "backup of {} restored into {}: {}",
                manifest.created_at,
                config.data_dir.display(),
                crate::backup::summary(&manifest)
            );
            Ok(())
        }
        Command::FileUrlKeys {
            command: FileUrlKeysCommand::Rotate { grace, now, config },
        } => {
            let (auth, _) = auth(&config).await?;
            let grace = grace.map_or(url_keys::DEFAULT_GRACE, std::time::Duration::from_secs);
            let key = url_keys::rotate(auth.db(), grace, now)
                .await
                .map_err(|e| e.message().to_owned())?;
            println!(
                "file URL key {} added; it signs from {} (running servers read the keys every {} s)",
                key.name,
                key.signs_from,
                url_keys::RELOAD.as_secs()
            );
            print_url_keys(&auth).await
        }
        Command::FileUrlKeys {
            command: FileUrlKeysCommand::List(config),
        } => {
            let (auth, _) = auth(&config).await?;
            print_url_keys(&auth).await
        }
        Command::Health { ready, http, timeout } => health(http, ready, timeout),
        Command::Openapi => {
            let doc = serde_json::to_string_pretty(&crate::app::openapi()).map_err(|e| e.to_string())?;
            println!("{doc}");
            Ok(())
        }
        Command::Version => {
            println!("basalt {VERSION}");
            Ok(())
        }
    }
}

fn load(args: &ConfigArgs, default_log: &str) -> Result<(Config, Settings), String> {
    let (config, settings) = args.load()?;
    crate::logging::init(
        settings.log.as_deref().unwrap_or(default_log),
        crate::logging::Format::parse(settings.log_format.as_deref()),
    );
    Ok((config, settings))
}

async fn auth(args: &StoreArgs) -> Result<(Auth, Config), String> {
    let (mut config, _) = load(&args.config_args(), "warn")?;
    // A command, not a server: nothing to log.
    config.request_log = false;
    let app = App::start(config.clone()).await.map_err(|e| e.to_string())?;
    Ok((app.state.auth.clone(), config))
}

fn password_or_stdin(password: Option<String>) -> Result<Secret<String>, String> {
    if let Some(p) = password {
        return Ok(Secret::new(p));
    }
    eprint!("password: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(Secret::new(line.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn serve(args: ConfigArgs) -> Result<(), String> {
    let (mut config, settings) = load(&args, "info")?;
    raise_open_files_limit(config.max_connections);
    let listener = TcpListener::bind(config.http)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.http))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Port 0 asks the system for a free port: links, tokens and the
    // settings name the port it gave.
    if config.http.port() == 0 {
        config.http = addr;
        if settings.public_url.is_none() {
            config.public_url = format!("http://{addr}");
        }
    }
    let app = App::start(config.clone()).await.map_err(|e| e.to_string())?;
    crate::backup::spawn_schedule(app.state.backups.clone(), app.state.config.clone())?;
    let admin_count = admins::count(&app.state.db)
        .await
        .map_err(|e| e.message().to_owned())?;
    if app.state.db.backend() == basalt_store::Backend::Postgres && settings.public_url.is_none() {
        // Nodes of one cluster must agree on the issuer, or refuse each other's tokens.
        tracing::warn!(
            issuer = %config.public_url,
            "public_url is not set; give every node of a cluster the same public_url"
        );
    }
    let db = &app.state.db;
    if !db.vault().seals() {
        tracing::warn!(
            "no master key: the signing keys, MFA and webhook secrets are stored unsealed in the database; \
             set BASALT_MASTER_KEY (basalt master-key generate) to seal them"
        );
    }
    let mut banner = format!(
        "Basalt {VERSION}\n  listening on  http://{addr}\n  API           {}/v1\n",
        config.public_url,
    );
    if cfg!(feature = "dashboard") {
        banner.push_str(&format!("  dashboard     {}/_/\n", config.public_url));
    }
    banner.push_str(&format!(
        "  database      {} ({})\n  files         {}\n  secrets       {}\n",
        db.backend().as_str(),
        db.location(),
        app.state.files.backing(),
        match db.vault().current_id() {
            Some(id) => format!("sealed with master key {id}"),
            None => "not sealed (no BASALT_MASTER_KEY)".to_owned(),
        },
    ));
    if admin_count == 0 {
        banner.push_str(&format!(
            "\nNo admin exists yet. Create one with:\n  basalt admin create --email you@example.com{}\n",
            store_flags(&args, &settings)
        ));
    }
    println!("{banner}");
    let _ = std::io::stdout().flush();
    app.serve(listener, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// The signing keys, oldest first, with what each does now.
async fn print_url_keys(auth: &Auth) -> Result<(), String> {
    let keys = url_keys::list(auth.db())
        .await
        .map_err(|e| e.message().to_owned())?;
    let now = basalt_core::Timestamp::now().millis();
    let signer = keys
        .iter()
        .rev()
        .find(|k| k.may_sign(now))
        .map(|k| k.name.clone());
    println!("{:<40}  {:<24}  {:<24}  STATUS", "NAME", "CREATED", "SIGNS FROM");
    for k in keys {
        println!(
            "{:<40}  {:<24}  {:<24}  {}",
            k.name,
            k.created_at.to_string(),
            k.signs_from.to_string(),
            key_status(
                k.live(now),
                Some(&k.name) == signer.as_ref(),
                (k.signs_from.millis() > now).then_some("next: not signing yet"),
                k.retire_at
            )
        );
    }
    Ok(())
}

/// GETs the health route of the server at `http` over a plain socket (no
/// configuration, no database): what a container health check runs.
fn health(http: Option<std::net::SocketAddr>, ready: bool, timeout: f64) -> Result<(), String> {
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    let mut addr = http.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8090)));
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    if !(0.1..=60.0).contains(&timeout) {
        return Err("--timeout: from 0.1 to 60 seconds".into());
    }
    let timeout = std::time::Duration::from_secs_f64(timeout);
    let path = if ready { "/v1/health/ready" } else { "/v1/health" };
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{addr}: {e}"))?;
    let mut answer = Vec::new();
    let _ = tcp.take(64 * 1024).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        println!("{path}: ok");
        Ok(())
    } else if status.is_empty() {
        Err(format!("{addr}{path}: no answer"))
    } else {
        Err(format!("{addr}{path}: {status}"))
    }
}

/// A database URL without its password, for output.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// What `list` says of a key: retired, signing, next, or verifying until when.
fn key_status(
    live: bool,
    signing: bool,
    next: Option<&str>,
    retire_at: Option<basalt_core::Timestamp>,
) -> String {
    match retire_at {
        _ if !live => "retired".to_owned(),
        _ if signing => match retire_at {
            Some(t) => format!("signing; verifies until {t}"),
            None => "signing".to_owned(),
        },
        _ if next.is_some() => next.unwrap_or_default().to_owned(),
        Some(t) => format!("verifies until {t}"),
        None => "verifying".to_owned(),
    }
}

async fn print_signing_keys(auth: &Auth) -> Result<(), String> {
    let keys = signing::list(auth.db())
        .await
        .map_err(|e| e.message().to_owned())?;
    let now = basalt_core::Timestamp::now().millis();
    let signer = keys.iter().rev().find(|k| k.may_sign(now)).map(|k| k.kid.clone());
    println!("{:<16}  {:<24}  {:<24}  STATUS", "KID", "CREATED", "SIGNS FROM");
    for k in keys {
        let status = key_status(
            k.live(now),
            Some(&k.kid) == signer.as_ref(),
            (k.signs_from.millis() > now).then_some("next: published, not signing yet"),
            k.retire_at,
        );
        println!(
            "{:<16}  {:<24}  {:<24}  {status}",
            k.kid,
            k.created_at.to_string(),
            k.signs_from.to_string()
        );
    }
    Ok(())
}

/// Each connection is a file descriptor, and the soft limit many systems
/// start a service with (1024) is below `max_connections`: raise it to the
/// hard limit, as servers do, and say so when even that is too low.
fn raise_open_files_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(error = %e, "could not raise the open files limit");
        }
    }
    let now = getrlimit(Resource::Nofile).current;
    // Room for the database, the file store and the log besides the sockets.
    if let Some(n) = now
        && n < max_connections as u64 + 256
    {
        tracing::warn!(
            open_files = n,
            max_connections,
            "the open files limit is below max_connections: raise it (ulimit -n, LimitNOFILE=) or lower max_connections"
        );
    }
}

/// The flags that point another command at the same database as this one.
fn store_flags(args: &ConfigArgs, settings: &Settings) -> String {
    let mut flags = String::new();
    if let Some(path) = &args.config {
        flags.push_str(&format!(" --config {}", shell_quote(&path.display().to_string())));
    }
    if let (Some(_), Some(dir)) = (&args.settings.data_dir, &settings.data_dir) {
        flags.push_str(&format!(
            " --data-dir {}",
            shell_quote(&dir.display().to_string())
        ));
    }
    if let (Some(_), Some(url)) = (&args.settings.database_url, &settings.database_url) {
        if std::env::var_os("BASALT_DATABASE_URL").is_some() {
            flags.push_str(" --database-url \"$BASALT_DATABASE_URL\"");
        } else if has_password(url.expose()) {
            // Never echo a password into a terminal's scrollback.
            flags.push_str(" --database-url '<your database URL>'");
        } else {
            flags.push_str(&format!(" --database-url {}", shell_quote(url.expose())));
        }
    }
    flags
}

/// Whether a URL's authority carries `user:password@`.
fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-:".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
