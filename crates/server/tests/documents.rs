//! The document store through HTTP on a real server: collections, documents,
//! queries, rules, batches, schema, unique indexes, the change feed, and
//! hostile input; every scenario on SQLite and on PostgreSQL.

mod common;

use std::collections::HashSet;

use common::{Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    collections_are_managed_by_admins,
    documents_round_trip,
    every_patch_transform,
    optimistic_concurrency,
    schemas_refuse_bad_data,
    unique_indexes,
    queries_filter_order_select,
    paging_is_exactly_once_under_inserts,
    rules_keep_users_apart,
    batches_are_all_or_nothing,
    change_feed_is_commit_ordered,
    concurrent_writes_share_commits,
    hostile_input,
    indexes_serve_queries,
    reads_follow_writes,
    existence_is_hidden_from_denied_callers
);

async fn user(s: &TestServer, email: &str) -> (String, String) {
    s.signup(email).await
}

async fn send(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = s.client.request(method, format!("{}{path}", s.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestServer::read(req).await
}

async fn collection(s: &TestServer, admin: &str, body: Value) {
    s.post("/v1/db/collections", Some(admin), body)
        .await
        .expect(201, None);
}

async fn create(s: &TestServer, token: Option<&str>, c: &str, body: Value) -> Value {
    let res = s.post(&format!("/v1/db/{c}"), token, body).await;
    res.expect(201, None);
    res.json()
}

async fn query(s: &TestServer, token: Option<&str>, c: &str, q: Value) -> Value {
    let res = s.post(&format!("/v1/db/{c}/query"), token, q).await;
    res.expect(200, None);
    res.json()
}

fn ids(page: &Value) -> Vec<String> {
    page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn collections_are_managed_by_admins(s: &TestServer) {
    let admin = s.admin_token().await;
    let (user_token, _) = user(s, "u@example.com").await;
    let res = s
        .post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": "posts", "rules": {"read": "true"}, "indexes": [{"fields": [["age", "asc"], ["city", "desc"]]}]}),
        )
        .await;
    res.expect(201, None);
    let c = res.json();
    assert_eq!(c["name"], "posts");
    assert_eq!(c["rules"], json!({"read": "true"}));
    assert_eq!(
        c["indexes"][0]["fields"],
        json!([["age", "asc"], ["city", "desc"]])
    );
    assert_eq!(c["schema"], Value::Null);
    s.post("/v1/db/collections", Some(&admin), json!({"name": "posts"}))
        .await
        .expect(409, Some("already_exists"));
    for bad in [
        "Posts",
        "posts; DROP TABLE users",
        "1x",
        "",
        "batch",
        "collections",
        "a\"b",
    ] {
        s.post("/v1/db/collections", Some(&admin), json!({"name": bad}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    let res = s
        .post(
            "/v1/db/collections",
            Some(&admin),
            json!({"name": "bad", "rules": {"read": "true", "update": "true &&\n  auth.uid =="}}),
        )
        .await;
    res.expect(400, Some("invalid_argument"));
    // The error says which rule, and where in it.
    let details = &res.json()["error"]["details"];
    assert_eq!(details["rule"], "update", "{}", res.text);
    assert_eq!(details["line"], 2, "{}", res.text);
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "bad", "schema": {"type": "text"}}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "bad", "indexes": [{"fields": [["a;b", "asc"]]}]}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    // Only admins and service keys manage collections.
    s.get("/v1/db/collections", None)
        .await
        .expect(401, Some("unauthenticated"));
    s.get("/v1/db/collections", Some(&user_token))
        .await
        .expect(403, Some("permission_denied"));
    let list = s.get("/v1/db/collections", Some(&admin)).await;
    list.expect(200, None);
    assert_eq!(list.json()["collections"].as_array().unwrap().len(), 1);
    // Patch: a rule, the schema, the indexes.
    let res = send(
        s,
        Method::PATCH,
        "/v1/db/collections/posts",
        Some(&admin),
        Some(json!({"rules": {"read": "true", "create": "true"}, "schema": {"type": "object", "required": ["title"]}, "indexes": [{"fields": [["title", "asc"]], "unique": true}]})),
        &[],
    )
    .await;
    res.expect(200, None);
    assert_eq!(res.json()["schema"]["required"], json!(["title"]));
    create(s, None, "posts", json!({"data": {"title": "a"}})).await;
    s.post("/v1/db/posts", None, json!({"data": {"title": "a"}}))
        .await
        .expect(409, Some("already_exists"));
    let res = send(
        s,
        Method::PATCH,
        "/v1/db/collections/posts",
        Some(&admin),
        Some(json!({"schema": null})),
        &[],
    )
    .await;
    res.expect(200, None);
    assert_eq!(res.json()["schema"], Value::Null);
    assert_eq!(res.json()["indexes"][0]["unique"], true);
    // Delete removes the documents too.
    s.delete("/v1/db/collections/posts", Some(&admin))
        .await
        .expect(204, None);
    s.get("/v1/db/collections/posts", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.get("/v1/db/posts/x", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    collection(s, &admin, json!({"name": "posts"})).await;
    let page = query(s, Some(&admin), "posts", json!({})).await;
    assert_eq!(ids(&page).len(), 0, "a re-created collection starts empty");
    let stats = s.get("/v1/admin/stats", Some(&admin)).await;
    stats.expect(200, None);
    assert_eq!(stats.json()["collections"], 1);
    assert_eq!(stats.json()["users"], 1);
}

async fn documents_round_trip(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "notes", "rules": {"read": "true", "create": "true", "update": "true", "delete": "true"}})).await;
    let a = create(s, None, "notes", json!({"data": {"text": "first", "n": 1}})).await;
    let b = create(s, None, "notes", json!({"data": {"text": "second", "n": 2}})).await;
    assert_eq!(a["collection"], "notes");
    assert_eq!(a["version"], 1);
    assert_eq!(a["created_at"], a["updated_at"]);
    let (ida, idb) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    assert!(ida < idb, "generated ids sort by creation");
    let res = s.get(&format!("/v1/db/notes/{ida}"), None).await;
    res.expect(200, None);
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(res.json(), a);
    let res = send(
        s,
        Method::GET,
        &format!("/v1/db/notes/{ida}"),
        None,
        None,
        &[("if-none-match", "\"1\"")],
    )
    .await;
    assert_eq!(res.status, 304);
    // A given id; taken → 409.
    let c = create(
        s,
        None,
        "notes",
        json!({"id": "my-note_1", "data": {"text": "mine"}}),
    )
    .await;
    assert_eq!(c["id"], "my-note_1");
    s.post("/v1/db/notes", None, json!({"id": "my-note_1", "data": {}}))
        .await
        .expect(409, Some("already_exists"));
    // PUT creates (201) then replaces (200), version + 1, created_at kept.
    let res = send(
        s,
        Method::PUT,
        "/v1/db/notes/put-me",
        None,
        Some(json!({"data": {"v": 1}})),
        &[],
    )
    .await;
    res.expect(201, None);
    let res = send(
        s,
        Method::PUT,
        "/v1/db/notes/put-me",
        None,
        Some(json!({"data": {"w": 2}})),
        &[],
    )
    .await;
    res.expect(200, None);
    let put = res.json();
    assert_eq!(put["version"], 2);
    assert_eq!(put["data"], json!({"w": 2}), "PUT replaces");
    assert_eq!(res.header("etag"), Some("\"2\""));
    // Listing by id, and by a field.
    let res = s.get("/v1/db/notes?limit=2", None).await;
    res.expect(200, None);
    let page = res.json();
    assert_eq!(ids(&page), vec![ida.to_owned(), idb.to_owned()]);
    let next = page["next_cursor"].as_str().unwrap();
    let res = s.get(&format!("/v1/db/notes?limit=2&after={next}"), None).await;
    assert_eq!(ids(&res.json()), vec!["my-note_1", "put-me"]);
    assert_eq!(res.json()["next_cursor"], Value::Null);
    let res = s.get("/v1/db/notes?order=-n", None).await;
    assert_eq!(ids(&res.json())[..2], [idb.to_owned(), ida.to_owned()]);
    // Delete.
    s.delete(&format!("/v1/db/notes/{ida}"), None)
        .await
        .expect(204, None);
    s.get(&format!("/v1/db/notes/{ida}"), None)
        .await
        .expect(404, Some("not_found"));
    s.delete(&format!("/v1/db/notes/{ida}"), None)
        .await
        .expect(404, Some("not_found"));
    send(
        s,
        Method::PATCH,
        &format!("/v1/db/notes/{ida}"),
        None,
        Some(json!({"data": {}})),
        &[],
    )
    .await
    .expect(404, Some("not_found"));
    s.get("/v1/db/nothing/x", None)
        .await
        .expect(404, Some("not_found"));
    let count = s
        .post("/v1/db/notes/count", None, json!({"where": [["n", ">", 0]]}))
        .await;
    count.expect(200, None);
    assert_eq!(count.json()["count"], 1);
}

async fn every_patch_transform(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "t"})).await;
    create(s, Some(&admin), "t", json!({"id": "d", "data": {"title": "hi", "likes": 1, "stats": {"views": 10}, "tags": ["a", "b"], "labels": ["a", "b", "a"], "gone": true, "nested": {"keep": 1, "drop": 2}}})).await;
    let res = send(
        s,
        Method::PATCH,
        "/v1/db/t/d",
        Some(&admin),
        Some(json!({
            "data": {"title": "hello", "gone": null, "nested": {"drop": null, "new": 3}},
            "increment": {"likes": 2, "stats.views": 0.5, "stats.fresh": 1},
            "server_time": ["seen_at", "stats.at"],
            "array_union": {"tags": ["b", "c"]},
            "array_remove": {"labels": ["a"]}
        })),
        &[],
    )
    .await;
    res.expect(200, None);
    let d = res.json();
    assert_eq!(d["version"], 2);
    let data = &d["data"];
    assert_eq!(data["title"], "hello");
    assert_eq!(data.get("gone"), None, "null in a merge patch removes");
    assert_eq!(data["nested"], json!({"keep": 1, "new": 3}));
    assert_eq!(data["likes"], 3);
    assert_eq!(data["stats"]["views"], 10.5);
    assert_eq!(data["stats"]["fresh"], 1);
    assert_eq!(data["tags"], json!(["a", "b", "c"]));
    assert_eq!(data["labels"], json!(["b"]));
    assert_eq!(
        data["seen_at"], d["updated_at"],
        "server_time is the write's time"
    );
    assert_eq!(data["stats"]["at"], d["updated_at"]);
    // Bad transforms are refused and change nothing.
    for bad in [
        json!({"increment": {"title": 1}}),
        json!({"increment": {"likes": "1"}}),
        json!({"array_union": {"title": ["x"]}}),
        json!({"server_time": ["a..b"]}),
        json!({"unknown": 1}),
        json!({"data": [1]}),
    ] {
        send(
            s,
            Method::PATCH,
            "/v1/db/t/d",
            Some(&admin),
            Some(bad.clone()),
            &[],
        )
        .await
        .expect(400, Some("invalid_argument"));
    }
    let res = s.get("/v1/db/t/d", Some(&admin)).await;
    assert_eq!(res.json()["version"], 2);
}

