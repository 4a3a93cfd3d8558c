//! The middleware stack on routes that misbehave on purpose (panics, slow
//! handlers), rate limits, and a database that goes away.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use basalt_server::{AppState, with_middleware};
use common::{Backend, TestServer};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn call(router: Router, path: &str) -> (u16, Option<String>, Value) {
    let response = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (
        status,
        request_id,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn boom() -> &'static str {
    panic!("secret internals: /etc/basalt/keys.pem")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3)).await;
    "done"
}

fn misbehaving_routes() -> Router<AppState> {
    Router::new()
        .route("/boom", get(boom))
        .route("/slow", get(slow))
        .route("/ok", get(|| async { "ok" }))
}

#[tokio::test]
async fn panics_become_500_without_internals() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let router = with_middleware(misbehaving_routes(), &server.state);
    let (status, request_id, body) = call(router.clone(), "/boom").await;
    assert_eq!(status, 500);
    assert!(request_id.is_some());
    assert_eq!(body["error"]["code"], "internal");
    assert!(!body.to_string().contains("secret"), "{body}");
    // The process and the router keep serving.
    let (status, _, _) = call(router, "/ok").await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn slow_requests_time_out_with_the_envelope() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.request_timeout = Duration::from_millis(300)
    })
    .await
    .unwrap();
    let router = with_middleware(misbehaving_routes(), &server.state);
    let started = std::time::Instant::now();
    let (status, request_id, body) = call(router, "/slow").await;
    assert_eq!(status, 504);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(request_id.is_some());
    assert_eq!(body["error"]["code"], "deadline_exceeded");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_sqlite() {
    login_is_rate_limited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_rate_limited_postgres() {
    login_is_rate_limited(Backend::Postgres).await;
}

async fn login_is_rate_limited(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |c| c.login_rate_limit = 3).await else {
        return;
    };
    s.create_admin("ada@example.com", "correct horse battery").await;
    for _ in 0..3 {
        let res = s
            .post(
                "/v1/admin/login",
                None,
                json!({"email": "ada@example.com", "password": "wrong password!"}),
            )
            .await;
        res.expect(401, Some("unauthenticated"));
    }
    // The right password does not help once the budget is spent.
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "ada@example.com", "password": "correct horse battery"}),
        )
        .await;
    res.expect(429, Some("rate_limited"));
    let retry: u64 = res.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other emails from the same address are limited too (per-IP bucket).
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "bob@example.com", "password": "whatever123"}),
        )
        .await;
    res.expect(429, Some("rate_limited"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    let Some(s) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    s.get("/v1/health/ready", None).await.expect(200, None);
    let pg = s.pg.as_ref().unwrap();
    // The database goes away: no new connections, existing ones killed.
    pg.admin_sql(&format!(
        "ALTER DATABASE {0} ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
        pg.name
    ))
    .await;
    let res = s.get("/v1/health/ready", None).await;
    res.expect(503, Some("unavailable"));
    assert_eq!(
        res.json()["error"]["details"]["checks"]["database"],
        "unavailable"
    );
    assert!(!res.text.contains(&pg.name), "no database names in errors");
    // Liveness is unaffected; a request that needs the database fails cleanly.
    s.get("/v1/health", None).await.expect(200, None);
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "a@example.com", "password": "whatever123"}),
        )
        .await;
    res.expect(503, Some("unavailable"));
    // It comes back.
    pg.admin_sql(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", pg.name))
        .await;
    let mut status = 0;
    for _ in 0..50 {
        status = s.get("/v1/health/ready", None).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again once the database is back");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_create_one_signing_key() {
    let Some(pg) = common::PgDatabase::create().await else {
        return;
    };
    let url = pg.url();
    let start = |url: String| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = basalt_core::config::Config::with_data_dir(dir.path());
        config.database_url = Some(basalt_core::Secret::new(url));
        basalt_server::App::start(config).await.expect("node starts")
    };
    let nodes = futures_util::future::join_all((0..4).map(|_| start(url.clone()))).await;
    let kid = nodes[0].state.auth.keys().active_kid().to_owned();
    for node in &nodes {
        assert_eq!(node.state.auth.keys().active_kid(), kid);
    }
    let rows = nodes[0]
        .state
        .db
        .fetch_all("SELECT kid FROM signing_keys", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "exactly one key, however many nodes raced");
    let migrations = nodes[0]
        .state
        .db
        .fetch_all("SELECT version FROM basalt_migrations", &[])
        .await
        .unwrap();
    assert_eq!(
        migrations.len(),
        basalt_store::MIGRATIONS.len(),
        "each migration applied once"
    );
    for node in nodes {
        node.state.db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_follows_the_configured_origins() {
    let preflight = |s: &TestServer, origin: &str| {
        s.client
            .request(reqwest::Method::OPTIONS, format!("{}/v1/admin/keys", s.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
    };
    // Default: any origin (bearer tokens, no cookies).
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let res = TestServer::read(preflight(&s, "https://app.example")).await;
    assert!(res.status < 300, "{}", res.status);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(
        res.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    assert!(
        res.header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    s.stop().await;

    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.cors_origins = vec!["https://app.example".into()]
    })
    .await
    .unwrap();
    let res = TestServer::read(preflight(&s, "https://app.example")).await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let res = TestServer::read(preflight(&s, "https://evil.example")).await;
    assert_eq!(res.header("access-control-allow-origin"), None);
    let res = TestServer::read(
        s.client
            .get(format!("{}/v1/health", s.url))
            .header("origin", "https://app.example"),
    )
    .await;
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        res.header("access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    s.stop().await;
}
