//! Signing key rotation with `basalt signing-keys rotate` against a running
//! server: the new key is published in the JWKS first while the old one
//! still signs; after the grace the new one signs and tokens from the old
//! one still verify; `--now` (a leaked key) retires every old key at once,
//! tokens they signed are refused, and sessions go on by refreshing. Both
//! backends.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::process::{Server, basalt};
use serde_json::{Value, json};

const TTL: &str = "20";
const GRACE: u64 = 12;

fn command(args: &[&str], store: &[String]) -> Command {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(store.iter().map(String::as_str));
    let mut cmd = basalt(&all);
    cmd.env("BASALT_ACCESS_TOKEN_TTL", TTL)
        .env("BASALT_ADMIN_TOKEN_TTL", TTL);
    cmd
}

fn run(args: &[&str], store: &[String]) -> String {
    let o = command(args, store).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn jwks(&self) -> Vec<String> {
        let (_, body) = self
            .call(reqwest::Method::GET, "/v1/auth/jwks.json", None, None)
            .await;
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn sign_in(&self) -> (String, String) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": "user@example.com", "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn me(&self, token: &str) -> u16 {
        self.call(reqwest::Method::GET, "/v1/auth/user", Some(token), None)
            .await
            .0
    }
}

/// Waits (at most 15 s: the servers read the keys every 10 s) for `what`.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within 15 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn rotation(store: Vec<String>) {
    common::install_tls_provider();
    let mut serve = command(&["serve", "--http", "127.0.0.1:0"], &store);
    serve.env("BASALT_LOG", "warn");
    let server = Server::spawn(serve);
    let api = Api {
        http: reqwest::Client::new(),
        url: server.url.clone(),
    };
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/v1/auth/signup",
            None,
            Some(json!({"email": "user@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    let first = api.jwks().await;
    assert_eq!(first.len(), 1);
    let (before, _) = api.sign_in().await;
    assert_eq!(kid_of(&before), first[0]);

    // Published first, signing later.
    let out = run(&["signing-keys", "rotate", "--grace", &GRACE.to_string()], &store);
    let rotated = Instant::now();
    let new_kid = out.split_whitespace().nth(2).unwrap().to_owned();
    assert_ne!(new_kid, first[0]);
    assert!(out.contains("next: published, not signing yet"), "{out}");
    eventually("the new key in the JWKS", || async {
        api.jwks().await.contains(&new_kid)
    })
    .await;
    assert!(
        rotated.elapsed() < Duration::from_secs(GRACE),
        "the test was too slow to see the grace"
    );
    let (during, _) = api.sign_in().await;
    assert_eq!(kid_of(&during), first[0], "the old key signs during the grace");
    assert_eq!(api.jwks().await, vec![first[0].clone(), new_kid.clone()]);

    // After the grace the new key signs, and the old key's tokens still verify.
    tokio::time::sleep(
        Duration::from_secs(GRACE).saturating_sub(rotated.elapsed()) + Duration::from_millis(500),
    )
    .await;
    let (after, refresh) = api.sign_in().await;
    assert_eq!(kid_of(&after), new_kid);
    for token in [&before, &during, &after] {
        assert_eq!(api.me(token).await, 200);
    }
    let listed = run(&["signing-keys", "list"], &store);
    assert!(
        listed.contains(&format!("{} ", first[0])) && listed.contains("verifies until"),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&new_kid) && l.contains("signing")),
        "{listed}"
    );

    // A leaked key: replaced at once, everything it signed refused.
    let out = run(&["signing-keys", "rotate", "--now"], &store);
    let emergency_kid = out.split_whitespace().nth(2).unwrap().to_owned();
    eventually("the retired keys to be refused", || async {
        api.me(&after).await == 401
    })
    .await;
    for token in [&before, &during, &after] {
        assert_eq!(api.me(token).await, 401);
    }
    assert_eq!(api.jwks().await, vec![emergency_kid.clone()]);
    // Sessions go on: a refresh gets a token from the new key.
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let refreshed = body["access_token"].as_str().unwrap();
    assert_eq!(kid_of(refreshed), emergency_kid);
    assert_eq!(api.me(refreshed).await, 200);
    let listed = run(&["signing-keys", "list"], &store);
    assert_eq!(listed.matches("retired").count(), 2, "{listed}");
    drop(server);
}

child_on_both_backends!(rotation);
