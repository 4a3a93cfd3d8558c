//! HTTP functions through HTTP on a real server, on both backends: saving
//! (compiled first, versioned, audited), calling behind the invoke rule,
//! the `db` natives, `throw`, the budgets, `env` kept secret, executions.

mod common;

use common::{Backend, TestServer};
use serde_json::{Value, json};

on_both_backends!(
    functions_are_compiled_versioned_and_audited,
    http_functions_run_behind_their_invoke_rule,
    budgets_stop_runaway_scripts,
);

async fn save(s: &TestServer, token: &str, name: &str, body: Value) -> common::Resp {
    s.put(&format!("/v1/admin/functions/{name}"), Some(token), body)
        .await
}

async fn functions_are_compiled_versioned_and_audited(s: &TestServer) {
    let admin = s.admin_token().await;
    // A script that does not compile is refused with its position.
    let bad = save(
        s,
        &admin,
        "greet",
        json!({"kind": "http", "source": "let x = ;\n1"}),
    )
    .await;
    bad.expect(400, Some("invalid_argument"));
    assert_eq!(bad.json()["error"]["details"]["line"], 1);
    assert!(bad.json()["error"]["details"]["column"].is_number());
    let bad_rule = save(
        s,
        &admin,
        "greet",
        json!({"kind": "http", "source": "1", "invoke": "auth.uid ="}),
    )
    .await;
    bad_rule.expect(400, Some("invalid_argument"));
    assert_eq!(bad_rule.json()["error"]["details"]["rule"], "invoke");
    for (name, body) in [
        ("Greet", json!({"kind": "http", "source": "1"})),
        ("9lives", json!({"kind": "http", "source": "1"})),
        ("greet", json!({"kind": "cron", "source": "1"})),
        ("greet", json!({"kind": "trigger", "source": "1"})),
        ("greet", json!({"kind": "http"})),
        ("greet", json!({"kind": "http", "source": "1", "extra": true})),
    ] {
        save(s, &admin, name, body)
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.get("/v1/admin/functions/greet", Some(&admin))
        .await
        .expect(404, Some("not_found"));

    let first = save(
        s,
        &admin,
        "greet",
        json!({"kind": "http", "source": "`hello ${args.name}`", "invoke": "auth != ()"}),
    )
    .await;
    first.expect(201, None);
    assert_eq!(first.json()["version"], 1);
    let second = save(
        s,
        &admin,
        "greet",
        json!({"kind": "http", "source": "`hi ${args.name}`", "invoke": "auth != ()"}),
    )
    .await;
    second.expect(200, None);
    assert_eq!(second.json()["version"], 2);
    assert_eq!(second.json()["created_at"], first.json()["created_at"]);
    let one = s.get("/v1/admin/functions/greet", Some(&admin)).await;
    one.expect(200, None);
    let versions: Vec<i64> = one.json()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 1]);
    assert_eq!(one.json()["versions"][1]["source"], "`hello ${args.name}`");
    let list = s.get("/v1/admin/functions", Some(&admin)).await;
    assert_eq!(list.json()["functions"][0]["name"], "greet");
    // The new version is what runs.
    let (user, _) = s.signup("u@example.com").await;
    let res = s
        .post("/v1/functions/greet", Some(&user), json!({"name": "Ada"}))
        .await;
    res.expect(200, None);
    assert_eq!(res.json(), json!("hi Ada"));
    // Every save and the delete are in the audit log, with the source.
    s.delete("/v1/admin/functions/greet", Some(&admin))
        .await
        .expect(204, None);
    s.delete("/v1/admin/functions/greet", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.post("/v1/functions/greet", Some(&user), json!({}))
        .await
        .expect(404, Some("not_found"));
    let audit = s.get("/v1/admin/audit?action=function.", Some(&admin)).await;
    let actions: Vec<&str> = audit.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .map(|a| if a == "function.save" { "save" } else { "delete" })
        .collect();
    assert_eq!(actions, vec!["delete", "save", "save"]);
    assert_eq!(audit.json()["entries"][1]["after"]["version"], 2);
}

