//! Push notifications against real push services on loopback
//! (tests/push-services): a Web Push service that verifies the VAPID token
//! with py-vapid and decrypts each payload with http_ece, FCM's token
//! endpoint and `messages:send` checking the RS256 assertion with PyJWT,
//! and APNs on HTTP/2 over TLS checking the ES256 provider token. Devices
//! are registered and refused, sends fan out once per device, a gone device
//! is removed, a flaky one retried; sends come from admins, functions and
//! triggers; the per-user limit holds; and a SIGKILL in the middle of a
//! send to 500 devices loses none. Both backends.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::process::{admin_token, create_admin, serve};
use common::push_services::PushServices;
use common::{Backend, TestServer};
use serde_json::{Value, json};

each_backend!(
    devices_sends_and_services,
    sends_from_functions_and_the_limit,
    a_device_that_changes_hands_gets_only_its_users_notifications,
);

mod crash {
    use super::*;
    child_on_both_backends!(a_kill_mid_send_loses_no_device);
}

const APNS_OK: &str = "abababababababababababababababababababababababababababababababab";
const APNS_GONE: &str = "00abababababababababababababababababababababababababababababababab";

/// Waits for a send to finish: every device delivered or dead.
async fn finished(s: &TestServer, admin: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s
            .get(&format!("/v1/admin/push/{id}?limit=1000"), Some(admin))
            .await;
        r.expect(200, None);
        let report = r.json();
        if report["status"] == "done" {
            return report;
        }
        assert!(Instant::now() < deadline, "the send did not finish: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn by_service<'a>(log: &'a [Value], service: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["service"] == service).collect()
}

async fn devices_sends_and_services(backend: Backend) {
    let services = PushServices::start();
    let Some(s) = TestServer::start_with(backend, |c| {
        services.configure(c);
        c.outbox_retry_delays = vec![Duration::from_millis(200); 3];
    })
    .await
    else {
        return;
    };
    let admin = s.admin_token().await;
    let (alice, alice_id) = s.signup("alice@example.com").await;
    let (bob, bob_id) = s.signup("bob@example.com").await;

    // The VAPID key: public, an uncompressed P-256 point.
    let vapid = s.get("/v1/push/vapid", None).await;
    vapid.expect(200, None);
    let vapid_key = vapid.json()["public_key"].as_str().unwrap().to_owned();
    let point = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&vapid_key)
        .unwrap();
    assert_eq!((point.len(), point[0]), (65, 4));

    // Hostile registrations are refused before anything is stored.
    let ok_browser = services.browser("ok").await;
    let keys = ok_browser["keys"].clone();
    for body in [
        json!({"kind": "carrier-pigeon", "token": "x"}),
        json!({"kind": "webpush", "endpoint": "ftp://push.example.com/x", "keys": keys}),
        json!({"kind": "webpush", "endpoint": ok_browser["endpoint"], "keys": {"p256dh": "not-a-key", "auth": keys["auth"]}}),
        json!({"kind": "webpush", "endpoint": ok_browser["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": "c2hvcnQ"}}),
        json!({"kind": "webpush", "endpoint": ok_browser["endpoint"]}),
        json!({"kind": "fcm", "token": ""}),
        json!({"kind": "fcm", "token": "has space"}),
        json!({"kind": "fcm", "token": "x".repeat(4097)}),
        json!({"kind": "apns", "token": "not-hex", "topic": "com.example.app"}),
        json!({"kind": "apns", "token": APNS_OK}),
        json!({"kind": "apns", "token": APNS_OK, "topic": "com/example"}),
        json!({"kind": "fcm", "token": "t", "extra": 1}),
    ] {
        s.post("/v1/push/subscriptions", Some(&alice), body.clone())
            .await
            .expect(400, Some("invalid_argument"));
    }
    let fcm = json!({"kind": "fcm", "token": "tok-alice"});
    s.post("/v1/push/subscriptions", None, fcm.clone())
        .await
        .expect(401, Some("unauthenticated"));
    s.post("/v1/push/subscriptions", Some(&admin), fcm.clone())
        .await
        .expect(403, Some("permission_denied"));

    // Alice's devices: browsers that work, are gone and fail once; FCM and
    // APNs tokens that work and that are gone.
    let gone_browser = services.browser("gone").await;
    let flaky_browser = services.browser("flaky").await;
    let mut alice_devices = BTreeMap::new();
    for (name, body) in [
        (
            "web",
            json!({"kind": "webpush", "endpoint": ok_browser["endpoint"], "keys": keys, "expirationTime": null}),
        ),
        (
            "web-gone",
            json!({"kind": "webpush", "endpoint": gone_browser["endpoint"], "keys": gone_browser["keys"]}),
        ),
        (
            "web-flaky",
            json!({"kind": "webpush", "endpoint": flaky_browser["endpoint"], "keys": flaky_browser["keys"]}),
        ),
        ("fcm", fcm.clone()),
        ("fcm-gone", json!({"kind": "fcm", "token": "gone-alice"})),
        (
            "apns",
            json!({"kind": "apns", "token": APNS_OK, "topic": "com.example.app"}),
        ),
        (
            "apns-gone",
            json!({"kind": "apns", "token": APNS_GONE, "topic": "com.example.app"}),
        ),
    ] {
        let r = s.post("/v1/push/subscriptions", Some(&alice), body).await;
        r.expect(201, None);
        assert_eq!(r.json()["user_id"], alice_id.as_str());
        alice_devices.insert(name, r.json()["id"].as_str().unwrap().to_owned());
    }
    // The same device again is the same subscription.
    let again = s
        .post(
            "/v1/push/subscriptions",
            Some(&alice),
            json!({"kind": "webpush", "endpoint": ok_browser["endpoint"], "keys": keys}),
        )
        .await;
    again.expect(200, None);
    assert_eq!(again.json()["id"], alice_devices["web"].as_str());

    let bob_browser = services.browser("ok").await;
    let r = s
        .post(
            "/v1/push/subscriptions",
            Some(&bob),
            json!({"kind": "webpush", "endpoint": bob_browser["endpoint"], "keys": bob_browser["keys"]}),
        )
        .await;
    r.expect(201, None);
    let bob_web = r.json()["id"].as_str().unwrap().to_owned();
    // Each user sees and removes only their own.
    let listed = s.get("/v1/push/subscriptions", Some(&bob)).await;
    listed.expect(200, None);
    assert_eq!(listed.json()["subscriptions"].as_array().unwrap().len(), 1);
    s.delete(
        &format!("/v1/push/subscriptions/{}", alice_devices["fcm"]),
        Some(&bob),
    )
    .await
    .expect(404, Some("not_found"));
    s.delete("/v1/push/subscriptions/nope", Some(&bob))
        .await
        .expect(404, Some("not_found"));
    let listed = s.get("/v1/push/subscriptions", Some(&alice)).await;
    assert_eq!(listed.json()["subscriptions"].as_array().unwrap().len(), 7);
    let all = s.get("/v1/admin/push/subscriptions?limit=5", Some(&admin)).await;
    all.expect(200, None);
    assert_eq!(all.json()["subscriptions"].as_array().unwrap().len(), 5);
    assert!(all.json()["next_cursor"].is_string());
    let page = s
        .get(
            &format!("/v1/admin/push/subscriptions?user_id={bob_id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(page.json()["subscriptions"][0]["id"], bob_web.as_str());

    // Hostile sends.
    let note = json!({"title": "Hello", "body": "World"});
    for (body, status, code) in [
        (json!({"notification": note}), 400, "invalid_argument"),
        (
            json!({"user_id": alice_id, "user_ids": [bob_id], "notification": note}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_ids": [], "notification": note}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": "no such/user", "notification": note}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": alice_id, "notification": {"title": "", "body": "x"}}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": alice_id, "notification": {"title": "x", "url": "javascript:alert(1)"}}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": alice_id, "notification": note, "ttl": 2_419_201}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": alice_id, "notification": note, "urgency": "now"}),
            400,
            "invalid_argument",
        ),
        (
            json!({"user_id": alice_id, "notification": {"title": "x", "data": {"blob": "y".repeat(4000)}}}),
            413,
            "payload_too_large",
        ),
    ] {
        s.post("/v1/admin/push", Some(&admin), body)
            .await
            .expect(status, Some(code));
    }
    s.post(
        "/v1/admin/push",
        Some(&alice),
        json!({"user_id": alice_id, "notification": note}),
    )
    .await
    .expect(403, Some("permission_denied"));
    s.get("/v1/admin/push/nothing-here", Some(&admin))
        .await
        .expect(404, Some("not_found"));

    // One send to both users: eight devices.
    let sent = s
        .post(
            "/v1/admin/push",
            Some(&admin),
            json!({
                "user_ids": [alice_id, bob_id],
                "notification": {"title": "Hello", "body": "World", "data": {"k": "v", "n": 1}, "url": "/inbox"},
                "ttl": 60,
                "urgency": "high",
            }),
        )
        .await;
    sent.expect(202, None);
    let id = sent.json()["id"].as_str().unwrap().to_owned();
    let report = finished(&s, &admin, &id).await;
    assert_eq!(report["devices"], 8, "{report}");
    assert_eq!(
        report["counts"],
        json!({"pending": 0, "retrying": 0, "ok": 5, "dead": 3, "removed": 3}),
        "{report}"
    );
    let results = report["results"].as_array().unwrap();
    for r in results {
        let sub = r["subscription_id"].as_str().unwrap();
        let name = alice_devices
            .iter()
            .find(|(_, v)| v.as_str() == sub)
            .map_or("bob", |(k, _)| k);
        match name {
            "web-gone" | "fcm-gone" | "apns-gone" => {
                assert!(r["removed"] == true && r["status"] == "dead", "{name}: {r}")
            }
            "web-flaky" => assert!(r["status"] == "ok" && r["attempts"] == 2, "{name}: {r}"),
            _ => assert!(r["status"] == "ok" && r["attempts"] == 1, "{name}: {r}"),
        }
    }

    // What each service got, checked by its own libraries.
    let log = services.log().await;
    let web = by_service(&log, "webpush");
    let delivered: Vec<_> = web.iter().filter(|e| e["answered"] == 201).collect();
    assert_eq!(delivered.len(), 3, "{web:?}"); // alice's working and flaky browsers, bob's
    for e in &delivered {
        assert_eq!(e["problems"], json!([]), "{e}");
        assert_eq!(e["vapid_key"], vapid_key.as_str());
        assert_eq!(e["ttl"], "60");
        assert_eq!(e["urgency"], "high");
        assert_eq!(
            e["payload"],
            json!({"id": id, "title": "Hello", "body": "World", "data": {"k": "v", "n": 1}, "url": "/inbox"})
        );
    }
    let fcm_sent: Vec<_> = by_service(&log, "fcm")
        .into_iter()
        .filter(|e| e["answered"] == 200)
        .collect();
    assert_eq!(fcm_sent.len(), 1, "{log:?}");
    let m = &fcm_sent[0]["message"];
    assert_eq!(fcm_sent[0]["problems"], json!([]));
    assert_eq!(m["token"], "tok-alice");
    assert_eq!(m["notification"], json!({"title": "Hello", "body": "World"}));
    assert_eq!(
        m["data"],
        json!({"k": "v", "n": "1", "url": "/inbox", "push_id": id})
    );
    assert_eq!(m["android"], json!({"ttl": "60s", "priority": "HIGH"}));
    assert!(
        by_service(&log, "fcm-token")
            .iter()
            .all(|e| e["problems"] == json!([]))
    );
    let apns: Vec<_> = by_service(&log, "apns")
        .into_iter()
        .filter(|e| e["answered"] == 200)
        .collect();
    assert_eq!(apns.len(), 1, "{log:?}");
    assert_eq!(apns[0]["problems"], json!([]), "{}", apns[0]);
    assert_eq!(apns[0]["topic"], "com.example.app");
    assert_eq!(apns[0]["priority"], "10");
    assert_eq!(
        apns[0]["payload"],
        json!({"aps": {"alert": {"title": "Hello", "body": "World"}}, "push_id": id, "data": {"k": "v", "n": 1}, "url": "/inbox"})
    );

    // The gone devices were removed; the others stay.
    let listed = s.get("/v1/push/subscriptions", Some(&alice)).await;
    let mut left: Vec<&str> = listed.json()["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .map(|id| *alice_devices.iter().find(|(_, v)| **v == id).unwrap().0)
        .collect();
    left.sort_unstable();
    assert_eq!(left, ["apns", "fcm", "web", "web-flaky"]);

    // A second send reuses the FCM access token.
    let tokens = services.token_requests().await;
    let again = s
        .post(
            "/v1/admin/push",
            Some(&admin),
            json!({"user_id": alice_id, "notification": note}),
        )
        .await;
    again.expect(202, None);
    let report = finished(&s, &admin, again.json()["id"].as_str().unwrap()).await;
    assert_eq!(report["counts"]["ok"], 4, "{report}");
    assert_eq!(services.token_requests().await, tokens);

    // A user removing a device, and an admin removing a user, end their subscriptions.
    s.delete(
        &format!("/v1/push/subscriptions/{}", alice_devices["apns"]),
        Some(&alice),
    )
    .await
    .expect(204, None);
    s.delete(&format!("/v1/admin/users/{bob_id}"), Some(&admin))
        .await
        .expect(204, None);
    let page = s
        .get(
            &format!("/v1/admin/push/subscriptions?user_id={bob_id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(page.json()["subscriptions"], json!([]));

    let metrics = s.get("/metrics", Some(&admin)).await;
    assert!(
        metrics
            .text
            .contains("basalt_push_deliveries_total{service=\"webpush\",outcome=\"removed\"} 1"),
        "{}",
        metrics.text
    );
    s.stop().await;
}

async fn sends_from_functions_and_the_limit(backend: Backend) {
    let services = PushServices::start();
    let Some(s) = TestServer::start_with(backend, |c| {
        services.configure(c);
        c.push_rate_per_user = 2;
    })
    .await
    else {
        return;
    };
    let admin = s.admin_token().await;
    let (alice, alice_id) = s.signup("alice@example.com").await;
    let (bob, _) = s.signup("bob@example.com").await;
    let browser = services.browser("ok").await;
    s.post(
        "/v1/push/subscriptions",
        Some(&alice),
        json!({"kind": "webpush", "endpoint": browser["endpoint"], "keys": browser["keys"]}),
    )
    .await
    .expect(201, None);

    // From an after-trigger: a message to someone notifies them.
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "messages", "rules": {"read": "true", "create": "auth != ()"}}),
    )
    .await
    .expect(201, None);
    s.put(
        "/v1/admin/functions/notify",
        Some(&admin),
        json!({"kind": "trigger", "collection": "messages", "event": "after_create",
               "source": "push(event.document.data.to, #{title: \"New message\", body: event.document.data.text}, #{urgency: \"high\"})"}),
    )
    .await
    .expect(201, None);
    s.post(
        "/v1/db/messages",
        Some(&bob),
        json!({"data": {"to": alice_id, "text": "lunch?"}}),
    )
    .await
    .expect(201, None);
    // From an http function, which answers the send's id.
    s.put(
        "/v1/admin/functions/ping",
        Some(&admin),
        json!({"kind": "http", "invoke": "auth != ()", "source": "let to = []; to.push(args.to); push_many(to, #{title: \"Ping\", body: \"from a function\", data: #{n: 7}})"}),
    )
    .await
    .expect(201, None);
    let called = s
        .post("/v1/functions/ping", Some(&bob), json!({"to": alice_id}))
        .await;
    called.expect(200, None);
    let from_function = called
        .json()
        .as_str()
        .unwrap_or_else(|| panic!("{}", called.text))
        .to_owned();
    // Bad calls fail the run with a clear error, and send nothing.
    for (name, source) in [
        ("bad-users", "push_many([42], #{title: \"x\"})"),
        ("bad-id", "push(\"no such/user\", #{title: \"x\"})"),
        ("bad-note", "push(\"u1\", #{nope: 1})"),
        ("bad-option", "push(\"u1\", #{title: \"x\"}, #{later: true})"),
    ] {
        s.put(
            &format!("/v1/admin/functions/{name}"),
            Some(&admin),
            json!({"kind": "http", "invoke": "true", "source": source}),
        )
        .await
        .expect(201, None);
        s.post(&format!("/v1/functions/{name}"), Some(&bob), json!({}))
            .await
            .expect(500, Some("internal"));
        // The run's execution says why; the caller is not told.
        let runs = s
            .get(&format!("/v1/admin/functions/{name}/executions"), Some(&admin))
            .await;
        let run = &runs.json()["executions"][0];
        assert!(
            run["status"] == "error" && run["error"].as_str().unwrap().contains("push"),
            "{name}: {run}"
        );
    }
    let report = finished(&s, &admin, &from_function).await;
    assert_eq!(report["sender"], "function:ping");
    assert_eq!(report["counts"]["ok"], 1, "{report}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let titles = loop {
        let log = services.log().await;
        let titles: Vec<String> = by_service(&log, "webpush")
            .iter()
            .filter(|e| e["answered"] == 201)
            .map(|e| e["payload"]["title"].as_str().unwrap().to_owned())
            .collect();
        if titles.len() >= 2 || Instant::now() > deadline {
            break titles;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(sorted, ["New message", "Ping"], "{titles:?}");

    // At most 2 a minute for one user: of 6 more sends within seconds
    // (one minute window or two), at least 2 skip her.
    let mut limited = 0;
    for i in 0..6 {
        let r = s
            .post(
                "/v1/admin/push",
                Some(&admin),
                json!({"user_id": alice_id, "notification": {"title": format!("n{i}")}}),
            )
            .await;
        r.expect(202, None);
        let report = finished(&s, &admin, r.json()["id"].as_str().unwrap()).await;
        if report["rate_limited"] == json!([alice_id]) {
            assert_eq!(report["devices"], 0, "{report}");
            limited += 1;
        }
    }
    assert!((2..=6).contains(&limited), "{limited} of 6 limited");
    s.stop().await;
}

/// A browser signed in by one user, then by another (a shared computer):
/// a notification for the first that is still being retried when the device
/// moves is not shown to the second.
async fn a_device_that_changes_hands_gets_only_its_users_notifications(backend: Backend) {
    let services = PushServices::start();
    // The default retry schedule: the retry comes about 5 s after the first try.
    let Some(s) = TestServer::start_with(backend, |c| services.configure(c)).await else {
        return;
    };
    let admin = s.admin_token().await;
    let (alice, alice_id) = s.signup("alice@example.com").await;
    let (bob, bob_id) = s.signup("bob@example.com").await;
    let shared = services.browser("flaky").await;
    let device = json!({"kind": "webpush", "endpoint": shared["endpoint"], "keys": shared["keys"]});
    let r = s
        .post("/v1/push/subscriptions", Some(&alice), device.clone())
        .await;
    r.expect(201, None);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let endpoint = shared["endpoint"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let sent = s
        .post(
            "/v1/admin/push",
            Some(&admin),
            json!({"user_id": alice_id, "notification": {"title": "For Alice only"}}),
        )
        .await;
    sent.expect(202, None);
    let for_alice = sent.json()["id"].as_str().unwrap().to_owned();
    // Its first try is answered 500; then Bob signs in on that browser.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !services
        .log()
        .await
        .iter()
        .any(|e| e["device"] == endpoint.as_str())
    {
        assert!(Instant::now() < deadline, "the first try never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let moved = s.post("/v1/push/subscriptions", Some(&bob), device).await;
    moved.expect(200, None);
    assert_eq!(moved.json()["id"], id.as_str());
    assert_eq!(moved.json()["user_id"], bob_id.as_str());
    let report = finished(&s, &admin, &for_alice).await;
    let result = &report["results"][0];
    assert_eq!(result["status"], "dead", "{report}");
    assert_eq!(result["removed"], false);
    assert!(
        result["error"].as_str().unwrap().contains("another user"),
        "{result}"
    );
    // Bob's own notifications reach it.
    let sent = s
        .post(
            "/v1/admin/push",
            Some(&admin),
            json!({"user_id": bob_id, "notification": {"title": "For Bob"}}),
        )
        .await;
    let report = finished(&s, &admin, sent.json()["id"].as_str().unwrap()).await;
    assert_eq!(report["counts"]["ok"], 1, "{report}");
    let titles: Vec<Value> = services
        .log()
        .await
        .iter()
        .filter(|e| e["device"] == endpoint.as_str() && e["answered"] == 201)
        .map(|e| e["payload"]["title"].clone())
        .collect();
    assert_eq!(
        titles,
        [json!("For Bob")],
        "Alice's notification reached Bob's browser"
    );
    s.stop().await;
}

async fn a_kill_mid_send_loses_no_device(store: Vec<String>) {
    const USERS: usize = 10;
    const PER_USER: usize = 50;
    let services = PushServices::start();
    let mut flags = store.clone();
    flags.extend(services.flags());
    // A short timeout makes the killed node's claims run out sooner.
    flags.extend(["--webhook-timeout".to_owned(), "1".to_owned()]);
    create_admin(&store);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut server = serve(&flags);
    let url = server.url.clone();
    let admin = admin_token(&http, &url).await;
    let mut users = Vec::new();
    let mut endpoints = BTreeMap::new();
    for u in 0..USERS {
        let r: Value = http
            .post(format!("{url}/v1/auth/signup"))
            .json(&json!({"email": format!("u{u}@example.com"), "password": "correct horse battery"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = r["access_token"].as_str().unwrap().to_owned();
        users.push(r["user"]["id"].as_str().unwrap().to_owned());
        for _ in 0..PER_USER {
            let b = services.browser("ok").await;
            let device = b["endpoint"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let r = http
                .post(format!("{url}/v1/push/subscriptions"))
                .bearer_auth(&token)
                .json(&json!({"kind": "webpush", "endpoint": b["endpoint"], "keys": b["keys"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            endpoints.insert(device, 0usize);
        }
    }
    let r = http
        .post(format!("{url}/v1/admin/push"))
        .bearer_auth(&admin)
        .json(&json!({"user_ids": users, "notification": {"title": "Everyone", "body": "at least once"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Killed once some devices have it and most do not.
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let got = services
            .log()
            .await
            .iter()
            .filter(|e| e["service"] == "webpush" && e["answered"] == 201)
            .count();
        if got >= 20 {
            break got;
        }
        assert!(Instant::now() < deadline, "nothing was delivered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    server.kill();
    let at_kill = services.log().await.len();
    assert!(
        at_kill < USERS * PER_USER,
        "everything arrived before the kill ({before}); kill sooner"
    );

    let server = serve(&flags);
    let url = server.url.clone();
    let admin = admin_token(&http, &url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r: Value = http
            .get(format!("{url}/v1/admin/push/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if r["status"] == "done" {
            assert_eq!(r["counts"]["ok"], USERS * PER_USER, "{}", r["counts"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the send did not finish after the restart: {}",
            r["counts"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = services.log().await;
    for e in log.iter().filter(|e| e["service"] == "webpush") {
        assert_eq!(e["problems"], json!([]), "{e}");
        assert_eq!(e["payload"]["id"], id.as_str());
        *endpoints.get_mut(e["device"].as_str().unwrap()).unwrap() += 1;
    }
    let missing = endpoints.values().filter(|n| **n == 0).count();
    let duplicates: usize = endpoints.values().map(|n| n.saturating_sub(1)).sum();
    println!(
        "push crash: {} devices, {before} delivered before the kill, {missing} missing, {duplicates} duplicates after the restart",
        endpoints.len()
    );
    assert_eq!(missing, 0, "devices that never got the notification");
}
