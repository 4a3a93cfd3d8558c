//! Crash durability: `basalt serve` is SIGKILLed in the middle of a write
//! storm (creates, increments, batches and uploads from eight clients at
//! once), then started again on the same database and files. Every write
//! the server acknowledged is there; each counter holds at least its
//! acknowledged increments and at most the ones sent; no object is visible
//! half-written; and a realtime subscriber resuming from before the storm
//! gets every acknowledged create, in order, once. Both backends.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{admin_token, create_admin, serve};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WRITERS: usize = 8;
const OBJECT_BYTES: usize = 192 * 1024;

/// The bytes of the object at `path`: its name over and over, so a torn or
/// mixed-up object cannot pass for a whole one.
fn object_bytes(path: &str) -> Vec<u8> {
    path.bytes()
        .chain(std::iter::once(b'|'))
        .cycle()
        .take(OBJECT_BYTES)
        .collect()
}

/// What the server acknowledged before it died.
#[derive(Default)]
struct Acked {
    created: BTreeMap<String, Value>,
    increments: BTreeMap<String, u64>,
    increments_sent: BTreeMap<String, u64>,
    batches: Vec<Vec<String>>,
    objects: BTreeSet<String>,
}

/// `Some` when the server answered `want` in full, `None` once it is gone;
/// any other answer fails the test (these writes are all valid).
async fn acknowledged(r: reqwest::Result<reqwest::Response>, want: u16, what: &str) -> Option<()> {
    let r = r.ok()?;
    let status = r.status().as_u16();
    let body = r.bytes().await.ok()?;
    assert_eq!(
        status,
        want,
        "{what} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Some(())
}

/// One writer: creates, an increment of its own counter, a batch of two
/// creates, an upload, over and over until the server stops answering.
async fn writer(http: reqwest::Client, url: String, token: String, w: usize, acked: Arc<Mutex<Acked>>) {
    let counter = format!("c{w}");
    for i in 0.. {
        let id = format!("w{w}-{i}");
        let data = json!({"writer": w, "i": i, "text": "x".repeat(200)});
        let r = http
            .post(format!("{url}/v1/db/notes"))
            .bearer_auth(&token)
            .json(&json!({"id": id, "data": data}))
            .send()
            .await;
        if acknowledged(r, 201, "create").await.is_none() {
            return;
        }
        acked.lock().unwrap().created.insert(id.clone(), data);

        *acked
            .lock()
            .unwrap()
            .increments_sent
            .entry(counter.clone())
            .or_default() += 1;
        let r = http
            .patch(format!("{url}/v1/db/counters/{counter}"))
            .bearer_auth(&token)
            .json(&json!({"increment": {"n": 1}}))
            .send()
            .await;
        if acknowledged(r, 200, "increment").await.is_none() {
            return;
        }
        *acked
            .lock()
            .unwrap()
            .increments
            .entry(counter.clone())
            .or_default() += 1;

        let ids = [format!("b{w}-{i}-a"), format!("b{w}-{i}-b")];
        let ops: Vec<Value> = ids
            .iter()
            .map(|id| json!({"op": "create", "collection": "batched", "id": id, "data": {"w": w}}))
            .collect();
        let r = http
            .post(format!("{url}/v1/db/batch"))
            .bearer_auth(&token)
            .json(&json!({"operations": ops}))
            .send()
            .await;
        if acknowledged(r, 200, "batch").await.is_none() {
            return;
        }
        acked.lock().unwrap().batches.push(ids.to_vec());

        if i % 3 == 0 {
            let path = format!("w{w}/{i}.bin");
            let r = http
                .put(format!("{url}/v1/storage/files/{path}"))
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(object_bytes(&path))
                .send()
                .await;
            if acknowledged(r, 201, "upload").await.is_none() {
                return;
            }
            acked.lock().unwrap().objects.insert(path);
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of a socket, as JSON.
async fn next(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no message: {other:?}"),
        }
    }
}

/// The ids of every document of `collection`, page by page.
async fn all_ids(http: &reqwest::Client, url: &str, token: &str, collection: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut body = json!({"limit": 1000});
    loop {
        let r = http
            .post(format!("{url}/v1/db/{collection}/query"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        for d in page["documents"].as_array().unwrap() {
            ids.insert(d["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => body = json!({"limit": 1000, "after": c}),
            None => return ids,
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: &str, path: &str) -> (u16, Value) {
    let r = http
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn acknowledged_writes_survive_a_kill(store: Vec<String>) {
    create_admin(&store);

    common::install_tls_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut server = serve(&store);
    let url = server.url.clone();
    let token = admin_token(&http, &url).await;
    for name in ["notes", "counters", "batched"] {
        let r = http
            .post(format!("{url}/v1/db/collections"))
            .bearer_auth(&token)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    for w in 0..WRITERS {
        let r = http
            .put(format!("{url}/v1/db/counters/c{w}"))
            .bearer_auth(&token)
            .json(&json!({"data": {"n": 0}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = http
        .post(format!("{url}/v1/storage/buckets"))
        .bearer_auth(&token)
        .json(&json!({"name": "files"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // The seq of a change from before the storm, to resume from later.
    let ws_url = format!("{}/v1/realtime?token={token}", url.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "subscribe", "id": "s", "collection": "notes"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["type"], "subscribed");
    let r = http
        .post(format!("{url}/v1/db/notes"))
        .bearer_auth(&token)
        .json(&json!({"id": "before", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let change = next(&mut ws).await;
    assert_eq!(change["document"]["id"], "before");
    let resume_from = change["seq"].as_i64().unwrap();
    drop(ws);

    // The storm, and the kill in its middle.
    let acked = Arc::new(Mutex::new(Acked::default()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(http.clone(), url.clone(), token.clone(), w, acked.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.kill();
    for w in writers {
        w.await
            .expect("a writer panicked: the server answered a write with an error");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.created.len() > 50,
        "the storm wrote too little: {}",
        acked.created.len()
    );
    assert!(!acked.objects.is_empty() && !acked.batches.is_empty());

    // Started again on the same data.
    let server = serve(&store);
    let url = server.url.clone();
    let token = admin_token(&http, &url).await;
    for (id, data) in &acked.created {
        let (status, doc) = get_json(&http, &url, &token, &format!("/v1/db/notes/{id}")).await;
        assert_eq!(status, 200, "acknowledged create {id} is gone");
        assert_eq!(&doc["data"], data, "{id}");
    }
    for (counter, sent) in &acked.increments_sent {
        let (status, doc) = get_json(&http, &url, &token, &format!("/v1/db/counters/{counter}")).await;
        assert_eq!(status, 200);
        let n = doc["data"]["n"].as_u64().unwrap();
        let acknowledged = acked.increments.get(counter).copied().unwrap_or(0);
        assert!(
            (acknowledged..=*sent).contains(&n),
            "{counter} = {n}: acknowledged {acknowledged}, sent {sent}"
        );
    }
    for ids in &acked.batches {
        for id in ids {
            let (status, _) = get_json(&http, &url, &token, &format!("/v1/db/batched/{id}")).await;
            assert_eq!(status, 200, "acknowledged batch lost {id}");
        }
    }
    // A batch is all or nothing, acknowledged or not.
    let stored = all_ids(&http, &url, &token, "batched").await;
    for id in &stored {
        let pair = id.strip_suffix("-a").or_else(|| id.strip_suffix("-b")).unwrap();
        assert!(
            stored.contains(&format!("{pair}-a")) && stored.contains(&format!("{pair}-b")),
            "half a batch: {id}"
        );
    }
    // Every object listed is whole; every acknowledged one is listed.
    let mut listed = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        // Cursors are URL-safe base64.
        let query = after.as_ref().map(|c| format!("&after={c}")).unwrap_or_default();
        let r = http
            .get(format!("{url}/v1/storage/files?limit=1000{query}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await.unwrap();
        for o in page["objects"].as_array().unwrap() {
            listed.insert(o["path"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    for path in &acked.objects {
        assert!(listed.contains(path), "acknowledged upload {path} is gone");
    }
    for path in &listed {
        let r = http
            .get(format!("{url}/v1/storage/files/{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} is listed but cannot be read");
        let body = r.bytes().await.unwrap();
        assert!(
            body[..] == object_bytes(path)[..],
            "{path} is not whole ({} bytes)",
            body.len()
        );
    }

    // Realtime resumes: every acknowledged create after the resume point, in
    // order, once.
    let ws_url = format!("{}/v1/realtime?token={token}", url.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "subscribe", "id": "s", "collection": "notes", "resume_from": resume_from})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut seen = BTreeSet::new();
    let mut last = resume_from;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !acked.created.keys().all(|id| seen.contains(id)) {
        assert!(
            Instant::now() < deadline,
            "resume gave {} of {} creates",
            seen.len(),
            acked.created.len()
        );
        let m = next(&mut ws).await;
        match m["type"].as_str() {
            Some("subscribed") => {}
            Some("change") => {
                let seq = m["seq"].as_i64().unwrap();
                assert!(seq > last, "seq {seq} after {last}");
                last = seq;
                let id = m["document"]["id"].as_str().unwrap().to_owned();
                assert!(seen.insert(id.clone()), "{id} delivered twice");
            }
            _ => panic!("unexpected {m}"),
        }
    }
    // And new writes go on.
    let r = http
        .post(format!("{url}/v1/db/notes"))
        .bearer_auth(&token)
        .json(&json!({"id": "after", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    loop {
        let m = next(&mut ws).await;
        if m["type"] == "change" && m["document"]["id"] == "after" {
            assert!(m["seq"].as_i64().unwrap() > last);
            break;
        }
    }
    println!(
        "acknowledged before the kill: {} creates, {} increments, {} batches, {} uploads; {} objects listed after",
        acked.created.len(),
        acked.increments.values().sum::<u64>(),
        acked.batches.len(),
        acked.objects.len(),
        listed.len()
    );
    drop(server);
}

child_on_both_backends!(acknowledged_writes_survive_a_kill);
