//! The request log, the charts' series, the audit log and admin roles,
//! through HTTP on a real server, on both backends.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use basalt_core::caller::AdminRole;
use common::{Backend, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    roles_on_every_admin_route,
    admins_are_managed_by_owners,
    logs_are_filtered_and_paged,
    series_count_requests,
    audit_records_changes_without_secrets,
    long_and_many_paths_stay_bounded,
);

const PASSWORD: &str = "correct horse battery";

async fn sign_in(s: &TestServer, email: &str, role: AdminRole) -> String {
    s.create_admin_with_role(email, PASSWORD, role).await;
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["admin"]["role"], role.as_str());
    res.json()["access_token"].as_str().unwrap().to_owned()
}

/// The role each admin route needs, from the method unless listed here. A
/// new route gets the default for its method; one that needs something
/// else must be added here and in its registration, or this test fails.
fn expected_role(method: &str, path: &str) -> AdminRole {
    let owner_only = [
        "/v1/admin/keys",
        "/v1/admin/keys/{id}",
        "/v1/admin/admins",
        "/v1/admin/admins/{id}",
        "/v1/admin/admins/{id}/mfa",
    ];
    // Every admin may secure their own account.
    let own_mfa = [
        "/v1/admin/mfa/totp/enroll",
        "/v1/admin/mfa/totp/confirm",
        "/v1/admin/mfa/totp",
    ];
    let reads_by_post = [
        "/v1/db/{collection}/query",
        "/v1/db/{collection}/count",
        "/v1/admin/rules/evaluate",
        "/v1/admin/rules/cases/{collection}/run",
        "/v1/storage/{bucket}/{path}",
    ];
    if owner_only.contains(&path) {
        AdminRole::Owner
    } else if own_mfa.contains(&path) {
        AdminRole::Viewer
    } else if path == "/v1/admin/outbox" {
        // Mails carry sign-in tokens.
        AdminRole::Developer
    } else if method == "get" || (method == "post" && reads_by_post.contains(&path)) {
        AdminRole::Viewer
    } else {
        AdminRole::Developer
    }
}

fn role_refusal(res: &common::Resp) -> bool {
    res.status == 403
        && res.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("role"))
}

