//! Realtime through a real WebSocket client against a real server, on both
//! backends: every message type, rules per subscriber, filters entering and
//! leaving, snapshot continuity, presence, broadcast, resume, slow consumers,
//! garbage; and two server processes on one PostgreSQL database.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Backend, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Stream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Ws {
    stream: Stream,
}

impl Ws {
    async fn connect(s: &TestServer, token: Option<&str>) -> Ws {
        let base = s.url.replace("http://", "ws://");
        let url = match token {
            Some(t) => format!("{base}/v1/realtime?token={t}"),
            None => format!("{base}/v1/realtime"),
        };
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("handshake");
        Ws { stream }
    }

    async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// The next JSON message (pings are answered by the client library).
    async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a message within 10 s")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Nothing arrives for a while.
    async fn quiet(&mut self) {
        if let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(400), self.stream.next()).await
        {
            panic!("expected nothing, got {t}");
        }
    }
}

async fn user(s: &TestServer, email: &str) -> (String, String) {
    s.signup(email).await
}

async fn notes(s: &TestServer) -> String {
    let admin = s.admin_token().await;
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "notes", "rules": {
            "read": "auth != () && doc.data.owner == auth.uid",
            "create": "auth != () && data.owner == auth.uid",
            "update": "auth != () && doc.data.owner == auth.uid",
            "delete": "auth != () && doc.data.owner == auth.uid"
        }}),
    )
    .await
    .expect(201, None);
    admin
}

on_both_backends!(
    pings_auth_and_garbage,
    live_queries_follow_rules_and_filters,
    snapshot_then_changes_without_gap_or_duplicate,
    presence_and_broadcast,
    resume_after_a_disconnect,
    slow_consumers_are_dropped,
    admins_watch_every_collection,
    admins_inspect_connections_and_presence,
);

async fn pings_auth_and_garbage(s: &TestServer) {
    let (token, _) = user(s, "a@example.com").await;
    // A bad token in the handshake fails it with 401.
    let base = s.url.replace("http://", "ws://");
    let err = tokio_tungstenite::connect_async(format!("{base}/v1/realtime?token=nope"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    let mut ws = Ws::connect(s, None).await;
    ws.send(json!({"type": "ping", "id": "p1"})).await;
    assert_eq!(ws.recv().await, json!({"type": "pong", "id": "p1"}));
    // Garbage gets errors; the socket stays open.
    for bad in [
        "not json",
        "{}",
        r#"{"type":"explode"}"#,
        r#"{"type":"subscribe"}"#,
        "[1,2]",
        r#"{"type":"ping","snapshop":true}"#,
    ] {
        ws.stream.send(Message::Text(bad.into())).await.unwrap();
        let e = ws.recv().await;
        assert_eq!(e["type"], "error", "{bad}");
        assert_eq!(e["code"], "invalid_argument", "{bad}");
    }
    ws.stream
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(ws.recv().await["code"], "invalid_argument");
    // A bad token in `auth` is an error, and the socket goes on as before.
    ws.send(json!({"type": "auth", "token": "nope"})).await;
    assert_eq!(ws.recv().await["code"], "unauthenticated");
    ws.send(json!({"type": "auth", "token": token})).await;
    assert_eq!(ws.recv().await["type"], "authenticated");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.recv().await, json!({"type": "pong"}));
    // Unknown collection, bad filter, duplicate id, unknown unsubscribe.
    ws.send(json!({"type": "subscribe", "id": "s1", "collection": "nothing"}))
        .await;
    let e = ws.recv().await;
    assert_eq!(
        (e["id"].as_str(), e["code"].as_str()),
        (Some("s1"), Some("not_found"))
    );
    notes(s).await;
    ws.send(json!({"type": "subscribe", "id": "s2", "collection": "notes", "where": [["a", "~", 1]]}))
        .await;
    assert_eq!(ws.recv().await["code"], "invalid_argument");
    ws.send(json!({"type": "subscribe", "id": "s3", "collection": "notes"}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "subscribed", "id": "s3", "seq": 0})
    );
    ws.send(json!({"type": "subscribe", "id": "s3", "collection": "notes"}))
        .await;
    assert_eq!(ws.recv().await["code"], "already_exists");
    ws.send(json!({"type": "unsubscribe", "id": "zz"})).await;
    assert_eq!(ws.recv().await["code"], "not_found");
    // Too large.
    ws.send(json!({"type": "ping", "id": "x".repeat(70_000)})).await;
    let next = tokio::time::timeout(Duration::from_secs(5), ws.stream.next())
        .await
        .unwrap();
    assert!(
        matches!(next, Some(Ok(Message::Close(_))) | Some(Err(_)) | None),
        "{next:?}"
    );
}