async fn optimistic_concurrency(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "c"})).await;
    create(s, Some(&admin), "c", json!({"id": "x", "data": {"n": 0}})).await;
    let ok = send(
        s,
        Method::PATCH,
        "/v1/db/c/x",
        Some(&admin),
        Some(json!({"increment": {"n": 1}})),
        &[("if-match", "\"1\"")],
    )
    .await;
    ok.expect(200, None);
    send(
        s,
        Method::PATCH,
        "/v1/db/c/x",
        Some(&admin),
        Some(json!({"increment": {"n": 1}})),
        &[("if-match", "\"1\"")],
    )
    .await
    .expect(412, Some("failed_precondition"));
    send(
        s,
        Method::PUT,
        "/v1/db/c/x",
        Some(&admin),
        Some(json!({"data": {}})),
        &[("if-match", "\"7\"")],
    )
    .await
    .expect(412, Some("failed_precondition"));
    send(
        s,
        Method::DELETE,
        "/v1/db/c/x",
        Some(&admin),
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .expect(412, Some("failed_precondition"));
    send(
        s,
        Method::PUT,
        "/v1/db/c/new",
        Some(&admin),
        Some(json!({"data": {}})),
        &[("if-match", "\"1\"")],
    )
    .await
    .expect(412, Some("failed_precondition"));
    send(
        s,
        Method::DELETE,
        "/v1/db/c/x",
        Some(&admin),
        None,
        &[("if-match", "soon")],
    )
    .await
    .expect(400, Some("invalid_argument"));
    // `*`: any version, but the document must exist.
    send(
        s,
        Method::PUT,
        "/v1/db/c/star",
        Some(&admin),
        Some(json!({"data": {}})),
        &[("if-match", "*")],
    )
    .await
    .expect(412, Some("failed_precondition"));
    send(
        s,
        Method::PATCH,
        "/v1/db/c/x",
        Some(&admin),
        Some(json!({"data": {"star": true}})),
        &[("if-match", "*")],
    )
    .await
    .expect(200, None);
    send(
        s,
        Method::PATCH,
        "/v1/db/c/x",
        Some(&admin),
        Some(json!({"data": {"star": false}})),
        &[("if-match", "\"-1\"")],
    )
    .await
    .expect(400, Some("invalid_argument"));
    // Concurrent increments: none is lost, each is one version.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = s.client.clone();
        let url = format!("{}/v1/db/c/x", s.url);
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            let res = client
                .patch(url)
                .bearer_auth(token)
                .json(&json!({"increment": {"n": 1}}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let d = s.get("/v1/db/c/x", Some(&admin)).await.json();
    assert_eq!(d["data"]["n"], 21);
    assert_eq!(d["version"], 23);
    send(
        s,
        Method::DELETE,
        "/v1/db/c/x",
        Some(&admin),
        None,
        &[("if-match", "\"23\"")],
    )
    .await
    .expect(204, None);
}

async fn schemas_refuse_bad_data(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "people", "rules": {"create": "true", "update": "true", "read": "true"}, "schema": {
            "type": "object", "required": ["name"], "additionalProperties": false,
            "properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0}}
        }}),
    )
    .await;
    create(
        s,
        None,
        "people",
        json!({"id": "p", "data": {"name": "Ada", "age": 36}}),
    )
    .await;
    let res = s
        .post("/v1/db/people", None, json!({"data": {"age": -1, "extra": true}}))
        .await;
    res.expect(422, Some("validation_failed"));
    let errors = res.json()["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .clone();
    let paths: HashSet<&str> = errors.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(""), "{errors:?}");
    assert!(paths.contains("/age"), "{errors:?}");
    assert!(paths.contains("/extra"), "{errors:?}");
    send(
        s,
        Method::PATCH,
        "/v1/db/people/p",
        None,
        Some(json!({"data": {"age": "old"}})),
        &[],
    )
    .await
    .expect(422, Some("validation_failed"));
    send(
        s,
        Method::PUT,
        "/v1/db/people/p",
        None,
        Some(json!({"data": {"name": ""}})),
        &[],
    )
    .await
    .expect(422, Some("validation_failed"));
    let res = s
        .post(
            "/v1/db/batch",
            None,
            json!({"operations": [{"op": "create", "collection": "people", "data": {"name": "ok"}}, {"op": "update", "collection": "people", "id": "p", "increment": {"age": 0.5}}]}),
        )
        .await;
    res.expect(422, Some("validation_failed"));
    assert_eq!(res.json()["error"]["details"]["index"], 1);
    let d = s.get("/v1/db/people/p", None).await.json();
    assert_eq!(d["version"], 1, "nothing was written");
}