async fn http_functions_run_behind_their_invoke_rule(s: &TestServer) {
    let admin = s.admin_token().await;
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "orders", "rules": {"read": "auth != () && doc.data.owner == auth.uid"}}),
    )
    .await
    .expect(201, None);
    // A function that writes with service rights, reads back, and queries.
    let source = r#"
        if args.qty < 1 { throw "qty must be at least 1" }
        if args.qty > 10 { throw #{code: "failed_precondition", message: "out of stock"} }
        if args.qty == 7 { throw #{status: 409, message: "taken"} }
        if args.qty == 8 { throw #{status: 418, message: "teapot"} }
        if args.qty == 9 { throw #{code: "no_such_code", message: "?"} }
        let order = db.create("orders", #{owner: auth.uid, qty: args.qty});
        let again = db.get("orders", order.id);
        db.update("orders", order.id, #{increment: #{qty: 1}});
        let mine = db.query("orders", #{where: [["owner", "==", auth.uid]], limit: 10});
        log(`created ${order.id}`);
        log(#{count: mine.len()});
        #{id: again.id, qty: db.get("orders", order.id).data.qty, count: mine.len(), missing: db.get("orders", "nope")}
    "#;
    save(
        s,
        &admin,
        "order",
        json!({"kind": "http", "source": source, "invoke": "auth != () && data.qty != ()"}),
    )
    .await
    .expect(201, None);
    s.post("/v1/functions/order", None, json!({"qty": 2}))
        .await
        .expect(401, Some("unauthenticated"));
    let (user, uid) = s.signup("buyer@example.com").await;
    s.post("/v1/functions/order", Some(&user), json!({"other": 1}))
        .await
        .expect(403, Some("permission_denied"));
    let res = s
        .post("/v1/functions/order", Some(&user), json!({"qty": 2}))
        .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["qty"], 3);
    assert_eq!(body["count"], 1);
    assert_eq!(body["missing"], Value::Null);
    let id = body["id"].as_str().unwrap();
    let stored = s.get(&format!("/v1/db/orders/{id}"), Some(&user)).await;
    stored.expect(200, None);
    assert_eq!(stored.json()["data"], json!({"owner": uid, "qty": 3}));
    // Field names Rhai keeps for itself work after a dot, in the invoke rule and the script.
    save(
        s,
        &admin,
        "keywords",
        json!({"kind": "http", "source": "#{\"public\": args.public, \"default\": args.new.default}", "invoke": "data.public == true"}),
    )
    .await
    .expect(201, None);
    let res = s
        .post(
            "/v1/functions/keywords",
            Some(&user),
            json!({"public": true, "new": {"default": 7}}),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json(), json!({"public": true, "default": 7}));
    s.post("/v1/functions/keywords", Some(&user), json!({"public": false}))
        .await
        .expect(403, Some("permission_denied"));
    // throw: a message is a 400, a map picks the code.
    let thrown = s
        .post("/v1/functions/order", Some(&user), json!({"qty": 0}))
        .await;
    thrown.expect(400, Some("invalid_argument"));
    assert_eq!(thrown.json()["error"]["message"], "qty must be at least 1");
    s.post("/v1/functions/order", Some(&user), json!({"qty": 11}))
        .await
        .expect(412, Some("failed_precondition"));
    s.post("/v1/functions/order", Some(&user), json!({"qty": 7}))
        .await
        .expect(409, Some("already_exists"));
    // A status or code the error table does not have is the script's bug.
    for qty in [8, 9] {
        s.post("/v1/functions/order", Some(&user), json!({"qty": qty}))
            .await
            .expect(500, Some("internal"));
    }
    // A db call that fails is the function's failure, not the client's.
    save(
        s,
        &admin,
        "broken",
        json!({"kind": "http", "source": "db.create(\"no_such_collection\", #{a: 1})"}),
    )
    .await
    .expect(201, None);
    let broken = s.post("/v1/functions/broken", Some(&admin), json!(null)).await;
    broken.expect(500, Some("internal"));
    assert!(!broken.text.contains("no_such_collection"), "{}", broken.text);
    // A body that is not JSON is refused before the function runs.
    let raw = s
        .client
        .post(format!("{}/v1/functions/order", s.url))
        .bearer_auth(&user)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    // Without an invoke rule only admins and service keys may call.
    s.post("/v1/functions/broken", Some(&user), json!({}))
        .await
        .expect(403, Some("permission_denied"));

    // Executions: every run, newest first, with logs and errors; filters and pages.
    let runs = s.get("/v1/admin/functions/order/executions", Some(&admin)).await;
    runs.expect(200, None);
    let runs = runs.json()["executions"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 6, "the refused calls never ran");
    assert_eq!(runs[0]["status"], "error");
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap()
            .contains("`no_such_code` is not an error code")
    );
    assert_eq!(runs[5]["status"], "ok");
    assert_eq!(runs[5]["version"], 1);
    assert_eq!(runs[5]["trigger"], "http");
    assert_eq!(runs[5]["logs"], json!([format!("created {id}"), "{\"count\":1}"]));
    assert!(
        runs[4]["error"]
            .as_str()
            .unwrap()
            .contains("qty must be at least 1")
    );
    let ok = s
        .get("/v1/admin/functions/order/executions?status=ok", Some(&admin))
        .await
        .json();
    assert_eq!(ok["executions"].as_array().unwrap().len(), 1);
    let page = s
        .get("/v1/admin/functions/order/executions?limit=2", Some(&admin))
        .await
        .json();
    assert_eq!(page["executions"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = s
        .get(
            &format!("/v1/admin/functions/order/executions?limit=5&after={cursor}"),
            Some(&admin),
        )
        .await
        .json();
    assert_eq!(rest["executions"].as_array().unwrap().len(), 4);
    assert_eq!(rest["next_cursor"], Value::Null);
    for bad in ["?status=maybe", "?limit=0", "?limit=101", "?nope=1"] {
        s.get(
            &format!("/v1/admin/functions/order/executions{bad}"),
            Some(&admin),
        )
        .await
        .expect(400, Some("invalid_argument"));
    }
    s.get("/v1/admin/functions/order/executions", Some(&user))
        .await
        .expect(403, Some("permission_denied"));
}

async fn budgets_stop_runaway_scripts(s: &TestServer) {
    let admin = s.admin_token().await;
    for (name, source) in [
        ("spin", "loop { }"),
        ("grow", "let s = \"xxxxxxxxxxxxxxxx\"; loop { s += s; }"),
        ("deep", "fn f(n) { f(n + 1) } f(0)"),
    ] {
        save(s, &admin, name, json!({"kind": "http", "source": source}))
            .await
            .expect(201, None);
        let res = s
            .post(&format!("/v1/functions/{name}"), Some(&admin), json!({}))
            .await;
        res.expect(500, Some("internal"));
        assert_eq!(
            res.json()["error"]["message"],
            "function exceeded its limits",
            "{name}"
        );
        let runs = s
            .get(&format!("/v1/admin/functions/{name}/executions"), Some(&admin))
            .await
            .json();
        assert_eq!(runs["executions"][0]["status"], "error");
        assert_eq!(runs["executions"][0]["error"], "function exceeded its limits");
    }
    // The outcomes are counted.
    let metrics = s.get("/metrics", None).await.text;
    let errors: u64 = metrics
        .lines()
        .find(|l| l.starts_with("basalt_function_runs_total{status=\"error\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert_eq!(errors, 3);
    assert!(metrics.contains("basalt_function_running 0"));
    assert!(metrics.contains("basalt_function_duration_seconds_count 3"));
    // Executions past the retention are swept.
    let later = basalt_core::Timestamp::now().millis() + 1000;
    assert_eq!(s.state.functions.sweep_executions(later).await.unwrap(), 3);
    let runs = s
        .get("/v1/admin/functions/spin/executions", Some(&admin))
        .await
        .json();
    assert_eq!(runs["executions"], json!([]));
    // The server still answers, and a normal function still runs.
    save(s, &admin, "fine", json!({"kind": "http", "source": "40 + 2"}))
        .await
        .expect(201, None);
    let res = s.post("/v1/functions/fine", Some(&admin), json!({})).await;
    res.expect(200, None);
    assert_eq!(res.json(), json!(42));
}

/// `env` values reach scripts but never logs, errors or executions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_values_never_leave_the_sandbox() {
    let secret = "sk_live_4f9a0c1d2e3b";
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.functions_env.insert("API_KEY".into(), secret.into());
    })
    .await
    .unwrap();
    let admin = s.admin_token().await;
    let source = r#"
        log(`key is ${env.API_KEY}`);
        if args.fail { throw `bad key ${env.API_KEY}` }
        env.API_KEY.len()
    "#;
    save(&s, &admin, "leaky", json!({"kind": "http", "source": source}))
        .await
        .expect(201, None);
    let ok = s
        .post("/v1/functions/leaky", Some(&admin), json!({"fail": false}))
        .await;
    ok.expect(200, None);
    assert_eq!(ok.json(), json!(secret.len()));
    let failed = s
        .post("/v1/functions/leaky", Some(&admin), json!({"fail": true}))
        .await;
    failed.expect(400, Some("invalid_argument"));
    assert!(!failed.text.contains(secret), "{}", failed.text);
    let runs = s.get("/v1/admin/functions/leaky/executions", Some(&admin)).await;
    assert!(!runs.text.contains(secret), "{}", runs.text);
    assert!(runs.text.contains("key is [env]"), "{}", runs.text);
    s.stop().await;
}