async fn live_queries_follow_rules_and_filters(s: &TestServer) {
    let _admin = notes(s).await;
    let (ta, ua) = user(s, "a@example.com").await;
    let (tb, ub) = user(s, "b@example.com").await;
    let mut a = Ws::connect(s, Some(&ta)).await;
    a.send(
        json!({"type": "subscribe", "id": "mine", "collection": "notes", "where": [["pinned", "==", true]]}),
    )
    .await;
    assert_eq!(
        a.recv().await,
        json!({"type": "subscribed", "id": "mine", "seq": 0})
    );
    let mut one = Ws::connect(s, Some(&ta)).await;
    one.send(json!({"type": "subscribe", "id": "doc", "collection": "notes", "doc_id": "n1"}))
        .await;
    assert_eq!(one.recv().await["type"], "subscribed");
    // B's writes never reach A.
    s.post(
        "/v1/db/notes",
        Some(&tb),
        json!({"id": "b1", "data": {"owner": ub, "pinned": true}}),
    )
    .await
    .expect(201, None);
    // A's: enter, update, leave, enter again, delete.
    s.post(
        "/v1/db/notes",
        Some(&ta),
        json!({"id": "n1", "data": {"owner": ua, "pinned": true, "v": 1}}),
    )
    .await
    .expect(201, None);
    let patch = |data: Value| {
        let client = s.client.clone();
        let url = format!("{}/v1/db/notes/n1", s.url);
        let ta = ta.clone();
        async move {
            let r = client
                .patch(url)
                .bearer_auth(ta)
                .json(&json!({"data": data}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
        }
    };
    patch(json!({"v": 2})).await;
    patch(json!({"pinned": false})).await;
    patch(json!({"pinned": true})).await;
    s.delete("/v1/db/notes/n1", Some(&ta)).await.expect(204, None);
    let mut seqs = Vec::new();
    for (op, v) in [
        ("create", 1),
        ("update", 2),
        ("delete", 2),
        ("create", 2),
        ("delete", 2),
    ] {
        let m = a.recv().await;
        assert_eq!(m["type"], "change");
        assert_eq!(m["id"], "mine");
        assert_eq!(m["op"], op, "{m}");
        assert_eq!(m["document"]["id"], "n1");
        assert_eq!(m["document"]["data"]["v"], v);
        seqs.push(m["seq"].as_i64().unwrap());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    a.quiet().await;
    // The one-document subscription sees every change to n1 as it is.
    let ops: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(one.recv().await["op"].as_str().unwrap().to_owned());
        }
        v
    };
    assert_eq!(ops, ["create", "update", "update", "update", "delete"]);
    // Unsubscribe: nothing more.
    a.send(json!({"type": "unsubscribe", "id": "mine"})).await;
    assert_eq!(a.recv().await, json!({"type": "unsubscribed", "id": "mine"}));
    s.post(
        "/v1/db/notes",
        Some(&ta),
        json!({"data": {"owner": ua, "pinned": true}}),
    )
    .await
    .expect(201, None);
    a.quiet().await;
    // Anonymous callers under an owner rule see nothing.
    let mut anon = Ws::connect(s, None).await;
    anon.send(json!({"type": "subscribe", "id": "x", "collection": "notes"}))
        .await;
    assert_eq!(anon.recv().await["type"], "subscribed");
    s.post("/v1/db/notes", Some(&ta), json!({"data": {"owner": ua}}))
        .await
        .expect(201, None);
    anon.quiet().await;
}

async fn snapshot_then_changes_without_gap_or_duplicate(s: &TestServer) {
    let admin = s.admin_token().await;
    s.post("/v1/db/collections", Some(&admin), json!({"name": "feed"}))
        .await
        .expect(201, None);
    for i in 0..50 {
        s.post(
            "/v1/db/feed",
            Some(&admin),
            json!({"id": format!("a{i:03}"), "data": {"i": i}}),
        )
        .await
        .expect(201, None);
    }
    let writer = {
        let client = s.client.clone();
        let url = format!("{}/v1/db/feed", s.url);
        let admin = admin.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let r = client
                    .post(&url)
                    .bearer_auth(&admin)
                    .json(&json!({"id": format!("b{i:03}"), "data": {"i": i}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut ws = Ws::connect(s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "all", "collection": "feed", "snapshot": true}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    let snap = ws.recv().await;
    assert_eq!(snap["type"], "snapshot");
    let snap_seq = snap["seq"].as_i64().unwrap();
    let mut seen: Vec<String> = snap["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    writer.await.unwrap();
    while seen.len() < 200 {
        let m = ws.recv().await;
        assert_eq!(m["op"], "create", "{m}");
        assert!(m["seq"].as_i64().unwrap() > snap_seq);
        seen.push(m["document"]["id"].as_str().unwrap().to_owned());
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 200, "every document once");
    ws.quiet().await;
}

async fn presence_and_broadcast(s: &TestServer) {
    let admin = s.admin_token().await;
    let (ta, _) = user(s, "a@example.com").await;
    let (tb, _) = user(s, "b@example.com").await;
    let mut a = Ws::connect(s, Some(&ta)).await;
    let mut b = Ws::connect(s, Some(&tb)).await;
    a.send(json!({"type": "join", "channel": "room:1", "presence": {"name": "Ada"}}))
        .await;
    let joined = a.recv().await;
    assert_eq!(joined["type"], "joined");
    let ma = joined["member_id"].as_str().unwrap().to_owned();
    assert_eq!(joined["presence"], json!({ma.clone(): {"name": "Ada"}}));
    b.send(json!({"type": "join", "channel": "room:1", "presence": {"name": "Bo"}}))
        .await;
    let joined = b.recv().await;
    let mb = joined["member_id"].as_str().unwrap().to_owned();
    assert_eq!(joined["presence"].as_object().unwrap().len(), 2);
    let p = a.recv().await;
    assert_eq!(
        p,
        json!({"type": "presence", "channel": "room:1", "joins": {mb.clone(): {"name": "Bo"}}, "leaves": {}})
    );
    // Broadcast reaches the others, not the sender.
    a.send(json!({"type": "broadcast", "channel": "room:1", "event": "cursor", "payload": {"x": 1}}))
        .await;
    assert_eq!(
        b.recv().await,
        json!({"type": "broadcast", "channel": "room:1", "event": "cursor", "payload": {"x": 1}, "from": ma})
    );
    a.quiet().await;
    // Not a member: no broadcast.
    a.send(json!({"type": "broadcast", "channel": "room:2", "event": "x", "payload": {}}))
        .await;
    let e = a.recv().await;
    assert_eq!(
        (e["code"].as_str(), e["channel"].as_str()),
        (Some("failed_precondition"), Some("room:2"))
    );
    // Leave, and a dropped socket leaves too.
    b.send(json!({"type": "leave", "channel": "room:1"})).await;
    assert_eq!(b.recv().await["type"], "left");
    assert_eq!(a.recv().await["leaves"], json!({mb.clone(): {"name": "Bo"}}));
    b.send(json!({"type": "join", "channel": "room:1"})).await;
    assert_eq!(b.recv().await["type"], "joined");
    assert_eq!(a.recv().await["type"], "presence");
    drop(b);
    let p = a.recv().await;
    assert_eq!(p["leaves"].as_object().unwrap().len(), 1, "{p}");
    // Anonymous callers may not join without rules; channel rules decide per pattern.
    let mut anon = Ws::connect(s, None).await;
    anon.send(json!({"type": "join", "channel": "room:1"})).await;
    assert_eq!(anon.recv().await["code"], "permission_denied");
    let put = s
        .request(
            reqwest::Method::PUT,
            "/v1/admin/channels/lobby:*",
            Some(&admin),
            Some(json!({"join": "true", "broadcast": "auth != ()"})),
        )
        .await;
    put.expect(200, None);
    s.request(
        reqwest::Method::PUT,
        "/v1/admin/channels/bad",
        Some(&admin),
        Some(json!({"join": "auth.uid =="})),
    )
    .await
    .expect(400, Some("invalid_argument"));
    anon.send(json!({"type": "join", "channel": "lobby:main"})).await;
    assert_eq!(anon.recv().await["type"], "joined");
    anon.send(json!({"type": "broadcast", "channel": "lobby:main", "event": "hi"}))
        .await;
    assert_eq!(anon.recv().await["code"], "permission_denied");
    s.request(
        reqwest::Method::PUT,
        "/v1/admin/channels/secret:*",
        Some(&admin),
        Some(json!({"join": "channel == \"secret:\" + auth.uid"})),
    )
    .await
    .expect(200, None);
    a.send(json!({"type": "join", "channel": "secret:someone-else"}))
        .await;
    assert_eq!(a.recv().await["code"], "permission_denied");
    let list = s.get("/v1/admin/channels", Some(&admin)).await;
    assert_eq!(list.json()["channels"].as_array().unwrap().len(), 2);
    s.delete("/v1/admin/channels/secret:*", Some(&admin))
        .await
        .expect(204, None);
}

async fn resume_after_a_disconnect(s: &TestServer) {
    let admin = s.admin_token().await;
    s.post("/v1/db/collections", Some(&admin), json!({"name": "log"}))
        .await
        .expect(201, None);
    let mut ws = Ws::connect(s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "l", "collection": "log"}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    s.post("/v1/db/log", Some(&admin), json!({"id": "e1", "data": {}}))
        .await
        .expect(201, None);
    let last = ws.recv().await["seq"].as_i64().unwrap();
    drop(ws);
    for i in 2..=4 {
        s.post(
            "/v1/db/log",
            Some(&admin),
            json!({"id": format!("e{i}"), "data": {}}),
        )
        .await
        .expect(201, None);
    }
    let mut ws = Ws::connect(s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "l", "collection": "log", "resume_from": last}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    for i in 2..=4 {
        let m = ws.recv().await;
        assert_eq!(m["document"]["id"], format!("e{i}"));
    }
    s.post("/v1/db/log", Some(&admin), json!({"id": "e5", "data": {}}))
        .await
        .expect(201, None);
    assert_eq!(ws.recv().await["document"]["id"], "e5");
    ws.quiet().await;
    // After the retention sweep, an old position needs a fresh snapshot.
    s.state
        .db
        .execute("UPDATE changes SET committed_at = 0", &[])
        .await
        .unwrap();
    s.state.documents.sweep_feed().await.unwrap();
    ws.send(json!({"type": "subscribe", "id": "old", "collection": "log", "resume_from": last}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "error", "id": "old", "code": "resync_required", "message": "the changes after this seq are no longer retained; subscribe again with a snapshot"})
    );
}

async fn slow_consumers_are_dropped(s: &TestServer) {
    let admin = s.admin_token().await;
    s.post("/v1/db/collections", Some(&admin), json!({"name": "big"}))
        .await
        .expect(201, None);
    let mut ws = Ws::connect(s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "b", "collection": "big"}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    // The client stops reading; writers go on, never waiting for it.
    let blob = "x".repeat(3000);
    let started = std::time::Instant::now();
    for round in 0..12 {
        let ops: Vec<Value> = (0..250)
            .map(|i| json!({"op": "create", "collection": "big", "id": format!("r{round}-{i}"), "data": {"blob": blob}}))
            .collect();
        s.post("/v1/db/batch", Some(&admin), json!({"operations": ops}))
            .await
            .expect(200, None);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    // Reading now: some changes, then `slow_consumer`, then the close.
    let mut changes = 0;
    let mut slow = false;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(10), ws.stream.next()).await {
        match frame {
            Message::Text(t) => {
                let m: Value = serde_json::from_str(&t).unwrap();
                if m["type"] == "change" {
                    changes += 1;
                } else if m["code"] == "slow_consumer" {
                    slow = true;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert!(slow, "told it was too slow");
    assert!(changes < 3000, "dropped before the end ({changes})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_every_change_once() {
    let Some(a) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    let b = a.another_node().await;
    let admin = a.admin_token().await;
    a.post("/v1/db/collections", Some(&admin), json!({"name": "shared"}))
        .await
        .expect(201, None);
    let mut on_a = Ws::connect(&a, Some(&admin)).await;
    let mut on_b = Ws::connect(&b, Some(&admin)).await;
    for ws in [&mut on_a, &mut on_b] {
        ws.send(json!({"type": "subscribe", "id": "s", "collection": "shared"}))
            .await;
        assert_eq!(ws.recv().await["type"], "subscribed");
    }
    // Concurrent writers on both nodes.
    let mut writers = Vec::new();
    for (node, url) in [("a", a.url.clone()), ("b", b.url.clone())] {
        for w in 0..2 {
            let client = a.client.clone();
            let admin = admin.clone();
            let url = format!("{url}/v1/db/shared");
            writers.push(tokio::spawn(async move {
                for i in 0..50 {
                    let r = client
                        .post(&url)
                        .bearer_auth(&admin)
                        .json(&json!({"id": format!("{node}{w}-{i}"), "data": {}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 201);
                }
            }));
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    for ws in [&mut on_a, &mut on_b] {
        let mut ids = HashSet::new();
        let mut last = 0;
        for _ in 0..200 {
            let m = ws.recv().await;
            let seq = m["seq"].as_i64().unwrap();
            assert!(seq > last, "in commit order");
            last = seq;
            assert!(
                ids.insert(m["document"]["id"].as_str().unwrap().to_owned()),
                "no duplicate"
            );
        }
        ws.quiet().await;
    }
    // Channels cross nodes too: presence and broadcasts.
    let (ta, _) = {
        let res = a
            .post(
                "/v1/auth/signup",
                None,
                json!({"email": "x@example.com", "password": "correct horse battery"}),
            )
            .await;
        let body = res.json();
        (body["access_token"].as_str().unwrap().to_owned(), ())
    };
    let mut x = Ws::connect(&a, Some(&ta)).await;
    let mut y = Ws::connect(&b, Some(&ta)).await;
    x.send(json!({"type": "join", "channel": "room:9", "presence": {"n": "x"}}))
        .await;
    let mx = x.recv().await["member_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    y.send(json!({"type": "join", "channel": "room:9", "presence": {"n": "y"}}))
        .await;
    let joined = y.recv().await;
    let my = joined["member_id"].as_str().unwrap().to_owned();
    assert_eq!(joined["presence"][&mx], json!({"n": "x"}), "{joined}");
    let p = x.recv().await;
    assert_eq!(p["joins"], json!({my.clone(): {"n": "y"}}));
    y.send(json!({"type": "broadcast", "channel": "room:9", "event": "hi", "payload": {"from": "b"}}))
        .await;
    let m = x.recv().await;
    assert_eq!(
        m,
        json!({"type": "broadcast", "channel": "room:9", "event": "hi", "payload": {"from": "b"}, "from": my})
    );
    drop(y);
    let p = x.recv().await;
    assert_eq!(p["leaves"], json!({my.clone(): {"n": "y"}}));
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_close_silent_sockets() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.realtime_ping = Duration::from_millis(200);
        c.realtime_silence = Duration::from_millis(900);
    })
    .await
    .unwrap();
    // A client that reads answers pings (the library does) and stays.
    let mut alive = Ws::connect(&s, None).await;
    let mut silent = Ws::connect(&s, None).await;
    let pinged = tokio::spawn(async move {
        let mut pings = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, alive.stream.next()).await {
            if matches!(frame, Message::Ping(_)) {
                pings += 1;
            }
        }
        alive.send(json!({"type": "ping", "id": 1})).await;
        assert_eq!(
            alive.recv().await,
            json!({"type": "pong", "id": 1}),
            "still open after the silence limit"
        );
        pings
    });
    // A client that never reads never answers: closed with 1001 after the limit.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The server has closed it: the client reads a Close frame (1001), or,
    // answering a ping still buffered, finds the connection already gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let ended = loop {
        match tokio::time::timeout_at(deadline, silent.stream.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => {
                assert_eq!(c.map(|c| u16::from(c.code)), Some(1001));
                break true;
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => break true,
            Err(_) => break false,
        }
    };
    assert!(ended, "the silent socket was closed");
    assert!(pinged.await.unwrap() >= 3, "pinged about every 200 ms");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_stops_acting_for_its_user() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.access_token_ttl = Duration::from_secs(2))
        .await
        .unwrap();
    let admin = notes(&s).await;
    let (token, uid) = user(&s, "a@example.com").await;
    let mut ws = Ws::connect(&s, Some(&token)).await;
    ws.send(json!({"type": "subscribe", "id": "n", "collection": "notes"}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    s.post(
        "/v1/db/notes",
        Some(&token),
        json!({"id": "one", "data": {"owner": uid}}),
    )
    .await
    .expect(201, None);
    assert_eq!(ws.recv().await["op"], "create");
    // Past the token's life (and the verifier's 30 s leeway does not apply here).
    // Expiry is checked in whole seconds: 2 s after a token made late in a
    // second can still be the second of its `exp`.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    s.post(
        "/v1/db/notes",
        Some(&admin),
        json!({"id": "two", "data": {"owner": uid}}),
    )
    .await
    .expect(201, None);
    let e = ws.recv().await;
    assert_eq!(e["code"], "unauthenticated", "{e}");
    ws.quiet().await;
    // A fresh token brings it back.
    let res = s
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "a@example.com", "password": "correct horse battery"}),
        )
        .await;
    let fresh = res.json()["access_token"].as_str().unwrap().to_owned();
    ws.send(json!({"type": "auth", "token": fresh})).await;
    assert_eq!(ws.recv().await["type"], "authenticated");
    s.post(
        "/v1/db/notes",
        Some(&admin),
        json!({"id": "three", "data": {"owner": uid}}),
    )
    .await
    .expect(201, None);
    assert_eq!(ws.recv().await["document"]["id"], "three");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_out_session_stops_acting_for_its_user() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.realtime_ping = Duration::from_millis(200))
        .await
        .unwrap();
    let admin = notes(&s).await;
    let (token, uid) = user(&s, "a@example.com").await;
    let mut ws = Ws::connect(&s, Some(&token)).await;
    ws.send(json!({"type": "subscribe", "id": "n", "collection": "notes"}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    s.post("/v1/auth/logout", Some(&token), json!({}))
        .await
        .expect(204, None);
    let e = ws.recv().await;
    assert_eq!(e["code"], "unauthenticated", "{e}");
    s.post("/v1/db/notes", Some(&admin), json!({"data": {"owner": uid}}))
        .await
        .expect(201, None);
    ws.quiet().await;
    s.stop().await;
}

/// A subscription that saw nothing for longer than the change retention
/// still resumes, from the position its checkpoints gave it.
async fn quiet_subscriptions_resume_from_checkpoints(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |c| c.change_retention = Duration::from_secs(2)).await
    else {
        return;
    };
    let admin = s.admin_token().await;
    for name in ["quiet", "busy"] {
        s.post("/v1/db/collections", Some(&admin), json!({"name": name}))
            .await
            .expect(201, None);
    }
    s.post("/v1/db/busy", Some(&admin), json!({"id": "b0", "data": {}}))
        .await
        .expect(201, None);
    let mut ws = Ws::connect(&s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "q", "collection": "quiet"}))
        .await;
    let subscribed = ws.recv().await;
    assert_eq!(subscribed["type"], "subscribed");
    let start = subscribed["seq"].as_i64().expect("subscribed carries seq");
    assert_eq!(start, s.state.documents.last_seq().await.unwrap());
    for i in 1..=3 {
        s.post(
            "/v1/db/busy",
            Some(&admin),
            json!({"id": format!("b{i}"), "data": {}}),
        )
        .await
        .expect(201, None);
    }
    // Checkpoints (every 500 ms here) carry the feed on past the busy writes.
    let mut at = start;
    while at < start + 3 {
        let m = ws.recv().await;
        assert_eq!(m["type"], "checkpoint", "{m}");
        assert_eq!(m["id"], "q");
        let seq = m["seq"].as_i64().unwrap();
        assert!(seq >= at, "checkpoints never go back");
        at = seq;
    }
    assert_eq!(at, start + 3);
    drop(ws);
    // Past the retention the busy changes are swept, all but the newest.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    s.state.documents.sweep_feed().await.unwrap();
    s.post("/v1/db/quiet", Some(&admin), json!({"id": "q1", "data": {}}))
        .await
        .expect(201, None);
    let mut ws = Ws::connect(&s, Some(&admin)).await;
    // The position from before the busy writes is gone …
    ws.send(json!({"type": "subscribe", "id": "old", "collection": "quiet", "resume_from": start}))
        .await;
    let gone = ws.recv().await;
    assert_eq!(gone["code"], "resync_required", "{gone}");
    // … the checkpoint's is not: exactly the missed change follows.
    ws.send(json!({"type": "subscribe", "id": "q", "collection": "quiet", "resume_from": at}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "subscribed", "id": "q", "seq": at})
    );
    let change = ws.recv().await;
    assert_eq!(change["document"]["id"], "q1");
    assert_eq!(change["seq"], at + 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_subscriptions_resume_from_checkpoints_sqlite() {
    quiet_subscriptions_resume_from_checkpoints(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_subscriptions_resume_from_checkpoints_postgres() {
    quiet_subscriptions_resume_from_checkpoints(Backend::Postgres).await;
}

/// Admins watch every collection at once (the dashboard's inspector).
async fn admins_watch_every_collection(s: &TestServer) {
    let admin = s.admin_token().await;
    for name in ["one", "two"] {
        s.post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": name, "rules": {"read": "true", "create": "true"}}),
        )
        .await
        .expect(201, None);
    }
    let (user, _) = user(s, "u@example.com").await;
    let mut ws = Ws::connect(s, Some(&user)).await;
    ws.send(json!({"type": "subscribe", "id": "all", "collection": "*"}))
        .await;
    let refused = ws.recv().await;
    assert_eq!(refused["code"], "permission_denied", "{refused}");
    let mut ws = Ws::connect(s, Some(&admin)).await;
    for bad in [
        json!({"type": "subscribe", "id": "a", "collection": "*", "snapshot": true}),
        json!({"type": "subscribe", "id": "b", "collection": "*", "doc_id": "x"}),
    ] {
        ws.send(bad).await;
        assert_eq!(ws.recv().await["code"], "invalid_argument");
    }
    ws.send(json!({"type": "subscribe", "id": "all", "collection": "*", "where": ["n", ">", 1]}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    for (collection, n) in [("one", 1), ("two", 2), ("one", 3)] {
        s.post(
            &format!("/v1/db/{collection}"),
            Some(&user),
            json!({"data": {"n": n}}),
        )
        .await
        .expect(201, None);
    }
    let first = ws.recv().await;
    let second = ws.recv().await;
    assert_eq!(
        (
            first["document"]["collection"].as_str(),
            first["document"]["data"]["n"].as_i64()
        ),
        (Some("two"), Some(2))
    );
    assert_eq!(
        (
            second["document"]["collection"].as_str(),
            second["document"]["data"]["n"].as_i64()
        ),
        (Some("one"), Some(3))
    );
    assert!(second["seq"].as_i64() > first["seq"].as_i64());
    ws.quiet().await;
    // Resuming the inspector replays every collection's changes.
    ws.send(json!({"type": "unsubscribe", "id": "all"})).await;
    assert_eq!(ws.recv().await["type"], "unsubscribed");
    let from = first["seq"].as_i64().unwrap() - 1;
    ws.send(json!({"type": "subscribe", "id": "again", "collection": "*", "resume_from": from}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    assert_eq!(ws.recv().await["document"]["collection"], "two");
    assert_eq!(ws.recv().await["document"]["collection"], "one");
}

/// A socket opened with an admin token stops acting for the admin when
/// the token ends, like a user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_admin_token_stops_acting_for_its_admin() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.admin_token_ttl = Duration::from_secs(2))
        .await
        .unwrap();
    let admin = s.admin_token().await;
    s.post("/v1/db/collections", Some(&admin), json!({"name": "private"}))
        .await
        .expect(201, None);
    let key = s
        .post("/v1/admin/keys", Some(&admin), json!({"name": "writer"}))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ws = Ws::connect(&s, Some(&admin)).await;
    ws.send(json!({"type": "subscribe", "id": "p", "collection": "private"}))
        .await;
    assert_eq!(ws.recv().await["type"], "subscribed");
    s.post("/v1/db/private", Some(&key), json!({"id": "before", "data": {}}))
        .await
        .expect(201, None);
    assert_eq!(ws.recv().await["document"]["id"], "before");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    s.post("/v1/db/private", Some(&key), json!({"id": "after", "data": {}}))
        .await
        .expect(201, None);
    let e = ws.recv().await;
    assert_eq!(e["code"], "unauthenticated", "{e}");
    // As anonymous, a collection without a read rule shows nothing.
    ws.quiet().await;
    s.stop().await;
}

/// `GET /v1/admin/realtime`: this node's sockets with their callers,
/// subscriptions and channels, and every channel's presence.
async fn admins_inspect_connections_and_presence(s: &TestServer) {
    let admin = notes(s).await;
    let (ta, uid) = user(s, "inspected@example.com").await;
    let mut a = Ws::connect(s, Some(&ta)).await;
    a.send(json!({"type": "subscribe", "id": "mine", "collection": "notes"}))
        .await;
    assert_eq!(a.recv().await["type"], "subscribed");
    // The server registers a socket after the handshake, so the second
    // opens only once the first has answered: the order is then certain.
    let mut anon = Ws::connect(s, None).await;
    a.send(json!({"type": "subscribe", "id": "one", "collection": "notes", "doc_id": "n1"}))
        .await;
    assert_eq!(a.recv().await["type"], "subscribed");
    s.put(
        "/v1/admin/channels/room:*",
        Some(&admin),
        json!({"join": "true", "broadcast": "true"}),
    )
    .await
    .expect(200, None);
    a.send(json!({"type": "join", "channel": "room:7", "presence": {"name": "Ada"}}))
        .await;
    let joined = a.recv().await;
    assert_eq!(joined["type"], "joined");
    let member = joined["member_id"].as_str().unwrap().to_owned();
    anon.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(anon.recv().await["type"], "pong");

    let res = s.get("/v1/admin/realtime", Some(&admin)).await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["sockets"], 2);
    assert_eq!(body["truncated"], false);
    let conns = body["connections"].as_array().unwrap();
    assert_eq!(conns.len(), 2);
    let mine = conns
        .iter()
        .find(|c| c["id"] == member.as_str())
        .expect("the user's socket");
    assert_eq!(mine["caller"], "user");
    assert_eq!(mine["caller_id"], uid.as_str());
    assert_eq!(mine["email"], "inspected@example.com");
    assert_eq!(mine["ip"], "127.0.0.1");
    assert!(mine["connected_at"].is_string());
    assert_eq!(
        mine["subscriptions"],
        json!([
            {"id": "mine", "collection": "notes", "doc_id": null},
            {"id": "one", "collection": "notes", "doc_id": "n1"}
        ])
    );
    assert_eq!(mine["channels"], json!(["room:7"]));
    let other = conns.iter().find(|c| c["id"] != member.as_str()).unwrap();
    assert_eq!(other["caller"], "anon");
    assert_eq!(other["subscriptions"], json!([]));
    assert_eq!(
        body["channels"],
        json!([{"name": "room:7", "members": [{"id": member, "presence": {"name": "Ada"}, "here": true}]}])
    );
    // The longest-open first, and `limit` cuts both lists.
    assert_eq!(conns[0]["id"], member.as_str());
    let cut = s.get("/v1/admin/realtime?limit=1", Some(&admin)).await.json();
    assert_eq!(cut["connections"].as_array().unwrap().len(), 1);
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["sockets"], 2);

    // Leaving and closing show at once.
    a.send(json!({"type": "leave", "channel": "room:7"})).await;
    a.send(json!({"type": "unsubscribe", "id": "one"})).await;
    a.send(json!({"type": "ping", "id": 2})).await;
    loop {
        if a.recv().await["type"] == "pong" {
            break;
        }
    }
    drop(anon);
    let mut after = Value::Null;
    for _ in 0..100 {
        after = s.get("/v1/admin/realtime", Some(&admin)).await.json();
        if after["connections"].as_array().unwrap().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(after["connections"].as_array().unwrap().len(), 1);
    assert_eq!(after["connections"][0]["channels"], json!([]));
    assert_eq!(
        after["connections"][0]["subscriptions"].as_array().unwrap().len(),
        1
    );
    assert_eq!(after["channels"], json!([]));

    // Hostile: users, anonymous callers and bad limits are refused.
    s.get("/v1/admin/realtime", Some(&ta))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/admin/realtime", None)
        .await
        .expect(401, Some("unauthenticated"));
    for bad in ["0", "1001", "x"] {
        s.get(&format!("/v1/admin/realtime?limit={bad}"), Some(&admin))
            .await
            .expect(400, Some("invalid_argument"));
    }
}

/// Presence on another node shows in the inspector as not `here`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_shows_presence_on_other_nodes() {
    let Some(a) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    let b = a.another_node().await;
    let admin = a.admin_token().await;
    a.put("/v1/admin/channels/room:*", Some(&admin), json!({"join": "true"}))
        .await
        .expect(200, None);
    let mut on_b = Ws::connect(&b, Some(&admin)).await;
    on_b.send(json!({"type": "join", "channel": "room:2", "presence": {"n": 2}}))
        .await;
    let member = on_b.recv().await["member_id"].as_str().unwrap().to_owned();
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = a.get("/v1/admin/realtime", Some(&admin)).await.json();
        if !seen["channels"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["channels"],
        json!([{"name": "room:2", "members": [{"id": member, "presence": {"n": 2}, "here": false}]}])
    );
    assert_eq!(
        seen["connections"],
        json!([]),
        "node a lists only its own sockets"
    );
    let on_b_view = b.get("/v1/admin/realtime", Some(&admin)).await.json();
    assert_eq!(on_b_view["channels"][0]["members"][0]["here"], true);
    assert_ne!(on_b_view["node"], seen["node"]);
    drop(on_b);
    b.stop().await;
    a.stop().await;
}
