//! Triggers through HTTP on a real server, on both backends: before-triggers
//! that change data, write a second document or refuse (and then nothing of
//! either survives); after-triggers that run once per change from the
//! outbox, retried when they fail and replayed when dead; the budgets.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestServer};
use serde_json::{Value, json};

/// Each test on both backends, on a server that retries deliveries after
/// 100 ms, then 100 ms, then gives up.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::common::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = super::start(Backend::Sqlite).await.expect("SQLite always runs");
                super::$name(&server).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = super::start(Backend::Postgres).await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )*};
}

on_both!(
    before_triggers_change_write_and_refuse,
    after_triggers_run_once_per_change,
    auth_and_storage_triggers,
);

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start_with(backend, |c| {
        c.outbox_retry_delays = vec![Duration::from_millis(100); 2];
    })
    .await
}

async fn save(s: &TestServer, token: &str, name: &str, body: Value) -> common::Resp {
    s.put(&format!("/v1/admin/functions/{name}"), Some(token), body)
        .await
}

async fn count(s: &TestServer, token: &str, collection: &str) -> usize {
    let res = s
        .post(
            &format!("/v1/db/{collection}/query"),
            Some(token),
            json!({"limit": 1000}),
        )
        .await;
    res.expect(200, None);
    res.json()["documents"].as_array().unwrap().len()
}

async fn executions(s: &TestServer, token: &str, function: &str) -> Vec<Value> {
    let res = s
        .get(
            &format!("/v1/admin/functions/{function}/executions?limit=100"),
            Some(token),
        )
        .await;
    res.expect(200, None);
    res.json()["executions"].as_array().unwrap().clone()
}

/// Polls until `check` holds, at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

