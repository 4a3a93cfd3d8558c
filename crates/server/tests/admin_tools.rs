//! What the dashboard needs beyond the app API: admin MFA, a user's
//! sessions and MFA reset, the effective settings and a test mail, the
//! playground's per-condition values and saved cases, and refresh failures with reasons;
//! through HTTP on a real server, on both backends.

mod common;

use basalt_core::caller::AdminRole;
use common::{Backend, SmtpServer, TestServer};
use serde_json::{Value, json};

on_both_backends!(
    admins_sign_in_with_totp,
    owners_reset_an_admins_mfa,
    admins_manage_a_users_sessions_and_mfa,
    settings_show_no_secret,
    playground_explains_each_condition,
    playground_cases_are_saved_and_run_against_drafts,
    refresh_failures_say_why,
);

const PASSWORD: &str = "correct horse battery";

/// The current TOTP code for a base32 secret, `offset` steps away.
fn code(secret: &str, offset: i64) -> String {
    let key = basalt_auth::mfa::base32_decode(secret).unwrap();
    let step = basalt_core::Timestamp::now().seconds().div_euclid(30) + offset;
    format!("{:06}", basalt_auth::mfa::totp(&key, step))
}

async fn login(s: &TestServer, email: &str) -> Value {
    let res = s
        .post(
            "/v1/admin/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    res.expect(200, None);
    res.json()
}

/// A fresh MFA challenge for an admin with MFA on.
async fn new_challenge(s: &TestServer, email: &str) -> String {
    login(s, email).await["mfa_token"].as_str().unwrap().to_owned()
}

/// An app user's sign-in: the session.
async fn user_login(s: &TestServer, email: &str) -> common::Resp {
    s.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await
}

async fn admin(s: &TestServer, email: &str, role: AdminRole) -> String {
    s.create_admin_with_role(email, PASSWORD, role).await;
    login(s, email).await["access_token"].as_str().unwrap().to_owned()
}

/// Enrols `token`'s admin and confirms with a current code; the secret and
/// recovery codes.
async fn enrol(s: &TestServer, token: &str) -> (String, Vec<String>) {
    let e = s.post("/v1/admin/mfa/totp/enroll", Some(token), json!({})).await;
    e.expect(200, None);
    let e = e.json();
    let secret = e["secret"].as_str().unwrap().to_owned();
    assert!(
        e["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Basalt:")
    );
    let codes: Vec<String> = e["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    // A wrong code does not turn it on.
    let wrong = if code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    s.post("/v1/admin/mfa/totp/confirm", Some(token), json!({"code": wrong}))
        .await
        .expect(400, Some("invalid_argument"));
    let on = s
        .post(
            "/v1/admin/mfa/totp/confirm",
            Some(token),
            json!({"code": code(&secret, 0)}),
        )
        .await;
    on.expect(200, None);
    assert_eq!(on.json()["mfa_enabled"], true);
    (secret, codes)
}

async fn verify(s: &TestServer, mfa_token: &str, code: &str) -> common::Resp {
    s.post(
        "/v1/admin/mfa/verify",
        None,
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn admins_sign_in_with_totp(s: &TestServer) {
    let token = admin(s, "viewer@example.com", AdminRole::Viewer).await;
    // Viewers secure their own account too.
    let (secret, recovery) = enrol(s, &token).await;
    s.post("/v1/admin/mfa/totp/enroll", Some(&token), json!({}))
        .await
        .expect(409, Some("already_exists"));
    let me = s.get("/v1/admin/me", Some(&token)).await;
    assert_eq!(me.json()["mfa_enabled"], true);

    // The password alone now gives a challenge, not a token.
    let first = login(s, "viewer@example.com").await;
    assert_eq!(first["mfa_required"], true);
    assert!(first.get("access_token").is_none());
    let challenge = first["mfa_token"].as_str().unwrap().to_owned();
    // An admin's MFA token is not a user's, and a wrong code uses it up.
    s.post(
        "/v1/auth/mfa/verify",
        None,
        json!({"mfa_token": challenge, "code": code(&secret, 0)}),
    )
    .await
    .expect(401, Some("unauthenticated"));
    let wrong = if code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    verify(s, &challenge, wrong)
        .await
        .expect(401, Some("unauthenticated"));
    verify(s, &challenge, &code(&secret, 0))
        .await
        .expect(401, Some("unauthenticated"));
    for bad in [
        json!({"mfa_token": "x", "code": "123456"}),
        json!({"mfa_token": challenge}),
        json!({"mfa_token": challenge, "code": "123456", "extra": true}),
    ] {
        let res = s.post("/v1/admin/mfa/verify", None, bad).await;
        assert!(matches!(res.status, 400 | 401), "{}", res.text);
    }

    // A fresh challenge and a code from the next step (the confirming
    // step was used): a token that works.
    let challenge = new_challenge(s, "viewer@example.com").await;
    let signed = verify(s, &challenge, &code(&secret, 1)).await;
    signed.expect(200, None);
    let fresh = signed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(signed.json()["admin"]["mfa_enabled"], true);
    s.get("/v1/admin/me", Some(&fresh)).await.expect(200, None);
    // The same code cannot sign in twice.
    let challenge = new_challenge(s, "viewer@example.com").await;
    verify(s, &challenge, &code(&secret, 1))
        .await
        .expect(401, Some("unauthenticated"));
    // A recovery code works once.
    let challenge = new_challenge(s, "viewer@example.com").await;
    verify(s, &challenge, &recovery[0]).await.expect(200, None);
    let challenge = new_challenge(s, "viewer@example.com").await;
    verify(s, &challenge, &recovery[0])
        .await
        .expect(401, Some("unauthenticated"));

    // Turning it off needs a code.
    s.request(
        reqwest::Method::DELETE,
        "/v1/admin/mfa/totp",
        Some(&fresh),
        Some(json!({"code": "not a code"})),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.request(
        reqwest::Method::DELETE,
        "/v1/admin/mfa/totp",
        Some(&fresh),
        Some(json!({"code": recovery[1]})),
    )
    .await
    .expect(204, None);
    assert!(login(s, "viewer@example.com").await["access_token"].is_string());

    // A service key has no MFA of its own.
    let owner = admin(s, "owner@example.com", AdminRole::Owner).await;
    let key = s
        .post("/v1/admin/keys", Some(&owner), json!({"name": "ci"}))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post("/v1/admin/mfa/totp/enroll", Some(&key), json!({}))
        .await
        .expect(403, Some("permission_denied"));

    // The audit log says who turned it on and off, never the secret.
    let audit = s.get("/v1/admin/audit?action=admin.mfa", Some(&owner)).await;
    audit.expect(200, None);
    let actions: Vec<String> = audit.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in ["admin.mfa.enable", "admin.mfa.disable"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
    }
    assert!(!audit.text.contains(&secret) && !audit.text.contains(&recovery[2]));
}

async fn owners_reset_an_admins_mfa(s: &TestServer) {
    let owner = admin(s, "owner@example.com", AdminRole::Owner).await;
    let dev = admin(s, "dev@example.com", AdminRole::Developer).await;
    enrol(s, &dev).await;
    let list = s.get("/v1/admin/admins", Some(&owner)).await;
    let dev_id = list.json()["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "dev@example.com")
        .map(|a| {
            assert_eq!(a["mfa_enabled"], true);
            a["id"].as_str().unwrap().to_owned()
        })
        .unwrap();
    // Only owners.
    s.delete(&format!("/v1/admin/admins/{dev_id}/mfa"), Some(&dev))
        .await
        .expect(403, Some("permission_denied"));
    s.delete("/v1/admin/admins/01ZZZZZZZZZZZZZZZZZZZZZZZZ/mfa", Some(&owner))
        .await
        .expect(404, Some("not_found"));
    s.delete(&format!("/v1/admin/admins/{dev_id}/mfa"), Some(&owner))
        .await
        .expect(204, None);
    // The reset signs them out, and the password alone signs in again.
    s.get("/v1/admin/me", Some(&dev))
        .await
        .expect(401, Some("unauthenticated"));
    assert!(login(s, "dev@example.com").await["access_token"].is_string());
    let audit = s
        .get("/v1/admin/audit?action=admin.mfa.reset", Some(&owner))
        .await;
    assert_eq!(audit.json()["entries"][0]["target"], "dev@example.com");
}

async fn admins_manage_a_users_sessions_and_mfa(s: &TestServer) {
    let owner = s.admin_token().await;
    let (_, uid) = s.signup("user@example.com").await;
    let again = user_login(s, "user@example.com").await;
    again.expect(200, None);
    let refresh = again.json()["refresh_token"].as_str().unwrap().to_owned();
    let access = again.json()["access_token"].as_str().unwrap().to_owned();

    let list = s
        .get(&format!("/v1/admin/users/{uid}/sessions"), Some(&owner))
        .await;
    list.expect(200, None);
    let sessions = list.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{}", list.text);
    for session in &sessions {
        assert!(session["id"].is_string() && session["created_at"].is_string());
        assert_eq!(session["current"], false);
    }
    s.get(
        "/v1/admin/users/01ZZZZZZZZZZZZZZZZZZZZZZZZ/sessions",
        Some(&owner),
    )
    .await
    .expect(404, Some("not_found"));
    // End the second session: its refresh token says why it fails.
    let sid = refresh.split('.').next().unwrap();
    s.delete(&format!("/v1/admin/users/{uid}/sessions/{sid}"), Some(&owner))
        .await
        .expect(204, None);
    s.delete(&format!("/v1/admin/users/{uid}/sessions/{sid}"), Some(&owner))
        .await
        .expect(404, Some("not_found"));
    let refused = s
        .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    refused.expect(401, Some("unauthenticated"));
    assert_eq!(refused.json()["error"]["details"]["reason"], "ended");
    let left = s
        .get(&format!("/v1/admin/users/{uid}/sessions"), Some(&owner))
        .await;
    assert_eq!(left.json()["sessions"].as_array().unwrap().len(), 1);

    // MFA: the user turns it on; an admin removes it.
    let user = user_login(s, "user@example.com").await.json();
    let token = user["access_token"].as_str().unwrap().to_owned();
    let e = s
        .post(
            "/v1/auth/mfa/totp/enroll",
            Some(&token),
            json!({"current_password": PASSWORD}),
        )
        .await
        .json();
    let secret = e["secret"].as_str().unwrap().to_owned();
    s.post(
        "/v1/auth/mfa/totp/confirm",
        Some(&token),
        json!({"code": code(&secret, 0)}),
    )
    .await
    .expect(200, None);
    assert_eq!(
        s.get(&format!("/v1/admin/users/{uid}"), Some(&owner))
            .await
            .json()["mfa_enabled"],
        true
    );
    s.delete(&format!("/v1/admin/users/{uid}/mfa"), Some(&owner))
        .await
        .expect(204, None);
    assert_eq!(
        s.get(&format!("/v1/admin/users/{uid}"), Some(&owner))
            .await
            .json()["mfa_enabled"],
        false
    );
    // Signed out everywhere, and the password alone signs in again.
    let after = s
        .get(&format!("/v1/admin/users/{uid}/sessions"), Some(&owner))
        .await;
    assert_eq!(after.json()["sessions"].as_array().unwrap().len(), 0);
    s.get("/v1/auth/user", Some(&access))
        .await
        .expect(401, Some("unauthenticated"));
    let plain = user_login(s, "user@example.com").await;
    assert!(plain.json()["access_token"].is_string(), "{}", plain.text);

    // Force sign-out is recorded too.
    s.post(&format!("/v1/admin/users/{uid}/logout"), Some(&owner), json!({}))
        .await
        .expect(204, None);
    let audit = s.get("/v1/admin/audit?action=user.", Some(&owner)).await;
    let actions: Vec<String> = audit.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for expected in ["user.session.revoke", "user.mfa.reset", "user.logout"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
    }
    assert!(!audit.text.contains(&secret));
}

async fn settings_show_no_secret(s: &TestServer) {
    let owner = s.admin_token().await;
    let viewer = admin(s, "viewer@example.com", AdminRole::Viewer).await;
    let res = s.get("/v1/admin/settings", Some(&viewer)).await;
    res.expect(200, None);
    let body = res.json();
    let settings = body["settings"].as_array().unwrap();
    let get = |key: &str| settings.iter().find(|e| e["key"] == key).cloned().unwrap();
    assert_eq!(get("public_url")["value"], s.url);
    assert_eq!(get("change_retention")["value"], 300);
    let db = get("database_url");
    assert_eq!(db["secret"], true);
    assert_eq!(db["value"], Value::Null);
    assert_eq!(db["set"], s.backend == Backend::Postgres);
    if let Some(pg) = &s.pg {
        assert!(!res.text.contains(&pg.name), "the database URL stays hidden");
    }
    assert_eq!(body["mail"]["transport"], "outbox");
    assert_eq!(body["oauth_providers"], json!([]));
    s.get("/v1/admin/settings", None)
        .await
        .expect(401, Some("unauthenticated"));

    // A test mail without SMTP lands in the outbox; viewers may not send.
    s.post(
        "/v1/admin/settings/test-mail",
        Some(&viewer),
        json!({"to": "me@example.com"}),
    )
    .await
    .expect(403, Some("permission_denied"));
    for bad in [
        json!({"to": "not an address"}),
        json!({}),
        json!({"to": "a@b.co", "x": 1}),
    ] {
        s.post("/v1/admin/settings/test-mail", Some(&owner), bad)
            .await
            .expect(400, Some("invalid_argument"));
    }
    let sent = s
        .post(
            "/v1/admin/settings/test-mail",
            Some(&owner),
            json!({"to": "me@example.com"}),
        )
        .await;
    sent.expect(200, None);
    assert_eq!(sent.json()["transport"], "outbox");
    let outbox = s.get("/v1/admin/outbox", Some(&owner)).await.json();
    assert_eq!(outbox["items"][0]["to"], "me@example.com");
    assert_eq!(outbox["items"][0]["subject"], "Basalt test mail");
}

/// A test mail through a real SMTP server; no secret of the mail or OAuth
/// settings shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mail_goes_through_smtp() {
    let smtp = SmtpServer::start().await;
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.smtp_url = Some(basalt_core::Secret::new(smtp.url.clone()));
        c.oauth = vec![basalt_core::config::OAuthProvider {
            name: "corp".into(),
            client_id: "basalt-app".into(),
            client_secret: basalt_core::Secret::new("oauth-client-secret".into()),
            scopes: vec!["openid".into(), "email".into()],
            kind: basalt_core::config::OAuthKind::Oidc {
                issuer: "http://127.0.0.1:1/issuer".into(),
                issuer_template: None,
                form_post: false,
            },
        }];
    })
    .await
    .unwrap();
    let owner = s.admin_token().await;
    let res = s.get("/v1/admin/settings", Some(&owner)).await;
    res.expect(200, None);
    assert!(!res.text.contains(&smtp.url) && !res.text.contains("oauth-client-secret"));
    let body = res.json();
    assert_eq!(body["mail"]["transport"], "smtp");
    assert_eq!(
        body["oauth_providers"],
        json!([{"name": "corp", "kind": "oidc", "issuer": "http://127.0.0.1:1/issuer", "client_id": "basalt-app", "scopes": ["openid", "email"]}])
    );
    let smtp_entry = body["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "smtp_url")
        .cloned()
        .unwrap();
    assert_eq!(
        smtp_entry,
        json!({"key": "smtp_url", "value": null, "secret": true, "set": true})
    );
    let sent = s
        .post(
            "/v1/admin/settings/test-mail",
            Some(&owner),
            json!({"to": "ops@example.com"}),
        )
        .await;
    sent.expect(200, None);
    assert_eq!(sent.json()["transport"], "smtp");
    smtp.wait_for("ops@example.com", "test mail from the Basalt server")
        .await;
    let smtp_url = smtp.url.clone();
    drop(smtp);
    // With the SMTP server gone, the failure is an error, not a hang or a leak.
    let failed = s
        .post(
            "/v1/admin/settings/test-mail",
            Some(&owner),
            json!({"to": "ops@example.com"}),
        )
        .await;
    failed.expect(503, Some("unavailable"));
    assert!(!failed.text.contains(&smtp_url) && !failed.text.contains("127.0.0.1"));
    s.stop().await;
}

async fn playground_explains_each_condition(s: &TestServer) {
    let owner = s.admin_token().await;
    let viewer = admin(s, "viewer@example.com", AdminRole::Viewer).await;
    let rule = "auth != () && (doc.data.owner == auth.uid || doc.data.open == true)";
    let as_user = json!({"uid": "u1", "role": "user"});
    let res = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&viewer),
            json!({"rule": rule, "auth": as_user, "doc": {"data": {"owner": "u2", "open": true}}, "explain": true}),
        )
        .await;
    res.expect(200, None);
    let body = res.json();
    assert_eq!(body["allowed"], true);
    let explain: Vec<(String, usize, Value)> = body["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["expr"].as_str().unwrap().to_owned(),
                e["depth"].as_u64().unwrap() as usize,
                e["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        explain,
        vec![
            ("auth != ()".to_owned(), 0, json!(true)),
            (
                "(doc.data.owner == auth.uid || doc.data.open == true)".to_owned(),
                0,
                json!(true)
            ),
            ("doc.data.owner == auth.uid".to_owned(), 1, json!(false)),
            ("doc.data.open == true".to_owned(), 1, json!(true)),
        ]
    );
    assert_eq!(body["explain"][1]["column"], 15);
    assert_eq!(body["explain"][1]["line"], 1);
    // Anonymous: the parts that read `auth.uid` fail on their own, and say so.
    let anon = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&owner),
            json!({"rule": rule, "doc": {"data": {"owner": "u2"}}, "explain": true}),
        )
        .await
        .json();
    assert_eq!(anon["allowed"], false);
    assert_eq!(anon["explain"][0]["value"], false);
    assert_eq!(anon["explain"][2]["value"], Value::Null);
    assert!(anon["explain"][2]["error"].is_string());
    // Without `explain`, no explanation; a rule of statements is one condition.
    let plain = s
        .post("/v1/admin/rules/evaluate", Some(&owner), json!({"rule": rule}))
        .await
        .json();
    assert!(plain.get("explain").is_none());
    let statements = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&owner),
            json!({"rule": "let a = true; a && true", "explain": true}),
        )
        .await
        .json();
    assert_eq!(statements["allowed"], true);
    assert_eq!(statements["explain"], json!([]));
    // A collection's stored rule is explained the same way.
    s.post(
        "/v1/db/collections",
        Some(&owner),
        json!({"name": "posts", "rules": {"read": "auth != () || doc.data.open == true"}}),
    )
    .await
    .expect(201, None);
    let stored = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&owner),
            json!({"collection": "posts", "operation": "read", "doc": {"data": {"open": false}}, "explain": true}),
        )
        .await
        .json();
    assert_eq!(stored["allowed"], false);
    assert_eq!(stored["explain"].as_array().unwrap().len(), 2);
    // Hostile: an explanation of a huge rule is bounded; a bad type is refused.
    let huge = vec!["(auth == () && true)"; 40].join(" || ");
    let bounded = s
        .post(
            "/v1/admin/rules/evaluate",
            Some(&owner),
            json!({"rule": huge, "explain": true}),
        )
        .await;
    bounded.expect(200, None);
    assert_eq!(bounded.json()["explain"].as_array().unwrap().len(), 64);
    s.post(
        "/v1/admin/rules/evaluate",
        Some(&owner),
        json!({"rule": "true", "explain": "yes"}),
    )
    .await
    .expect(400, Some("invalid_argument"));
}

