//! Rotation of the key that signs file URLs with `basalt file-url-keys
//! rotate` against a running server: during the grace the old key still
//! signs; after it the new key signs, and URLs the old key signed still
//! download; `--now` (a leaked key) retires every old key at once, so the
//! URLs they signed are refused while new ones work. Which key signed a URL
//! is checked by computing the HMAC with the keys read from the database.
//! Both backends.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::process::{Server, basalt};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const GRACE: u64 = 12;

fn run(args: &[&str], store: &[String]) -> String {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(store.iter().map(String::as_str));
    let o = basalt(&all).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The URL keys as the database holds them (no master key: in the clear), by name.
async fn keys(store: &[String]) -> Vec<(String, Vec<u8>)> {
    let flag = |name: &str| store.iter().position(|f| f == name).map(|i| store[i + 1].clone());
    let dir = flag("--data-dir").unwrap();
    let db = basalt_store::Db::connect(flag("--database-url").as_deref(), std::path::Path::new(&dir), 2)
        .await
        .unwrap();
    let rows = db
        .fetch_all(
            "SELECT name, value FROM server_secrets WHERE substr(name, 1, 12) = 'file_url_key' ORDER BY created_at, name",
            &[],
        )
        .await
        .unwrap();
    let out = rows
        .iter()
        .map(|r| (r.text(0).unwrap(), r.bytes(1).unwrap()))
        .collect();
    db.close().await;
    out
}

/// The name of the key that signed `url`.
fn signer_of(url: &str, keys: &[(String, Vec<u8>)]) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let path = path.strip_prefix("/v1/storage/").unwrap();
    let (bucket, object) = path.split_once('/').unwrap();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (expires, sig) = (param("expires"), param("sig"));
    keys.iter()
        .find(|(_, key)| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(format!("GET\n{bucket}\n{object}\n{expires}").as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()) == sig
        })
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| panic!("no stored key signed {url}"))
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn sign(&self) -> String {
        let r = self
            .http
            .post(format!("{}/v1/storage/docs/report.txt?sign", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"expires_in": 3600}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn fetch(&self, signed: &str) -> u16 {
        self.http
            .get(format!("{}{signed}", self.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

async fn rotation(store: Vec<String>) {
    common::install_tls_provider();
    run(&["migrate"], &store);
    let key = run(&["keys", "create", "--name", "test"], &store)
        .trim()
        .to_owned();
    let mut serve = basalt(&["serve", "--http", "127.0.0.1:0"]);
    serve.args(&store).env("BASALT_LOG", "warn");
    let server = Server::spawn(serve);
    let api = Api {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        token: key,
    };
    let r = api
        .http
        .post(format!("{}/v1/storage/buckets", api.url))
        .bearer_auth(&api.token)
        .json(&json!({"name": "docs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = api
        .http
        .put(format!("{}/v1/storage/docs/report.txt", api.url))
        .bearer_auth(&api.token)
        .header("content-type", "text/plain")
        .body("quarterly")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let before = api.sign().await;
    assert_eq!(api.fetch(&before).await, 200);
    let first = keys(&store).await;
    assert_eq!(first.len(), 1);
    assert_eq!(signer_of(&before, &first), "file_url_key");

    // A rotation: the new key waits out its grace; the old one goes on signing.
    let out = run(
        &["file-url-keys", "rotate", "--grace", &GRACE.to_string()],
        &store,
    );
    let rotated = Instant::now();
    assert!(
        out.contains("added") && out.contains("next: not signing yet"),
        "{out}"
    );
    let both = keys(&store).await;
    assert_eq!(both.len(), 2);
    let new = both[1].0.clone();
    assert!(new.starts_with("file_url_key."), "{new}");
    let during = api.sign().await;
    assert_eq!(signer_of(&during, &both), "file_url_key");
    assert_eq!(api.fetch(&during).await, 200);

    // After the grace (and a reload, every 10 s) the new key signs, and what
    // the old one signed still downloads.
    tokio::time::sleep(Duration::from_secs(GRACE + 1).saturating_sub(rotated.elapsed())).await;
    let after = api.sign().await;
    assert_eq!(signer_of(&after, &both), new);
    for url in [&before, &during, &after] {
        assert_eq!(api.fetch(url).await, 200, "{url}");
    }
    let listed = run(&["file-url-keys", "list"], &store);
    assert!(
        listed.contains("signing") && listed.contains("verifies until"),
        "{listed}"
    );

    // A leaked key: --now retires every old key at once.
    run(&["file-url-keys", "rotate", "--now"], &store);
    let third = keys(&store).await;
    assert_eq!(third.len(), 3);
    let deadline = Instant::now() + Duration::from_secs(15);
    while api.fetch(&after).await != 403 {
        assert!(
            Instant::now() < deadline,
            "the retired key still verified after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for url in [&before, &during, &after] {
        assert_eq!(api.fetch(url).await, 403, "{url}");
    }
    let fresh = api.sign().await;
    assert_eq!(signer_of(&fresh, &third), third[2].0);
    assert_eq!(api.fetch(&fresh).await, 200);
    // Tampering still fails with the new key.
    let tampered = fresh.replace("expires=", "expires=1");
    assert_eq!(api.fetch(&tampered).await, 403);
}

child_on_both_backends!(rotation);
