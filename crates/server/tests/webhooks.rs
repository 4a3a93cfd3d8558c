//! Webhooks against a real receiver on loopback, written with the
//! `standardwebhooks` package from PyPI, which verifies every signature:
//! a 2xx ends a delivery, a 500 and a timeout are retried, a 410 disables
//! the webhook, a redirect is not followed; and the address guard refuses
//! loopback when private addresses are not allowed. Both backends.

mod common;

use std::time::{Duration, Instant};

use common::receiver::Receiver;
use common::{Backend, TestServer};
use serde_json::{Value, json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

each_backend!(
    webhooks_are_signed_retried_and_disabled,
    the_address_guard_refuses_private_receivers,
    functions_fetch_and_enqueue,
);

async fn deliveries(s: &TestServer, token: &str, name: &str) -> Vec<Value> {
    let res = s
        .get(&format!("/v1/admin/webhooks/{name}/deliveries"), Some(token))
        .await;
    res.expect(200, None);
    res.json()["deliveries"].as_array().unwrap().clone()
}

async fn settled(s: &TestServer, token: &str, names: &[&str]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut done = true;
        for name in names {
            let d = deliveries(s, token, name).await;
            done &= !d.is_empty() && d.iter().all(|d| d["status"] == "ok" || d["status"] == "dead");
        }
        if done {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn webhooks_are_signed_retried_and_disabled(backend: Backend) {
    let receiver = Receiver::start(SECRET);
    let Some(s) = TestServer::start_with(backend, |c| {
        c.functions_allow_private_net = true;
        c.webhook_timeout = Duration::from_secs(1);
        c.outbox_retry_delays = vec![Duration::from_millis(200); 3];
    })
    .await
    else {
        return;
    };
    let admin = s.admin_token().await;
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "posts", "rules": {"read": "true", "create": "auth != ()", "update": "auth != ()"}}),
    )
    .await
    .expect(201, None);

    // Bad input is refused before anything is stored.
    let url = format!("{}/ok", receiver.url);
    for body in [
        json!({"url": "ftp://example.com/", "events": ["posts.create"]}),
        json!({"url": "not a url", "events": ["posts.create"]}),
        json!({"url": url, "events": []}),
        json!({"url": url, "events": ["posts.read"]}),
        json!({"url": url, "events": ["posts"]}),
        json!({"url": url, "events": ["posts.create"], "secret": "whsec_short"}),
        json!({"url": url, "events": ["posts.create"], "secret": "plain"}),
        json!({"url": url, "events": ["posts.create"], "extra": 1}),
    ] {
        s.put("/v1/admin/webhooks/bad", Some(&admin), body)
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.put(
        "/v1/admin/webhooks/Bad",
        Some(&admin),
        json!({"url": url, "events": ["*"]}),
    )
    .await
    .expect(400, Some("invalid_argument"));

    // A new webhook without a secret gets one, shown once.
    let made = s
        .put(
            "/v1/admin/webhooks/generated",
            Some(&admin),
            json!({"url": url, "events": ["nothing.create"]}),
        )
        .await;
    made.expect(201, None);
    assert!(made.json()["secret"].as_str().unwrap().starts_with("whsec_"));
    let shown = s.get("/v1/admin/webhooks/generated", Some(&admin)).await;
    shown.expect(200, None);
    assert!(shown.json().get("secret").is_none(), "{}", shown.text);
    let listed = s.get("/v1/admin/webhooks", Some(&admin)).await;
    assert!(!listed.text.contains("whsec_"), "{}", listed.text);

    for (name, path, events) in [
        ("ok", "/ok", json!(["posts.create"])),
        ("flaky", "/flaky", json!(["posts.*"])),
        ("slow", "/slow", json!(["posts.create"])),
        ("gone", "/gone", json!(["posts.*"])),
        ("moved", "/redirect", json!(["posts.create"])),
    ] {
        s.put(
            &format!("/v1/admin/webhooks/{name}"),
            Some(&admin),
            json!({"url": format!("{}{path}", receiver.url), "events": events, "secret": SECRET}),
        )
        .await
        .expect(201, None);
    }
    let (user, _) = s.signup("poster@example.com").await;
    let post = s
        .post("/v1/db/posts", Some(&user), json!({"data": {"title": "hello"}}))
        .await;
    post.expect(201, None);
    let post_id = post.json()["id"].as_str().unwrap().to_owned();
    assert!(
        settled(&s, &admin, &["ok", "flaky", "slow", "gone", "moved"]).await,
        "{:?}",
        receiver.log().await
    );

    // Every request the receiver got was signed with the webhook's secret.
    let log = receiver.log().await;
    assert!(log.iter().all(|e| e["verified"] == true), "{log:?}");
    let ok = receiver.at("/ok").await;
    assert_eq!(ok.len(), 1, "{ok:?}");
    let event = &ok[0]["payload"];
    assert_eq!(event["type"], "posts.create");
    assert_eq!(event["data"]["collection"], "posts");
    assert_eq!(event["data"]["document"]["id"], post_id.as_str());
    assert_eq!(event["data"]["document"]["data"]["title"], "hello");
    assert_eq!(event["id"], ok[0]["id"], "the body's id is webhook-id");
    // One event: the same id at every receiver, on every try.
    assert!(log.iter().all(|e| e["id"] == ok[0]["id"]), "{log:?}");
    assert_eq!(deliveries(&s, &admin, "ok").await[0]["response_status"], 200);

    // 500, then 200 on the retry.
    let flaky = receiver.at("/flaky").await;
    assert_eq!(flaky.len(), 2, "{flaky:?}");
    let d = &deliveries(&s, &admin, "flaky").await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_i64()),
        (Some("ok"), Some(2)),
        "{d}"
    );

    // A receiver slower than the timeout is tried again.
    let d = &deliveries(&s, &admin, "slow").await[0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_i64()),
        (Some("ok"), Some(2)),
        "{d}"
    );

    // 410 disables the webhook: dead at once, and no new deliveries.
    assert_eq!(receiver.at("/gone").await.len(), 1);
    let d = &deliveries(&s, &admin, "gone").await[0];
    assert_eq!(d["status"], "dead");
    assert_eq!(d["response_status"], 410);
    let gone = s.get("/v1/admin/webhooks/gone", Some(&admin)).await.json();
    assert_eq!(gone["enabled"], false);
    assert!(gone["disabled_reason"].as_str().unwrap().contains("410"));

    // A redirect is not followed: retried until dead, never reaching /ok.
    let moved = receiver.at("/redirect").await;
    assert_eq!(moved.len(), 4, "{moved:?}");
    let d = &deliveries(&s, &admin, "moved").await[0];
    assert_eq!(d["status"], "dead");
    assert_eq!(d["attempts"], 4);
    assert_eq!(d["response_status"], 302);
    assert!(
        d["error"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{d}"
    );
    assert_eq!(receiver.at("/ok").await.len(), 1);

    // An update reaches `posts.*` but not the create-only hooks; the
    // disabled one gets nothing.
    s.patch(
        &format!("/v1/db/posts/{post_id}"),
        Some(&user),
        json!({"data": {"title": "edited"}}),
    )
    .await
    .expect(200, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.at("/flaky").await.len() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let flaky = receiver.at("/flaky").await;
    let update = flaky
        .iter()
        .find(|e| e["payload"]["type"] == "posts.update")
        .expect("update sent");
    assert_eq!(update["payload"]["data"]["previous"]["data"]["title"], "hello");
    assert_eq!(update["payload"]["data"]["document"]["data"]["title"], "edited");
    assert_eq!(receiver.at("/gone").await.len(), 1);
    assert_eq!(deliveries(&s, &admin, "gone").await.len(), 1);
    assert_eq!(receiver.at("/ok").await.len(), 1);

    // A dead delivery is sent again on request; re-enabling the webhook
    // clears the 410.
    let dead = deliveries(&s, &admin, "moved").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.put(
        "/v1/admin/webhooks/moved",
        Some(&admin),
        json!({"url": format!("{}/ok", receiver.url), "events": ["posts.create"]}),
    )
    .await
    .expect(200, None);
    s.post(
        &format!("/v1/admin/deliveries/{dead}/retry"),
        Some(&admin),
        json!({}),
    )
    .await
    .expect(202, None);
    s.post(
        &format!("/v1/admin/deliveries/{dead}/retry"),
        Some(&admin),
        json!({}),
    )
    .await
    .expect(404, Some("not_found"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.at("/ok").await.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = receiver.at("/ok").await;
    assert_eq!(again.len(), 2);
    assert_eq!(again[1]["id"], ok[0]["id"], "a replay keeps the event id");

    // Paging and filters of the deliveries list.
    let page = s
        .get("/v1/admin/webhooks/flaky/deliveries?limit=1", Some(&admin))
        .await
        .json();
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = s
        .get(
            &format!("/v1/admin/webhooks/flaky/deliveries?limit=1&after={next}"),
            Some(&admin),
        )
        .await
        .json();
    assert_ne!(rest["deliveries"][0]["id"], page["deliveries"][0]["id"]);
    s.get("/v1/admin/webhooks/flaky/deliveries?status=lost", Some(&admin))
        .await
        .expect(400, Some("invalid_argument"));
    s.get("/v1/admin/webhooks/nope/deliveries", Some(&admin))
        .await
        .expect(404, Some("not_found"));

    // The audit log records webhooks without their secrets.
    let audit = s.get("/v1/admin/audit?limit=50", Some(&admin)).await;
    assert!(audit.text.contains("webhook.save"));
    assert!(!audit.text.contains("whsec_"), "{}", audit.text);
    s.delete("/v1/admin/webhooks/ok", Some(&admin))
        .await
        .expect(204, None);
    s.delete("/v1/admin/webhooks/ok", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.stop().await;
}

async fn the_address_guard_refuses_private_receivers(backend: Backend) {
    let receiver = Receiver::start(SECRET);
    let Some(s) = TestServer::start_with(backend, |c| {
        c.outbox_retry_delays = vec![Duration::from_millis(100)];
    })
    .await
    else {
        return;
    };
    let admin = s.admin_token().await;
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "posts", "rules": {"create": "auth != ()"}}),
    )
    .await
    .expect(201, None);
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://[::1]:{port}/ok"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/hook".to_owned(),
        format!("http://0x7f.1:{port}/ok"),
    ] {
        let res = s
            .put(
                "/v1/admin/webhooks/inside",
                Some(&admin),
                json!({"url": url, "events": ["*"]}),
            )
            .await;
        res.expect(400, Some("invalid_argument"));
        assert!(res.text.contains("functions_allow_private_net"), "{}", res.text);
    }
    // A name that resolves to loopback passes the save, and is refused when it connects.
    s.put(
        "/v1/admin/webhooks/inside",
        Some(&admin),
        json!({"url": format!("http://localhost:{port}/ok"), "events": ["*"], "secret": SECRET}),
    )
    .await
    .expect(201, None);
    let (user, _) = s.signup("prober@example.com").await;
    s.post("/v1/db/posts", Some(&user), json!({"data": {}}))
        .await
        .expect(201, None);
    assert!(settled(&s, &admin, &["inside"]).await);
    let d = &deliveries(&s, &admin, "inside").await[0];
    assert_eq!(d["status"], "dead", "{d}");
    assert!(d["error"].as_str().unwrap().contains("no public address"), "{d}");
    assert!(receiver.log().await.is_empty());
    s.stop().await;
}

