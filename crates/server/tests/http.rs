//! The foundation through HTTP on a real server, on both backends.

mod common;

use std::time::Duration;

use basalt_auth::tokens::{ADMIN_AUDIENCE, AccessClaims, AdminClaims};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    health_ready_and_request_ids,
    unknown_routes_and_wrong_methods,
    hostile_bodies,
    admin_login,
    hostile_credentials,
    admin_password_reset_revokes_tokens,
    service_keys_lifecycle,
    metrics_count_requests,
    every_documented_route_is_served,
    jwks_verifies_issued_tokens,
    nodes_share_signing_keys,
);

async fn health_ready_and_request_ids(s: &TestServer) {
    let res = s.get("/v1/health", None).await;
    res.expect(200, None);
    assert_eq!(
        res.json(),
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    let generated = res.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.len(), 26);

    s.get("/v1/health/ready", None).await.expect(200, None);

    let echoed = TestServer::read(
        s.client
            .get(format!("{}/v1/health", s.url))
            .header("x-request-id", "trace-42"),
    )
    .await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-42"));
    // An id that is too long (or not printable ASCII) is replaced, not echoed.
    let long = "x".repeat(200);
    let replaced = TestServer::read(
        s.client
            .get(format!("{}/v1/health", s.url))
            .header("x-request-id", &long),
    )
    .await;
    assert_ne!(replaced.header("x-request-id"), Some(long.as_str()));
    assert_eq!(replaced.header("x-request-id").unwrap().len(), 26);
    // Errors carry it too.
    let missing = TestServer::read(
        s.client
            .get(format!("{}/nope", s.url))
            .header("x-request-id", "trace-43"),
    )
    .await;
    assert_eq!(missing.header("x-request-id"), Some("trace-43"));
}

async fn unknown_routes_and_wrong_methods(s: &TestServer) {
    for path in [
        "/nope",
        "/v1",
        "/v1/admin",
        "/v1/health/extra",
        "/v1/admin/keys/a/b",
    ] {
        s.get(path, None).await.expect(404, Some("not_found"));
    }
    let res = s.request(Method::DELETE, "/v1/health", None, None).await;
    res.expect(405, Some("method_not_allowed"));
    assert!(res.header("allow").unwrap().contains("GET"));
    s.request(Method::PUT, "/v1/admin/keys", None, Some(json!({})))
        .await
        .expect(405, Some("method_not_allowed"));
    s.request(Method::GET, "/v1/admin/login", None, None)
        .await
        .expect(405, Some("method_not_allowed"));
}