async fn unique_indexes(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "accounts", "indexes": [{"fields": [["handle", "asc"]], "unique": true}, {"fields": [["org", "asc"], ["no", "asc"]], "unique": true}]})).await;
    create(
        s,
        Some(&admin),
        "accounts",
        json!({"id": "a", "data": {"handle": "ada", "org": "x", "no": 1}}),
    )
    .await;
    s.post(
        "/v1/db/accounts",
        Some(&admin),
        json!({"data": {"handle": "ada"}}),
    )
    .await
    .expect(409, Some("already_exists"));
    s.post(
        "/v1/db/accounts",
        Some(&admin),
        json!({"data": {"org": "x", "no": 1.0}}),
    )
    .await
    .expect(409, Some("already_exists"));
    // Same values of another type, or other values, are fine; missing and null are not constrained.
    create(
        s,
        Some(&admin),
        "accounts",
        json!({"id": "b", "data": {"handle": "bob", "org": "x", "no": "1"}}),
    )
    .await;
    create(s, Some(&admin), "accounts", json!({"data": {"handle": null}})).await;
    create(s, Some(&admin), "accounts", json!({"data": {"handle": null}})).await;
    create(s, Some(&admin), "accounts", json!({"data": {}})).await;
    send(
        s,
        Method::PATCH,
        "/v1/db/accounts/b",
        Some(&admin),
        Some(json!({"data": {"handle": "ada"}})),
        &[],
    )
    .await
    .expect(409, Some("already_exists"));
    // An index over data that already breaks it is refused, and the old one stays.
    collection(s, &admin, json!({"name": "dups"})).await;
    create(s, Some(&admin), "dups", json!({"data": {"k": 1}})).await;
    create(s, Some(&admin), "dups", json!({"data": {"k": 1}})).await;
    send(
        s,
        Method::PATCH,
        "/v1/db/collections/dups",
        Some(&admin),
        Some(json!({"indexes": [{"fields": [["k", "asc"]], "unique": true}]})),
        &[],
    )
    .await
    .expect(409, Some("already_exists"));
    let c = s.get("/v1/db/collections/dups", Some(&admin)).await.json();
    assert_eq!(c["indexes"], json!([]));
}

