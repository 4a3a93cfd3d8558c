//! The outbox under a crash: `basalt serve` is SIGKILLed with 200 changes
//! whose after-trigger has not run, then started again on the same
//! database. Every event is delivered, and the trigger (which writes to the
//! database) has applied each exactly once. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::process::{Server, basalt};
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

fn serve(store: &[String]) -> Server {
    let mut args: Vec<&str> = vec!["serve", "--http", "127.0.0.1:0"];
    args.extend(store.iter().map(String::as_str));
    let mut cmd = basalt(&args);
    cmd.env("BASALT_LOG", "warn");
    Server::spawn(cmd)
}

async fn sign_in(url: &str) -> Client {
    common::install_tls_provider();
    let mut c = Client {
        http: reqwest::Client::new(),
        url: url.to_owned(),
        token: None,
    };
    let (status, body) = c
        .post(
            "/v1/admin/login",
            json!({"email": "ops@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    c.token = Some(body["access_token"].as_str().expect("a token").to_owned());
    c
}

async fn a_crash_loses_no_event_and_runs_none_twice(store: Vec<String>) {
    let mut args = vec![
        "admin",
        "create",
        "--email",
        "ops@example.com",
        "--password",
        "correct horse battery",
    ];
    args.extend(store.iter().map(String::as_str));
    let o = basalt(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut server = serve(&store);
    let c = sign_in(&server.url).await;
    for name in ["posts", "seen", "counters"] {
        let (status, body) = c.post("/v1/db/collections", json!({"name": name})).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _) = c.put("/v1/db/counters/total", json!({"data": {"n": 0}})).await;
    assert_eq!(status, 201);
    // Slow enough that most events are still waiting when the process dies.
    let source = r#"
        let spin = 0;
        while spin < 20000 { spin += 1; }
        db.create("seen", #{}, #{id: event.document.id});
        db.update("counters", "total", #{increment: #{n: 1}});
    "#;
    let (status, body) = c
        .put(
            "/v1/admin/functions/tally",
            json!({"kind": "trigger", "collection": "posts", "event": "after_create", "source": source}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let operations: Vec<Value> = (0..200)
        .map(|i| json!({"op": "create", "collection": "posts", "id": format!("p{i:03}"), "data": {"i": i}}))
        .collect();
    let (status, body) = c.post("/v1/db/batch", json!({"operations": operations})).await;
    assert_eq!(status, 200, "{body}");
    server.kill();

    // Started again: the outbox still has what was not delivered.
    let server = serve(&store);
    let c = sign_in(&server.url).await;
    let (_, before) = c.get("/v1/db/counters/total").await;
    eprintln!(
        "applied before the restart's dispatcher caught up: {}",
        before["data"]["n"]
    );
    // Claims the killed process held are taken over when their lease ends.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, total) = c.get("/v1/db/counters/total").await;
        if total["data"]["n"] == 200 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And it stays there: nothing runs twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, total) = c.get("/v1/db/counters/total").await;
    let (_, failing) = c
        .get("/v1/admin/functions/tally/executions?status=retrying&limit=3")
        .await;
    assert_eq!(total["data"]["n"], 200, "{total}; failed runs: {failing}");
    let (_, seen) = c.post("/v1/db/seen/count", json!({})).await;
    assert_eq!(seen["count"], 200, "{seen}");
    let (_, runs) = c
        .get("/v1/admin/functions/tally/executions?status=ok&limit=100")
        .await;
    assert_eq!(runs["executions"].as_array().unwrap().len(), 100);
    drop(server);
}

child_on_both_backends!(a_crash_loses_no_event_and_runs_none_twice);