async fn refresh_failures_say_why(s: &TestServer) {
    let res = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "r@example.com", "password": PASSWORD}),
        )
        .await;
    res.expect(201, None);
    let first = res.json()["refresh_token"].as_str().unwrap().to_owned();
    let reason = |r: &common::Resp| r.json()["error"]["details"]["reason"].as_str().map(str::to_owned);
    let refresh = |t: String| async move {
        s.post("/v1/auth/refresh", None, json!({"refresh_token": t}))
            .await
    };

    let bad = refresh("nonsense".into()).await;
    bad.expect(401, Some("unauthenticated"));
    assert_eq!(reason(&bad).as_deref(), Some("invalid"));
    let ok = refresh(first.clone()).await;
    ok.expect(200, None);
    let second = ok.json()["refresh_token"].as_str().unwrap().to_owned();
    // The same token again at once: another tab won the race.
    let raced = refresh(first.clone()).await;
    raced.expect(401, Some("unauthenticated"));
    assert_eq!(reason(&raced).as_deref(), Some("already_used"));
    // The newest still works; an older one, after the grace, ends the session.
    let third = refresh(second.clone()).await;
    third.expect(200, None);
    let third = third.json()["refresh_token"].as_str().unwrap().to_owned();
    let reused = refresh(first).await;
    reused.expect(401, Some("unauthenticated"));
    assert_eq!(reason(&reused).as_deref(), Some("reused"));
    let ended = refresh(third).await;
    ended.expect(401, Some("unauthenticated"));
    assert_eq!(reason(&ended).as_deref(), Some("ended"));
}