async fn queries_filter_order_select(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "people", "indexes": [{"fields": [["city", "asc"], ["age", "desc"]]}]}),
    )
    .await;
    let people = [
        (
            "a",
            json!({"name": "Ada", "age": 36, "city": "Oslo", "tags": ["x"], "addr": {"zip": "0150"}}),
        ),
        (
            "b",
            json!({"name": "Bo", "age": 17, "city": "Bergen", "tags": ["y", "x"]}),
        ),
        ("c", json!({"name": "Cy", "age": "unknown", "city": "Oslo"})),
        (
            "d",
            json!({"name": "Di", "age": 52, "city": "Oslo", "addr": {"zip": "0151"}}),
        ),
        (
            "e",
            json!({"name": "Ében", "age": 18.5, "city": "Bergen", "tags": []}),
        ),
    ];
    for (id, data) in &people {
        create(s, Some(&admin), "people", json!({"id": id, "data": data})).await;
    }
    let q = |body: Value| {
        let admin = admin.clone();
        async move { ids(&query(s, Some(&admin), "people", body).await) }
    };
    assert_eq!(q(json!({"where": [["age", ">=", 18]]})).await, ["a", "d", "e"]);
    assert_eq!(q(json!({"where": [["age", "==", "unknown"]]})).await, ["c"]);
    assert_eq!(
        q(json!({"where": [{"or": [["city", "==", "Bergen"], ["age", ">", 50]]}], "order_by": [["age", "desc"]]})).await,
        ["d", "e", "b"]
    );
    assert_eq!(
        q(json!({"where": [["city", "==", "Oslo"]], "order_by": [["age", "desc"]]})).await,
        ["c", "d", "a"]
    );
    assert_eq!(
        q(json!({"where": [["tags", "array_contains", "x"]]})).await,
        ["a", "b"]
    );
    assert_eq!(
        q(json!({"where": [["tags", "array_contains_any", ["y", "z"]]]})).await,
        ["b"]
    );
    assert_eq!(
        q(json!({"where": [["addr.zip", "prefix", "015"]]})).await,
        ["a", "d"]
    );
    assert_eq!(
        q(json!({"where": [["addr", "exists", false]]})).await,
        ["b", "c", "e"]
    );
    assert_eq!(
        q(json!({"where": [["city", "in", ["Bergen"]], ["name", "!=", "Bo"]]})).await,
        ["e"]
    );
    assert_eq!(
        q(json!({"where": [["age", "not_in", [17, 36]]]})).await,
        ["d", "e"]
    );
    assert_eq!(
        q(json!({"where": [["id", "in", ["a", "e", "zz"]]]})).await,
        ["a", "e"]
    );
    assert_eq!(
        q(json!({"where": [["name", ">", "Cy"]], "order_by": [["name", "asc"]]})).await,
        ["d", "e"]
    );
    let now = basalt_core::Timestamp::now().to_string();
    assert_eq!(q(json!({"where": [["created_at", "<=", now]]})).await.len(), 5);
    // select keeps only the given paths.
    let page = query(
        s,
        Some(&admin),
        "people",
        json!({"where": [["id", "==", "a"]], "select": ["name", "addr.zip", "missing"]}),
    )
    .await;
    assert_eq!(
        page["documents"][0]["data"],
        json!({"name": "Ada", "addr": {"zip": "0150"}})
    );
    // count with a filter.
    let res = s
        .post(
            "/v1/db/people/count",
            Some(&admin),
            json!({"where": [["city", "==", "Oslo"]]}),
        )
        .await;
    assert_eq!(res.json()["count"], 3);
    // Bad queries are 400s, never 500s.
    for bad in [
        json!({"where": [["age", "~=", 1]]}),
        json!({"where": [["a.b.", "==", 1]]}),
        json!({"where": [["age", "in", 5]]}),
        json!({"order_by": [["age", "sideways"]]}),
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"after": "not a cursor"}),
        json!({"after": "eyJpZCI6MX0"}),
        json!({"select": ["id"]}),
        json!({"where": {"xor": []}}),
        json!({"unknown": 1}),
    ] {
        s.post("/v1/db/people/query", Some(&admin), bad.clone())
            .await
            .expect(400, Some("invalid_argument"));
    }
    // A cursor of one order does not work for another.
    let page = query(
        s,
        Some(&admin),
        "people",
        json!({"order_by": [["age", "asc"]], "limit": 1}),
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    s.post(
        "/v1/db/people/query",
        Some(&admin),
        json!({"order_by": [["age", "asc"], ["name", "asc"]], "after": cursor}),
    )
    .await
    .expect(400, Some("invalid_argument"));
}