async fn roles_on_every_admin_route(s: &TestServer) {
    let viewer = sign_in(s, "viewer@example.com", AdminRole::Viewer).await;
    let developer = sign_in(s, "dev@example.com", AdminRole::Developer).await;
    let owner = sign_in(s, "owner@example.com", AdminRole::Owner).await;
    let key = s
        .post("/v1/admin/keys", Some(&owner), json!({"name": "ci"}))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers = [
        (AdminRole::Viewer, viewer.as_str()),
        (AdminRole::Developer, developer.as_str()),
        (AdminRole::Owner, owner.as_str()),
        // Service keys act as developers.
        (AdminRole::Developer, key.as_str()),
    ];
    let doc = s.get("/v1/openapi.json", None).await.json();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let access = op["x-basalt-access"].as_str().unwrap();
            if access != "admin" && access != "caller" {
                assert!(op.get("x-basalt-role").is_none(), "{method} {path}");
                continue;
            }
            // Routes that end the caller's own session would spoil the rest.
            if path == "/v1/realtime" {
                continue;
            }
            let declared = AdminRole::parse(op["x-basalt-role"].as_str().unwrap()).unwrap();
            assert_eq!(declared, expected_role(method, path), "{method} {path}");
            let concrete = path
                .replace("{id}", "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
                .replace("{collection}", "nosuch")
                .replace("{bucket}", "nosuch")
                .replace("{path}", "a.txt")
                .replace("{pattern}", "nosuch:*")
                .replace("{name}", "nosuch");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (role, token) in callers {
                let body = matches!(m, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
                let res = s.request(m.clone(), &concrete, Some(token), body).await;
                assert_eq!(
                    role_refusal(&res),
                    role < declared,
                    "{method} {path} as {}: {} {}",
                    role.as_str(),
                    res.status,
                    res.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} operations checked");
    // A viewer reads documents but cannot write them.
    s.post(
        "/v1/db/collections",
        Some(&developer),
        json!({"name": "notes", "rules": {}}),
    )
    .await
    .expect(201, None);
    s.post("/v1/db/notes", Some(&viewer), json!({"data": {"a": 1}}))
        .await
        .expect(403, Some("permission_denied"));
    let made = s
        .post("/v1/db/notes", Some(&developer), json!({"data": {"a": 1}}))
        .await;
    made.expect(201, None);
    let id = made.json()["id"].as_str().unwrap().to_owned();
    s.get(&format!("/v1/db/notes/{id}"), Some(&viewer))
        .await
        .expect(200, None);
    s.post("/v1/db/notes/query", Some(&viewer), json!({}))
        .await
        .expect(200, None);
    // Viewers do not see secrets: the outbox and service keys are closed.
    s.get("/v1/admin/outbox", Some(&viewer))
        .await
        .expect(403, Some("permission_denied"));
}

async fn admins_are_managed_by_owners(s: &TestServer) {
    let owner = s.admin_token().await;
    let made = s
        .post(
            "/v1/admin/admins",
            Some(&owner),
            json!({"email": "Dev@Example.com", "password": PASSWORD, "role": "developer"}),
        )
        .await;
    made.expect(201, None);
    let dev = made.json();
    assert_eq!(dev["email"], "dev@example.com");
    assert_eq!(dev["role"], "developer");
    assert!(dev.get("password").is_none() && dev.get("password_hash").is_none());
    let dev_id = dev["id"].as_str().unwrap().to_owned();
    // Bad input.
    for bad in [
        json!({"email": "x@example.com", "password": PASSWORD, "role": "god"}),
        json!({"email": "not an email", "password": PASSWORD, "role": "viewer"}),
        json!({"email": "x@example.com", "password": "short", "role": "viewer"}),
        json!({"email": "x@example.com", "password": PASSWORD}),
        json!({"email": "x@example.com", "password": PASSWORD, "role": "viewer", "extra": 1}),
    ] {
        s.post("/v1/admin/admins", Some(&owner), bad)
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.post(
        "/v1/admin/admins",
        Some(&owner),
        json!({"email": "dev@example.com", "password": PASSWORD, "role": "viewer"}),
    )
    .await
    .expect(409, Some("already_exists"));
    let list = s.get("/v1/admin/admins", Some(&owner)).await;
    list.expect(200, None);
    let roles: BTreeMap<String, String> = list.json()["admins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["email"].as_str().unwrap().to_owned(),
                a["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(roles["root@example.com"], "owner");
    assert_eq!(roles["dev@example.com"], "developer");

    // The developer signs in, sees themselves, and cannot manage admins.
    let dev_token = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "dev@example.com", "password": PASSWORD}),
        )
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = s.get("/v1/admin/me", Some(&dev_token)).await;
    me.expect(200, None);
    assert_eq!(me.json()["role"], "developer");
    s.get("/v1/admin/admins", Some(&dev_token))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/admin/keys", Some(&dev_token))
        .await
        .expect(403, Some("permission_denied"));
    s.post(
        "/v1/admin/rules/evaluate",
        Some(&dev_token),
        json!({"rule": "true"}),
    )
    .await
    .expect(200, None);

    // A role change applies to the tokens the admin holds at once.
    s.patch(
        &format!("/v1/admin/admins/{dev_id}"),
        Some(&owner),
        json!({"role": "viewer"}),
    )
    .await
    .expect(200, None);
    s.post(
        "/v1/db/collections",
        Some(&dev_token),
        json!({"name": "after", "rules": {}}),
    )
    .await
    .expect(403, Some("permission_denied"));
    s.get("/v1/admin/stats", Some(&dev_token)).await.expect(200, None);
    // A new password signs them out.
    s.patch(
        &format!("/v1/admin/admins/{dev_id}"),
        Some(&owner),
        json!({"password": "a whole new password"}),
    )
    .await
    .expect(200, None);
    s.get("/v1/admin/stats", Some(&dev_token))
        .await
        .expect(401, Some("unauthenticated"));

    // The last owner stays an owner, and cannot be deleted.
    let root_id = s.get("/v1/admin/me", Some(&owner)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.patch(
        &format!("/v1/admin/admins/{root_id}"),
        Some(&owner),
        json!({"role": "developer"}),
    )
    .await
    .expect(412, Some("failed_precondition"));
    s.delete(&format!("/v1/admin/admins/{root_id}"), Some(&owner))
        .await
        .expect(412, Some("failed_precondition"));
    s.patch(
        "/v1/admin/admins/01ZZZZZZZZZZZZZZZZZZZZZZZZ",
        Some(&owner),
        json!({"role": "viewer"}),
    )
    .await
    .expect(404, Some("not_found"));
    s.delete(&format!("/v1/admin/admins/{dev_id}"), Some(&owner))
        .await
        .expect(204, None);
    s.delete(&format!("/v1/admin/admins/{dev_id}"), Some(&owner))
        .await
        .expect(404, Some("not_found"));
}

async fn entries(s: &TestServer, token: &str, query: &str) -> (Vec<Value>, Option<String>) {
    let res = s.get(&format!("/v1/admin/logs?{query}"), Some(token)).await;
    res.expect(200, None);
    let body = res.json();
    (
        body["entries"].as_array().unwrap().clone(),
        body["next_cursor"].as_str().map(str::to_owned),
    )
}

async fn logs_are_filtered_and_paged(s: &TestServer) {
    let admin = s.admin_token().await;
    let admin_id = s.get("/v1/admin/me", Some(&admin)).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = basalt_core::Timestamp::now();
    for i in 0..5 {
        s.get(&format!("/missing/{i}?token=secret-in-query"), None).await;
    }
    for _ in 0..3 {
        s.get("/v1/health", None).await;
    }
    s.get("/v1/admin/stats", Some(&admin)).await.expect(200, None);
    s.state.request_log.flush(Duration::from_secs(5)).await;

    let (missing, _) = entries(s, &admin, "status=404&limit=100").await;
    assert_eq!(missing.len(), 5, "{missing:?}");
    for e in &missing {
        assert_eq!(e["route"], "unmatched");
        assert_eq!(e["error"], "not_found");
        assert_eq!(e["method"], "GET");
        assert_eq!(e["caller"]["kind"], "anon");
        assert!(e["path"].as_str().unwrap().starts_with("/missing/"));
        // Query strings can carry secrets: never kept.
        assert!(!e.to_string().contains("secret-in-query"));
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(e["request_id"].as_str().unwrap().len(), 26);
    }
    // Newest first.
    let paths: Vec<&str> = missing.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/missing/4",
            "/missing/3",
            "/missing/2",
            "/missing/1",
            "/missing/0"
        ]
    );
    assert_eq!(entries(s, &admin, "status=4xx").await.0.len(), 5);
    let (health, _) = entries(s, &admin, "route=/v1/health").await;
    assert_eq!(health.len(), 3);
    assert!(
        health
            .iter()
            .all(|e| e["status"] == 200 && e.get("error").is_none())
    );
    let (mine, _) = entries(s, &admin, &format!("caller=admin:{admin_id}")).await;
    assert!(mine.iter().any(|e| e["route"] == "/v1/admin/stats"), "{mine:?}");
    assert!(mine.iter().all(|e| e["caller"]["id"] == admin_id.as_str()));
    assert_eq!(entries(s, &admin, "q=missing/3").await.0.len(), 1);
    // `q` is a substring, not a pattern.
    assert_eq!(entries(s, &admin, "q=missing%25").await.0.len(), 0);
    let request_id = missing[0]["request_id"].as_str().unwrap();
    assert_eq!(entries(s, &admin, &format!("q={request_id}")).await.0.len(), 1);
    assert_eq!(entries(s, &admin, "method=POST&status=404").await.0.len(), 0);
    let since = before.to_string();
    assert!(
        entries(s, &admin, &format!("since={since}&status=404"))
            .await
            .0
            .len()
            == 5
    );
    assert_eq!(
        entries(s, &admin, &format!("until={since}&status=404"))
            .await
            .0
            .len(),
        0
    );

    // Paging visits every entry once, newest first.
    let (all, _) = entries(s, &admin, "limit=1000").await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("limit=2&after={a}"),
            None => "limit=2".to_owned(),
        };
        let (page, next) = entries(s, &admin, &q).await;
        seen.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(seen.len() < 10_000);
    }
    let ids: Vec<String> = all.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    // Entries logged after `all` was read are newer: they come first.
    assert!(seen.len() >= ids.len());
    assert_eq!(&seen[seen.len() - ids.len()..], &ids[..]);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // Bad filters.
    for bad in [
        "status=600",
        "status=abc",
        "status=9xx",
        "caller=root",
        "method=get",
        "limit=0",
        "limit=1001",
        "since=yesterday",
        "unknown=1",
    ] {
        s.get(&format!("/v1/admin/logs?{bad}"), Some(&admin))
            .await
            .expect(400, Some("invalid_argument"));
    }
    // Retention: a sweep removes what is older than `log_retention`.
    assert!(s.state.request_log.sweep().await.is_ok());
    assert_eq!(entries(s, &admin, "status=404").await.0.len(), 5);
    // No wait: a request is listed by a read made right after it.
    let just = s.get("/just-now", None).await;
    let rid = just.header("x-request-id").unwrap().to_owned();
    let (latest, _) = entries(s, &admin, "status=404&limit=1").await;
    assert_eq!(latest[0]["request_id"], rid.as_str(), "{latest:?}");
}