async fn playground_cases_are_saved_and_run_against_drafts(s: &TestServer) {
    let owner = s.admin_token().await;
    let viewer = admin(s, "case-viewer@example.com", AdminRole::Viewer).await;
    s.post(
        "/v1/db/collections",
        Some(&owner),
        json!({"name": "posts", "rules": {
            "read": "doc.data.open == true || (auth != () && doc.data.owner == auth.uid)",
            "create": "auth != ()"
        }}),
    )
    .await
    .expect(201, None);
    let alice = json!({"uid": "alice", "role": "authenticated", "email": "alice@example.com", "email_verified": true, "anonymous": false, "aal": 1, "claims": {}});
    let private = json!({"id": "p1", "version": 1, "created_at": 0, "updated_at": 0, "data": {"owner": "alice", "open": false}});
    let cases = [
        (
            "anonymous reads a private post",
            "read",
            "anonymous",
            Value::Null,
            private.clone(),
            false,
        ),
        (
            "the owner reads her post",
            "read",
            "alice@example.com",
            alice.clone(),
            private.clone(),
            true,
        ),
        (
            "a user creates",
            "create",
            "alice@example.com",
            alice.clone(),
            Value::Null,
            true,
        ),
        (
            "anonymous deletes",
            "delete",
            "anonymous",
            Value::Null,
            private.clone(),
            false,
        ),
    ];
    for (name, operation, caller, auth, doc, expect) in &cases {
        let res = s
            .put(
                &format!("/v1/admin/rules/cases/posts/{}", urlencoding(name)),
                Some(&owner),
                json!({"operation": operation, "caller": caller, "auth": auth, "doc": doc, "data": {"title": "t"}, "expect_allowed": expect}),
            )
            .await;
        res.expect(200, None);
        assert_eq!(res.json()["name"], *name);
        assert_eq!(res.json()["expect_allowed"], *expect);
    }
    // Listed by name, shared by every admin (a viewer reads them).
    let list = s
        .get("/v1/admin/rules/cases?collection=posts", Some(&viewer))
        .await;
    list.expect(200, None);
    let names: Vec<String> = list.json()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "a user creates",
            "anonymous deletes",
            "anonymous reads a private post",
            "the owner reads her post"
        ]
    );
    let one = &list.json()["cases"][3];
    assert_eq!(one["auth"], alice);
    assert_eq!(one["doc"], private);
    assert_eq!(one["caller"], "alice@example.com");

    // Against the stored rules: every case as expected (the missing delete rule denies).
    let run = s
        .post("/v1/admin/rules/cases/posts/run", Some(&viewer), json!({}))
        .await;
    run.expect(200, None);
    assert_eq!(run.json()["changed"], 0);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 4);
    let deletes = results.iter().find(|r| r["name"] == "anonymous deletes").unwrap();
    assert_eq!(deletes["allowed"], false);
    assert!(deletes["error"].as_str().unwrap().contains("no `delete` rule"));

    // A draft that opens reads to everyone changes one outcome, before it is saved.
    let draft = s
        .post(
            "/v1/admin/rules/cases/posts/run",
            Some(&owner),
            json!({"rules": {"read": "true", "delete": null}}),
        )
        .await;
    draft.expect(200, None);
    assert_eq!(draft.json()["changed"], 1);
    let results = draft.json()["results"].as_array().unwrap().clone();
    let changed: Vec<&Value> = results.iter().filter(|r| r["changed"] == true).collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["name"], "anonymous reads a private post");
    assert_eq!(changed[0]["allowed"], true);
    assert_eq!(changed[0]["expect_allowed"], false);
    // The draft changed nothing stored; saving rules is what changes the cases' outcome.
    // (A PATCH's `rules` replaces them all.)
    s.patch(
        "/v1/db/collections/posts",
        Some(&owner),
        json!({"rules": {
            "read": "doc.data.open == true || (auth != () && doc.data.owner == auth.uid)",
            "create": "false"
        }}),
    )
    .await
    .expect(200, None);
    let after = s
        .post("/v1/admin/rules/cases/posts/run", Some(&owner), json!({}))
        .await
        .json();
    assert_eq!(after["changed"], 1, "{after}");
    assert!(
        after["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "a user creates" && r["changed"] == true)
    );

    // Replacing a case keeps one; deleting removes it.
    s.put(
        "/v1/admin/rules/cases/posts/a%20user%20creates",
        Some(&owner),
        json!({"operation": "create", "caller": "alice@example.com", "auth": alice, "expect_allowed": false}),
    )
    .await
    .expect(200, None);
    let again = s
        .post("/v1/admin/rules/cases/posts/run", Some(&owner), json!({}))
        .await
        .json();
    assert_eq!(again["changed"], 0);
    assert_eq!(again["results"].as_array().unwrap().len(), 4);
    s.delete("/v1/admin/rules/cases/posts/anonymous%20deletes", Some(&owner))
        .await
        .expect(204, None);
    s.delete("/v1/admin/rules/cases/posts/anonymous%20deletes", Some(&owner))
        .await
        .expect(404, Some("not_found"));

    // Hostile: a viewer cannot save or delete; bad input is refused with its reason.
    let body = json!({"operation": "read", "expect_allowed": true});
    s.put("/v1/admin/rules/cases/posts/v", Some(&viewer), body.clone())
        .await
        .expect(403, Some("permission_denied"));
    s.delete("/v1/admin/rules/cases/posts/a%20user%20creates", Some(&viewer))
        .await
        .expect(403, Some("permission_denied"));
    s.put("/v1/admin/rules/cases/nope/x", Some(&owner), body.clone())
        .await
        .expect(404, Some("not_found"));
    s.put(
        "/v1/admin/rules/cases/posts/x",
        Some(&owner),
        json!({"operation": "list", "expect_allowed": true}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.put(
        "/v1/admin/rules/cases/posts/x",
        Some(&owner),
        json!({"operation": "read", "auth": "alice", "expect_allowed": true}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.put(
        "/v1/admin/rules/cases/posts/x",
        Some(&owner),
        json!({"operation": "read", "data": "x".repeat(70_000), "expect_allowed": true}),
    )
    .await
    .expect(413, Some("payload_too_large"));
    s.put(
        &format!("/v1/admin/rules/cases/posts/{}", "n".repeat(101)),
        Some(&owner),
        body.clone(),
    )
    .await
    .expect(400, Some("invalid_argument"));
    let bad = s
        .post(
            "/v1/admin/rules/cases/posts/run",
            Some(&owner),
            json!({"rules": {"read": "auth != () &&\n doc.data.owner = auth.uid"}}),
        )
        .await;
    bad.expect(400, Some("invalid_argument"));
    assert_eq!(bad.json()["error"]["details"]["operation"], "read");
    assert_eq!(bad.json()["error"]["details"]["line"], 2);
    s.post(
        "/v1/admin/rules/cases/posts/run",
        Some(&owner),
        json!({"rules": {"list": "true"}}),
    )
    .await
    .expect(400, Some("invalid_argument"));
    s.post("/v1/admin/rules/cases/nope/run", Some(&owner), json!({}))
        .await
        .expect(404, Some("not_found"));

    // A deleted collection takes its cases with it.
    s.delete("/v1/db/collections/posts", Some(&owner))
        .await
        .expect(204, None);
    let gone = s.get("/v1/admin/rules/cases", Some(&owner)).await.json();
    assert_eq!(gone["cases"], json!([]));
}

fn urlencoding(s: &str) -> String {
    s.replace(' ', "%20")
}
