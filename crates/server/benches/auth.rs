//! Auth benchmark: token verification cost, and POST /v1/auth/refresh and
//! POST /v1/auth/login throughput over HTTP on loopback, on SQLite and (with
//! BASALT_BENCH_POSTGRES_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)
//! on a fresh PostgreSQL database.
//! Run: `cargo bench -p basalt-server --bench auth`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use basalt_core::Secret;
use basalt_core::caller::Authenticator;
use basalt_core::config::Config;
use basalt_server::App;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3
}

struct Server {
    url: String,
    app_state: basalt_server::AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start(database_url: Option<String>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(dir.path());
    config.database_url = database_url.map(Secret::new);
    config.login_rate_limit = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.public_url = format!("http://{addr}");
    let app = App::start(config).await.unwrap();
    let app_state = app.state.clone();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    Server {
        url: format!("http://{addr}"),
        app_state,
        stop,
        _dir: dir,
    }
}

/// Runs `workers` loops for `secs`, each calling `step` with its own state;
/// returns (requests/s, p50 ms, p99 ms).
async fn load<S, F, Fut>(workers: usize, secs: u64, states: Vec<S>, step: F) -> (f64, f64, f64)
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = S> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = states
        .into_iter()
        .take(workers)
        .map(|mut state| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut times = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    state = step(state).await;
                    times.push(t.elapsed());
                }
                times
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    )
}

async fn signup(client: &reqwest::Client, url: &str, i: usize) -> Value {
    let res = client
        .post(format!("{url}/v1/auth/signup"))
        .json(&json!({"email": format!("bench{i}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn bench(name: &str, database_url: Option<String>, secs: u64) {
    let s = start(database_url).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let mut sessions = Vec::new();
    for i in 0..32 {
        sessions.push(signup(&client, &s.url, i).await);
    }

    // Verifying an access token: the signature alone, then the whole
    // Authorization header as a request sees it (session check cached).
    let token = sessions[0]["access_token"].as_str().unwrap().to_owned();
    let keys = s.app_state.auth.keys();
    let issuer = s.app_state.auth.issuer().to_owned();
    let mut t = Vec::new();
    for _ in 0..20_000 {
        let start = Instant::now();
        std::hint::black_box(keys.verify(&token, &issuer).ok());
        t.push(start.elapsed());
    }
    t.sort();
    println!(
        "| {name} | access token signature + claims check | {:.1} µs median, {:.1} µs p99 |",
        percentile(&t, 0.5) * 1e3,
        percentile(&t, 0.99) * 1e3
    );
    let authenticator: Authenticator = s.app_state.authenticator.clone();
    let header = format!("Bearer {token}");
    let mut t = Vec::new();
    for _ in 0..20_000 {
        let start = Instant::now();
        std::hint::black_box(authenticator.resolve(Some(header.as_bytes())).await.unwrap());
        t.push(start.elapsed());
    }
    t.sort();
    println!(
        "| {name} | Authorization header → Caller (session cached) | {:.1} µs median, {:.1} µs p99 |",
        percentile(&t, 0.5) * 1e3,
        percentile(&t, 0.99) * 1e3
    );

    for workers in [1usize, 32] {
        let states: Vec<(reqwest::Client, String, String)> = sessions
            .iter()
            .map(|s| {
                (
                    client.clone(),
                    s["refresh_token"].as_str().unwrap().to_owned(),
                    String::new(),
                )
            })
            .collect();
        let url = s.url.clone();
        let url: &'static str = Box::leak(url.into_boxed_str());
        let (rps, p50, p99) = load(workers, secs, states, move |(c, rt, _)| async move {
            let res = c
                .post(format!("{url}/v1/auth/refresh"))
                .json(&json!({"refresh_token": rt}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            (
                c,
                body["refresh_token"].as_str().unwrap().to_owned(),
                String::new(),
            )
        })
        .await;
        println!(
            "| {name} | POST /v1/auth/refresh, {workers} conn | {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms |"
        );
        // The next run starts from fresh sessions (these tokens were rotated).
        sessions.clear();
        for i in 0..32 {
            let res = client
                .post(format!("{}/v1/auth/login", s.url))
                .json(&json!({"email": format!("bench{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            sessions.push(res.json::<Value>().await.unwrap());
        }
    }
    for workers in [1usize, 32] {
        let states: Vec<(reqwest::Client, usize)> = (0..32).map(|i| (client.clone(), i)).collect();
        let url: &'static str = Box::leak(s.url.clone().into_boxed_str());
        let (rps, p50, p99) = load(workers, secs, states, move |(c, i)| async move {
            let res = c
                .post(format!("{url}/v1/auth/login"))
                .json(&json!({"email": format!("bench{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            (c, i)
        })
        .await;
        println!(
            "| {name} | POST /v1/auth/login, {workers} conn | {rps:.0} req/s, p50 {p50:.1} ms, p99 {p99:.1} ms |"
        );
    }
    let _ = s.stop.send(());
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs: u64 = std::env::var("BASALT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!("Argon2id m=19456 KiB, t=2, p=1; client and server share the machine.\n");
        println!("| backend | measure | result |\n|---|---|---|");
        bench("SQLite", None, secs).await;
        if let Ok(url) = std::env::var("BASALT_BENCH_POSTGRES_URL") {
            use sqlx::Connection;
            let name = format!("basalt_bench_{}", basalt_core::secret::random_hex(4));
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            let db_url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
            bench("PostgreSQL", Some(db_url), secs).await;
            sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    });
}