async fn send_raw(s: &TestServer, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Resp {
    let mut req = s.client.post(format!("{}{path}", s.url)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    TestServer::read(req).await
}

async fn hostile_bodies(s: &TestServer) {
    let json_ct = Some("application/json");
    let cases: &[(&[u8], Option<&str>, u16, &str)] = &[
        (b"{\"email\": ", json_ct, 400, "invalid_argument"),
        (
            b"{\"email\": \"a@b.c\", \"password\": }",
            json_ct,
            400,
            "invalid_argument",
        ),
        (b"[1, 2]", json_ct, 400, "invalid_argument"),
        (b"\"a string\"", json_ct, 400, "invalid_argument"),
        (b"42", json_ct, 400, "invalid_argument"),
        (b"null", json_ct, 400, "invalid_argument"),
        (b"", json_ct, 400, "invalid_argument"),
        (b"\xff\xfe{}", json_ct, 400, "invalid_argument"),
        (b"{\"email\": \"a@b.c\"}", json_ct, 400, "invalid_argument"),
        (
            b"{\"email\": 5, \"password\": \"12345678\"}",
            json_ct,
            400,
            "invalid_argument",
        ),
        (
            b"{\"email\": \"a@b.c\", \"password\": \"12345678\", \"extra\": 1}",
            json_ct,
            400,
            "invalid_argument",
        ),
        (
            b"{\"email\": \"not-an-email\", \"password\": \"12345678\"}",
            json_ct,
            400,
            "invalid_argument",
        ),
        (
            b"{\"email\": \"a@b.c\", \"password\": \"12345678\"}",
            Some("text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            b"{\"email\": \"a@b.c\", \"password\": \"12345678\"}",
            None,
            415,
            "unsupported_media_type",
        ),
        (
            b"email=a@b.c",
            Some("application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
    ];
    for (body, ct, status, code) in cases {
        let res = send_raw(s, "/v1/admin/login", *ct, body.to_vec()).await;
        assert_eq!(
            res.status,
            *status,
            "{:?} {ct:?}: {}",
            String::from_utf8_lossy(body),
            res.text
        );
        res.expect(*status, Some(code));
        assert!(
            !res.text.contains("LoginRequest"),
            "no internal type names: {}",
            res.text
        );
    }
    // 10 MB to a small endpoint, announced and streamed.
    let status = raw_post(s, "/v1/admin/login", None, 10 * 1024 * 1024, false).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large payload_too_large");
    // Without credentials the key route refuses before reading the body.
    let status = raw_post(s, "/v1/admin/keys", None, 10 * 1024 * 1024, true).await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized unauthenticated");
    let token = s.admin_token().await;
    let status = raw_post(s, "/v1/admin/keys", Some(&token), 10 * 1024 * 1024, true).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large payload_too_large");
    // And the server is fine afterwards.
    s.get("/v1/health/ready", None).await.expect(200, None);
}

/// A POST of `size` bytes over a raw socket (see `TestServer::raw`); checks
/// the answer is an enveloped error and returns "<status line> <code>".
async fn raw_post(s: &TestServer, path: &str, token: Option<&str>, size: usize, chunked: bool) -> String {
    let r = s
        .raw(common::RawRequest {
            method: "POST",
            target: path,
            token,
            content_type: "application/json",
            size,
            chunked,
        })
        .await;
    let lower = r.head.to_ascii_lowercase();
    assert!(lower.contains("x-request-id:"), "{}", r.head);
    assert!(lower.contains("content-type: application/json"), "{}", r.head);
    let envelope: Value = serde_json::from_slice(&r.body).unwrap();
    assert!(envelope["error"]["code"].is_string(), "{envelope}");
    format!(
        "{} {}",
        r.head.lines().next().unwrap_or(""),
        envelope["error"]["code"].as_str().unwrap()
    )
}

async fn admin_login(s: &TestServer) {
    s.create_admin("Ada@Example.com", "correct horse battery").await;
    // Emails are trimmed and lowercased on both sides.
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "  ADA@example.COM ", "password": "correct horse battery"}),
        )
        .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["admin"]["email"], "ada@example.com");
    assert_eq!(body["expires_in"], 12 * 3600);
    assert!(!res.text.contains("argon2"), "no hash in responses");
    let token = body["access_token"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], s.state.auth.keys().active_kid());
    s.get("/v1/admin/keys", Some(token)).await.expect(200, None);

    // Wrong password and unknown email: same status, same body.
    let wrong = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong horse battery"}),
        )
        .await;
    let unknown = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "bob@example.com", "password": "correct horse battery"}),
        )
        .await;
    wrong.expect(401, Some("unauthenticated"));
    unknown.expect(401, Some("unauthenticated"));
    assert_eq!(wrong.json(), unknown.json());

    // Creating the same admin twice is refused.
    let email = basalt_auth::email::Email::parse("ada@example.com").unwrap();
    let again = basalt_auth::admins::create(
        &s.state.auth,
        &email,
        basalt_core::Secret::new("another password".into()),
        basalt_core::caller::AdminRole::Owner,
        basalt_store::audit::Actor::CLI,
    )
    .await;
    assert_eq!(again.unwrap_err().code(), basalt_core::Code::AlreadyExists);
    // Passwords outside 8..=256 characters are refused.
    let short = basalt_auth::admins::create(
        &s.state.auth,
        &basalt_auth::email::Email::parse("c@example.com").unwrap(),
        basalt_core::Secret::new("short".into()),
        basalt_core::caller::AdminRole::Owner,
        basalt_store::audit::Actor::CLI,
    )
    .await;
    assert_eq!(short.unwrap_err().code(), basalt_core::Code::InvalidArgument);
}

