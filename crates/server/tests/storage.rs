//! File storage through HTTP: buckets, streamed objects, ranges, rules,
//! signed URLs, hostile paths; on both metadata backends, local disk, and a
//! real S3-compatible server (moto) on loopback.

mod common;

use common::s3::S3Server;
use common::{Backend, Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    buckets_are_managed_by_admins,
    objects_round_trip,
    limits_and_types,
    storage_rules,
    signed_urls,
    hostile_object_paths,
    existence_is_hidden_from_denied_callers
);

async fn put(s: &TestServer, token: Option<&str>, url_path: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let mut req = s
        .client
        .put(format!("{}{url_path}", s.url))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    TestServer::read(req).await
}

async fn get_with(
    s: &TestServer,
    token: Option<&str>,
    url_path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = s.client.get(format!("{}{url_path}", s.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

async fn bucket(s: &TestServer, admin: &str, body: Value) {
    s.post("/v1/storage/buckets", Some(admin), body)
        .await
        .expect(201, None);
}

async fn user(s: &TestServer, email: &str) -> (String, String) {
    s.signup(email).await
}

async fn buckets_are_managed_by_admins(s: &TestServer) {
    let admin = s.admin_token().await;
    let res = s.post("/v1/storage/buckets", Some(&admin), json!({"name": "avatars", "public": true, "max_object_size": 1024, "allowed_types": ["image/*"], "rules": {"write": "auth != ()"}})).await;
    res.expect(201, None);
    let b = res.json();
    assert_eq!(b["name"], "avatars");
    assert_eq!(b["public"], true);
    assert_eq!(b["allowed_types"], json!(["image/*"]));
    s.post("/v1/storage/buckets", Some(&admin), json!({"name": "avatars"}))
        .await
        .expect(409, Some("already_exists"));
    for bad in ["", "Avatars", "a/b", "buckets", "-x", &"a".repeat(64)] {
        s.post("/v1/storage/buckets", Some(&admin), json!({"name": bad}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    let res = s
        .post(
            "/v1/storage/buckets",
            Some(&admin),
            json!({"name": "x", "rules": {"read": "auth.uid =="}}),
        )
        .await;
    res.expect(400, Some("invalid_argument"));
    assert!(
        res.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not compile")
    );
    s.post(
        "/v1/storage/buckets",
        Some(&admin),
        json!({"name": "x", "allowed_types": ["images"]}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let res = s
        .request(
            Method::PATCH,
            "/v1/storage/buckets/avatars",
            Some(&admin),
            Some(json!({"public": false, "max_object_size": null})),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["public"], false);
    assert_eq!(res.json()["max_object_size"], Value::Null);
    assert_eq!(
        s.get("/v1/storage/buckets", Some(&admin)).await.json()["buckets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    s.get("/v1/storage/buckets/nope", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    let (u, _) = user(s, "u@example.com").await;
    s.get("/v1/storage/buckets", Some(&u))
        .await
        .expect(403, Some("permission_denied"));
    s.get("/v1/storage/buckets", None)
        .await
        .expect(401, Some("unauthenticated"));
    put(
        s,
        Some(&admin),
        "/v1/storage/avatars/a.png",
        "image/png",
        vec![1, 2, 3],
    )
    .await
    .expect(201, None);
    s.delete("/v1/storage/buckets/avatars", Some(&admin))
        .await
        .expect(204, None);
    s.get("/v1/storage/buckets/avatars", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    // The bucket's bytes went with it.
    if s.state.files.backing().starts_with("local") {
        let dir = s.dir.path().join("files").join("avatars");
        assert!(!dir.exists() || std::fs::read_dir(&dir).unwrap().count() == 0);
    }
}

pub async fn objects_round_trip(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(s, &admin, json!({"name": "docs"})).await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let res = TestServer::read(
        s.client
            .put(format!("{}/v1/storage/docs/reports/2026/q1.bin", s.url))
            .bearer_auth(&admin)
            .header("content-type", "application/x-report")
            .header("x-basalt-meta-author", "ada")
            .body(data.clone()),
    )
    .await;
    res.expect(201, None);
    let obj = res.json();
    assert_eq!(obj["bucket"], "docs");
    assert_eq!(obj["path"], "reports/2026/q1.bin");
    assert_eq!(obj["size"], 300_000);
    assert_eq!(obj["content_type"], "application/x-report");
    assert_eq!(obj["metadata"], json!({"author": "ada"}));
    let etag = format!("\"{}\"", obj["etag"].as_str().unwrap());

    let (status, headers, body) =
        get_with(s, Some(&admin), "/v1/storage/docs/reports/2026/q1.bin", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, data);
    assert_eq!(headers["content-type"], "application/x-report");
    assert_eq!(headers["content-length"], "300000");
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["x-basalt-meta-author"], "ada");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert!(headers.contains_key("last-modified"));

    let (status, headers, body) = get_with(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin",
        &[("range", "bytes=100-199")],
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(body, &data[100..200]);
    assert_eq!(headers["content-range"], "bytes 100-199/300000");
    let (status, _, body) = get_with(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin",
        &[("range", "bytes=-10")],
    )
    .await;
    assert_eq!((status, body.as_slice()), (206, &data[299_990..]));
    let (status, headers, _) = get_with(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin",
        &[("range", "bytes=300000-")],
    )
    .await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], "bytes */300000");
    let (status, _, body) = get_with(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!((status, body.len()), (304, 0));
    let (status, headers, _) = get_with(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin?download=Q1%20report.bin",
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"Q1 report.bin\"")
    );
    let head = s
        .client
        .head(format!("{}/v1/storage/docs/reports/2026/q1.bin", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "300000");
    assert!(head.bytes().await.unwrap().is_empty());

    // Overwrite: new etag and bytes, same created_at.
    let res = put(
        s,
        Some(&admin),
        "/v1/storage/docs/reports/2026/q1.bin",
        "text/plain",
        b"short now".to_vec(),
    )
    .await;
    res.expect(201, None);
    let again = res.json();
    assert_ne!(again["etag"], obj["etag"]);
    assert_eq!(again["created_at"], obj["created_at"]);
    let (_, _, body) = get_with(s, Some(&admin), "/v1/storage/docs/reports/2026/q1.bin", &[]).await;
    assert_eq!(body, b"short now");
    let res = TestServer::read(
        s.client
            .put(format!("{}/v1/storage/docs/reports/2026/q1.bin", s.url))
            .bearer_auth(&admin)
            .header("if-none-match", "*")
            .body("nope"),
    )
    .await;
    res.expect(412, Some("failed_precondition"));
    // An empty object.
    put(s, Some(&admin), "/v1/storage/docs/empty", "text/plain", vec![])
        .await
        .expect(201, None);
    let (status, _, body) = get_with(s, Some(&admin), "/v1/storage/docs/empty", &[]).await;
    assert_eq!((status, body.len()), (200, 0));

    // Listing by prefix, paged.
    for i in 0..5 {
        put(
            s,
            Some(&admin),
            &format!("/v1/storage/docs/list/{i}.txt"),
            "text/plain",
            vec![b'x'; i],
        )
        .await
        .expect(201, None);
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = s
            .get(
                &format!("/v1/storage/docs?prefix=list/&limit=2&after={after}"),
                Some(&admin),
            )
            .await
            .json();
        seen.extend(
            page["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["path"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => after = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|i| format!("list/{i}.txt")).collect::<Vec<_>>());
    s.delete("/v1/storage/docs/list/0.txt", Some(&admin))
        .await
        .expect(204, None);
    s.get("/v1/storage/docs/list/0.txt", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.delete("/v1/storage/docs/list/0.txt", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.get("/v1/storage/nope/x", Some(&admin))
        .await
        .expect(404, Some("not_found"));
}

async fn limits_and_types(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(
        s,
        &admin,
        json!({"name": "small", "max_object_size": 1000, "allowed_types": ["image/*", "application/pdf"]}),
    )
    .await;
    put(
        s,
        Some(&admin),
        "/v1/storage/small/a.png",
        "image/png",
        vec![0; 1000],
    )
    .await
    .expect(201, None);
    put(
        s,
        Some(&admin),
        "/v1/storage/small/b.pdf",
        "application/pdf; charset=binary",
        vec![0; 10],
    )
    .await
    .expect(201, None);
    put(
        s,
        Some(&admin),
        "/v1/storage/small/c.txt",
        "text/plain",
        vec![0; 10],
    )
    .await
    .expect(415, Some("unsupported_media_type"));
    put(
        s,
        Some(&admin),
        "/v1/storage/small/d.png",
        "image/png",
        vec![0; 1001],
    )
    .await
    .expect(413, Some("payload_too_large"));
    // Streamed without a length: refused once the limit is crossed, nothing kept.
    assert_eq!(
        raw_put(s, &admin, "/v1/storage/small/e.png", "image/png", 2000, true).await,
        413
    );
    s.get("/v1/storage/small/e.png", Some(&admin))
        .await
        .expect(404, Some("not_found"));
    let listed = s.get("/v1/storage/small", Some(&admin)).await.json();
    assert_eq!(listed["objects"].as_array().unwrap().len(), 2);
    let dir = s.dir.path().join("files").join("small");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(
        files.len(),
        2,
        "no bytes left behind by refused uploads: {files:?}"
    );
}

async fn storage_rules(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(s, &admin, json!({"name": "private", "rules": {
        "read": "auth != () && object.path.starts_with(auth.uid + \"/\")",
        "write": "auth != () && object.path.starts_with(auth.uid + \"/\") && object.size <= 100 && object.content_type == \"text/plain\"",
        "delete": "auth != () && object.path.starts_with(auth.uid + \"/\") && object.metadata.keep != \"yes\""
    }})).await;
    bucket(s, &admin, json!({"name": "public", "public": true})).await;
    let (a, a_id) = user(s, "a@example.com").await;
    let (b, _) = user(s, "b@example.com").await;
    let mine = format!("/v1/storage/private/{a_id}/notes.txt");
    put(s, Some(&a), &mine, "text/plain", b"hello".to_vec())
        .await
        .expect(201, None);
    put(
        s,
        Some(&a),
        &format!("/v1/storage/private/{a_id}/big.txt"),
        "text/plain",
        vec![b'x'; 101],
    )
    .await
    .expect(403, Some("permission_denied"));
    put(
        s,
        Some(&a),
        "/v1/storage/private/elsewhere.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .expect(403, Some("permission_denied"));
    put(s, None, &mine, "text/plain", b"x".to_vec())
        .await
        .expect(403, Some("permission_denied"));
    let (status, _, body) = get_with(s, Some(&a), &mine, &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    // Another user and anonymous callers: 403, not 404, not 401.
    assert_eq!(get_with(s, Some(&b), &mine, &[]).await.0, 403);
    s.get(&mine, None).await.expect(403, Some("permission_denied"));
    s.get(&mine, Some("garbage"))
        .await
        .expect(401, Some("unauthenticated"));
    // Listing leaves out what the read rule denies, and the cursor still
    // walks past it to the objects after.
    for i in 0..3 {
        put(
            s,
            Some(&admin),
            &format!("/v1/storage/private/0-other/{i}.txt"),
            "text/plain",
            b"x".to_vec(),
        )
        .await
        .expect(201, None);
    }
    let listed = s.get("/v1/storage/private", Some(&a)).await.json();
    assert_eq!(listed["objects"].as_array().unwrap().len(), 1);
    let mut mine_seen = 0;
    let mut after = String::new();
    loop {
        let page = s
            .get(&format!("/v1/storage/private?limit=2&after={after}"), Some(&a))
            .await
            .json();
        mine_seen += page["objects"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => after = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(mine_seen, 1, "every readable object is reached through the pages");
    // Delete rule sees the metadata.
    let kept = format!("/v1/storage/private/{a_id}/kept.txt");
    let res = TestServer::read(
        s.client
            .put(format!("{}{kept}", s.url))
            .bearer_auth(&a)
            .header("content-type", "text/plain")
            .header("x-basalt-meta-keep", "yes")
            .body("k"),
    )
    .await;
    res.expect(201, None);
    s.delete(&kept, Some(&a))
        .await
        .expect(403, Some("permission_denied"));
    s.delete(&mine, Some(&b))
        .await
        .expect(403, Some("permission_denied"));
    s.delete(&mine, Some(&a)).await.expect(204, None);
    // Public buckets are readable by anyone; writing still needs a rule or admin.
    put(
        s,
        Some(&admin),
        "/v1/storage/public/logo.txt",
        "text/plain",
        b"logo".to_vec(),
    )
    .await
    .expect(201, None);
    let (status, _, body) = get_with(s, None, "/v1/storage/public/logo.txt", &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"logo"[..]));
    put(
        s,
        Some(&a),
        "/v1/storage/public/mine.txt",
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .expect(403, Some("permission_denied"));
    // Listing is not reading: without a read rule, a public bucket lists nothing to anonymous callers.
    let listed = s.get("/v1/storage/public", None).await.json();
    assert!(listed["objects"].as_array().unwrap().is_empty());
}

async fn signed_urls(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(s, &admin, json!({"name": "vault"})).await;
    put(
        s,
        Some(&admin),
        "/v1/storage/vault/dir/a b.txt",
        "text/plain",
        b"secret bytes".to_vec(),
    )
    .await
    .expect(201, None);
    let res = s
        .post(
            "/v1/storage/vault/dir/a%20b.txt?sign",
            Some(&admin),
            json!({"expires_in": 60}),
        )
        .await;
    res.expect(200, None);
    let url = res.json()["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/v1/storage/vault/dir/a%20b.txt?expires="),
        "{url}"
    );
    let (status, _, body) = get_with(s, None, &url, &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"secret bytes"[..]));
    // Tampering with the signature, the expiry or the path fails.
    let last = if url.ends_with('A') { 'B' } else { 'A' };
    let tampered_sig = format!("{}{last}", &url[..url.len() - 1]);
    assert_eq!(get_with(s, None, &tampered_sig, &[]).await.0, 403);
    let expires: u64 = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let later = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 1000),
    );
    assert_eq!(get_with(s, None, &later, &[]).await.0, 403);
    put(
        s,
        Some(&admin),
        "/v1/storage/vault/other.txt",
        "text/plain",
        b"other".to_vec(),
    )
    .await
    .expect(201, None);
    let other = url.replace("dir/a%20b.txt", "other.txt");
    assert_eq!(get_with(s, None, &other, &[]).await.0, 403);
    assert_eq!(
        get_with(s, None, "/v1/storage/vault/other.txt?expires=1", &[])
            .await
            .0,
        400
    );
    // It expires.
    let res = s
        .post(
            "/v1/storage/vault/other.txt?sign",
            Some(&admin),
            json!({"expires_in": 1}),
        )
        .await;
    let short = res.json()["url"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(get_with(s, None, &short, &[]).await.0, 403);
    s.post(
        "/v1/storage/vault/other.txt?sign",
        Some(&admin),
        json!({"expires_in": 0}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post(
        "/v1/storage/vault/other.txt",
        Some(&admin),
        json!({"expires_in": 5}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    // Without read access there is no link.
    let (u, _) = user(s, "nosy@example.com").await;
    s.post(
        "/v1/storage/vault/other.txt?sign",
        Some(&u),
        json!({"expires_in": 60}),
    )
    .await
    .expect(403, Some("permission_denied"));
}

/// `PUT <target>` of `size` bytes over a raw socket; the status.
async fn raw_put(
    s: &TestServer,
    token: &str,
    target: &str,
    content_type: &str,
    size: usize,
    chunked: bool,
) -> u16 {
    s.raw(common::RawRequest {
        method: "PUT",
        target,
        token: Some(token),
        content_type,
        size,
        chunked,
    })
    .await
    .status
}

async fn hostile_object_paths(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(s, &admin, json!({"name": "box"})).await;
    for path in [
        "a/%2e%2e/b",
        "%2e%2e/x",
        "a/../b",
        "../../etc/passwd",
        "a//b",
        "a/%5Cb",
        "a%00b",
        "a%0Ab",
        "./x",
        "a/%2E%2E/%2E%2E/x",
    ] {
        let status = raw_put(
            s,
            &admin,
            &format!("/v1/storage/box/{path}"),
            "text/plain",
            1,
            false,
        )
        .await;
        assert_eq!(status, 400, "{path}");
    }
    let long = "a".repeat(1025);
    put(
        s,
        Some(&admin),
        &format!("/v1/storage/box/{long}"),
        "text/plain",
        b"x".to_vec(),
    )
    .await
    .expect(400, Some("invalid_argument"));
    // Nothing was stored, and nothing escaped the file store's directory.
    assert!(
        s.get("/v1/storage/box", Some(&admin)).await.json()["objects"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let root = s.dir.path().join("files");
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        assert!(entry.path().is_dir(), "stray file {:?}", entry.path());
    }
    assert!(!s.dir.path().join("etc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_on_s3() {
    let s3 = S3Server::start("basalt-test").await;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let endpoint = s3.url.clone();
        let Some(s) = TestServer::start_with(backend, move |c| {
            c.files_url = Some("s3://basalt-test".into());
            c.s3_endpoint = Some(endpoint);
            c.s3_region = Some("us-east-1".into());
            c.s3_access_key_id = Some("test".into());
            c.s3_secret_access_key = Some(basalt_core::Secret::new("test".into()));
            c.s3_allow_http = true;
        })
        .await
        else {
            continue;
        };
        assert_eq!(s.state.files.backing(), "s3://basalt-test");
        s.get("/v1/health/ready", None).await.expect(200, None);
        objects_round_trip(&s).await;
        // A multi-part upload (over one part) and its ranges.
        let admin = s.admin_token_again().await;
        let big: Vec<u8> = (0..12_000_000u32).map(|i| (i % 253) as u8).collect();
        put(
            &s,
            Some(&admin),
            "/v1/storage/docs/big.bin",
            "application/octet-stream",
            big.clone(),
        )
        .await
        .expect(201, None);
        let (status, _, body) = get_with(
            &s,
            Some(&admin),
            "/v1/storage/docs/big.bin",
            &[("range", "bytes=5999990-6000009")],
        )
        .await;
        assert_eq!((status, body.as_slice()), (206, &big[5_999_990..6_000_010]));
        let (status, _, body) = get_with(&s, Some(&admin), "/v1/storage/docs/big.bin", &[]).await;
        assert_eq!(status, 200);
        assert!(body == big);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_without_an_object_are_swept() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin = s.admin_token().await;
    bucket(&s, &admin, json!({"name": "keep"})).await;
    put(
        &s,
        Some(&admin),
        "/v1/storage/keep/real.txt",
        "text/plain",
        b"real".to_vec(),
    )
    .await
    .expect(201, None);
    // Bytes a crash could leave behind: in the store, in no object.
    let stray = s
        .dir
        .path()
        .join("files")
        .join("keep")
        .join("01STRAYSTRAYSTRAYSTRAYSTRA");
    std::fs::write(&stray, b"orphan").unwrap();
    assert_eq!(
        s.state
            .files
            .sweep(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "young bytes are left alone"
    );
    // Files that are not Basalt's (another key shape) are never touched.
    let foreign = s.dir.path().join("files").join("keep").join("notes.txt");
    std::fs::write(&foreign, b"not ours").unwrap();
    assert_eq!(s.state.files.sweep(std::time::Duration::ZERO).await.unwrap(), 1);
    assert!(foreign.exists());
    assert!(!stray.exists());
    let (status, _, body) = get_with(&s, Some(&admin), "/v1/storage/keep/real.txt", &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"real"[..]));
    s.stop().await;
}

/// A caller the bucket's rules deny hears the same for a path in use as for
/// a free one; 404 only for callers who could read an object there.
async fn existence_is_hidden_from_denied_callers(s: &TestServer) {
    let admin = s.admin_token().await;
    bucket(
        s,
        &admin,
        json!({"name": "homes", "rules": {
            "read": "auth != () && object.path.starts_with(auth.uid + \"/\")",
            "write": "auth != () && object.path.starts_with(auth.uid + \"/\")",
            "delete": "auth != () && object.path.starts_with(auth.uid + \"/\")"
        }}),
    )
    .await;
    bucket(s, &admin, json!({"name": "open", "public": true})).await;
    let (a, a_id) = user(s, "home-a@example.com").await;
    let (b, b_id) = user(s, "home-b@example.com").await;
    let taken = format!("/v1/storage/homes/{a_id}/taken.txt");
    let free = format!("/v1/storage/homes/{a_id}/free.txt");
    put(s, Some(&a), &taken, "text/plain", b"mine".to_vec())
        .await
        .expect(201, None);
    let answer = |r: &Resp| {
        let mut body = r.json();
        body["error"].as_object_mut().unwrap().remove("request_id");
        (r.status, body)
    };
    for (who, token) in [("another user", Some(b.as_str())), ("anonymous", None)] {
        for (method, suffix, body) in [
            (Method::GET, "", None),
            (Method::DELETE, "", None),
            (Method::POST, "?sign", Some(json!({"expires_in": 60}))),
        ] {
            let t = s
                .request(method.clone(), &format!("{taken}{suffix}"), token, body.clone())
                .await;
            let f = s
                .request(method.clone(), &format!("{free}{suffix}"), token, body.clone())
                .await;
            t.expect(403, Some("permission_denied"));
            assert_eq!(answer(&t), answer(&f), "{who} {method} {suffix}");
        }
        // HEAD has no body: the status is the same.
        let head = |p: String| {
            let req = s.client.head(format!("{}{p}", s.url));
            let req = match token {
                Some(t) => req.bearer_auth(t),
                None => req,
            };
            async move { req.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(
            (head(taken.clone()).await, head(free.clone()).await),
            (403, 403),
            "{who}"
        );
    }
    // `If-None-Match: *` tells only a caller who may write there.
    let create_only = |p: String, token: Option<String>| {
        let req = s
            .client
            .put(format!("{}{p}", s.url))
            .header("content-type", "text/plain")
            .header("if-none-match", "*")
            .body("x");
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        TestServer::read(req)
    };
    let t = create_only(taken.clone(), Some(b.clone())).await;
    let f = create_only(free.clone(), Some(b.clone())).await;
    t.expect(403, Some("permission_denied"));
    assert_eq!(answer(&t), answer(&f));
    create_only(taken.clone(), Some(a.clone()))
        .await
        .expect(412, Some("failed_precondition"));
    // Whoever could read an object at the path hears that it is missing:
    // under their own prefix, in a public bucket, as an admin.
    s.get(&format!("/v1/storage/homes/{b_id}/nothing.txt"), Some(&b))
        .await
        .expect(404, Some("not_found"));
    s.delete(&format!("/v1/storage/homes/{b_id}/nothing.txt"), Some(&b))
        .await
        .expect(404, Some("not_found"));
    s.get("/v1/storage/open/nothing.txt", None)
        .await
        .expect(404, Some("not_found"));
    s.get(&free, Some(&admin)).await.expect(404, Some("not_found"));
    s.get(&taken, Some(&a)).await.expect(200, None);
}