async fn before_triggers_change_write_and_refuse(s: &TestServer) {
    let admin = s.admin_token().await;
    for (name, rules) in [
        (
            "posts",
            json!({"read": "true", "create": "auth != () && data.slug != ()", "update": "auth != ()", "delete": "auth != ()"}),
        ),
        ("audit", json!({"read": "true"})),
    ] {
        s.post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": name, "rules": rules}),
        )
        .await
        .expect(201, None);
    }
    // The schema is checked after the trigger: `slug` is required, and the trigger adds it.
    s.patch(
        "/v1/db/collections/posts",
        Some(&admin),
        json!({"schema": {"type": "object", "required": ["title", "slug"]}}),
    )
    .await
    .expect(200, None);
    let source = r#"
        db.create("audit", #{post: event.id, by: auth.uid});
        if data.title == "no" { throw "a title may not be no" }
        if data.title == "forbidden" { throw #{code: "permission_denied", message: "not this one"} }
        data.slug = data.title.to_lower();
    "#;
    save(
        s,
        &admin,
        "slugify",
        json!({"kind": "trigger", "collection": "posts", "event": "before_create", "source": source}),
    )
    .await
    .expect(201, None);
    // One before-trigger per event of a collection.
    save(
        s,
        &admin,
        "another",
        json!({"kind": "trigger", "collection": "posts", "event": "before_create", "source": "1"}),
    )
    .await
    .expect(409, Some("already_exists"));
    // Hostile specs.
    for body in [
        json!({"kind": "trigger", "event": "before_create", "source": "1"}),
        json!({"kind": "trigger", "collection": "posts", "event": "before_read", "source": "1"}),
        json!({"kind": "trigger", "collection": "Bad Name", "event": "after_create", "source": "1"}),
        json!({"kind": "trigger", "collection": "posts", "event": "after_create", "source": "1", "invoke": "true"}),
        json!({"kind": "http", "collection": "posts", "source": "1"}),
        json!({"kind": "trigger", "collection": "posts", "event": "after_create", "source": "args.x"}),
    ] {
        save(s, &admin, "hostile", body.clone())
            .await
            .expect(400, Some("invalid_argument"));
    }

    let (user, uid) = s.signup("writer@example.com").await;
    let created = s
        .post(
            "/v1/db/posts",
            Some(&user),
            json!({"data": {"title": "Hello World"}}),
        )
        .await;
    created.expect(201, None);
    let post = created.json();
    assert_eq!(post["data"]["slug"], "hello world");
    let audit = s.post("/v1/db/audit/query", Some(&admin), json!({})).await.json();
    assert_eq!(audit["documents"].as_array().unwrap().len(), 1);
    assert_eq!(audit["documents"][0]["data"]["post"], post["id"]);
    assert_eq!(audit["documents"][0]["data"]["by"], uid.as_str());

    // A refusal: 400 with the script's message, and neither the post nor
    // the trigger's own write survives.
    let refused = s
        .post("/v1/db/posts", Some(&user), json!({"data": {"title": "no"}}))
        .await;
    refused.expect(400, Some("invalid_argument"));
    assert_eq!(refused.json()["error"]["message"], "a title may not be no");
    let coded = s
        .post(
            "/v1/db/posts",
            Some(&user),
            json!({"data": {"title": "forbidden"}}),
        )
        .await;
    coded.expect(403, Some("permission_denied"));
    assert_eq!(count(s, &admin, "posts").await, 1);
    assert_eq!(count(s, &admin, "audit").await, 1);

    // A batch runs the trigger per operation; one refusal fails them all.
    let batch = s
        .post(
            "/v1/db/batch",
            Some(&user),
            json!({"operations": [
                {"op": "create", "collection": "posts", "data": {"title": "First"}},
                {"op": "create", "collection": "posts", "data": {"title": "no"}},
            ]}),
        )
        .await;
    batch.expect(400, Some("invalid_argument"));
    assert_eq!(batch.json()["error"]["details"]["index"], 1);
    assert_eq!(count(s, &admin, "posts").await, 1);
    assert_eq!(count(s, &admin, "audit").await, 1);
    let batch = s
        .post(
            "/v1/db/batch",
            Some(&user),
            json!({"operations": [
                {"op": "create", "collection": "posts", "data": {"title": "A"}},
                {"op": "create", "collection": "posts", "data": {"title": "B"}},
            ]}),
        )
        .await;
    batch.expect(200, None);
    assert_eq!(count(s, &admin, "posts").await, 3);
    assert_eq!(count(s, &admin, "audit").await, 3);

    // before_update sees the stored document and the new data.
    let update = r#"
        if document.data.locked == true { throw #{code: "failed_precondition", message: "locked"} }
        data.edits = (document.data.edits ?? 0) + 1;
    "#;
    save(
        s,
        &admin,
        "count-edits",
        json!({"kind": "trigger", "collection": "posts", "event": "before_update", "source": update}),
    )
    .await
    .expect(201, None);
    let id = post["id"].as_str().unwrap();
    let patched = s
        .patch(
            &format!("/v1/db/posts/{id}"),
            Some(&user),
            json!({"data": {"title": "Hi"}}),
        )
        .await;
    patched.expect(200, None);
    assert_eq!(patched.json()["data"]["edits"], 1);
    let patched = s
        .patch(
            &format!("/v1/db/posts/{id}"),
            Some(&user),
            json!({"data": {"locked": true}}),
        )
        .await;
    patched.expect(200, None);
    assert_eq!(patched.json()["data"]["edits"], 2);
    s.patch(
        &format!("/v1/db/posts/{id}"),
        Some(&user),
        json!({"data": {"title": "x"}}),
    )
    .await
    .expect(412, Some("failed_precondition"));

    // before_delete may refuse; it may not write the document being deleted through db.
    let guard = r#"
        if document.data.title == "Hi" { db.update("posts", document.id, #{data: #{title: "sneaky"}}); }
        if document.data.locked == true { throw "locked posts stay" }
    "#;
    save(
        s,
        &admin,
        "keep-locked",
        json!({"kind": "trigger", "collection": "posts", "event": "before_delete", "source": guard}),
    )
    .await
    .expect(201, None);
    let refused = s.delete(&format!("/v1/db/posts/{id}"), Some(&user)).await;
    refused.expect(500, Some("internal"));
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the before_delete trigger failed; see execution "),
        "{}",
        refused.text
    );
    let runs = executions(s, &admin, "keep-locked").await;
    assert_eq!(runs[0]["status"], "error");
    assert!(
        runs[0]["error"].as_str().unwrap().contains("through `data`"),
        "{runs:?}"
    );
    assert_eq!(
        s.get(&format!("/v1/db/posts/{id}"), Some(&user)).await.json()["data"]["title"],
        "Hi"
    );

    // A runaway trigger is stopped by its tight budget; the write does not happen.
    let started = Instant::now();
    save(
        s,
        &admin,
        "slugify",
        json!({"kind": "trigger", "collection": "posts", "event": "before_create", "source": "loop { }"}),
    )
    .await
    .expect(200, None);
    let stopped = s
        .post(
            "/v1/db/posts",
            Some(&user),
            json!({"data": {"title": "spin", "slug": "spin"}}),
        )
        .await;
    stopped.expect(500, Some("internal"));
    assert!(
        stopped.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded its limits"),
        "{}",
        stopped.text
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let big = "let s = \"x\"; loop { s += s; }";
    save(
        s,
        &admin,
        "slugify",
        json!({"kind": "trigger", "collection": "posts", "event": "before_create", "source": big}),
    )
    .await
    .expect(200, None);
    s.post(
        "/v1/db/posts",
        Some(&user),
        json!({"data": {"title": "grow", "slug": "grow"}}),
    )
    .await
    .expect(500, Some("internal"));
    assert_eq!(count(s, &admin, "posts").await, 3);
    let runs = executions(s, &admin, "slugify").await;
    assert!(
        runs.iter().filter(|r| r["status"] == "error").count() >= 4,
        "{runs:?}"
    );
    assert!(runs.iter().all(|r| r["trigger"] == "before_create"));

    // Deleting the trigger: writes go through untouched.
    s.delete("/v1/admin/functions/slugify", Some(&admin))
        .await
        .expect(204, None);
    s.post(
        "/v1/db/posts",
        Some(&user),
        json!({"data": {"title": "plain", "slug": "plain"}}),
    )
    .await
    .expect(201, None);
}

async fn after_triggers_run_once_per_change(s: &TestServer) {
    let admin = s.admin_token().await;
    for name in ["posts", "counters"] {
        s.post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": name, "rules": {"read": "true", "create": "auth != ()", "update": "auth != ()", "delete": "auth != ()"}}),
        )
        .await
        .expect(201, None);
    }
    s.put(
        "/v1/db/counters/posts",
        Some(&admin),
        json!({"data": {"created": 0, "deleted": 0}}),
    )
    .await
    .expect(201, None);
    let counting = r#"
        let field = if event.type == "posts.create" { "created" } else { "deleted" };
        let inc = #{};
        inc[field] = 1;
        db.update("counters", "posts", #{increment: inc});
        log(`${event.type} ${event.document.id}`);
    "#;
    for (name, event) in [
        ("count-created", "after_create"),
        ("count-deleted", "after_delete"),
    ] {
        save(
            s,
            &admin,
            name,
            json!({"kind": "trigger", "collection": "posts", "event": event, "source": counting}),
        )
        .await
        .expect(201, None);
    }
    let (user, _) = s.signup("author@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let res = s
            .post("/v1/db/posts", Some(&user), json!({"data": {"n": i}}))
            .await;
        res.expect(201, None);
        ids.push(res.json()["id"].as_str().unwrap().to_owned());
    }
    s.delete(&format!("/v1/db/posts/{}", ids[0]), Some(&user))
        .await
        .expect(204, None);
    let counter = || async { s.get("/v1/db/counters/posts", Some(&admin)).await.json()["data"].clone() };
    assert!(
        eventually(Duration::from_secs(15), || async {
            counter().await == json!({"created": 5, "deleted": 1})
        })
        .await,
        "{}",
        counter().await
    );
    // Once each, not more: still the same a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter().await, json!({"created": 5, "deleted": 1}));
    let runs = executions(s, &admin, "count-created").await;
    assert_eq!(runs.len(), 5, "{runs:?}");
    for r in &runs {
        assert_eq!(r["status"], "ok");
        assert_eq!(r["trigger"], "after_create");
        assert_eq!(r["attempts"], 1);
        assert!(r["delivery"].is_string());
        assert!(r["logs"][0].as_str().unwrap().starts_with("posts.create "));
    }

    // A failing after-trigger is retried, then dead, then replayed by id.
    let flaky = r#"
        let c = db.get("counters", "flaky");
        if c == () || c.data.fail == true { throw "not yet" }
        db.update("counters", "flaky", #{increment: #{ran: 1}});
    "#;
    save(
        s,
        &admin,
        "flaky",
        json!({"kind": "trigger", "collection": "posts", "event": "after_update", "source": flaky}),
    )
    .await
    .expect(201, None);
    s.put(
        "/v1/db/counters/flaky",
        Some(&admin),
        json!({"data": {"fail": true, "ran": 0}}),
    )
    .await
    .expect(201, None);
    s.patch(
        &format!("/v1/db/posts/{}", ids[1]),
        Some(&user),
        json!({"data": {"n": 10}}),
    )
    .await
    .expect(200, None);
    // The test server retries after 100 ms, 100 ms, then gives up.
    assert!(
        eventually(Duration::from_secs(15), || async {
            executions(s, &admin, "flaky")
                .await
                .iter()
                .any(|r| r["status"] == "dead")
        })
        .await
    );
    let runs = executions(s, &admin, "flaky").await;
    let statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["dead", "retrying", "retrying"], "{runs:?}");
    assert_eq!(runs[0]["attempts"], 3);
    assert_eq!(runs[0]["error"], "thrown: not yet");
    // Replaying an execution that did not die is refused; an http run has nothing to replay.
    s.post(
        &format!("/v1/admin/executions/{}/retry", runs[1]["id"].as_str().unwrap()),
        Some(&admin),
        json!({}),
    )
    .await
    .expect(412, Some("failed_precondition"));
    s.post("/v1/admin/executions/nope/retry", Some(&admin), json!({}))
        .await
        .expect(404, Some("not_found"));
    s.patch(
        "/v1/db/counters/flaky",
        Some(&admin),
        json!({"data": {"fail": false}}),
    )
    .await
    .expect(200, None);
    s.post(
        &format!("/v1/admin/executions/{}/retry", runs[0]["id"].as_str().unwrap()),
        Some(&admin),
        json!({}),
    )
    .await
    .expect(202, None);
    assert!(
        eventually(Duration::from_secs(15), || async {
            s.get("/v1/db/counters/flaky", Some(&admin)).await.json()["data"]["ran"] == 1
        })
        .await
    );
    // A runaway after-trigger is stopped by its budget and recorded; the
    // writes of the changes that ran it are not held up.
    save(
        s,
        &admin,
        "runaway",
        json!({"kind": "trigger", "collection": "counters", "event": "after_create", "source": "loop { }"}),
    )
    .await
    .expect(201, None);
    s.put("/v1/db/counters/spin", Some(&admin), json!({"data": {}}))
        .await
        .expect(201, None);
    assert!(
        eventually(Duration::from_secs(20), || async {
            executions(s, &admin, "runaway")
                .await
                .iter()
                .any(|r| r["status"] == "dead")
        })
        .await
    );
    let runs = executions(s, &admin, "runaway").await;
    assert!(
        runs.iter().all(|r| r["error"] == "function exceeded its limits"),
        "{runs:?}"
    );
    // The metrics count deliveries.
    let metrics = s.get("/metrics", Some(&admin)).await.text;
    assert!(
        metrics.contains("basalt_outbox_deliveries_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("basalt_outbox_depth"));
}

async fn auth_and_storage_triggers(s: &TestServer) {
    let admin = s.admin_token().await;
    for name in ["profiles", "uploads"] {
        s.post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": name, "rules": {"read": "true"}}),
        )
        .await
        .expect(201, None);
    }
    // before_signup refuses or enriches a sign-up; it cannot write.
    let gate = r#"
        if data.email.ends_with("@blocked.example") { throw "sign-ups from this domain are closed" }
        if data.email.starts_with("writer") { db.create("profiles", #{}); }
        data.claims.plan = "free";
        data.data.source = "signup";
    "#;
    save(
        s,
        &admin,
        "gate",
        json!({"kind": "trigger", "collection": "auth", "event": "before_signup", "source": gate}),
    )
    .await
    .expect(201, None);
    for body in [
        json!({"kind": "trigger", "collection": "auth", "event": "upload", "source": "1"}),
        json!({"kind": "trigger", "collection": "storage", "event": "signup", "source": "1"}),
    ] {
        save(s, &admin, "wrong", body)
            .await
            .expect(400, Some("invalid_argument"));
    }
    let welcome = r#"db.create("profiles", #{email: event.user.email, plan: event.user.claims.plan}, #{id: event.user.id});"#;
    save(
        s,
        &admin,
        "welcome",
        json!({"kind": "trigger", "collection": "auth", "event": "signup", "source": welcome}),
    )
    .await
    .expect(201, None);
    let seen = r#"db.create("profiles", #{login_of: event.user.id, aal: event.aal});"#;
    save(
        s,
        &admin,
        "seen",
        json!({"kind": "trigger", "collection": "auth", "event": "login", "source": seen}),
    )
    .await
    .expect(201, None);
    let refused = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "eve@blocked.example", "password": "correct horse battery"}),
        )
        .await;
    refused.expect(400, Some("invalid_argument"));
    assert_eq!(
        refused.json()["error"]["message"],
        "sign-ups from this domain are closed"
    );
    let users = s.get("/v1/admin/users?q=blocked", Some(&admin)).await.json();
    assert_eq!(users["users"].as_array().map(Vec::len), Some(0), "{users}");
    s.post(
        "/v1/auth/signup",
        None,
        json!({"email": "writer@ok.example", "password": "correct horse battery"}),
    )
    .await
    .expect(500, Some("internal"));
    let ok = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "ada@ok.example", "password": "correct horse battery", "data": {"name": "Ada"}}),
        )
        .await;
    ok.expect(201, None);
    let user = ok.json()["user"].clone();
    assert_eq!(user["claims"], json!({"plan": "free"}));
    assert_eq!(user["data"], json!({"name": "Ada", "source": "signup"}));
    let uid = user["id"].as_str().unwrap().to_owned();
    // After the sign-up: the profile, and a sign-in (the sign-up's session).
    assert!(
        eventually(Duration::from_secs(10), || async {
            s.get(&format!("/v1/db/profiles/{uid}"), Some(&admin))
                .await
                .status
                == 200
        })
        .await
    );
    let profile = s
        .get(&format!("/v1/db/profiles/{uid}"), Some(&admin))
        .await
        .json();
    assert_eq!(
        profile["data"],
        json!({"email": "ada@ok.example", "plan": "free"})
    );
    s.post(
        "/v1/auth/login",
        None,
        json!({"email": "ada@ok.example", "password": "correct horse battery"}),
    )
    .await
    .expect(200, None);
    assert!(
        eventually(Duration::from_secs(10), || async {
            count(s, &admin, "profiles").await == 3
        })
        .await,
        "a profile and two sign-ins"
    );
    let logins = executions(s, &admin, "seen").await;
    assert_eq!(logins.len(), 2);
    assert!(
        logins
            .iter()
            .all(|r| r["trigger"] == "login" && r["status"] == "ok")
    );

    // Storage: after an upload and after a delete.
    s.post("/v1/storage/buckets", Some(&admin), json!({"name": "docs"}))
        .await
        .expect(201, None);
    let noted =
        r#"db.create("uploads", #{what: event.type, path: event.object.path, size: event.object.size});"#;
    for event in ["upload", "delete"] {
        save(
            s,
            &admin,
            &format!("on-{event}"),
            json!({"kind": "trigger", "collection": "storage", "event": event, "source": noted}),
        )
        .await
        .expect(201, None);
    }
    let put = s
        .client
        .put(format!("{}/v1/storage/docs/a/report.txt", s.url))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("twelve bytes");
    TestServer::read(put).await.expect(201, None);
    s.delete("/v1/storage/docs/a/report.txt", Some(&admin))
        .await
        .expect(204, None);
    assert!(
        eventually(Duration::from_secs(10), || async {
            count(s, &admin, "uploads").await == 2
        })
        .await
    );
    let notes = s
        .post("/v1/db/uploads/query", Some(&admin), json!({}))
        .await
        .json();
    let mut seen: Vec<(String, String, i64)> = notes["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["data"]["what"].as_str().unwrap().to_owned(),
                d["data"]["path"].as_str().unwrap().to_owned(),
                d["data"]["size"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("storage.delete".to_owned(), "a/report.txt".to_owned(), 12),
            ("storage.upload".to_owned(), "a/report.txt".to_owned(), 12),
        ]
    );
}