/// Forges a token with a fresh key that Basalt never issued.
fn foreign_token(claims: &impl serde::Serialize, kid: &str) -> String {
    let seed = [7u8; 32];
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    der.extend_from_slice(&seed);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).unwrap()
}

fn unsigned_token(header: Value, claims: &impl serde::Serialize) -> String {
    let enc = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.",
        enc(header.to_string().as_bytes()),
        enc(&serde_json::to_vec(claims).unwrap())
    )
}

/// The claims of a real user's session (signed up over HTTP).
async fn user_claims(s: &TestServer) -> AccessClaims {
    let email = format!("u{}@example.com", basalt_core::secret::random_hex(4));
    let res = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": email, "password": "correct horse battery"}),
        )
        .await;
    res.expect(201, None);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A real app user's access token.
async fn user_token(s: &TestServer) -> String {
    let claims = user_claims(s).await;
    s.state.auth.keys().sign(&claims).unwrap()
}

async fn hostile_credentials(s: &TestServer) {
    let token = s.admin_token().await;
    let keys = s.state.auth.keys();
    let kid = keys.active_kid().to_owned();
    let admin_id = s.get("/v1/admin/keys", Some(&token)).await.status;
    assert_eq!(admin_id, 200);
    let now = basalt_core::Timestamp::now().seconds();
    let sub = {
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sub"].as_str().unwrap().to_owned()
    };
    let admin_claims = |iss: &str, iat: i64, exp: i64| AdminClaims {
        iss: iss.to_owned(),
        aud: ADMIN_AUDIENCE.to_owned(),
        sub: sub.clone(),
        email: "root@example.com".into(),
        role: "admin".into(),
        ver: 1,
        iat,
        exp,
    };
    let good = admin_claims(s.state.auth.issuer(), now, now + 600);
    // Sanity: the same claims signed by Basalt are accepted.
    let resigned = keys.sign(&good).unwrap();
    s.get("/v1/admin/keys", Some(&resigned)).await.expect(200, None);

    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(kid.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &good,
        &jsonwebtoken::EncodingKey::from_secret(keys.jwks()["keys"][0]["x"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    let mut tampered = resigned.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    let bad_tokens = [
        ("garbage", "not-a-token".to_owned()),
        ("three dots of nothing", "..".to_owned()),
        ("another key, same kid", foreign_token(&good, &kid)),
        (
            "unknown kid",
            keys.sign(&good).map(|_| foreign_token(&good, "nope")).unwrap(),
        ),
        (
            "alg none",
            unsigned_token(json!({"alg": "none", "typ": "JWT", "kid": kid}), &good),
        ),
        ("HS256 with the public key as secret", hs256),
        (
            "expired",
            keys.sign(&admin_claims(s.state.auth.issuer(), now - 7200, now - 3600))
                .unwrap(),
        ),
        (
            "wrong issuer",
            keys.sign(&admin_claims("https://evil.example", now, now + 600))
                .unwrap(),
        ),
        ("tampered signature", tampered),
        (
            "stale token version",
            keys.sign(&AdminClaims {
                ver: 99,
                ..good.clone()
            })
            .unwrap(),
        ),
        (
            "deleted admin",
            keys.sign(&AdminClaims {
                sub: "01ZZZZZZZZZZZZZZZZZZZZZZZZ".into(),
                ..good.clone()
            })
            .unwrap(),
        ),
        ("bsk garbage", "bsk_nope".to_owned()),
        (
            "bsk unknown id",
            format!("bsk_{}_{}", "0".repeat(26), "a".repeat(64)),
        ),
    ];
    for (what, bad) in &bad_tokens {
        let res = s.get("/v1/admin/keys", Some(bad)).await;
        assert_eq!(res.status, 401, "{what}: {}", res.text);
        res.expect(401, Some("unauthenticated"));
    }
    let expired = s.get("/v1/admin/keys", Some(&bad_tokens[6].1)).await;
    assert!(
        expired.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Not a bearer token at all.
    for value in ["Basic cm9vdDpyb290", "Bearer", "Bearer ", "bearer"] {
        let res = TestServer::read(
            s.client
                .get(format!("{}/v1/admin/keys", s.url))
                .header("authorization", value),
        )
        .await;
        res.expect(401, Some("unauthenticated"));
    }
    // No credentials: 401. An app user's token on an admin route: 403.
    s.get("/v1/admin/keys", None)
        .await
        .expect(401, Some("unauthenticated"));
    let user = user_claims(s).await;
    let user_token = keys.sign(&user).unwrap();
    s.get("/v1/admin/keys", Some(&user_token))
        .await
        .expect(403, Some("permission_denied"));
    // A user token with a role Basalt never issues is refused outright.
    let odd = keys
        .sign(&AccessClaims {
            role: "admin".into(),
            ..user
        })
        .unwrap();
    s.get("/v1/admin/keys", Some(&odd))
        .await
        .expect(401, Some("unauthenticated"));
}

async fn admin_password_reset_revokes_tokens(s: &TestServer) {
    let token = s.admin_token().await;
    s.get("/v1/admin/keys", Some(&token)).await.expect(200, None);
    let email = basalt_auth::email::Email::parse("root@example.com").unwrap();
    basalt_auth::admins::reset_password(
        &s.state.auth,
        &email,
        basalt_core::Secret::new("a brand new password".into()),
    )
    .await
    .unwrap();
    s.get("/v1/admin/keys", Some(&token))
        .await
        .expect(401, Some("unauthenticated"));
    s.post(
        "/v1/admin/login",
        None,
        json!({"email": "root@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    let fresh = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": "root@example.com", "password": "a brand new password"}),
        )
        .await;
    fresh.expect(200, None);
    let unknown = basalt_auth::email::Email::parse("nobody@example.com").unwrap();
    let missing = basalt_auth::admins::reset_password(
        &s.state.auth,
        &unknown,
        basalt_core::Secret::new("whatever123".into()),
    )
    .await;
    assert_eq!(missing.unwrap_err().code(), basalt_core::Code::NotFound);
}

async fn service_keys_lifecycle(s: &TestServer) {
    let admin = s.admin_token().await;
    let created = s
        .post(
            "/v1/admin/keys",
            Some(&admin),
            json!({"name": "  billing worker "}),
        )
        .await;
    created.expect(201, None);
    let created = created.json();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "billing worker");
    assert!(key.starts_with(&format!("bsk_{id}_")), "{key}");

    let listed = s.get("/v1/admin/keys", Some(&admin)).await;
    listed.expect(200, None);
    let listed = listed.json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed["keys"][0]["id"], id.as_str());
    assert_eq!(listed["keys"][0]["last_used_at"], Value::Null);
    assert!(listed["keys"][0].get("key").is_none());
    let secret = key.rsplit('_').next().unwrap();
    assert!(
        !listed.to_string().contains(secret),
        "the secret is shown only once"
    );

    // The key authenticates, and its use is recorded.
    let by_key = s.get("/v1/admin/stats", Some(&key)).await;
    by_key.expect(200, None);
    let mut last_used = Value::Null;
    for _ in 0..50 {
        last_used = s.get("/v1/admin/keys", Some(&admin)).await.json()["keys"][0]["last_used_at"].clone();
        if !last_used.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(basalt_core::Timestamp::parse(last_used.as_str().expect("last_used_at set")).is_some());

    // A key acts as a developer: it cannot see or make keys, so a leaked
    // key cannot make itself permanent.
    s.get("/v1/admin/keys", Some(&key))
        .await
        .expect(403, Some("permission_denied"));
    s.post("/v1/admin/keys", Some(&key), json!({"name": "second"}))
        .await
        .expect(403, Some("permission_denied"));
    let second = s
        .post("/v1/admin/keys", Some(&admin), json!({"name": "second"}))
        .await;
    second.expect(201, None);

    // Same id, wrong secret.
    let forged = format!("bsk_{id}_{}", "0".repeat(64));
    s.get("/v1/admin/keys", Some(&forged))
        .await
        .expect(401, Some("unauthenticated"));

    // Revocation is immediate.
    let res = s.delete(&format!("/v1/admin/keys/{id}"), Some(&admin)).await;
    res.expect(204, None);
    s.get("/v1/admin/keys", Some(&key))
        .await
        .expect(401, Some("unauthenticated"));
    s.delete(&format!("/v1/admin/keys/{id}"), Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.delete(
        "/v1/admin/keys/'%3B%20DROP%20TABLE%20service_keys%3B--",
        Some(&admin),
    )
    .await
    .expect(404, Some("not_found"));
    assert_eq!(
        s.get("/v1/admin/keys", Some(&admin)).await.json()["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    for bad in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "a\u{0}b"}),
        json!({}),
    ] {
        s.post("/v1/admin/keys", Some(&admin), bad)
            .await
            .expect(400, Some("invalid_argument"));
    }
    s.post("/v1/admin/keys", None, json!({"name": "anon"}))
        .await
        .expect(401, Some("unauthenticated"));
}

async fn metrics_count_requests(s: &TestServer) {
    for _ in 0..3 {
        s.get("/v1/health", None).await;
    }
    s.get("/does/not/exist/12345", None).await;
    let res = s.get("/metrics", None).await;
    res.expect(200, None);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text;
    assert!(
        text.contains("basalt_http_requests_total{method=\"GET\",route=\"/v1/health\",status=\"200\"} 3"),
        "{text}"
    );
    // Unmatched paths share one label: no label per raw path.
    assert!(text.contains("route=\"unmatched\",status=\"404\"} 1"), "{text}");
    assert!(!text.contains("12345"));
    assert!(text.contains("basalt_http_request_duration_seconds_count{route=\"/v1/health\"} 3"));
    assert!(text.contains("basalt_db_pool_connections{pool="));
    let backend = match s.backend {
        common::Backend::Sqlite => "sqlite",
        common::Backend::Postgres => "postgres",
    };
    assert!(text.contains(&format!("backend=\"{backend}\"")));
    assert!(text.contains("process_resident_memory_bytes "));
}

async fn every_documented_route_is_served(s: &TestServer) {
    let doc = s.get("/v1/openapi.json", None).await;
    doc.expect(200, None);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, basalt_server::openapi());
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/health", "get"),
        ("/v1/health/ready", "get"),
        ("/metrics", "get"),
        ("/v1/openapi.json", "get"),
        ("/v1/admin/login", "post"),
        ("/v1/admin/keys", "get"),
        ("/v1/admin/keys", "post"),
        ("/v1/admin/keys/{id}", "delete"),
        ("/v1/auth/jwks.json", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
    // The other direction: every documented operation reaches a handler.
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "01ZZZZZZZZZZZZZZZZZZZZZZZZ");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == Method::POST).then(|| json!({}));
            let res = s.request(m, &concrete, None, body).await;
            assert_ne!(res.status, 405, "{method} {path}");
            if res.status == 404 {
                assert_ne!(res.json()["error"]["message"], "no such route", "{method} {path}");
            }
            // Every operation documents the error envelope.
            assert!(ops[method]["responses"]["default"].is_object());
        }
    }
    // Declared access is enforced, whatever the handler does.
    let user = user_token(s).await;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let concrete = path.replace("{id}", "01ZZZZZZZZZZZZZZZZZZZZZZZZ");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (m == Method::POST).then(|| json!({}));
            let garbage = s
                .request(m.clone(), &concrete, Some("garbage"), body.clone())
                .await;
            match op["x-basalt-access"].as_str().unwrap() {
                "admin" => {
                    s.request(m.clone(), &concrete, None, body.clone())
                        .await
                        .expect(401, Some("unauthenticated"));
                    s.request(m, &concrete, Some(&user), body)
                        .await
                        .expect(403, Some("permission_denied"));
                    garbage.expect(401, Some("unauthenticated"));
                }
                "caller" | "user" => {
                    garbage.expect(401, Some("unauthenticated"));
                }
                "public" => assert_ne!(garbage.status, 401, "{method} {path} ignores credentials"),
                other => panic!("unknown access {other}"),
            }
        }
    }
    assert!(doc["components"]["schemas"]["AdminSession"].is_object());
    assert_eq!(
        doc["paths"]["/v1/admin/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LoginRequest"
    );
}