on_both_backends!(retention_sweeps_old_entries);

async fn retention_sweeps_old_entries(s: &TestServer) {
    let admin = s.admin_token().await;
    let short = TestServer::start_with(s.backend, |c| c.log_retention = Duration::from_secs(1)).await;
    let Some(short) = short else { return };
    let admin2 = short.admin_token().await;
    for _ in 0..4 {
        short.get("/gone", None).await;
    }
    short.state.request_log.flush(Duration::from_secs(5)).await;
    assert_eq!(entries(&short, &admin2, "status=404").await.0.len(), 4);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    short.state.request_log.sweep().await.unwrap();
    assert_eq!(entries(&short, &admin2, "status=404").await.0.len(), 0);
    short.stop().await;
    // The first server's log is untouched.
    s.get("/kept", None).await;
    s.state.request_log.flush(Duration::from_secs(5)).await;
    assert_eq!(entries(s, &admin, "status=404").await.0.len(), 1);
}

async fn series_count_requests(s: &TestServer) {
    let admin = s.admin_token().await;
    for _ in 0..7 {
        s.get("/v1/health", None).await;
    }
    for _ in 0..2 {
        s.get("/nothing-here", None).await;
    }
    // No wait: a chart read right after the requests counts them.
    let res = s
        .get("/v1/admin/stats/series?metric=requests&range=1h", Some(&admin))
        .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["step_minutes"], 1);
    let points = body["points"].as_array().unwrap().clone();
    assert_eq!(points.len(), 60);
    let total: f64 = points.iter().map(|p| p["value"].as_f64().unwrap()).sum();
    // 7 + 2 + the admin's sign-in, and maybe the series reads themselves.
    assert!(total >= 10.0, "{total}");
    let client_errors: f64 = s
        .get("/v1/admin/stats/series?metric=client_errors", Some(&admin))
        .await
        .json()["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum();
    assert_eq!(client_errors, 2.0);
    let errors = s
        .get("/v1/admin/stats/series?metric=errors", Some(&admin))
        .await
        .json();
    assert!(
        errors["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["value"] == 0.0)
    );
    let p95 = s
        .get("/v1/admin/stats/series?metric=latency_p95", Some(&admin))
        .await
        .json();
    let last = p95["points"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|p| !p["value"].is_null());
    assert!(last.is_some_and(|p| p["value"].as_f64().unwrap() > 0.0), "{p95}");
    for (range, n, step) in [("24h", 96, 15), ("7d", 168, 60)] {
        let body = s
            .get(
                &format!("/v1/admin/stats/series?metric=requests&range={range}"),
                Some(&admin),
            )
            .await
            .json();
        assert_eq!(body["points"].as_array().unwrap().len(), n);
        assert_eq!(body["step_minutes"], step);
    }
    for bad in ["metric=cpu", "metric=requests&range=1y", "range=1h"] {
        s.get(&format!("/v1/admin/stats/series?{bad}"), Some(&admin))
            .await
            .expect(400, Some("invalid_argument"));
    }
}

async fn audit_records_changes_without_secrets(s: &TestServer) {
    let admin = s.admin_token().await;
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "posts", "rules": {"read": "true"}}),
    )
    .await
    .expect(201, None);
    s.patch(
        "/v1/db/collections/posts",
        Some(&admin),
        json!({"rules": {"read": "auth != ()"}, "indexes": [{"fields": [["title", "asc"]]}]}),
    )
    .await
    .expect(200, None);
    let key = s
        .post("/v1/admin/keys", Some(&admin), json!({"name": "worker"}))
        .await;
    key.expect(201, None);
    let secret = key.json()["key"].as_str().unwrap().to_owned();
    let key_id = key.json()["id"].as_str().unwrap().to_owned();
    // A change made with the service key is recorded as the key's.
    s.post("/v1/storage/buckets", Some(&secret), json!({"name": "avatars"}))
        .await
        .expect(201, None);
    s.put(
        "/v1/admin/channels/room:*",
        Some(&admin),
        json!({"join": "auth != ()"}),
    )
    .await
    .expect(200, None);
    let user = s
        .post(
            "/v1/admin/users",
            Some(&admin),
            json!({"email": "u@example.com", "password": "user password 1"}),
        )
        .await;
    user.expect(201, None);
    let uid = user.json()["id"].as_str().unwrap().to_owned();
    s.patch(
        &format!("/v1/admin/users/{uid}"),
        Some(&admin),
        json!({"password": "another user password", "claims": {"plan": "pro"}}),
    )
    .await
    .expect(200, None);
    s.delete(&format!("/v1/admin/keys/{key_id}"), Some(&admin))
        .await
        .expect(204, None);
    s.delete("/v1/db/collections/posts", Some(&admin))
        .await
        .expect(204, None);
    // A refused change records nothing.
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "bad", "rules": {"read": "(("}}),
    )
    .await
    .expect(400, Some("invalid_argument"));

    let res = s.get("/v1/admin/audit?limit=100", Some(&admin)).await;
    res.expect(200, None);
    let body = res.json();
    let list = body["entries"].as_array().unwrap();
    let actions: Vec<&str> = list.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "collection.delete",
            "key.revoke",
            "user.update",
            "user.create",
            "channel.put",
            "bucket.create",
            "key.create",
            "collection.update",
            "collection.create",
            "admin.create",
        ]
    );
    let by = |action: &str| list.iter().find(|e| e["action"] == action).unwrap().clone();
    let update = by("collection.update");
    assert_eq!(update["target"], "posts");
    assert_eq!(update["before"]["rules"]["read"], "true");
    assert_eq!(update["after"]["rules"]["read"], "auth != ()");
    assert_eq!(update["after"]["indexes"][0]["fields"][0][0], "title");
    assert_eq!(update["admin"]["kind"], "admin");
    assert_eq!(update["admin"]["email"], "root@example.com");
    let bucket = by("bucket.create");
    assert_eq!(bucket["admin"]["kind"], "service");
    assert_eq!(bucket["admin"]["id"], key_id.as_str());
    assert_eq!(bucket["admin"]["email"], "worker");
    assert_eq!(by("admin.create")["admin"]["kind"], "cli");
    let user_update = by("user.update");
    assert_eq!(user_update["after"]["claims"]["plan"], "pro");
    assert_eq!(user_update["after"]["password"], "changed");
    assert!(by("collection.delete")["after"].is_null());
    assert_eq!(by("key.revoke")["before"]["name"], "worker");
    // Never a secret: not the key, not a password, not a hash.
    let text = body.to_string();
    let key_secret = secret.rsplit('_').next().unwrap();
    for secret in [
        key_secret,
        "user password 1",
        "another user password",
        PASSWORD,
        "$argon2",
    ] {
        assert!(!text.contains(secret), "the audit log holds `{secret}`");
    }
    // Paging and the action filter.
    let page = s.get("/v1/admin/audit?limit=3", Some(&admin)).await.json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = s
        .get(&format!("/v1/admin/audit?limit=100&after={next}"), Some(&admin))
        .await
        .json();
    assert_eq!(rest["entries"].as_array().unwrap().len(), list.len() - 3);
    let collections = s
        .get("/v1/admin/audit?action=collection.", Some(&admin))
        .await
        .json();
    assert_eq!(collections["entries"].as_array().unwrap().len(), 3);
    s.get("/v1/admin/audit?limit=0", Some(&admin))
        .await
        .expect(400, Some("invalid_argument"));
}