async fn paging_is_exactly_once_under_inserts(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "feed", "indexes": [{"fields": [["score", "desc"]]}]}),
    )
    .await;
    let mut ops = Vec::new();
    for i in 0..300 {
        ops.push(json!({"op": "create", "collection": "feed", "id": format!("o{i:03}"), "data": {"score": i % 37}}));
    }
    s.post("/v1/db/batch", Some(&admin), json!({"operations": ops}))
        .await
        .expect(200, None);
    // Insert while paging: new documents land before, inside and after the pages read so far.
    let writer = {
        let client = s.client.clone();
        let url = format!("{}/v1/db/feed", s.url);
        let token = admin.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"id": format!("n{i:03}"), "data": {"score": (i * 7) % 40}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201);
            }
        })
    };
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({"order_by": [["score", "desc"]], "limit": 7});
        if let Some(a) = &after {
            body["after"] = json!(a);
        }
        let page = query(s, Some(&admin), "feed", body).await;
        for d in page["documents"].as_array().unwrap() {
            seen.push((
                d["data"]["score"].as_i64().unwrap(),
                d["id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), seen.len(), "no document twice");
    for i in 0..300 {
        assert!(unique.contains(&format!("o{i:03}")), "o{i:03} was skipped");
    }
    // In order: score descending, then id descending (the tie-break follows the last field).
    for w in seen.windows(2) {
        assert!(
            (w[0].0, &w[0].1) > (w[1].0, &w[1].1),
            "out of order: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
}

async fn rules_keep_users_apart(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "notes", "rules": {
            "read": "auth != () && doc.data.owner == auth.uid",
            "create": "auth != () && data.owner == auth.uid",
            "update": "auth != () && doc.data.owner == auth.uid && data.owner == auth.uid",
            "delete": "auth != () && doc.data.owner == auth.uid"
        }}),
    )
    .await;
    collection(s, &admin, json!({"name": "shares", "rules": {"read": "auth != () && exists(\"notes\", doc.data.note) && get(\"notes\", doc.data.note).data.owner == auth.uid"}})).await;
    let (ta, ua) = user(s, "a@example.com").await;
    let (tb, ub) = user(s, "b@example.com").await;
    // Interleaved, so a page of A's documents must fill from later rows.
    for i in 0..30 {
        let (t, u) = if i % 3 == 0 { (&ta, &ua) } else { (&tb, &ub) };
        create(
            s,
            Some(t),
            "notes",
            json!({"id": format!("n{i:02}"), "data": {"owner": u, "i": i}}),
        )
        .await;
    }
    s.post("/v1/db/notes", Some(&ta), json!({"data": {"owner": ub}}))
        .await
        .expect(403, Some("permission_denied"));
    s.post("/v1/db/notes", None, json!({"data": {"owner": ua}}))
        .await
        .expect(403, Some("permission_denied"));
    // A caller the create rule refuses does not learn that an id is taken.
    s.post(
        "/v1/db/notes",
        Some(&ta),
        json!({"id": "n01", "data": {"owner": ub}}),
    )
    .await
    .expect(403, Some("permission_denied"));
    s.post(
        "/v1/db/notes",
        Some(&ta),
        json!({"id": "n01", "data": {"owner": ua}}),
    )
    .await
    .expect(409, Some("already_exists"));
    // get
    s.get("/v1/db/notes/n00", Some(&ta)).await.expect(200, None);
    s.get("/v1/db/notes/n01", Some(&ta))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/db/notes/n01", None)
        .await
        .expect(403, Some("permission_denied"));
    // query: only A's, limit filled from later matches
    let page = query(s, Some(&ta), "notes", json!({"limit": 4})).await;
    assert_eq!(ids(&page), ["n00", "n03", "n06", "n09"]);
    let mut all = ids(&page);
    let mut after = page["next_cursor"].as_str().map(str::to_owned);
    while let Some(a) = after {
        let p = query(s, Some(&ta), "notes", json!({"limit": 4, "after": a})).await;
        all.extend(ids(&p));
        after = p["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(all.len(), 10);
    assert!(
        all.iter().all(|id| id[1..].parse::<u32>().unwrap() % 3 == 0),
        "{all:?}"
    );
    let res = s.get("/v1/db/notes?limit=100", Some(&tb)).await;
    assert_eq!(ids(&res.json()).len(), 20);
    // count
    let res = s.post("/v1/db/notes/count", Some(&ta), json!({})).await;
    assert_eq!(res.json()["count"], 10);
    let res = s.post("/v1/db/notes/count", None, json!({})).await;
    assert_eq!(res.json()["count"], 0);
    // update / delete / batch
    send(
        s,
        Method::PATCH,
        "/v1/db/notes/n01",
        Some(&ta),
        Some(json!({"data": {"owner": ua}})),
        &[],
    )
    .await
    .expect(403, Some("permission_denied"));
    s.delete("/v1/db/notes/n01", Some(&ta))
        .await
        .expect(403, Some("permission_denied"));
    let res = s
        .post(
            "/v1/db/batch",
            Some(&ta),
            json!({"operations": [{"op": "update", "collection": "notes", "id": "n00", "data": {"x": 1}}, {"op": "delete", "collection": "notes", "id": "n01"}]}),
        )
        .await;
    res.expect(403, Some("permission_denied"));
    assert_eq!(res.json()["error"]["details"]["index"], 1);
    assert_eq!(s.get("/v1/db/notes/n00", Some(&ta)).await.json()["version"], 1);
    // get()/exists() in rules read other documents.
    create(
        s,
        Some(&admin),
        "shares",
        json!({"id": "s1", "data": {"note": "n00"}}),
    )
    .await;
    create(
        s,
        Some(&admin),
        "shares",
        json!({"id": "s2", "data": {"note": "missing"}}),
    )
    .await;
    s.get("/v1/db/shares/s1", Some(&ta)).await.expect(200, None);
    s.get("/v1/db/shares/s1", Some(&tb))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/db/shares/s2", Some(&ta))
        .await
        .expect(403, Some("permission_denied"));
    // The playground evaluates a stored rule.
    let res = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&admin),
            json!({"collection": "notes", "operation": "read", "auth": {"uid": ua}, "doc": {"id": "x", "data": {"owner": ua}}}),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["allowed"], true);
}

async fn batches_are_all_or_nothing(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "a"})).await;
    collection(s, &admin, json!({"name": "b"})).await;
    create(s, Some(&admin), "a", json!({"id": "x", "data": {"n": 1}})).await;
    let res = s
        .post(
            "/v1/db/batch",
            Some(&admin),
            json!({"operations": [
                {"op": "create", "collection": "a", "id": "y", "data": {"n": 2}},
                {"op": "update", "collection": "a", "id": "y", "increment": {"n": 1}},
                {"op": "set", "collection": "b", "id": "z", "data": {"from": "batch"}},
                {"op": "update", "collection": "a", "id": "x", "if_version": 1, "data": {"m": true}},
                {"op": "delete", "collection": "a", "id": "x", "if_version": 2}
            ]}),
        )
        .await;
    res.expect(200, None);
    let results = res.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 5);
    assert_eq!(results[1]["data"]["n"], 3);
    assert_eq!(results[1]["version"], 2);
    assert_eq!(results[2]["collection"], "b");
    assert_eq!(results[4], Value::Null);
    s.get("/v1/db/a/x", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    // A failure anywhere undoes everything.
    let res = s
        .post(
            "/v1/db/batch",
            Some(&admin),
            json!({"operations": [
                {"op": "create", "collection": "a", "id": "w", "data": {}},
                {"op": "update", "collection": "a", "id": "y", "if_version": 1, "data": {}}
            ]}),
        )
        .await;
    res.expect(412, Some("failed_precondition"));
    assert_eq!(res.json()["error"]["details"]["index"], 1);
    s.get("/v1/db/a/w", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    let res = s
        .post(
            "/v1/db/batch",
            Some(&admin),
            json!({"operations": [
                {"op": "create", "collection": "a", "id": "w", "data": {}},
                {"op": "create", "collection": "a", "id": "y", "data": {}}
            ]}),
        )
        .await;
    res.expect(409, Some("already_exists"));
    assert_eq!(res.json()["error"]["details"]["index"], 1);
    s.get("/v1/db/a/w", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    // Shape errors name the operation too.
    for (ops, index, status, code) in [
        (
            json!([{"op": "create", "collection": "a", "data": {}}, {"op": "explode", "collection": "a"}]),
            1,
            400,
            "invalid_argument",
        ),
        (
            json!([{"op": "update", "collection": "a"}]),
            0,
            400,
            "invalid_argument",
        ),
        (
            json!([{"op": "create", "collection": "nope", "data": {}}]),
            0,
            404,
            "not_found",
        ),
    ] {
        let res = s
            .post("/v1/db/batch", Some(&admin), json!({"operations": ops}))
            .await;
        res.expect(status, Some(code));
        assert_eq!(res.json()["error"]["details"]["index"], index);
    }
    let many: Vec<Value> = (0..501)
        .map(|_| json!({"op": "create", "collection": "a", "data": {}}))
        .collect();
    s.post("/v1/db/batch", Some(&admin), json!({"operations": many}))
        .await
        .expect(400, Some("invalid_argument"));
    s.post("/v1/db/batch", Some(&admin), json!({"operations": []}))
        .await
        .expect(400, Some("invalid_argument"));
    let max: Vec<Value> = (0..500)
        .map(|i| json!({"op": "create", "collection": "b", "id": format!("m{i}"), "data": {"i": i}}))
        .collect();
    s.post("/v1/db/batch", Some(&admin), json!({"operations": max}))
        .await
        .expect(200, None);
    let res = s.post("/v1/db/b/count", Some(&admin), json!({})).await;
    assert_eq!(res.json()["count"], 501);
}

async fn change_feed_is_commit_ordered(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "f"})).await;
    let mut feed = s.state.documents.changes();
    create(s, Some(&admin), "f", json!({"id": "x", "data": {"n": 1}})).await;
    send(
        s,
        Method::PATCH,
        "/v1/db/f/x",
        Some(&admin),
        Some(json!({"data": {"n": 2}})),
        &[],
    )
    .await
    .expect(200, None);
    s.delete("/v1/db/f/x", Some(&admin)).await.expect(204, None);
    let mut got = Vec::new();
    for _ in 0..3 {
        let c = feed.recv().await.unwrap();
        got.push((c.op, c.id.clone(), c.seq));
        let doc: Value = serde_json::from_str(&c.document).unwrap();
        assert_eq!(doc["collection"], "f");
    }
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        ["create", "update", "delete"]
    );
    assert!(got[0].2 < got[1].2 && got[1].2 < got[2].2);
    // Concurrent writers while a tailer reads "everything after the last seq I saw":
    // with commit-ordered seqs it never misses a change.
    let db = s.state.db.clone();
    let tailer = tokio::spawn(async move {
        let mut last = 0i64;
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while seen.len() < 200 && std::time::Instant::now() < deadline {
            let rows = db
                .fetch_all(
                    "SELECT seq FROM changes WHERE seq > $1 AND collection = 'g' ORDER BY seq",
                    &[last.into()],
                )
                .await
                .unwrap();
            for r in rows {
                let seq = r.int(0).unwrap();
                seen.push(seq);
                last = seq;
            }
            tokio::task::yield_now().await;
        }
        seen
    });
    collection(s, &admin, json!({"name": "g"})).await;
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = s.client.clone();
        let url = format!("{}/v1/db/g", s.url);
        let token = admin.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..50 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"data": {"w": w, "i": i}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 201);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let seen = tailer.await.unwrap();
    let all = s
        .state
        .db
        .fetch_all("SELECT seq FROM changes WHERE collection = 'g' ORDER BY seq", &[])
        .await
        .unwrap();
    let all: Vec<i64> = all.iter().map(|r| r.int(0).unwrap()).collect();
    assert_eq!(all.len(), 200);
    assert_eq!(seen, all, "the tailer saw every change, in order");
    // Retention: old changes are swept.
    s.state
        .db
        .execute("UPDATE changes SET committed_at = 0 WHERE collection = 'f'", &[])
        .await
        .unwrap();
    let removed = s.state.documents.sweep_feed().await.unwrap();
    assert_eq!(removed, 3);
}