async fn jwks_verifies_issued_tokens(s: &TestServer) {
    let token = s.admin_token().await;
    let jwks = s.get("/v1/auth/jwks.json", None).await;
    jwks.expect(200, None);
    let jwks = jwks.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert!(key.get("d").is_none(), "no private part in the JWKS");
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[ADMIN_AUDIENCE]);
    validation.set_issuer(&[s.url.as_str()]);
    let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation)
        .expect("an outside verifier accepts the token");
    assert_eq!(data.header.kid.as_deref(), key["kid"].as_str());
    assert_eq!(data.claims["role"], "admin");
}

async fn nodes_share_signing_keys(s: &TestServer) {
    // A second node on the same database signs with the same key and
    // accepts the first node's tokens.
    let token = s.admin_token().await;
    let mut config = (*s.state.config).clone();
    config.http = ([127, 0, 0, 1], 0).into();
    let dir = tempfile::tempdir().unwrap();
    if s.backend == common::Backend::Sqlite {
        config.data_dir = s.dir.path().to_owned();
    }
    let second = TestServer::serve(config, s.backend, None, dir).await;
    assert_eq!(
        second.state.auth.keys().active_kid(),
        s.state.auth.keys().active_kid()
    );
    second.get("/v1/admin/keys", Some(&token)).await.expect(200, None);
    second.stop().await;
}