async fn long_and_many_paths_stay_bounded(s: &TestServer) {
    let capped = TestServer::start_with(s.backend, |c| c.log_max_entries = 100).await;
    let Some(capped) = capped else { return };
    let admin = capped.admin_token().await;
    let long = format!("/{}", "a".repeat(8000));
    capped.get(&long, None).await.expect(404, Some("not_found"));
    // Many distinct paths: one metrics label, at most `log_max_entries` rows.
    for i in 0..300 {
        capped.get(&format!("/distinct/{i}"), None).await;
    }
    capped.state.request_log.flush(Duration::from_secs(10)).await;
    let (stored, _) = entries(&capped, &admin, "q=aaaa&limit=10").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["path"].as_str().unwrap().len(), basalt_logs::MAX_PATH);
    capped.state.request_log.sweep().await.unwrap();
    let (all, next) = entries(&capped, &admin, "limit=1000").await;
    assert!(all.len() <= 101, "{}", all.len());
    assert!(next.is_none());
    let metrics = capped.get("/metrics", None).await.text;
    assert!(!metrics.contains("distinct/1"));
    assert!(metrics.contains("basalt_request_log_written_total"));
    capped.stop().await;
}

on_both_backends!(a_held_or_failing_store_never_slows_requests);

/// Health checks for `hold`; none may take half a second.
async fn requests_stay_fast(s: &TestServer, hold: Duration) {
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < hold {
        let t = Instant::now();
        s.get("/v1/health", None).await.expect(200, None);
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < Duration::from_millis(500), "a request took {slowest:?}");
}

