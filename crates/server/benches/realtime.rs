//! Realtime load: memory per idle socket, fan-out latency, sustained delivery.
//!
//! Starts the release `basalt` binary (`BASALT_BIN`, default
//! `$CARGO_TARGET_DIR/release/basalt`) on SQLite in a temporary directory,
//! then, from this process over loopback:
//! - opens N idle sockets (`BENCH_IDLE`, default 10000,50000) and reads the
//!   server's RSS before and after (client source addresses are spread over
//!   127.0.0.0/8 so ports do not run out);
//! - subscribes S sockets (`BENCH_FANOUT`, default 1000,10000) to one
//!   collection (read rule `true`), makes 20 writes one after another, and
//!   reports, over every delivery, the time from sending the write to the
//!   subscriber receiving it, and from the document's `created_at` (stamped
//!   just before commit, same machine clock) to receiving it;
//! - with 1000 subscribers, writes batches for 5 s and counts deliveries/s.
//!
//! Raise the file limit first: `ulimit -n 200000`.
//! Run: `cargo build --release -p basalt-server && cargo bench -p basalt-server --bench realtime`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

fn binary() -> PathBuf {
    if let Ok(b) = std::env::var("BASALT_BIN") {
        return b.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/basalt-target")
        });
    target.join("release/basalt")
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn list(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

struct Server {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Server {
    async fn start(dir: &std::path::Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(binary())
            .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir)
            .env("BASALT_LOG", "warn")
            // Every socket comes from 127.0.0.1: no per-address cap here.
            .env("BASALT_REALTIME_MAX_SOCKETS_PER_IP", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the release binary (cargo build --release -p basalt-server)");
        let http = reqwest::Client::new();
        for _ in 0..500 {
            if http
                .get(format!("http://127.0.0.1:{port}/v1/health/ready"))
                .send()
                .await
                .is_ok()
            {
                return Server { child, port, http };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("basalt did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A socket from the `i`th loopback source address.
async fn connect(port: u16, i: usize) -> Ws {
    let src = Ipv4Addr::new(
        127,
        1 + (i / 20_000) as u8,
        ((i / 250) % 250) as u8,
        1 + (i % 250) as u8,
    );
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(src), 0)).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/v1/realtime"), stream)
        .await
        .unwrap();
    ws
}

async fn open(port: u16, n: usize, from: usize) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    let mut pending =
        futures_util::stream::iter((0..n).map(|i| connect(port, from + i))).buffer_unordered(256);
    while let Some(ws) = pending.next().await {
        out.push(ws);
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let out = Command::new(binary())
        .args([
            "admin",
            "create",
            "--email",
            "bench@example.com",
            "--password",
            "bench password 1",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let admin = server
        .post(
            "/v1/admin/login",
            "",
            json!({"email": "bench@example.com", "password": "bench password 1"}),
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .post(
            "/v1/db/collections",
            &admin,
            json!({"name": "bench", "rules": {"read": "true"}}),
        )
        .await;
    let pid = server.child.id();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    println!(
        "Machine: {} cores ({cpu}); client and server on loopback, sharing the cores; SQLite; log=warn",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| idle RSS of the server | {:.1} MiB |",
        rss_kib(pid) as f64 / 1024.0
    );

    // Memory per idle socket.
    let mut opened = 0;
    let mut held: Vec<Ws> = Vec::new();
    for n in list("BENCH_IDLE", "10000,50000") {
        let before = rss_kib(pid);
        let new = n.saturating_sub(held.len()).max(1);
        let more = open(server.port, new, opened).await;
        opened += more.len();
        held.extend(more);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(pid);
        let per = after.saturating_sub(before) as f64 * 1024.0 / new as f64;
        println!(
            "| {n} idle sockets: server RSS | {:.1} MiB (+{:.1} KiB per socket over the previous step) |",
            after as f64 / 1024.0,
            per / 1024.0
        );
    }
    let total_idle = held.len();
    let base = rss_kib(pid);
    drop(held);
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "| after closing {total_idle} sockets | server RSS {:.1} MiB (was {:.1}) |",
        rss_kib(pid) as f64 / 1024.0,
        base as f64 / 1024.0
    );

    // Fan-out latency.
    for subscribers in list("BENCH_FANOUT", "1000,10000") {
        let sockets = open(server.port, subscribers, opened).await;
        opened += subscribers;
        let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
        let from_commit = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
        let sent_at = Arc::new(std::sync::Mutex::new(
            std::collections::HashMap::<String, Instant>::new(),
        ));
        let delivered = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::new();
        for mut ws in sockets {
            ws.send(Message::Text(
                json!({"type": "subscribe", "id": "s", "collection": "bench"})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
            let latencies = latencies.clone();
            let from_commit = from_commit.clone();
            let sent_at = sent_at.clone();
            let delivered = delivered.clone();
            readers.push(tokio::spawn(async move {
                while let Some(Ok(frame)) = ws.next().await {
                    let Message::Text(t) = frame else { continue };
                    let now = Instant::now();
                    let v: Value = serde_json::from_str(&t).unwrap_or_default();
                    if v["type"] != "change" {
                        continue;
                    }
                    delivered.fetch_add(1, Ordering::Relaxed);
                    let id = v["document"]["id"].as_str().unwrap_or_default().to_owned();
                    if let Some(t) = v["document"]["created_at"]
                        .as_str()
                        .and_then(basalt_core::Timestamp::parse)
                    {
                        let ms = basalt_core::Timestamp::now().millis() - t.millis();
                        from_commit.lock().unwrap().push(ms as f64);
                    }
                    if let Some(at) = sent_at.lock().unwrap().get(&id) {
                        latencies
                            .lock()
                            .unwrap()
                            .push(now.duration_since(*at).as_secs_f64() * 1000.0);
                    }
                }
            }));
        }
        // Wait until every subscription is live.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for i in 0..20 {
            let id = format!("w{subscribers}-{i}");
            sent_at.lock().unwrap().insert(id.clone(), Instant::now());
            server
                .post("/v1/db/bench", &admin, json!({"id": id, "data": {"i": i}}))
                .await;
            let want = (i + 1) as u64 * subscribers as u64;
            let deadline = Instant::now() + Duration::from_secs(30);
            while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut l = latencies.lock().unwrap().clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "| one write → {subscribers} subscribers: write sent → delivered | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} deliveries) |",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(0.0),
            l.len()
        );
        let mut c = from_commit.lock().unwrap().clone();
        c.sort_by(|a, b| a.partial_cmp(b).unwrap());
        if !c.is_empty() {
            println!(
                "| one write → {subscribers} subscribers: document stamped (commit) → delivered | p50 {:.0} ms, p99 {:.0} ms (1 ms resolution) |",
                percentile(&c, 0.5),
                percentile(&c, 0.99)
            );
        }
        if subscribers == 1000 {
            // Sustained: batches of 100 creates for 5 s.
            let start_count = delivered.load(Ordering::Relaxed);
            let t0 = Instant::now();
            let mut writes = 0;
            while t0.elapsed() < Duration::from_secs(5) {
                let ops: Vec<Value> = (0..100)
                    .map(|_| json!({"op": "create", "collection": "bench", "data": {"x": 1}}))
                    .collect();
                server
                    .post("/v1/db/batch", &admin, json!({"operations": ops}))
                    .await;
                writes += 100;
            }
            let want = start_count + writes as u64 * subscribers as u64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let secs = t0.elapsed().as_secs_f64();
            let got = delivered.load(Ordering::Relaxed) - start_count;
            println!(
                "| sustained, 1000 subscribers: {writes} writes in 5 s | {:.0} changes/s delivered ({got} of {} in {secs:.1} s) |",
                got as f64 / secs,
                writes * subscribers
            );
        }
        for r in readers {
            r.abort();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
