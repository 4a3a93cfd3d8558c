//! The `basalt` binary as a user runs it: commands, configuration layers,
//! the start-up banner and graceful shutdown.

mod common;

use common::process::{Server, basalt};

use std::io::Write;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn run(args: &[&str]) -> Output {
    basalt(args).output().expect("basalt runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_openapi() {
    let o = run(&["version"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), format!("basalt {}", env!("CARGO_PKG_VERSION")));
    let o = run(&["openapi"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc, basalt_server::openapi());
}

/// Admin and key commands against a database chosen by `store` flags.
fn admin_and_key_commands(store: &[&str]) {
    let with = |args: &[&str]| -> Output {
        let all: Vec<&str> = args.iter().chain(store).copied().collect();
        run(&all)
    };
    let o = with(&["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = with(&[
        "admin",
        "create",
        "--email",
        "Ops@Example.com",
        "--password",
        "correct horse battery",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("admin ops@example.com created"),
        "{}",
        stdout(&o)
    );
    let o = with(&[
        "admin",
        "create",
        "--email",
        "ops@example.com",
        "--password",
        "another password",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    let o = with(&[
        "admin",
        "create",
        "--email",
        "x@example.com",
        "--password",
        "short",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("8 to 256"), "{}", stderr(&o));

    // The password from stdin, as a script would pipe it.
    let all: Vec<&str> = ["admin", "reset-password", "--email", "ops@example.com"]
        .iter()
        .chain(store)
        .copied()
        .collect();
    let mut child = basalt(&all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a password from stdin\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = with(&[
        "admin",
        "reset-password",
        "--email",
        "ghost@example.com",
        "--password",
        "whatever123",
    ]);
    assert_eq!(o.status.code(), Some(1));

    // Two-factor sign-in off from the server, for an owner who lost the
    // authenticator and the recovery codes.
    let o = with(&["admin", "reset-mfa", "--email", "ops@example.com"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("two-factor sign-in of ops@example.com is off"));
    let o = with(&["admin", "reset-mfa", "--email", "ghost@example.com"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no admin with the email"), "{}", stderr(&o));

    let o = with(&["keys", "create", "--name", "ci deploys"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = stdout(&o).trim().to_owned();
    assert!(key.starts_with("bsk_") && key.len() == 4 + 26 + 1 + 64, "{key}");
    let id = key[4..30].to_owned();
    let o = with(&["keys", "list"]);
    let listing = stdout(&o);
    assert!(
        listing.contains(&id) && listing.contains("ci deploys") && listing.contains("never"),
        "{listing}"
    );
    assert!(!listing.contains(&key[31..]), "the secret is never listed");
    let o = with(&["keys", "revoke", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = with(&["keys", "revoke", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no service key"), "{}", stderr(&o));
    assert!(!stdout(&with(&["keys", "list"])).contains(&id));
}

#[test]
fn admin_and_key_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    admin_and_key_commands(&["--data-dir", dir.path().to_str().unwrap()]);
    assert!(dir.path().join("basalt.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_key_commands_on_postgres() {
    let Some(pg) = common::PgDatabase::create().await else {
        return;
    };
    let url = pg.url();
    tokio::task::spawn_blocking(move || admin_and_key_commands(&["--database-url", &url]))
        .await
        .unwrap();
}

fn serve(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let mut args = vec![
        "serve",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut cmd = basalt(&args);
    cmd.envs(env.iter().copied());
    Server::spawn(cmd)
}

#[test]
fn commands_started_together_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            basalt(&["migrate", "--data-dir", data])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run(&["keys", "list", "--data-dir", data]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn banner_says_how_to_create_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(dir.path(), &[], &[]);
    assert!(
        s.line("database").starts_with("database      sqlite"),
        "{:?}",
        s.banner
    );
    assert!(s.line("API").ends_with("/v1"));
    // Port 0: the links name the port the system gave, not 0.
    let listening = s
        .line("listening on")
        .trim_start_matches("listening on")
        .trim()
        .to_owned();
    assert!(!listening.ends_with(":0"), "{listening}");
    assert_eq!(
        s.line("API").trim_start_matches("API").trim(),
        format!("{listening}/v1")
    );
    let hint = s.line("basalt admin create");
    assert!(
        hint.contains(&format!("--data-dir {}", dir.path().display())),
        "{hint}"
    );
    assert!(s.terminate().success());

    // Following the hint makes it go away.
    let o = run(&[
        "admin",
        "create",
        "--email",
        "me@example.com",
        "--password",
        "correct horse battery",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut s = serve(dir.path(), &[], &[]);
    assert!(
        !s.banner.iter().any(|l| l.contains("admin create")),
        "{:?}",
        s.banner
    );
    assert!(s.terminate().success());
}

#[test]
fn flags_beat_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("basalt.toml");
    std::fs::write(
        &file,
        "public_url = \"https://file.example\"\nlogin_rate_limit = 5\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let mut s = serve(dir.path(), &["--config", file], &[]);
    assert_eq!(s.line("API"), "API           https://file.example/v1");
    s.terminate();
    let mut s = serve(
        dir.path(),
        &["--config", file],
        &[("BASALT_PUBLIC_URL", "https://env.example")],
    );
    assert_eq!(s.line("API"), "API           https://env.example/v1");
    s.terminate();
    let mut s = serve(
        dir.path(),
        &["--config", file, "--public-url", "https://flag.example"],
        &[("BASALT_PUBLIC_URL", "https://env.example")],
    );
    assert_eq!(s.line("API"), "API           https://flag.example/v1");
    s.terminate();
    // BASALT_CONFIG names the file too.
    let mut s = serve(dir.path(), &[], &[("BASALT_CONFIG", file)]);
    assert_eq!(s.line("API"), "API           https://file.example/v1");
    s.terminate();
}

#[test]
fn bad_configuration_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, "htpp = \"127.0.0.1:1\"\n").unwrap();
    let data = dir.path().to_str().unwrap();
    let o = run(&["serve", "--data-dir", data, "--config", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown field `htpp`"), "{}", stderr(&o));
    let o = run(&[
        "serve",
        "--data-dir",
        data,
        "--config",
        "/nonexistent/basalt.toml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read config file"), "{}", stderr(&o));
    let o = run(&["serve", "--data-dir", data, "--http", "not-an-address"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["serve", "--data-dir", data, "--database-url", "mysql://x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("postgres://"), "{}", stderr(&o));
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = run(&["serve", "--data-dir", data, "--http", &addr]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot listen"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    common::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let o = run(&[
        "admin",
        "create",
        "--email",
        "me@example.com",
        "--password",
        "correct horse battery",
        "--data-dir",
        &data,
    ]);
    assert!(o.status.success());
    let mut s = tokio::task::spawn_blocking(move || serve(Path::new(&data), &[], &[]))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    // Warm up the password hasher so the timed request is a plain login.
    let login = || {
        client
            .post(format!("{}/v1/admin/login", s.url))
            .json(&json!({"email": "me@example.com", "password": "correct horse battery"}))
            .send()
    };
    let started = Instant::now();
    assert_eq!(login().await.unwrap().status(), 200);
    let login_time = started.elapsed();
    assert!(
        login_time >= Duration::from_millis(10),
        "a login costs an Argon2id hash: {login_time:?}"
    );
    // Signal a third of the way into a login: it is in flight then.
    let in_flight = tokio::spawn(login());
    tokio::time::sleep(login_time / 3).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = s.terminate();
        (status, s)
    });
    let response = in_flight.await.unwrap().expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    let (exit, s) = status.await.unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        reqwest::get(format!("{}/v1/health", s.url)).await.is_err(),
        "no longer listening"
    );
}

/// Sends one raw HTTP/1.1 request and reads the answer's status line.
fn raw_get(url: &str, head: &str) -> String {
    use std::io::Read;
    let addr = url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Request data with quotes, backslashes, encoded newlines and terminal
/// escapes cannot forge or colour a log line, in either format; a request
/// log store that cannot open shows in the server log, and requests go on.
#[test]
fn server_log_lines_cannot_be_forged() {
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs.db")).unwrap();
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let args = [
            "serve",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--log-format",
            format,
        ];
        let mut s = Server::spawn_with(basalt(&args), Stdio::from(log));
        assert!(s.line("dashboard").ends_with("/_/"), "{:?}", s.banner);
        let status = raw_get(
            &s.url,
            "GET /a%1b%5b31m%0a2026-01-01T00:00:00.000Z%20%20INFO%20forged HTTP/1.1\r\nHost: x\r\n\
             x-request-id: a\"b\\c=1\r\nConnection: close\r\n\r\n",
        );
        assert!(status.contains("404"), "{status}");
        for _ in 0..20 {
            let status = raw_get(
                &s.url,
                "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            );
            assert!(status.contains("200"), "{status}");
        }
        // The store is retried every 5 s; one failed batch is enough.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(s.terminate().success());
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert!(
            !text.contains('\x1b'),
            "an escape sequence reached the log:\n{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 20, "{text}");
        for line in &lines {
            match format {
                "json" => {
                    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                    assert!(v["time"].is_string() && v["level"].is_string(), "{line}");
                }
                _ => assert!(line.starts_with("20") && line.as_bytes()[23] == b'Z', "{line}"),
            }
            assert!(!line.contains("INFO forged") || line.contains("route"), "{line}");
        }
        let forged = lines
            .iter()
            .find(|l| l.contains("unmatched"))
            .unwrap_or_else(|| panic!("no request line for the odd path:\n{text}"));
        match format {
            "json" => {
                let v: Value = serde_json::from_str(forged).unwrap();
                assert_eq!(v["request_id"], "a\"b\\c=1");
                assert_eq!(v["status"], 404);
            }
            _ => assert!(forged.contains(r#"request_id="a\"b\\c=1""#), "{forged}"),
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains("request log") && l.contains("WARN")),
            "the failing store is not in the log:\n{text}"
        );
    }
}

/// On SQLite, executions live in `executions.db` beside the main file (so
/// recording runs never takes the documents' one writer); the ones an
/// earlier version kept in the main file move there at start, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_move_to_their_own_sqlite_file() {
    use sqlx::Connection;
    common::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let o = run(&[
        "admin",
        "create",
        "--email",
        "me@example.com",
        "--password",
        "correct horse battery",
        "--data-dir",
        &data,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Two runs as an earlier version recorded them, in basalt.db (recent
    // ones: the sweeper removes those past the retention at start).
    let main = format!("sqlite:{}", dir.path().join("basalt.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&main).await.unwrap();
    let first = basalt_core::id::new_id();
    let second = basalt_core::id::new_id();
    assert!(first < second);
    for (id, status) in [(first.as_str(), "ok"), (second.as_str(), "error")] {
        sqlx::query(
            "INSERT INTO executions (id, function, version, trigger, status, attempts, started_at, \
             duration_us, logs, error, delivery) VALUES ($1, 'legacy', 3, 'http', $2, 1, $3, 1500, \
             '[\"hello\"]', NULL, NULL)",
        )
        .bind(id)
        .bind(status)
        .bind(basalt_core::Timestamp::now().millis())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();

    let list = |url: String| async move {
        let client = reqwest::Client::new();
        let login: Value = client
            .post(format!("{url}/v1/admin/login"))
            .json(&json!({"email": "me@example.com", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        let page: Value = client
            .get(format!("{url}/v1/admin/functions/legacy/executions"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page
    };
    for round in 0..2 {
        let d = data.clone();
        let mut s = tokio::task::spawn_blocking(move || serve(Path::new(&d), &[], &[]))
            .await
            .unwrap();
        let page = list(s.url.clone()).await;
        let runs = page["executions"].as_array().unwrap_or_else(|| panic!("{page}"));
        assert_eq!(runs.len(), 2, "round {round}: {page}");
        assert_eq!(runs[0]["id"], second.as_str());
        assert_eq!(runs[0]["status"], "error");
        assert_eq!(runs[1]["logs"], json!(["hello"]));
        assert_eq!(runs[1]["version"], 3);
        assert_eq!(runs[1]["duration_ms"], 1.5);
        tokio::task::spawn_blocking(move || assert!(s.terminate().success()))
            .await
            .unwrap();
        assert!(dir.path().join("executions.db").exists());
        let mut conn = sqlx::SqliteConnection::connect(&main).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM executions")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "the main file keeps no executions");
        conn.close().await.unwrap();
    }
}

/// With `--shutdown-delay`, a stopped server first answers not-ready while
/// it goes on serving (each response closing its connection, so keep-alive
/// clients reconnect elsewhere), then stops accepting and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_drains_for_the_shutdown_delay() {
    common::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(dir.path(), &["--shutdown-delay", "2"], &[]);
    let http = reqwest::Client::new();
    let url = s.url.clone();
    let ready = http.get(format!("{url}/v1/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().get("connection").is_none());
    // `basalt health` (a container's health check) says the same.
    let addr = url.trim_start_matches("http://").to_owned();
    let check = |ready: bool| {
        let mut args = vec!["health", "--http", addr.as_str()];
        if ready {
            args.push("--ready");
        }
        basalt(&args).output().unwrap()
    };
    let o = check(true);
    assert!(o.status.success(), "{}", stderr(&o));
    s.send_term();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = http.get(format!("{url}/v1/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["connection"], "close");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["details"]["checks"]["shutdown"], "draining");
    let health = http.get(format!("{url}/v1/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "still serving while draining");
    assert_eq!(health.headers()["connection"], "close");
    let o = check(true);
    assert!(
        !o.status.success() && stderr(&o).contains("503"),
        "{}",
        stderr(&o)
    );
    assert!(check(false).status.success());
    let status = tokio::task::block_in_place(|| s.wait_exit());
    assert!(status.success(), "{status:?}");
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "{:?}",
        stopped.elapsed()
    );
    assert!(
        http.get(format!("{url}/v1/health")).send().await.is_err(),
        "no longer accepting"
    );
    let o = check(false);
    assert!(
        !o.status.success() && stderr(&o).contains(&addr),
        "{}",
        stderr(&o)
    );
    // Out of range is refused at start.
    let o = basalt(&[
        "serve",
        "--shutdown-delay",
        "301",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!o.status.success());
}