/// The API answers the same while the log store is locked by someone else
/// and while it refuses every write; the failures show in `/metrics`.
async fn a_held_or_failing_store_never_slows_requests(s: &TestServer) {
    s.get("/v1/health", None).await.expect(200, None);
    s.state.request_log.flush(Duration::from_secs(5)).await;
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let hold = Duration::from_secs(3);
    match s.backend {
        Backend::Sqlite => {
            // Another process holds the write lock of logs.db.
            let path = s.dir.path().join("logs.db");
            let url = format!("sqlite:{}", path.display());
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
            requests_stay_fast(s, hold).await;
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let url = s.pg.as_ref().unwrap().url();
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE request_log IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            requests_stay_fast(s, hold).await;
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            // Now make every write fail.
            sqlx::query("ALTER TABLE request_log ADD CONSTRAINT refuse_all CHECK (status < 0) NOT VALID")
                .execute(&mut conn)
                .await
                .unwrap();
            let before = metric(
                &s.get("/metrics", None).await.text,
                "basalt_request_log_write_errors_total",
            );
            for _ in 0..50 {
                s.get("/v1/health", None).await.expect(200, None);
            }
            s.state.request_log.flush(Duration::from_secs(5)).await;
            let text = s.get("/metrics", None).await.text;
            assert!(
                metric(&text, "basalt_request_log_write_errors_total") > before,
                "{text}"
            );
            assert!(metric(&text, "basalt_request_log_dropped_total") >= 50);
        }
    }
    // Once the lock is gone the entries that waited are written.
    s.state.request_log.flush(Duration::from_secs(10)).await;
    let text = s.get("/metrics", None).await.text;
    assert_eq!(metric(&text, "basalt_request_log_queue_depth"), 0);
    assert!(metric(&text, "basalt_request_log_written_total") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unopenable_store_never_breaks_requests() {
    // logs.db is a directory: the store cannot open, requests go on.
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        std::fs::create_dir_all(c.data_dir.join("logs.db")).unwrap();
    })
    .await
    .unwrap();
    for _ in 0..20 {
        server.get("/v1/health", None).await.expect(200, None);
    }
    server.state.request_log.flush(Duration::from_secs(5)).await;
    let admin = server.admin_token().await;
    server
        .get("/v1/admin/logs", Some(&admin))
        .await
        .expect(503, Some("unavailable"));
    let text = server.get("/metrics", None).await.text;
    let dropped: u64 = text
        .lines()
        .find(|l| l.starts_with("basalt_request_log_dropped_total "))
        .and_then(|l| l.split(' ').nth(1)?.parse().ok())
        .unwrap();
    assert!(dropped >= 20, "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_can_be_turned_off() {
    let server = TestServer::start_with(Backend::Sqlite, |c| c.request_log = false)
        .await
        .unwrap();
    let admin = server.admin_token().await;
    server.get("/v1/health", None).await.expect(200, None);
    let (list, next) = entries(&server, &admin, "").await;
    assert!(list.is_empty() && next.is_none());
    assert!(!server.dir.path().join("logs.db").exists());
    server.stop().await;
}

/// Two nodes on one PostgreSQL database: each keeps its own per-minute
/// counts, and either node's log and charts show both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_log_and_the_charts() {
    let Some(a) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    let b = a.another_node().await;
    let admin = a.admin_token().await;
    for _ in 0..3 {
        a.get("/missing-on-a", None).await.expect(404, None);
    }
    for _ in 0..4 {
        b.get("/missing-on-b", None).await.expect(404, None);
    }
    for node in [&a, &b] {
        node.state.request_log.flush(Duration::from_secs(5)).await;
    }
    for node in [&a, &b] {
        // Per-minute counts are written once a second by each node.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let res = node
                .get(
                    "/v1/admin/stats/series?metric=client_errors&range=1h",
                    Some(&admin),
                )
                .await;
            res.expect(200, None);
            let total: f64 = res.json()["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["value"].as_f64().unwrap())
                .sum();
            if total == 7.0 {
                break;
            }
            assert!(
                Instant::now() < deadline && total < 7.0,
                "client errors on one node: {total}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = node.get("/v1/admin/logs?status=404", Some(&admin)).await;
        logs.expect(200, None);
        let mut paths: Vec<String> = logs.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            [vec!["/missing-on-a"; 3], vec!["/missing-on-b"; 4]].concat(),
            "either node lists both nodes' requests"
        );
    }
    b.stop().await;
    a.stop().await;
}

/// The status line of a raw HTTP/1.1 request (or 0 when the server just
/// closed the connection).
async fn raw_status(s: &TestServer, head: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.url.trim_start_matches("http://"))
        .await
        .unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

on_both_backends!(hostile_heads_never_reach_the_log);

/// A 1 MiB path and a flood of headers are refused by the HTTP layer; the
/// log keeps nothing longer than its path limit, and metrics grow no label.
async fn hostile_heads_never_reach_the_log(s: &TestServer) {
    let admin = s.admin_token().await;
    let huge = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(1 << 20));
    let status = raw_status(s, huge.as_bytes()).await;
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    let mut flood = String::from("GET /v1/health HTTP/1.1\r\nhost: x\r\n");
    for i in 0..10_000 {
        flood.push_str(&format!("x-flood-{i}: {i}\r\n"));
    }
    flood.push_str("\r\n");
    let status = raw_status(s, flood.as_bytes()).await;
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    // The server goes on, and what it logged is bounded.
    s.get("/v1/health", None).await.expect(200, None);
    s.state.request_log.flush(Duration::from_secs(10)).await;
    let (all, _) = entries(s, &admin, "limit=1000").await;
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|e| e["path"].as_str().unwrap().len() <= basalt_logs::MAX_PATH)
    );
    let metrics = s.get("/metrics", None).await.text;
    assert!(!metrics.contains("aaaaaaaa") && !metrics.contains("x-flood"));
}