async fn concurrent_writes_share_commits(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "g", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}),
    )
    .await;
    // Many writes at once, some of which fail: the failing ones do not take the others down.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = s.client.clone();
        let url = format!("{}/v1/db/g", s.url);
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            let n = if i % 8 == 0 { json!("bad") } else { json!(i) };
            let res = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"id": format!("d{i}"), "data": {"n": n}}))
                .send()
                .await
                .unwrap();
            (i, res.status().as_u16())
        }));
    }
    for t in tasks {
        let (i, status) = t.await.unwrap();
        assert_eq!(status, if i % 8 == 0 { 422 } else { 201 }, "write {i}");
    }
    let res = s.post("/v1/db/g/count", Some(&admin), json!({})).await;
    assert_eq!(res.json()["count"], 56);
}

async fn hostile_input(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "h", "rules": {"read": "true", "create": "true"}}),
    )
    .await;
    // SQL-looking ids and names.
    for id in ["x' OR '1'='1", "a;DROP TABLE collections", "a.b", "a b"] {
        let path = format!("/v1/db/h/{}", basalt_core::url::encode_component(id));
        s.get(&path, None).await.expect(400, Some("invalid_argument"));
        s.post("/v1/db/h", None, json!({"id": id, "data": {}}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.get("/v1/db/h%22%3B/x", None)
        .await
        .expect(400, Some("invalid_argument"));
    s.post(
        "/v1/db/h/query",
        None,
        json!({"where": [["a') OR 1=1 --", "==", 1]]}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post(
        "/v1/db/h/query",
        None,
        json!({"where": [["name", "==", "x' OR '1'='1"]]}),
    )
    .await
    .expect(200, None);
    // Not an object.
    for data in [json!([1]), json!("x"), json!(null), json!(5)] {
        s.post("/v1/db/h", None, json!({"data": data}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.post("/v1/db/h", None, json!({}))
        .await
        .expect(400, Some("invalid_argument"));
    // Deep nesting: 33 levels are refused by the documented limit, 200 as malformed JSON.
    for depth in [33, 200] {
        let mut v = json!(1);
        for _ in 0..depth {
            v = json!({ "a": v });
        }
        s.post("/v1/db/h", None, json!({"data": v}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    let mut ok = json!(1);
    for _ in 0..32 {
        ok = json!({ "a": ok });
    }
    create(s, None, "h", json!({"data": ok})).await;
    // 2 MiB: too large (the body limit or the document limit).
    let big = "x".repeat(2 * 1024 * 1024);
    s.post("/v1/db/h", None, json!({"data": {"big": big}}))
        .await
        .expect(413, Some("payload_too_large"));
    let just_over = "x".repeat(1024 * 1024);
    s.post("/v1/db/h", None, json!({"data": {"big": just_over}}))
        .await
        .expect(413, Some("payload_too_large"));
    // Numbers at the edges round-trip and compare.
    let edges = json!({"max": 1.7976931348623157e308, "min": -1.7976931348623157e308, "tiny": 5e-324,
                       "imax": 9223372036854775807i64, "imin": -9223372036854775808i64, "big": 18446744073709551615u64});
    let d = create(s, None, "h", json!({"id": "edges", "data": edges})).await;
    let got = s.get("/v1/db/h/edges", None).await.json();
    assert_eq!(got["data"], d["data"]);
    assert_eq!(got["data"]["imax"], 9223372036854775807i64);
    assert_eq!(got["data"]["imin"], -9223372036854775808i64);
    assert_eq!(got["data"]["max"], 1.7976931348623157e308);
    let page = query(s, None, "h", json!({"where": [["max", ">", 1e308]]})).await;
    assert_eq!(ids(&page), ["edges"]);
    let page = query(s, None, "h", json!({"where": [["imin", "<", -9.2e18]]})).await;
    assert_eq!(ids(&page), ["edges"]);
    // Unicode survives; NUL, which PostgreSQL cannot store, is refused everywhere.
    let u = create(s, None, "h", json!({"data": {"s": "ß🦀\"\\\u{1}", "ключ": "値"}})).await;
    let back = s
        .get(&format!("/v1/db/h/{}", u["id"].as_str().unwrap()), None)
        .await
        .json();
    assert_eq!(back["data"], json!({"s": "ß🦀\"\\\u{1}", "ключ": "値"}));
    s.post("/v1/db/h", None, json!({"data": {"s": "a\u{0}b"}}))
        .await
        .expect(400, Some("invalid_argument"));
    s.post("/v1/db/h/query", None, json!({"where": [["s", "==", "a\u{0}b"]]}))
        .await
        .expect(400, Some("invalid_argument"));
    // Huge `in` lists are bounded.
    let many: Vec<i64> = (0..101).collect();
    s.post("/v1/db/h/query", None, json!({"where": [["n", "in", many]]}))
        .await
        .expect(400, Some("invalid_argument"));
    // Bad cursors.
    for c in [
        "%%%",
        "eyJ9",
        "AAAA",
        "eyJpZCI6IngiLCJrIjpbWzksbnVsbCxudWxsLG51bGxdXX0",
    ] {
        s.post("/v1/db/h/query", None, json!({"after": c}))
            .await
            .expect(400, Some("invalid_argument"));
        s.get(&format!("/v1/db/h?after={c}"), None)
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.get("/v1/db/h?limit=-1", None)
        .await
        .expect(400, Some("invalid_argument"));
    s.get("/v1/db/h?order=a..b", None)
        .await
        .expect(400, Some("invalid_argument"));
    // Wrong content type, malformed JSON.
    let res = s
        .client
        .post(format!("{}/v1/db/h", s.url))
        .body("{\"data\":{}}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 415);
    let res = s
        .client
        .post(format!("{}/v1/db/h", s.url))
        .header("content-type", "application/json")
        .body("{\"data\":{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

async fn indexes_serve_queries(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(
        s,
        &admin,
        json!({"name": "posts", "indexes": [{"fields": [["owner", "asc"], ["created_at", "desc"]]}, {"fields": [["score", "asc"]]}, {"fields": [["flag", "asc"]]}]}),
    )
    .await;
    for chunk in 0..6 {
        let ops: Vec<Value> = (0..500)
            .map(|i| {
                let n = chunk * 500 + i;
                json!({"op": "create", "collection": "posts", "data": {"owner": format!("u{}", n % 300), "score": n, "flag": n % 97 == 0}})
            })
            .collect();
        s.post("/v1/db/batch", Some(&admin), json!({"operations": ops}))
            .await
            .expect(200, None);
    }
    let row = s
        .state
        .db
        .fetch_optional("SELECT tbl FROM collections WHERE name = 'posts'", &[])
        .await
        .unwrap()
        .unwrap();
    let table = row.text(0).unwrap();
    if s.backend == common::Backend::Postgres {
        s.state
            .db
            .execute(&format!("ANALYZE \"{table}\""), &[])
            .await
            .unwrap();
    }
    let explain = |q: Value| {
        let docs = s.state.documents.clone();
        async move {
            let q = basalt_documents::Query::parse(q.get("where"), q.get("order_by"), Some(20), None, None)
                .unwrap();
            docs.explain("posts", &q).await.unwrap()
        }
    };
    for (q, index) in [
        (
            json!({"where": [["owner", "==", "u7"]], "order_by": [["created_at", "desc"]]}),
            "_i0",
        ),
        (
            json!({"where": [["score", ">=", 2990]], "order_by": [["score", "asc"]]}),
            "_i1",
        ),
        (json!({"where": [["flag", "==", true]]}), "_i2"),
    ] {
        let plan = explain(q.clone()).await;
        assert!(
            plan.contains(&format!("{table}{index}")),
            "{q} should use {table}{index}:\n{plan}"
        );
        // The order comes from the index: no sort step.
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "{q} sorts:\n{plan}"
        );
    }
    // And the answers are right.
    let page = query(
        s,
        Some(&admin),
        "posts",
        json!({"where": [["owner", "==", "u7"]], "order_by": [["created_at", "desc"]], "limit": 100}),
    )
    .await;
    assert_eq!(ids(&page).len(), 10);
    let page = query(
        s,
        Some(&admin),
        "posts",
        json!({"where": [["score", ">=", 2990]], "order_by": [["score", "asc"]]}),
    )
    .await;
    let scores: Vec<i64> = page["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["data"]["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, (2990..3000).collect::<Vec<_>>());
}

/// Reads never go back in time, and always see the caller's own writes,
/// while writers and readers hammer one document.
async fn reads_follow_writes(s: &TestServer) {
    let admin = s.admin_token().await;
    collection(s, &admin, json!({"name": "hot"})).await;
    create(s, Some(&admin), "hot", json!({"id": "x", "data": {"n": 0}})).await;
    let mut readers = Vec::new();
    for _ in 0..4 {
        let client = s.client.clone();
        let url = format!("{}/v1/db/hot/x", s.url);
        let token = admin.clone();
        readers.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..150 {
                let d: Value = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let v = d["version"].as_i64().unwrap();
                assert!(v >= last, "version went back from {last} to {v}");
                assert_eq!(d["data"]["n"].as_i64().unwrap() + 1, v, "data and version agree");
                last = v;
            }
        }));
    }
    let mut writers = Vec::new();
    for _ in 0..2 {
        let client = s.client.clone();
        let url = format!("{}/v1/db/hot/x", s.url);
        let token = admin.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..40 {
                let w: Value = client
                    .patch(&url)
                    .bearer_auth(&token)
                    .json(&json!({"increment": {"n": 1}}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let r: Value = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(
                    r["version"].as_i64() >= w["version"].as_i64(),
                    "a read after a write sees it"
                );
            }
        }));
    }
    for t in readers.into_iter().chain(writers) {
        t.await.unwrap();
    }
    let d = s.get("/v1/db/hot/x", Some(&admin)).await.json();
    assert_eq!(d["version"], 81);
    assert_eq!(d["data"]["n"], 80);
}

/// A caller the rules deny hears the same for an id in use as for a free
/// one (status and body); 404 only for callers who could read a document
/// that is not there.
async fn existence_is_hidden_from_denied_callers(s: &TestServer) {
    let admin = s.admin_token().await;
    let owner_rule = "auth != () && doc.data.owner == auth.uid";
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "diaries", "rules": {
            "read": owner_rule, "create": "auth != () && data.owner == auth.uid",
            "update": owner_rule, "delete": owner_rule
        }}),
    )
    .await
    .expect(201, None);
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "notices", "rules": {"read": "auth != ()"}}),
    )
    .await
    .expect(201, None);
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "sealed", "rules": {}}),
    )
    .await
    .expect(201, None);
    let (a, a_id) = s.signup("diarist@example.com").await;
    let (b, _) = s.signup("snoop@example.com").await;
    s.post(
        "/v1/db/diaries",
        Some(&a),
        json!({"id": "taken", "data": {"owner": a_id}}),
    )
    .await
    .expect(201, None);
    for c in ["notices", "sealed"] {
        s.post(
            &format!("/v1/db/{c}"),
            Some(&admin),
            json!({"id": "taken", "data": {}}),
        )
        .await
        .expect(201, None);
    }
    // The error body without its request id, which differs per request.
    let answer = |r: &Resp| {
        let mut body = r.json();
        body["error"].as_object_mut().unwrap().remove("request_id");
        (r.status, body)
    };
    let callers: [(&str, Option<&str>); 2] = [("another user", Some(&b)), ("anonymous", None)];
    for (who, token) in callers {
        for c in ["diaries", "sealed"] {
            for (method, body) in [
                (Method::GET, None),
                (Method::PATCH, Some(json!({"data": {"x": 1}}))),
                (Method::DELETE, None),
            ] {
                let taken = s
                    .request(method.clone(), &format!("/v1/db/{c}/taken"), token, body.clone())
                    .await;
                let free = s
                    .request(method.clone(), &format!("/v1/db/{c}/free"), token, body.clone())
                    .await;
                taken.expect(403, Some("permission_denied"));
                assert_eq!(answer(&taken), answer(&free), "{who} {method} in {c}");
            }
        }
    }
    // Anonymous callers may not read notices: the same 403 both ways.
    let taken = s.get("/v1/db/notices/taken", None).await;
    let free = s.get("/v1/db/notices/free", None).await;
    taken.expect(403, Some("permission_denied"));
    assert_eq!(answer(&taken), answer(&free));
    // Whoever could read a document there hears that it is missing.
    s.get("/v1/db/notices/free", Some(&b))
        .await
        .expect(404, Some("not_found"));
    s.get("/v1/db/diaries/free", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.delete("/v1/db/sealed/free", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    // A rule on the document's own fields lets nobody read a missing one,
    // so its owner-to-be hears 403 too; the owner reads what is there.
    s.get("/v1/db/diaries/free", Some(&a))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/db/diaries/taken", Some(&a)).await.expect(200, None);
    // In a batch the same: the operation is refused as for a taken id.
    let batch = |id: &str| json!({"operations": [{"op": "update", "collection": "diaries", "id": id, "data": {"x": 1}}]});
    let taken = s.post("/v1/db/batch", Some(&b), batch("taken")).await;
    let free = s.post("/v1/db/batch", Some(&b), batch("free")).await;
    taken.expect(403, Some("permission_denied"));
    assert_eq!(answer(&taken), answer(&free));
}
