//! The test harness: a real Basalt server on port 0 with its own temporary
//! data directory, on SQLite or on a fresh PostgreSQL database.
#![allow(dead_code)]

pub mod process;
pub mod push_services;
pub mod receiver;
pub mod s3;

use std::time::Duration;

use basalt_core::Secret;
use basalt_core::config::Config;
use basalt_server::{App, AppState};
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named scenario `async fn name(server: &TestServer)` on SQLite
/// and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::common::{Backend, TestServer};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
                super::$name(&server).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = TestServer::start(Backend::Postgres).await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )*};
}

/// Runs each named scenario `async fn name(backend: Backend)`, which starts
/// its own server, on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! each_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::common::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(Backend::Postgres).await;
            }
        }
    )*};
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
}

/// The server URL for PostgreSQL tests, or `None` to skip them. With
/// `BASALT_TEST_REQUIRE_POSTGRES=1` a missing URL fails the test instead.
pub fn postgres_url() -> Option<String> {
    match std::env::var("BASALT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("BASALT_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!(
                    "BASALT_TEST_REQUIRE_POSTGRES=1 but BASALT_TEST_POSTGRES_URL is not set: the PostgreSQL suite may not be skipped"
                );
            }
            eprintln!("skipping the PostgreSQL variant: BASALT_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = postgres_url()?;
        let name = format!("basalt_test_{}", basalt_core::secret::random_hex(8));
        let mut conn = connect(&admin_url).await;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        Some(PgDatabase { admin_url, name })
    }

    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }

    /// Runs SQL as the server's superuser (outside the test database).
    pub async fn admin_sql(&self, sql: &str) {
        let mut conn = connect(&self.admin_url).await;
        sqlx::raw_sql(sql).execute(&mut conn).await.expect("admin SQL");
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the PostgreSQL test server")
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside a runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = connect(&url).await;
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join();
    }
}

pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    pub pg: Option<PgDatabase>,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the status and, for errors, the envelope's code.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        if let Some(code) = code {
            let body = self.json();
            assert_eq!(body["error"]["code"], code, "body: {}", self.text);
            assert!(body["error"]["message"].is_string(), "body: {}", self.text);
            assert!(body["error"]["details"].is_object(), "body: {}", self.text);
            assert_eq!(
                self.header("content-type"),
                Some("application/json; charset=utf-8")
            );
        }
        assert!(
            self.header("x-request-id").is_some(),
            "every response carries x-request-id"
        );
        self
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        let dir = tempfile::tempdir().expect("temp dir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgDatabase::create().await?),
        };
        let mut config = Config::with_data_dir(dir.path());
        config.http = ([127, 0, 0, 1], 0).into();
        config.database_url = pg.as_ref().map(|p| Secret::new(p.url()));
        config.login_rate_limit = 1000;
        tweak(&mut config);
        Some(Self::serve(config, backend, pg, dir).await)
    }

    /// Starts a server on an existing configuration (e.g. a second node).
    pub async fn serve(
        mut config: Config,
        backend: Backend,
        pg: Option<PgDatabase>,
        dir: TempDir,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind(config.http).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        if config.public_url.ends_with(":8090") || config.public_url.ends_with(":0") {
            config.public_url = format!("http://{addr}");
        }
        let app = App::start(config).await.expect("app starts");
        let state = app.state.clone();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = stop_rx.await;
        }));
        TestServer {
            url: format!("http://{addr}"),
            client: {
                install_tls_provider();
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client")
            },
            state,
            backend,
            pg,
            dir,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    /// A second node on this server's PostgreSQL database, with the same
    /// configuration (and so the same token issuer) on another port.
    pub async fn another_node(&self) -> TestServer {
        let mut config = (*self.state.config).clone();
        config.http = ([127, 0, 0, 1], 0).into();
        let dir = tempfile::tempdir().expect("temp dir");
        TestServer::serve(config, self.backend, None, dir).await
    }

    /// Stops this server and starts it again on the same database and data
    /// directory, its configuration changed by `tweak`.
    pub async fn restart_with(self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let config = self.restart_config(tweak);
        let (backend, pg, dir) = self.stop_keeping_data().await;
        TestServer::serve(config, backend, pg, dir).await
    }

    /// This server's configuration for a restart, changed by `tweak`.
    pub fn restart_config(&self, tweak: impl FnOnce(&mut Config)) -> Config {
        let mut config = (*self.state.config).clone();
        config.http = ([127, 0, 0, 1], 0).into();
        tweak(&mut config);
        config
    }

    /// Stops this server and hands back what outlives it.
    pub async fn stop_keeping_data(mut self) -> (Backend, Option<PgDatabase>, TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
        (self.backend, self.pg.take(), self.dir)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stops cleanly");
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req).await
    }

    pub async fn read(req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, token, None).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    /// Creates an owner the way the CLI does.
    pub async fn create_admin(&self, email: &str, password: &str) {
        self.create_admin_with_role(email, password, basalt_core::caller::AdminRole::Owner)
            .await;
    }

    /// Creates an admin with a role the way the CLI does.
    pub async fn create_admin_with_role(
        &self,
        email: &str,
        password: &str,
        role: basalt_core::caller::AdminRole,
    ) {
        let email = basalt_auth::email::Email::parse(email).expect("email");
        basalt_auth::admins::create(
            &self.state.auth,
            &email,
            Secret::new(password.to_owned()),
            role,
            basalt_store::audit::Actor::CLI,
        )
        .await
        .expect("admin created");
    }

    /// Signs up an app user over HTTP; returns (access token, user id).
    pub async fn signup(&self, email: &str) -> (String, String) {
        let res = self
            .post(
                "/v1/auth/signup",
                None,
                serde_json::json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        res.expect(201, None);
        let body = res.json();
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates an admin and signs in over HTTP; returns the admin token.
    pub async fn admin_token(&self) -> String {
        self.create_admin("root@example.com", "correct horse battery")
            .await;
        let res = self
            .post(
                "/v1/admin/login",
                None,
                serde_json::json!({"email": "root@example.com", "password": "correct horse battery"}),
            )
            .await;
        res.expect(200, None);
        res.json()["access_token"].as_str().expect("token").to_owned()
    }
}

/// A real SMTP server on loopback (`aiosmtpd`, from PyPI) that stores what
/// it receives in a maildir.
pub struct SmtpServer {
    pub url: String,
    maildir: TempDir,
    child: std::process::Child,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return SmtpServer {
                    url: format!("smtp://127.0.0.1:{port}"),
                    maildir,
                    child,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}; is it installed (pip install aiosmtpd)?");
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.path().join("mail").join(sub)) {
                for entry in entries.flatten() {
                    if let Ok(text) = std::fs::read_to_string(entry.path()) {
                        out.push(text);
                    }
                }
            }
        }
        out
    }

    /// Waits for a message to `to` whose text contains `needle`.
    pub async fn wait_for(&self, to: &str, needle: &str) -> String {
        for _ in 0..250 {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
            {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no mail to {to} containing {needle:?}; got {:?}", self.messages());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token a Basalt mail carries ("… use this code: <token>").
pub fn token_in_mail(mail: &str) -> String {
    let body = decode_quoted_printable(mail);
    let after = body.split("use this code: ").nth(1).expect("a code in the mail");
    after.split_whitespace().next().unwrap().to_owned()
}

/// RFC 2045 quoted-printable: soft line breaks and `=XX` escapes.
fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A real OpenID Provider on loopback (`oidc-provider` from npm, in
/// tests/oidc-provider), started by the test.
pub struct OidcProvider {
    pub issuer: String,
    child: std::process::Child,
}

impl OidcProvider {
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub async fn start(port: u16, redirect_uri: &str) -> OidcProvider {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in tests/oidc-provider (.ci/run does) to install the OpenID Provider"
        );
        let mut child = std::process::Command::new("node")
            .arg("provider.mjs")
            .arg(port.to_string())
            .arg(redirect_uri)
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs the OpenID Provider");
        let issuer = format!("http://127.0.0.1:{port}");
        for _ in 0..400 {
            if reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return OidcProvider { issuer, child };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the OpenID Provider did not start on port {port}");
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Test-side HTTP clients use rustls with the ring provider, as the server does.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestServer {
    /// An admin token for a server whose admin already exists.
    pub async fn admin_token_again(&self) -> String {
        let res = self
            .post(
                "/v1/admin/login",
                None,
                serde_json::json!({"email": "root@example.com", "password": "correct horse battery"}),
            )
            .await;
        res.expect(200, None);
        res.json()["access_token"].as_str().expect("token").to_owned()
    }
}

/// A request written byte for byte over a plain socket: the target exactly
/// as given (clients normalise dot segments), and a body of `size` spaces
/// that keeps streaming while the answer is read (the server may answer
/// before reading it, which HTTP client libraries report as a broken pipe).
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub token: Option<&'a str>,
    pub content_type: &'a str,
    pub size: usize,
    /// Chunked transfer encoding instead of Content-Length.
    pub chunked: bool,
}

pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl TestServer {
    pub async fn raw(&self, r: RawRequest<'_>) -> RawResponse {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stream = tokio::net::TcpStream::connect(self.url.trim_start_matches("http://"))
            .await
            .unwrap();
        let (mut read, mut write) = stream.into_split();
        let auth = r
            .token
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let framing = if r.chunked {
            "transfer-encoding: chunked".to_owned()
        } else {
            format!("content-length: {}", r.size)
        };
        let head = format!(
            "{} {} HTTP/1.1\r\nhost: x\r\ncontent-type: {}\r\n{auth}{framing}\r\n\r\n",
            r.method, r.target, r.content_type
        );
        let (size, chunked) = (r.size, r.chunked);
        let writer = tokio::spawn(async move {
            write.write_all(head.as_bytes()).await?;
            let mut left = size;
            while left > 0 {
                let n = left.min(65536);
                if chunked {
                    write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                }
                write.write_all(&vec![b' '; n]).await?;
                if chunked {
                    write.write_all(b"\r\n").await?;
                }
                left -= n;
            }
            if chunked {
                write.write_all(b"0\r\n\r\n").await?;
            }
            // Handed back, not dropped: dropping it would half-close the socket,
            // and the server gives up on a request whose client has hung up.
            Ok::<_, std::io::Error>(write)
        });
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            match tokio::time::timeout(Duration::from_secs(20), read.read(&mut byte)).await {
                Ok(Ok(1)) => buf.push(byte[0]),
                other => panic!(
                    "no response head ({other:?}), got {:?}",
                    String::from_utf8_lossy(&buf)
                ),
            }
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        tokio::time::timeout(Duration::from_secs(20), read.read_exact(&mut body))
            .await
            .unwrap()
            .unwrap();
        writer.abort();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        RawResponse { status, head, body }
    }
}