on_both_backends!(rules_playground);

async fn rules_playground(s: &TestServer) {
    let admin = s.admin_token().await;
    let eval = |body: Value| {
        let admin = admin.clone();
        async move { s.post("/v1/admin/rules/evaluate", Some(&admin), body).await }
    };
    let owner_rule = "auth != () && doc.data.owner == auth.uid";
    let res = eval(json!({
        "rule": owner_rule,
        "auth": {"uid": "u1", "role": "authenticated"},
        "doc": {"id": "p1", "version": 1, "created_at": 0, "updated_at": 0, "data": {"owner": "u1"}}
    }))
    .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["allowed"], true);
    assert_eq!(body["error"], Value::Null);
    assert!(body["operations"].as_u64().unwrap() > 0);

    let res = eval(json!({"rule": owner_rule, "doc": {"data": {"owner": "u1"}}}))
        .await
        .json();
    assert_eq!(res["allowed"], false, "anonymous: auth is ()");
    assert_eq!(res["error"], Value::Null);

    // request defaults, and a request given in full.
    let res = eval(
        json!({"rule": "request.method == \"GET\" && request.operation == \"get\" && request.time > 0"}),
    )
    .await;
    assert_eq!(res.json()["allowed"], true, "{}", res.text);
    let res = eval(json!({"rule": "request.method == \"POST\" && request.ip == \"1.2.3.4\" && request.operation == \"create\"",
        "request": {"method": "POST", "ip": "1.2.3.4", "operation": "create", "time": 5}}))
    .await;
    assert_eq!(res.json()["allowed"], true, "{}", res.text);

    // Errors and budgets deny with the reason shown to the admin.
    let res = eval(json!({"rule": "loop {}"})).await.json();
    assert_eq!(res["allowed"], false);
    assert!(res["error"].as_str().unwrap().contains("operations"), "{res}");
    let res = eval(json!({"rule": "throw \"nope\""})).await.json();
    assert!(res["error"].as_str().unwrap().contains("nope"), "{res}");
    let res = eval(json!({"rule": "42"})).await.json();
    assert!(res["error"].as_str().unwrap().contains("not a bool"), "{res}");
    // get() sees the (still empty) document store.
    let res = eval(json!({"rule": "get(\"teams\", \"t1\") == () && !exists(\"teams\", \"t1\")"}))
        .await
        .json();
    assert_eq!(res["allowed"], true, "{res}");

    // A rule that does not compile is a 400 with the compiler's message and position.
    let res = eval(json!({"rule": "auth.uid =="})).await;
    res.expect(400, Some("invalid_argument"));
    let err = res.json();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not compile"),
        "{err}"
    );
    assert_eq!(err["error"]["details"]["line"], 1);
    eval(json!({"rule": "auht != ()"}))
        .await
        .expect(400, Some("invalid_argument"));

    // Asking for a stored rule of a collection that does not exist.
    eval(json!({"collection": "posts", "operation": "read"}))
        .await
        .expect(404, Some("not_found"));
    eval(json!({"collection": "posts", "operation": "drop"}))
        .await
        .expect(400, Some("invalid_argument"));
    eval(json!({"rule": "true", "collection": "posts"}))
        .await
        .expect(400, Some("invalid_argument"));
    eval(json!({})).await.expect(400, Some("invalid_argument"));
    eval(json!({"rule": "true", "surprise": 1}))
        .await
        .expect(400, Some("invalid_argument"));

    // Only admins and service keys may use the playground.
    s.post("/v1/admin/rules/evaluate", None, json!({"rule": "true"}))
        .await
        .expect(401, Some("unauthenticated"));
    let user = user_token(s).await;
    s.post("/v1/admin/rules/evaluate", Some(&user), json!({"rule": "true"}))
        .await
        .expect(403, Some("permission_denied"));

    let metrics = s.get("/metrics", None).await.text;
    assert!(
        metrics.contains("basalt_rule_evaluations_total{outcome=\"allowed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("basalt_rule_evaluation_duration_seconds_count"));
}

/// Links lead to operations that exist, filling parameters they have; the
/// path parameters the server checks carry their pattern.
#[test]
fn openapi_links_and_parameters_are_consistent() {
    let doc = basalt_server::openapi();
    let mut operations = std::collections::HashMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            operations.insert(
                op["operationId"].as_str().unwrap().to_owned(),
                (path.clone(), method.clone(), op.clone()),
            );
        }
    }
    let mut links = 0;
    for (path, method, op) in operations.values() {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(map) = response.get("links").and_then(Value::as_object) else {
                continue;
            };
            assert!(status.starts_with('2'), "{method} {path}: links on {status}");
            for (name, link) in map {
                links += 1;
                let target = link["operationId"].as_str().unwrap();
                let (_, _, target_op) = operations
                    .get(target)
                    .unwrap_or_else(|| panic!("{method} {path} link {name}: no operation {target}"));
                let names: Vec<&str> = target_op["parameters"]
                    .as_array()
                    .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                    .unwrap_or_default();
                for (param, expression) in link["parameters"].as_object().unwrap() {
                    assert!(
                        names.contains(&param.as_str()),
                        "{method} {path} link {name}: {target} has no {param}"
                    );
                    let expression = expression.as_str().unwrap();
                    if let Some(p) = expression.strip_prefix("$request.path.") {
                        assert!(
                            path.contains(&format!("{{{p}}}")),
                            "{method} {path} link {name}: no {p} here"
                        );
                    } else {
                        assert!(expression.starts_with("$response.body#/"), "{expression}");
                    }
                }
            }
        }
    }
    assert!(links >= 20, "{links} links");
    // Every collection, document id, bucket and function name in a path is constrained.
    for (path, method, op) in operations.values() {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            let constrained = matches!(name, "collection" | "bucket" | "path")
                || (name == "id" && path.starts_with("/v1/db/"))
                || (name == "name"
                    && [
                        "/v1/db/collections",
                        "/v1/storage/buckets",
                        "/v1/admin/functions",
                        "/v1/admin/webhooks",
                        "/v1/admin/rules/cases",
                    ]
                    .iter()
                    .any(|prefix| path.starts_with(prefix)));
            if p["in"] == "path" && constrained {
                assert!(
                    p["schema"]["pattern"].is_string(),
                    "{method} {path}: {name} has no pattern"
                );
            }
        }
    }
}
