//! The `basalt` binary as a child process, as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_basalt");

pub fn basalt(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("BASALT_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A `basalt serve` child process, its banner read.
pub struct Server {
    pub child: Child,
    pub banner: Vec<String>,
    pub url: String,
}

impl Server {
    pub fn spawn(cmd: Command) -> Server {
        Self::spawn_with(cmd, Stdio::null())
    }

    pub fn spawn_with(mut cmd: Command, stderr: Stdio) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !banner
            .iter()
            .any(|l: &String| l.trim_start().starts_with("database"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            banner.push(
                rx.recv_timeout(left)
                    .unwrap_or_else(|_| panic!("no banner; got {banner:?}")),
            );
        }
        // The rest of the banner was written in the same call.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            banner.push(line);
        }
        let url = banner
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix("listening on")
                    .map(|u| u.trim().to_owned())
            })
            .expect("listening line");
        Server { child, banner, url }
    }

    pub fn line(&self, prefix: &str) -> &str {
        self.banner
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {:?}", self.banner))
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.send_term();
        self.wait_exit()
    }

    /// Sends SIGTERM, as a service manager stopping the server does.
    pub fn send_term(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits (at most 20 s) for the process to end.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Ends the process at once, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The flags that put a `basalt` child on SQLite in `dir`, or on the
/// PostgreSQL database `pg` with its files in `dir`.
pub fn store_flags(dir: &std::path::Path, pg: Option<&super::PgDatabase>) -> Vec<String> {
    let mut flags = vec!["--data-dir".to_owned(), dir.to_str().unwrap().to_owned()];
    if let Some(pg) = pg {
        flags.extend(["--database-url".to_owned(), pg.url()]);
    }
    flags
}

/// Like `on_both_backends!` for a `basalt` child process: two tests, `sqlite`
/// and `postgres`, that run `$run(flags)` with the
/// [`store_flags`] of a fresh data directory on each backend.
#[macro_export]
macro_rules! child_on_both_backends {
    ($run:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            let dir = tempfile::tempdir().unwrap();
            $run(common::process::store_flags(dir.path(), None)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            let Some(pg) = common::PgDatabase::create().await else {
                return;
            };
            let dir = tempfile::tempdir().unwrap();
            $run(common::process::store_flags(dir.path(), Some(&pg))).await;
        }
    };
}

/// The standard output of a command that must have succeeded.
#[track_caller]
pub fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts a command failed and said `fragment` on standard error.
#[track_caller]
pub fn refused(o: &std::process::Output, fragment: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(fragment), "{err}");
}

/// `basalt serve` on a port of its own with `flags` (the store, settings),
/// logging warnings only.
pub fn serve(flags: &[String]) -> Server {
    let mut args: Vec<&str> = vec!["serve", "--http", "127.0.0.1:0"];
    args.extend(flags.iter().map(String::as_str));
    let mut cmd = basalt(&args);
    cmd.env("BASALT_LOG", "warn");
    Server::spawn(cmd)
}

/// The admin [`admin_token`] signs in as.
pub const ADMIN: (&str, &str) = ("ops@example.com", "correct horse battery");

/// `basalt admin create` of [`ADMIN`] on the store of `flags`.
pub fn create_admin(flags: &[String]) {
    let mut args = vec!["admin", "create", "--email", ADMIN.0, "--password", ADMIN.1];
    args.extend(flags.iter().map(String::as_str));
    ok(&basalt(&args).output().unwrap());
}

/// Signs [`ADMIN`] in at `url`: an admin token.
pub async fn admin_token(http: &reqwest::Client, url: &str) -> String {
    let r = http
        .post(format!("{url}/v1/admin/login"))
        .json(&serde_json::json!({"email": ADMIN.0, "password": ADMIN.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}