async fn functions_fetch_and_enqueue(backend: Backend) {
    let receiver = Receiver::start(SECRET);
    let Some(open) = TestServer::start_with(backend, |c| c.functions_allow_private_net = true).await else {
        return;
    };
    let admin = open.admin_token().await;
    open.post("/v1/db/collections", Some(&admin), json!({"name": "jobs"}))
        .await
        .expect(201, None);
    let caller = r#"
        let sent = http.fetch(#{method: "POST", url: args.url + "/ok", body: #{hello: "receiver"}});
        let log = http.fetch(#{url: args.url + "/log", timeout: 2000});
        let job = enqueue("worker", #{n: 5});
        #{sent: sent.status, body: sent.body, seen: log.json.len(), job: job}
    "#;
    open.put(
        "/v1/admin/functions/caller",
        Some(&admin),
        json!({"kind": "http", "source": caller}),
    )
    .await
    .expect(201, None);
    open.put(
        "/v1/admin/functions/worker",
        Some(&admin),
        json!({"kind": "http", "source": "db.create(\"jobs\", #{n: args.n, type: event.type}, #{id: event.id});"}),
    )
    .await
    .expect(201, None);
    let res = open
        .post("/v1/functions/caller", Some(&admin), json!({"url": receiver.url}))
        .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["sent"], 200);
    assert_eq!(body["body"], "thanks");
    assert_eq!(body["seen"], 1);
    let job = body["job"].as_str().unwrap().to_owned();
    // The POST arrived as JSON (unsigned: it is not a webhook).
    let got = receiver.at("/ok").await;
    assert_eq!(got.len(), 1);
    // The job runs soon after, once, with its args.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut done = open.get(&format!("/v1/db/jobs/{job}"), Some(&admin)).await;
    while done.status != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        done = open.get(&format!("/v1/db/jobs/{job}"), Some(&admin)).await;
    }
    done.expect(200, None);
    assert_eq!(done.json()["data"], json!({"n": 5, "type": "job"}));
    // A delayed job waits for its time.
    open.put(
        "/v1/admin/functions/later",
        Some(&admin),
        json!({"kind": "http", "source": "enqueue(\"worker\", #{n: 1}, #{delay: 1500})"}),
    )
    .await
    .expect(201, None);
    let started = Instant::now();
    let later = open
        .post("/v1/functions/later", Some(&admin), json!({}))
        .await
        .json();
    let later = later.as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(700)).await;
    open.get(&format!("/v1/db/jobs/{later}"), Some(&admin))
        .await
        .expect(404, Some("not_found"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while open
        .get(&format!("/v1/db/jobs/{later}"), Some(&admin))
        .await
        .status
        != 200
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));
    open.get(&format!("/v1/db/jobs/{later}"), Some(&admin))
        .await
        .expect(200, None);
    for (source, needle) in [
        ("enqueue(\"worker\", 1, #{delay: -1})", "delay"),
        ("http.fetch(#{})", "`url` is required"),
        ("http.fetch(#{url: \"ftp://x\"})", "http:// or https://"),
        ("http.fetch(#{url: \"http://x\", method: \"N O\"})", "method"),
    ] {
        open.put(
            "/v1/admin/functions/hostile",
            Some(&admin),
            json!({"kind": "http", "source": source}),
        )
        .await
        .expect(201, None);
        open.post("/v1/functions/hostile", Some(&admin), json!({}))
            .await
            .expect(500, Some("internal"));
        let runs = open
            .get("/v1/admin/functions/hostile/executions?limit=1", Some(&admin))
            .await
            .json();
        let error = runs["executions"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.contains(needle), "{source}: {error}");
        open.delete("/v1/admin/functions/hostile", Some(&admin))
            .await
            .expect(204, None);
    }
    // Before-triggers have no network.
    open.post("/v1/db/collections", Some(&admin), json!({"name": "posts"}))
        .await
        .expect(201, None);
    let reach = format!("http.fetch(#{{url: \"{}/ok\"}});", receiver.url);
    open.put(
        "/v1/admin/functions/reach",
        Some(&admin),
        json!({"kind": "trigger", "collection": "posts", "event": "before_create", "source": reach}),
    )
    .await
    .expect(201, None);
    open.post("/v1/db/posts", Some(&admin), json!({"data": {}}))
        .await
        .expect(500, Some("internal"));
    let runs = open
        .get("/v1/admin/functions/reach/executions", Some(&admin))
        .await
        .json();
    assert!(
        runs["executions"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not available in before-triggers"),
        "{runs}"
    );
    assert_eq!(receiver.at("/ok").await.len(), 1);
    open.stop().await;

    // Without private addresses allowed, loopback and metadata are refused.
    let Some(closed) = TestServer::start(backend).await else {
        return;
    };
    let admin = closed.admin_token().await;
    let port = receiver.url.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("http://127.0.0.1:{port}/ok"),
        format!("http://localhost:{port}/ok"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ] {
        let source = format!("http.fetch(#{{url: \"{url}\", timeout: 2000}})");
        closed
            .put(
                "/v1/admin/functions/probe",
                Some(&admin),
                json!({"kind": "http", "source": source}),
            )
            .await;
        closed
            .post("/v1/functions/probe", Some(&admin), json!({}))
            .await
            .expect(500, Some("internal"));
        let runs = closed
            .get("/v1/admin/functions/probe/executions?limit=1", Some(&admin))
            .await
            .json();
        let error = runs["executions"][0]["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("functions_allow_private_net") || error.contains("no public address"),
            "{url}: {error}"
        );
    }
    assert_eq!(receiver.at("/ok").await.len(), 1);
    closed.stop().await;
}
