//! App-user auth through HTTP on a real server, on both backends.

mod common;

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, Resp, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    sign_up_in_refresh_and_out,
    refresh_token_reuse_revokes_the_session,
    anonymous_users_upgrade_in_place,
    account_updates,
    sessions_can_be_listed_and_ended,
    mail_flows_through_the_outbox,
    admins_manage_users,
    hostile_auth_input,
    totp_mfa,
    owners_reclaim_addresses_registered_by_others,
);

const PASSWORD: &str = "correct horse battery";

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn signup(s: &TestServer, email: &str) -> Value {
    let res = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    res.expect(201, None);
    res.json()
}

async fn login(s: &TestServer, email: &str, password: &str) -> Resp {
    s.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

fn token(session: &Value) -> &str {
    session["access_token"].as_str().unwrap()
}

fn refresh_token(session: &Value) -> &str {
    session["refresh_token"].as_str().unwrap()
}

async fn refresh(s: &TestServer, refresh_token: &str) -> Resp {
    s.post("/v1/auth/refresh", None, json!({"refresh_token": refresh_token}))
        .await
}

async fn patch_user(s: &TestServer, token: &str, body: Value) -> Resp {
    s.request(Method::PATCH, "/v1/auth/user", Some(token), Some(body))
        .await
}

async fn sign_up_in_refresh_and_out(s: &TestServer) {
    let session = signup(s, "  Ada@Example.COM ").await;
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    let user = &session["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["anonymous"], false);
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["data"], json!({}));
    assert_eq!(user["claims"], json!({}));
    for field in ["id", "created_at", "updated_at"] {
        assert!(user[field].is_string(), "{field}");
    }
    let text = session.to_string();
    assert!(!text.contains("argon2") && !text.contains("password"), "{text}");
    let claims = claims_of(token(&session));
    assert_eq!(claims["aud"], "basalt");
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aal"], 1);
    assert_eq!(claims["email"], "ada@example.com");
    assert!(claims["sid"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    s.post(
        "/v1/auth/signup",
        None,
        json!({"email": "ada@example.com", "password": "another password"}),
    )
    .await
    .expect(409, Some("already_exists"));

    let me = s.get("/v1/auth/user", Some(token(&session))).await;
    me.expect(200, None);
    assert_eq!(me.json()["id"], user["id"]);

    let res = login(s, "ADA@example.com", PASSWORD).await;
    res.expect(200, None);
    let second = res.json();
    assert_ne!(
        claims_of(token(&second))["sid"],
        claims["sid"],
        "each login is its own session"
    );

    // Refresh rotates the refresh token and keeps the session.
    let res = refresh(s, refresh_token(&second)).await;
    res.expect(200, None);
    let rotated = res.json();
    assert_ne!(refresh_token(&rotated), refresh_token(&second));
    assert_eq!(
        claims_of(token(&rotated))["sid"],
        claims_of(token(&second))["sid"]
    );
    s.get("/v1/auth/user", Some(token(&rotated)))
        .await
        .expect(200, None);

    // Logout ends that session: its access and refresh tokens stop working.
    let res = s
        .request(Method::POST, "/v1/auth/logout", Some(token(&rotated)), None)
        .await;
    res.expect(204, None);
    s.get("/v1/auth/user", Some(token(&rotated)))
        .await
        .expect(401, Some("unauthenticated"));
    refresh(s, refresh_token(&rotated))
        .await
        .expect(401, Some("unauthenticated"));
    // The first session is untouched.
    s.get("/v1/auth/user", Some(token(&session)))
        .await
        .expect(200, None);
    s.request(Method::POST, "/v1/auth/logout", None, None)
        .await
        .expect(401, Some("unauthenticated"));
}

async fn refresh_token_reuse_revokes_the_session(s: &TestServer) {
    let first = signup(s, "bob@example.com").await;
    let second = refresh(s, refresh_token(&first)).await.json();
    let third = refresh(s, refresh_token(&second)).await.json();
    s.get("/v1/auth/user", Some(token(&third)))
        .await
        .expect(200, None);
    // Replaying the token just rotated away, right away, is refused but ends nothing
    // (two tabs refreshing at once).
    let res = refresh(s, refresh_token(&second)).await;
    res.expect(401, Some("unauthenticated"));
    s.get("/v1/auth/user", Some(token(&third)))
        .await
        .expect(200, None);
    // An older one is reuse: the whole session ends.
    let res = refresh(s, refresh_token(&first)).await;
    res.expect(401, Some("unauthenticated"));
    assert!(res.text.contains("reused"), "{}", res.text);
    s.get("/v1/auth/user", Some(token(&third)))
        .await
        .expect(401, Some("unauthenticated"));
    refresh(s, refresh_token(&third))
        .await
        .expect(401, Some("unauthenticated"));
    // A forged secret for a live session is refused without ending it.
    let live = login(s, "bob@example.com", PASSWORD).await.json();
    let rt = refresh_token(&live);
    let forged = format!(
        "{}{}",
        &rt[..rt.len() - 4],
        if rt.ends_with("0000") { "1111" } else { "0000" }
    );
    refresh(s, &forged).await.expect(401, Some("unauthenticated"));
    refresh(s, rt).await.expect(200, None);
}

async fn anonymous_users_upgrade_in_place(s: &TestServer) {
    let res = s.post("/v1/auth/anonymous", None, json!({})).await;
    res.expect(201, None);
    let anon = res.json();
    assert_eq!(anon["user"]["anonymous"], true);
    assert_eq!(anon["user"]["email"], Value::Null);
    assert_eq!(claims_of(token(&anon))["role"], "anonymous_user");
    let id = anon["user"]["id"].clone();
    // An email alone does not make a permanent user; email and password do, same id.
    let res = patch_user(s, token(&anon), json!({"email": "carol@example.com"})).await;
    res.expect(200, None);
    assert_eq!(res.json()["anonymous"], true);
    let res = patch_user(s, token(&anon), json!({"password": PASSWORD})).await;
    res.expect(200, None);
    let user = res.json();
    assert_eq!(user["anonymous"], false);
    assert_eq!(user["id"], id);
    let res = login(s, "carol@example.com", PASSWORD).await;
    res.expect(200, None);
    assert_eq!(res.json()["user"]["id"], id);
    assert_eq!(claims_of(token(&res.json()))["role"], "authenticated");
}

async fn account_updates(s: &TestServer) {
    let a = signup(s, "dave@example.com").await;
    let other = login(s, "dave@example.com", PASSWORD).await.json();
    // Profile data is a JSON Merge Patch.
    let res = patch_user(
        s,
        token(&a),
        json!({"data": {"name": "Dave", "prefs": {"theme": "dark", "lang": "en"}}}),
    )
    .await;
    res.expect(200, None);
    let res = patch_user(
        s,
        token(&a),
        json!({"data": {"prefs": {"lang": null}, "age": 41}}),
    )
    .await;
    assert_eq!(
        res.json()["data"],
        json!({"name": "Dave", "prefs": {"theme": "dark"}, "age": 41})
    );
    let deep = (0..40).fold(json!(1), |acc, _| json!({"x": acc}));
    patch_user(s, token(&a), json!({"data": {"deep": deep}}))
        .await
        .expect(400, Some("invalid_argument"));
    patch_user(s, token(&a), json!({"data": {"big": "x".repeat(70_000)}}))
        .await
        .expect(413, Some("payload_too_large"));
    // Changing the password needs the current one, and ends the other sessions.
    patch_user(s, token(&a), json!({"password": "a new password"}))
        .await
        .expect(400, Some("invalid_argument"));
    patch_user(
        s,
        token(&a),
        json!({"password": "a new password", "current_password": "wrong wrong"}),
    )
    .await
    .expect(403, Some("permission_denied"));
    patch_user(
        s,
        token(&a),
        json!({"password": "short", "current_password": PASSWORD}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let res = patch_user(
        s,
        token(&a),
        json!({"password": "a new password", "current_password": PASSWORD}),
    )
    .await;
    res.expect(200, None);
    s.get("/v1/auth/user", Some(token(&a))).await.expect(200, None);
    s.get("/v1/auth/user", Some(token(&other)))
        .await
        .expect(401, Some("unauthenticated"));
    login(s, "dave@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthenticated"));
    login(s, "dave@example.com", "a new password")
        .await
        .expect(200, None);
    // Changing the email needs the password too: a stolen token is not enough.
    patch_user(s, token(&a), json!({"email": "thief@example.com"}))
        .await
        .expect(400, Some("invalid_argument"));
    patch_user(
        s,
        token(&a),
        json!({"email": "thief@example.com", "current_password": "guess guess"}),
    )
    .await
    .expect(403, Some("permission_denied"));
    // A new email is unverified and must be free.
    signup(s, "erin@example.com").await;
    patch_user(
        s,
        token(&a),
        json!({"email": "ERIN@example.com", "current_password": "a new password"}),
    )
    .await
    .expect(409, Some("already_exists"));
    let res = patch_user(
        s,
        token(&a),
        json!({"email": "dave2@example.com", "current_password": "a new password"}),
    )
    .await;
    assert_eq!(res.json()["email"], "dave2@example.com");
    assert_eq!(res.json()["email_verified"], false);
}

async fn sessions_can_be_listed_and_ended(s: &TestServer) {
    let a = signup(s, "fay@example.com").await;
    let b = TestServer::read(
        s.client
            .post(format!("{}/v1/auth/login", s.url))
            .header("user-agent", "TestPhone/1.0")
            .json(&json!({"email": "fay@example.com", "password": PASSWORD})),
    )
    .await
    .json();
    let res = s.get("/v1/auth/sessions", Some(token(&a))).await;
    res.expect(200, None);
    let list = res.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let b_sid = claims_of(token(&b))["sid"].as_str().unwrap().to_owned();
    let b_row = list.iter().find(|r| r["id"] == b_sid.as_str()).unwrap();
    assert_eq!(b_row["current"], false);
    assert_eq!(b_row["user_agent"], "TestPhone/1.0");
    assert_eq!(b_row["ip"], "127.0.0.1");
    assert_eq!(list.iter().filter(|r| r["current"] == true).count(), 1);
    // Another user cannot end Fay's session.
    let g = signup(s, "gus@example.com").await;
    s.delete(&format!("/v1/auth/sessions/{b_sid}"), Some(token(&g)))
        .await
        .expect(404, Some("not_found"));
    s.delete(&format!("/v1/auth/sessions/{b_sid}"), Some(token(&a)))
        .await
        .expect(204, None);
    s.get("/v1/auth/user", Some(token(&b)))
        .await
        .expect(401, Some("unauthenticated"));
    s.delete(&format!("/v1/auth/sessions/{b_sid}"), Some(token(&a)))
        .await
        .expect(404, Some("not_found"));
    assert_eq!(
        s.get("/v1/auth/sessions", Some(token(&a))).await.json()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The outbox items to `to`, newest first.
async fn mails_to(s: &TestServer, admin: &str, to: &str) -> Vec<Value> {
    let res = s.get("/v1/admin/outbox", Some(admin)).await;
    res.expect(200, None);
    res.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"] == to)
        .cloned()
        .collect()
}

/// Mail goes out after the answer: waits until `to` has `count` mails, returns the newest.
async fn last_mail_of(s: &TestServer, admin: &str, to: &str, count: usize) -> Value {
    for _ in 0..250 {
        let mails = mails_to(s, admin, to).await;
        if mails.len() >= count {
            return mails[0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no mail number {count} to {to}");
}

async fn mail_flows_through_the_outbox(s: &TestServer) {
    let admin = s.admin_token().await;
    signup(s, "hal@example.com").await;
    // Always 202, whether the address has an account or not.
    for email in ["hal@example.com", "nobody@example.com"] {
        s.post("/v1/auth/verify/send", None, json!({"email": email}))
            .await
            .expect(202, None);
        s.post("/v1/auth/password/forgot", None, json!({"email": email}))
            .await
            .expect(202, None);
    }
    last_mail_of(s, &admin, "hal@example.com", 2).await;
    assert!(
        mails_to(s, &admin, "nobody@example.com").await.is_empty(),
        "no mail to unknown addresses"
    );
    let outbox = s.get("/v1/admin/outbox", Some(&admin)).await.json();
    let items = outbox["items"].as_array().unwrap();
    let times: Vec<&str> = items.iter().map(|m| m["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let hal = mails_to(s, &admin, "hal@example.com").await;
    let verify = hal
        .iter()
        .find(|m| m["subject"] == "Confirm your email address")
        .unwrap()
        .clone();
    let reset = hal
        .iter()
        .find(|m| m["subject"] == "Reset your password")
        .unwrap()
        .clone();
    let verify_token = verify["token"].as_str().unwrap();
    assert!(verify["text"].as_str().unwrap().contains(verify_token));

    // Verification.
    let res = s
        .post("/v1/auth/verify", None, json!({"token": verify_token}))
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["email_verified"], true);
    s.post("/v1/auth/verify", None, json!({"token": verify_token}))
        .await
        .expect(400, Some("invalid_argument"));

    // Password reset ends every session.
    let before = login(s, "hal@example.com", PASSWORD).await.json();
    let reset_token = reset["token"].as_str().unwrap();
    s.post(
        "/v1/auth/password/reset",
        None,
        json!({"token": reset_token, "password": "short"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let res = s
        .post(
            "/v1/auth/password/reset",
            None,
            json!({"token": reset_token, "password": "brand new password"}),
        )
        .await;
    res.expect(200, None);
    s.get("/v1/auth/user", Some(token(&before)))
        .await
        .expect(401, Some("unauthenticated"));
    login(s, "hal@example.com", "brand new password")
        .await
        .expect(200, None);
    s.post(
        "/v1/auth/password/reset",
        None,
        json!({"token": reset_token, "password": "another new one"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    // A verify token cannot reset a password.
    let hal = login(s, "hal@example.com", "brand new password").await.json();
    patch_user(
        s,
        token(&hal),
        json!({"email": "hal2@example.com", "current_password": "brand new password"}),
    )
    .await
    .expect(200, None);
    let verify_token = last_mail_of(s, &admin, "hal2@example.com", 1).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        "/v1/auth/password/reset",
        None,
        json!({"token": verify_token, "password": "sneaky password"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post("/v1/auth/verify", None, json!({"token": verify_token}))
        .await
        .expect(200, None);

    // A reset link stops working once the account's email changes.
    s.post(
        "/v1/auth/password/forgot",
        None,
        json!({"email": "hal2@example.com"}),
    )
    .await
    .expect(202, None);
    let stale = last_mail_of(s, &admin, "hal2@example.com", 2).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    patch_user(
        s,
        token(&hal),
        json!({"email": "hal3@example.com", "current_password": "brand new password"}),
    )
    .await
    .expect(200, None);
    s.post(
        "/v1/auth/password/reset",
        None,
        json!({"token": stale, "password": "sneaky password"}),
    )
    .await
    .expect(400, Some("invalid_argument"));

    // Magic links sign in, creating the user on first use.
    let res = s
        .post(
            "/v1/auth/magic-link",
            None,
            json!({"email": "ivy@example.com", "redirect_to": "https://evil.example/x"}),
        )
        .await;
    res.expect(400, Some("invalid_argument"));
    let to = format!("{}/welcome", s.url);
    s.post(
        "/v1/auth/magic-link",
        None,
        json!({"email": "Ivy@example.com", "redirect_to": to}),
    )
    .await
    .expect(202, None);
    let mail = last_mail_of(s, &admin, "ivy@example.com", 1).await;
    let magic = mail["token"].as_str().unwrap().to_owned();
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{to}?type=magiclink&token={magic}")),
        "{mail}"
    );
    s.post(
        "/v1/auth/password/reset",
        None,
        json!({"token": magic, "password": "sneaky password"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let res = s
        .post("/v1/auth/magic-link/verify", None, json!({"token": magic}))
        .await;
    res.expect(200, None);
    let session = res.json();
    assert_eq!(session["user"]["email"], "ivy@example.com");
    assert_eq!(session["user"]["email_verified"], true);
    // A passwordless account changes its email only soon after signing in.
    let res = patch_user(s, token(&session), json!({"email": "ivy2@example.com"})).await;
    res.expect(200, None);
    s.state
        .db
        .execute("UPDATE sessions SET created_at = 0", &[])
        .await
        .unwrap();
    patch_user(s, token(&session), json!({"email": "ivy3@example.com"}))
        .await
        .expect(403, Some("permission_denied"));
    patch_user(s, token(&session), json!({"password": "a password at last"}))
        .await
        .expect(403, Some("permission_denied"));
    s.post("/v1/auth/magic-link/verify", None, json!({"token": magic}))
        .await
        .expect(400, Some("invalid_argument"));
    // Expired tokens are refused.
    s.post("/v1/auth/magic-link", None, json!({"email": "ivy@example.com"}))
        .await
        .expect(202, None);
    let magic = last_mail_of(s, &admin, "ivy@example.com", 2).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.state
        .db
        .execute("UPDATE one_time_tokens SET expires_at = 0", &[])
        .await
        .unwrap();
    s.post("/v1/auth/magic-link/verify", None, json!({"token": magic}))
        .await
        .expect(400, Some("invalid_argument"));
    for bad in ["", "x", "a.b", &format!("{}.{}", "0".repeat(26), "0".repeat(64))] {
        s.post("/v1/auth/verify", None, json!({"token": bad}))
            .await
            .expect(400, Some("invalid_argument"));
    }
    // Users cannot read the outbox.
    s.get("/v1/admin/outbox", Some(token(&session)))
        .await
        .expect(403, Some("permission_denied"));
}

async fn admins_manage_users(s: &TestServer) {
    let admin = s.admin_token().await;
    for i in 0..5 {
        signup(s, &format!("user{i}@list.example")).await;
    }
    let res = s.post("/v1/admin/users", Some(&admin), json!({"email": "Made@Example.com", "password": PASSWORD, "email_verified": true, "claims": {"role": "editor"}})).await;
    res.expect(201, None);
    let made = res.json();
    assert_eq!(made["email"], "made@example.com");
    assert_eq!(made["claims"], json!({"role": "editor"}));
    s.post(
        "/v1/admin/users",
        Some(&admin),
        json!({"email": "made@example.com"}),
    )
    .await
    .expect(409, Some("already_exists"));

    // Paging through a search returns each match once.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let res = s
            .get(
                &format!("/v1/admin/users?q=list.example&limit=2&after={after}"),
                Some(&admin),
            )
            .await;
        res.expect(200, None);
        let page = res.json();
        seen.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => after = c.to_owned(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..5)
            .map(|i| format!("user{i}@list.example"))
            .collect::<Vec<_>>()
    );
    let id = made["id"].as_str().unwrap();
    let by_id = s
        .get(&format!("/v1/admin/users?q={id}"), Some(&admin))
        .await
        .json();
    assert_eq!(by_id["users"].as_array().unwrap().len(), 1);
    s.get("/v1/admin/users?q=%25", Some(&admin))
        .await
        .expect(200, None);
    assert_eq!(
        s.get("/v1/admin/users?q=_", Some(&admin)).await.json()["users"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "LIKE wildcards are literal"
    );
    s.get("/v1/admin/users?limit=0", Some(&admin))
        .await
        .expect(400, Some("invalid_argument"));
    s.get("/v1/admin/users?limit=abc", Some(&admin))
        .await
        .expect(400, Some("invalid_argument"));

    // Custom claims land in the next access token.
    let session = login(s, "made@example.com", PASSWORD).await.json();
    assert_eq!(claims_of(token(&session))["claims"], json!({"role": "editor"}));
    let res = s
        .request(
            Method::PATCH,
            &format!("/v1/admin/users/{id}"),
            Some(&admin),
            Some(json!({"claims": {"role": "owner", "tier": 2}})),
        )
        .await;
    res.expect(200, None);
    let refreshed = refresh(s, refresh_token(&session)).await.json();
    assert_eq!(
        claims_of(token(&refreshed))["claims"],
        json!({"role": "owner", "tier": 2})
    );
    let big = json!({"claims": {"x": "y".repeat(9000)}});
    s.request(
        Method::PATCH,
        &format!("/v1/admin/users/{id}"),
        Some(&admin),
        Some(big),
    )
    .await
    .expect(400, Some("invalid_argument"));

    // Disabling ends sessions and blocks sign-in.
    s.request(
        Method::PATCH,
        &format!("/v1/admin/users/{id}"),
        Some(&admin),
        Some(json!({"disabled": true})),
    )
    .await
    .expect(200, None);
    s.get("/v1/auth/user", Some(token(&refreshed)))
        .await
        .expect(401, Some("unauthenticated"));
    login(s, "made@example.com", PASSWORD)
        .await
        .expect(403, Some("permission_denied"));
    refresh(s, refresh_token(&refreshed))
        .await
        .expect(401, Some("unauthenticated"));
    s.request(
        Method::PATCH,
        &format!("/v1/admin/users/{id}"),
        Some(&admin),
        Some(json!({"disabled": false})),
    )
    .await
    .expect(200, None);
    let session = login(s, "made@example.com", PASSWORD).await.json();

    // Forced sign-out, then deletion.
    s.request(
        Method::POST,
        &format!("/v1/admin/users/{id}/logout"),
        Some(&admin),
        None,
    )
    .await
    .expect(204, None);
    s.get("/v1/auth/user", Some(token(&session)))
        .await
        .expect(401, Some("unauthenticated"));
    let session = login(s, "made@example.com", PASSWORD).await.json();
    s.delete(&format!("/v1/admin/users/{id}"), Some(&admin))
        .await
        .expect(204, None);
    s.get("/v1/auth/user", Some(token(&session)))
        .await
        .expect(401, Some("unauthenticated"));
    s.get(&format!("/v1/admin/users/{id}"), Some(&admin))
        .await
        .expect(404, Some("not_found"));
    s.delete(&format!("/v1/admin/users/{id}"), Some(&admin))
        .await
        .expect(404, Some("not_found"));
    // Users may not manage users.
    let user = signup(s, "plain@example.com").await;
    s.get("/v1/admin/users", Some(token(&user)))
        .await
        .expect(403, Some("permission_denied"));
}

async fn hostile_auth_input(s: &TestServer) {
    for (email, password) in [
        ("a@example.com", "1234567".to_owned()),
        ("a@example.com", "x".repeat(257)),
        ("not an email", PASSWORD.to_owned()),
        ("", PASSWORD.to_owned()),
    ] {
        s.post(
            "/v1/auth/signup",
            None,
            json!({"email": email, "password": password}),
        )
        .await
        .expect(400, Some("invalid_argument"));
    }
    s.post(
        "/v1/auth/signup",
        None,
        json!({"email": "a@example.com", "password": PASSWORD, "role": "admin"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    for bad in [
        "",
        "garbage",
        "a.b.c",
        "..",
        &format!("{}.0.{}", "0".repeat(26), "0".repeat(64)),
        &format!("{}.-1.{}", "0".repeat(26), "0".repeat(64)),
    ] {
        refresh(s, bad).await.expect(401, Some("unauthenticated"));
    }
    s.post("/v1/auth/refresh", None, json!({"refresh_token": 5}))
        .await
        .expect(400, Some("invalid_argument"));
    // Unknown email and wrong password: same answer, similar time.
    signup(s, "timing@example.com").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..4 {
        let t = Instant::now();
        let a = login(s, "timing@example.com", "wrong password").await;
        known.push(t.elapsed());
        let t = Instant::now();
        let b = login(s, &format!("ghost{i}@example.com"), "wrong password").await;
        unknown.push(t.elapsed());
        assert_eq!(a.status, 401);
        assert_eq!(a.json(), b.json());
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
    // Both paths run one Argon2id hash; a missing hash would be ~100x faster.
    assert!(k / u < 3.0 && u / k < 3.0, "known {k:.4}s vs unknown {u:.4}s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_confirmation_can_be_required() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(s) = TestServer::start_with(backend, |c| c.require_email_confirmation = true).await else {
            continue;
        };
        let admin = s.admin_token().await;
        let res = s
            .post(
                "/v1/auth/signup",
                None,
                json!({"email": "jo@example.com", "password": PASSWORD}),
            )
            .await;
        res.expect(201, None);
        assert_eq!(res.json()["session"], Value::Null);
        assert_eq!(res.json()["user"]["email_verified"], false);
        login(&s, "jo@example.com", PASSWORD)
            .await
            .expect(403, Some("permission_denied"));
        let mail = last_mail_of(&s, &admin, "jo@example.com", 1).await;
        s.post("/v1/auth/verify", None, json!({"token": mail["token"]}))
            .await
            .expect(200, None);
        login(&s, "jo@example.com", PASSWORD).await.expect(200, None);
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_endpoints_are_rate_limited() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.login_rate_limit = 2)
        .await
        .unwrap();
    for path in [
        "/v1/auth/password/forgot",
        "/v1/auth/verify/send",
        "/v1/auth/magic-link",
    ] {
        for _ in 0..2 {
            s.post(path, None, json!({"email": "k@example.com"}))
                .await
                .expect(202, None);
        }
        let res = s.post(path, None, json!({"email": "k@example.com"})).await;
        res.expect(429, Some("rate_limited"));
        assert!(res.header("retry-after").is_some());
    }
    for _ in 0..2 {
        s.post("/v1/auth/anonymous", None, json!({}))
            .await
            .expect(201, None);
    }
    s.post("/v1/auth/anonymous", None, json!({}))
        .await
        .expect(429, Some("rate_limited"));
    s.stop().await;
}

fn code_at(secret: &str, step: i64) -> String {
    let key = basalt_auth::mfa::base32_decode(secret).unwrap();
    format!("{:06}", basalt_auth::mfa::totp(&key, step))
}

async fn totp_mfa(s: &TestServer) {
    let session = signup(s, "mfa@example.com").await;
    // The access token alone cannot turn MFA on (whoever does can lock the
    // holder out): the password is asked for.
    s.request(
        Method::POST,
        "/v1/auth/mfa/totp/enroll",
        Some(token(&session)),
        None,
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post(
        "/v1/auth/mfa/totp/enroll",
        Some(token(&session)),
        json!({"current_password": "not the password"}),
    )
    .await
    .expect(403, Some("permission_denied"));
    s.post(
        "/v1/auth/mfa/totp/enroll",
        Some(token(&session)),
        json!({"current_password": PASSWORD, "extra": 1}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let res = s
        .request(
            Method::POST,
            "/v1/auth/mfa/totp/enroll",
            Some(token(&session)),
            Some(json!({"current_password": PASSWORD})),
        )
        .await;
    res.expect(200, None);
    let enrol = res.json();
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160-bit secret in base32");
    let url = enrol["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/Basalt:mfa%40example.com?secret="),
        "{url}"
    );
    assert!(url.contains(&secret) && url.contains("issuer=Basalt") && url.contains("period=30"));
    let codes: Vec<String> = enrol["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    // Not required until confirmed.
    login(s, "mfa@example.com", PASSWORD).await.expect(200, None);
    let step = basalt_core::Timestamp::now().seconds() / 30;
    let confirm = |code: String| {
        let t = token(&session).to_owned();
        async move {
            s.post("/v1/auth/mfa/totp/confirm", Some(&t), json!({"code": code}))
                .await
        }
    };
    confirm("000000".into())
        .await
        .expect(400, Some("invalid_argument"));
    confirm(code_at(&secret, step - 5))
        .await
        .expect(400, Some("invalid_argument"));
    let res = confirm(code_at(&secret, step)).await;
    res.expect(200, None);
    assert_eq!(res.json()["mfa_enabled"], true);
    s.request(
        Method::POST,
        "/v1/auth/mfa/totp/enroll",
        Some(token(&session)),
        None,
    )
    .await
    .expect(409, Some("already_exists"));

    // Sign-in now stops halfway.
    let half = login(s, "mfa@example.com", PASSWORD).await;
    half.expect(200, None);
    let half = half.json();
    assert_eq!(half["mfa_required"], true);
    assert!(half.get("access_token").is_none());
    let mfa_token = half["mfa_token"].as_str().unwrap().to_owned();
    // The code used to confirm cannot be replayed.
    s.post(
        "/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": mfa_token, "code": code_at(&secret, step)}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    // The token was spent by the failed attempt.
    s.post(
        "/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": mfa_token, "code": code_at(&secret, step + 1)}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    let mfa_token = login(s, "mfa@example.com", PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s
        .post(
            "/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": mfa_token, "code": code_at(&secret, step + 1)}),
        )
        .await;
    res.expect(200, None);
    let strong = res.json();
    assert_eq!(claims_of(token(&strong))["aal"], 2);
    s.get("/v1/auth/user", Some(token(&strong)))
        .await
        .expect(200, None);
    // Refreshing keeps aal 2.
    let refreshed = refresh(s, refresh_token(&strong)).await.json();
    assert_eq!(claims_of(token(&refreshed))["aal"], 2);

    // A recovery code works once.
    let mfa_token = login(s, "mfa@example.com", PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s
        .post(
            "/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": mfa_token, "code": codes[0].to_uppercase()}),
        )
        .await;
    res.expect(200, None);
    let mfa_token = login(s, "mfa@example.com", PASSWORD).await.json()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        "/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": mfa_token, "code": codes[0]}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    s.post(
        "/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": "garbage", "code": "123456"}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    // A magic link cannot skip the second factor of a confirmed account.
    let admin = s.admin_token().await;
    let user_id = strong["user"]["id"].as_str().unwrap().to_owned();
    s.request(
        Method::PATCH,
        &format!("/v1/admin/users/{user_id}"),
        Some(&admin),
        Some(json!({"email_verified": true})),
    )
    .await
    .expect(200, None);
    s.post("/v1/auth/magic-link", None, json!({"email": "mfa@example.com"}))
        .await
        .expect(202, None);
    // No link is mailed to an MFA account; a link made before MFA was on is refused.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(mails_to(s, &admin, "mfa@example.com").await.is_empty());
    let early = basalt_auth::one_time::issue(
        &s.state.db,
        basalt_auth::one_time::Kind::Magic,
        Some(&user_id),
        Some("mfa@example.com"),
        None,
    )
    .await
    .unwrap();
    s.post("/v1/auth/magic-link/verify", None, json!({"token": early}))
        .await
        .expect(403, Some("permission_denied"));

    // Turning MFA off needs an aal 2 session.
    let weak = {
        let t = s.state.auth.keys().sign(&{
            let mut c: basalt_auth::tokens::AccessClaims =
                serde_json::from_value(claims_of(token(&strong))).unwrap();
            c.aal = 1;
            c
        });
        t.unwrap()
    };
    s.request(Method::DELETE, "/v1/auth/mfa/totp", Some(&weak), None)
        .await
        .expect(403, Some("permission_denied"));
    let res = s
        .request(Method::DELETE, "/v1/auth/mfa/totp", Some(token(&strong)), None)
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["mfa_enabled"], false);
    login(s, "mfa@example.com", PASSWORD).await.expect(200, None);
    // An admin can remove MFA from a user who lost the device and the codes.
    let fresh = login(s, "mfa@example.com", PASSWORD).await.json();
    let enrol = s
        .request(
            Method::POST,
            "/v1/auth/mfa/totp/enroll",
            Some(token(&fresh)),
            Some(json!({"current_password": PASSWORD})),
        )
        .await
        .json();
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    let now_step = basalt_core::Timestamp::now().seconds() / 30;
    s.post(
        "/v1/auth/mfa/totp/confirm",
        Some(token(&fresh)),
        json!({"code": code_at(&secret, now_step + 1)}),
    )
    .await
    .expect(200, None);
    assert_eq!(
        login(s, "mfa@example.com", PASSWORD).await.json()["mfa_required"],
        true
    );
    let res = s
        .request(
            Method::PATCH,
            &format!("/v1/admin/users/{user_id}"),
            Some(&admin),
            Some(json!({"mfa_enabled": false})),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["mfa_enabled"], false);
    login(s, "mfa@example.com", PASSWORD).await.expect(200, None);
    // Only the user can turn MFA on, with their authenticator.
    s.request(
        Method::PATCH,
        &format!("/v1/admin/users/{user_id}"),
        Some(&admin),
        Some(json!({"mfa_enabled": true})),
    )
    .await
    .expect(400, Some("invalid_argument"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_out_over_smtp() {
    let smtp = common::SmtpServer::start().await;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let url = smtp.url.clone();
        let Some(s) = TestServer::start_with(backend, move |c| {
            c.smtp_url = Some(basalt_core::Secret::new(url));
            c.mail_from = "My App <no-reply@app.example>".into();
        })
        .await
        else {
            continue;
        };
        let admin = s.admin_token().await;
        let email = format!("smtp-{}@example.com", backend_name(backend));
        signup(&s, &email).await;
        s.post("/v1/auth/password/forgot", None, json!({"email": email}))
            .await
            .expect(202, None);
        let mail = smtp.wait_for(&email, "Reset your password").await;
        assert!(mail.contains("From: \"My App\" <no-reply@app.example>"), "{mail}");
        let token = common::token_in_mail(&mail);
        s.post(
            "/v1/auth/password/reset",
            None,
            json!({"token": token, "password": "reset over smtp"}),
        )
        .await
        .expect(200, None);
        login(&s, &email, "reset over smtp").await.expect(200, None);
        // Magic link over SMTP, straight to a session.
        s.post("/v1/auth/magic-link", None, json!({"email": email}))
            .await
            .expect(202, None);
        let mail = smtp.wait_for(&email, "Your sign-in link").await;
        let res = s
            .post(
                "/v1/auth/magic-link/verify",
                None,
                json!({"token": common::token_in_mail(&mail)}),
            )
            .await;
        res.expect(200, None);
        // With SMTP configured, nothing lands in the outbox.
        assert!(
            s.get("/v1/admin/outbox", Some(&admin)).await.json()["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        s.stop().await;
    }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

async fn owners_reclaim_addresses_registered_by_others(s: &TestServer) {
    let admin = s.admin_token().await;
    // Someone registers an address that is not theirs and never confirms it.
    let squatter = signup(s, "victim@example.com").await;
    // The address's owner signs in with a magic link: the squatter's way in is gone.
    s.post(
        "/v1/auth/magic-link",
        None,
        json!({"email": "victim@example.com"}),
    )
    .await
    .expect(202, None);
    let mail = last_mail_of(s, &admin, "victim@example.com", 1).await;
    let res = s
        .post(
            "/v1/auth/magic-link/verify",
            None,
            json!({"token": mail["token"]}),
        )
        .await;
    res.expect(200, None);
    assert_eq!(res.json()["user"]["email_verified"], true);
    login(s, "victim@example.com", PASSWORD)
        .await
        .expect(401, Some("unauthenticated"));
    s.get("/v1/auth/user", Some(token(&squatter)))
        .await
        .expect(401, Some("unauthenticated"));
    refresh(s, refresh_token(&squatter))
        .await
        .expect(401, Some("unauthenticated"));
}
