//! Secrets at rest: with a master key, the secrets Basalt keeps in its
//! database (token signing seeds, TOTP secrets, webhook secrets, the keys
//! of file URLs and cursors) are stored sealed, never in the clear. Setting
//! a key on a database that had none seals what is there; rotating to a new
//! key with the old one as previous seals everything again; without the key
//! the server refuses to start and says which key it needs. Through all of
//! it, tokens, sessions, MFA sign-in, signed file URLs, query cursors and
//! webhook signatures keep working. Both backends.

mod common;

use std::time::{Duration, Instant};

use basalt_core::Secret;
use base64::Engine;
use common::receiver::Receiver;
use common::{Backend, TestServer};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

each_backend!(secrets_are_sealed_rotated_and_required);

fn key(byte: u8) -> Secret<String> {
    Secret::new(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

fn key_id(byte: u8) -> String {
    basalt_store::vault::MasterKey::from_bytes(&[byte; 32])
        .id()
        .to_owned()
}

fn code_at(secret: &str, step: i64) -> String {
    let key = basalt_auth::mfa::base32_decode(secret).unwrap();
    format!("{:06}", basalt_auth::mfa::totp(&key, step))
}

/// Every stored secret, as the database holds it: (where, bytes).
async fn stored(s: &TestServer) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (table, column, blob) in [
        ("signing_keys", "private_key", true),
        ("server_secrets", "value", true),
        ("users", "mfa_secret", false),
        ("admins", "mfa_secret", false),
        ("webhooks", "secret", false),
        ("outbox", "body", false),
        ("outbox", "token", false),
    ] {
        let rows = s
            .state
            .db
            .fetch_all(
                &format!(
                    "SELECT {column} FROM {table} WHERE {column} IS NOT NULL{}",
                    if table == "server_secrets" {
                        " AND name <> 'master_key_state'"
                    } else {
                        ""
                    }
                ),
                &[],
            )
            .await
            .unwrap();
        for row in rows {
            let value = if blob {
                row.bytes(0).unwrap()
            } else {
                row.text(0).unwrap().into_bytes()
            };
            out.push((format!("{table}.{column}"), value));
        }
    }
    out
}

/// Asserts every stored secret is sealed with the key made of `byte`, and
/// that none of `clear` appears in any of them.
async fn all_sealed_with(s: &TestServer, byte: u8, clear: &[&[u8]]) {
    let values = stored(s).await;
    // Two signing keys' worth at least: the seed, the file URL key, the
    // cursor key, the user's and the admin's TOTP secret, the webhook.
    assert!(values.len() >= 6, "{values:?}");
    let prefix = format!("bsv1.{}.", key_id(byte));
    for (column, value) in &values {
        assert!(
            value.starts_with(prefix.as_bytes()),
            "{column} is not sealed with {prefix}: {:?}",
            String::from_utf8_lossy(value)
        );
        for secret in clear {
            assert!(
                !value.windows(secret.len()).any(|w| w == *secret),
                "{column} holds a secret in the clear"
            );
        }
    }
}

/// Signs in with the password and a current TOTP code. A code's step is
/// accepted once (tested in auth.rs); this test signs in more often than
/// steps pass, so it forgets the last step first.
async fn sign_in_with_mfa(s: &TestServer, email: &str, secret: &str) -> Value {
    s.state
        .db
        .execute("UPDATE users SET mfa_last_step = NULL", &[])
        .await
        .unwrap();
    let step = basalt_core::Timestamp::now().seconds() / 30;
    let half = s
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    half.expect(200, None);
    let mfa_token = half.json()["mfa_token"].as_str().unwrap().to_owned();
    let res = s
        .post(
            "/v1/auth/mfa/verify",
            None,
            json!({"mfa_token": mfa_token, "code": code_at(secret, step)}),
        )
        .await;
    res.expect(200, None);
    res.json()
}

/// The newest mail in the outbox, once there is one.
async fn wait_for_mail(s: &TestServer, admin: &str) -> Value {
    for _ in 0..250 {
        let res = s.get("/v1/admin/outbox", Some(admin)).await;
        res.expect(200, None);
        if let Some(mail) = res.json()["items"].as_array().unwrap().first() {
            return mail.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail in the outbox");
}

/// What must keep working across every change of key.
struct World {
    user_token: String,
    refresh_token: String,
    totp_secret: String,
    signed_url: String,
    cursor: String,
    admin: String,
    mail_token: String,
}

impl World {
    async fn check(&mut self, s: &TestServer, receiver: &Receiver, label: &str) {
        // The access token from before still verifies (the seed opened).
        s.get("/v1/auth/user", Some(&self.user_token))
            .await
            .expect(200, None);
        // New tokens are signed and verify; the session refreshes.
        let refreshed = s
            .post(
                "/v1/auth/refresh",
                None,
                json!({"refresh_token": self.refresh_token}),
            )
            .await;
        refreshed.expect(200, None);
        let refreshed = refreshed.json();
        self.refresh_token = refreshed["refresh_token"].as_str().unwrap().to_owned();
        // The outbox's mail opens, token and all.
        let mail = wait_for_mail(s, &self.admin).await;
        assert_eq!(mail["token"], self.mail_token.as_str(), "{label}");
        assert!(
            mail["text"].as_str().unwrap().contains(&self.mail_token),
            "{label}"
        );
        s.get("/v1/auth/user", refreshed["access_token"].as_str())
            .await
            .expect(200, None);
        // TOTP sign-in reads the sealed secret.
        let strong = sign_in_with_mfa(s, "mfa@example.com", &self.totp_secret).await;
        assert!(strong["access_token"].is_string(), "{label}: {strong}");
        // The file URL signed before still downloads; the cursor still pages.
        let res = s.get(&self.signed_url, None).await;
        assert_eq!((res.status, res.text.as_str()), (200, "bytes"), "{label}");
        let res = s
            .get(
                &format!("/v1/db/notes?order=n&limit=2&after={}", self.cursor),
                Some(&self.admin),
            )
            .await;
        res.expect(200, None);
        let ns: Vec<i64> = res.json()["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["data"]["n"].as_i64().unwrap())
            .collect();
        assert_eq!(ns, [3, 4], "{label}");
        // A webhook delivery is signed with the sealed secret, and verifies.
        let before = receiver.at("/ok").await.len();
        s.post(
            "/v1/db/notes",
            Some(&self.admin),
            json!({"data": {"n": 100, "label": label}}),
        )
        .await
        .expect(201, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = receiver.at("/ok").await;
            if got.len() > before {
                assert!(
                    got[before..].iter().all(|e| e["verified"] == true),
                    "{label}: {got:?}"
                );
                break;
            }
            assert!(Instant::now() < deadline, "{label}: no webhook delivery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn secrets_are_sealed_rotated_and_required(backend: Backend) {
    let receiver = Receiver::start(WEBHOOK_SECRET);
    // Without a key, as every server before has run: secrets in the clear.
    let Some(s) = TestServer::start_with(backend, |c| {
        c.functions_allow_private_net = true;
        c.login_rate_limit = 10_000;
    })
    .await
    else {
        return;
    };
    let admin = s.admin_token().await;
    // The admin enrols in TOTP too, so admins' secrets are covered.
    let enrol = s.post("/v1/admin/mfa/totp/enroll", Some(&admin), json!({})).await;
    enrol.expect(200, None);
    let admin_totp = enrol.json()["secret"].as_str().unwrap().to_owned();
    let signup = s
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "mfa@example.com", "password": PASSWORD}),
        )
        .await;
    signup.expect(201, None);
    let session = signup.json();
    let user_token = session["access_token"].as_str().unwrap().to_owned();
    let enrol = s
        .post(
            "/v1/auth/mfa/totp/enroll",
            Some(&user_token),
            json!({"current_password": PASSWORD}),
        )
        .await;
    enrol.expect(200, None);
    let totp_secret = enrol.json()["secret"].as_str().unwrap().to_owned();
    let step = basalt_core::Timestamp::now().seconds() / 30;
    s.post(
        "/v1/auth/mfa/totp/confirm",
        Some(&user_token),
        json!({"code": code_at(&totp_secret, step)}),
    )
    .await
    .expect(200, None);
    let strong = sign_in_with_mfa(&s, "mfa@example.com", &totp_secret).await;
    let user_token = strong["access_token"].as_str().unwrap().to_owned();
    let refresh_token = strong["refresh_token"].as_str().unwrap().to_owned();

    s.put(
        "/v1/admin/webhooks/notes",
        Some(&admin),
        json!({"url": format!("{}/ok", receiver.url), "events": ["notes.create"], "secret": WEBHOOK_SECRET}),
    )
    .await
    .expect(201, None);
    s.post(
        "/v1/db/collections",
        Some(&admin),
        json!({"name": "notes", "rules": {"read": "true", "create": "auth != ()"}}),
    )
    .await
    .expect(201, None);
    for n in 1..=5 {
        s.post("/v1/db/notes", Some(&admin), json!({"data": {"n": n}}))
            .await
            .expect(201, None);
    }
    let page = s.get("/v1/db/notes?order=n&limit=2", Some(&admin)).await;
    page.expect(200, None);
    let cursor = page.json()["next_cursor"].as_str().unwrap().to_owned();
    s.post("/v1/storage/buckets", Some(&admin), json!({"name": "vault"}))
        .await
        .expect(201, None);
    let put = s
        .client
        .put(format!("{}/v1/storage/vault/a.txt", s.url))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let signed = s
        .post(
            "/v1/storage/vault/a.txt?sign",
            Some(&admin),
            json!({"expires_in": 3600}),
        )
        .await;
    signed.expect(200, None);
    let signed_url = signed.json()["url"].as_str().unwrap().to_owned();

    // A mail kept in the outbox (no SMTP server) carries a live token.
    s.post(
        "/v1/auth/password/forgot",
        None,
        json!({"email": "mfa@example.com"}),
    )
    .await
    .expect(202, None);
    let mail = wait_for_mail(&s, &admin).await;
    let mail_token = mail["token"].as_str().unwrap().to_owned();

    // Before any key: the secrets are there as they are.
    let clear = stored(&s).await;
    assert!(
        clear
            .iter()
            .any(|(c, v)| c == "users.mfa_secret" && v == totp_secret.as_bytes()),
        "{clear:?}"
    );
    assert!(
        clear
            .iter()
            .any(|(c, v)| c == "webhooks.secret" && v == WEBHOOK_SECRET.as_bytes())
    );
    let seeds: Vec<Vec<u8>> = clear
        .iter()
        .filter(|(c, _)| c.starts_with("signing_keys") || c.starts_with("server_secrets"))
        .map(|(_, v)| v.clone())
        .collect();
    assert!(seeds.len() >= 3 && seeds.iter().all(|v| v.len() == 32));
    let mut owned: Vec<Vec<u8>> = vec![
        totp_secret.clone().into_bytes(),
        admin_totp.into_bytes(),
        WEBHOOK_SECRET.as_bytes().to_vec(),
        // The base64 body of the webhook secret, as the signer uses it.
        WEBHOOK_SECRET.strip_prefix("whsec_").unwrap().as_bytes().to_vec(),
        mail_token.clone().into_bytes(),
    ];
    owned.extend(seeds);
    let secrets: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let mut world = World {
        user_token,
        refresh_token,
        totp_secret,
        signed_url,
        cursor,
        admin,
        mail_token,
    };
    world.check(&s, &receiver, "no key").await;

    // A key on a database that had none: everything is sealed at start.
    let s = s.restart_with(|c| c.master_key = Some(key(1))).await;
    all_sealed_with(&s, 1, &secrets).await;
    world.check(&s, &receiver, "sealed").await;
    // What is written from now on is sealed too: a new enrolment and a
    // rotated signing key.
    s.put(
        "/v1/admin/webhooks/generated",
        Some(&world.admin),
        json!({"url": format!("{}/ok", receiver.url), "events": ["nothing.create"]}),
    )
    .await
    .expect(201, None);
    basalt_auth::signing::rotate(
        &s.state.db,
        Duration::ZERO,
        basalt_auth::signing::Retire::AfterLastToken(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    all_sealed_with(&s, 1, &secrets).await;

    // The key is required from now on, and a wrong key is named.
    let config = s.restart_config(|c| c.master_key = None);
    let (backend, pg, dir) = {
        let (backend, pg, dir) = s.stop_keeping_data().await;
        let refused = basalt_server::App::start(config.clone())
            .await
            .err()
            .expect("refused without the key");
        assert!(
            refused.to_string().contains(&key_id(1)) && refused.to_string().contains("BASALT_MASTER_KEY"),
            "{refused}"
        );
        let mut wrong = config.clone();
        wrong.master_key = Some(key(9));
        let refused = basalt_server::App::start(wrong)
            .await
            .err()
            .expect("refused with another key");
        assert!(refused.to_string().contains(&key_id(1)), "{refused}");
        let mut bad = config.clone();
        bad.master_key = Some(Secret::new("not a key".to_owned()));
        let refused = basalt_server::App::start(bad)
            .await
            .err()
            .expect("refused with a malformed key");
        assert!(refused.to_string().contains("32 bytes"), "{refused}");
        (backend, pg, dir)
    };
    let mut config = config;
    config.master_key = Some(key(1));
    let s = TestServer::serve(config, backend, pg, dir).await;
    world.check(&s, &receiver, "sealed, restarted").await;

    // Rotation: the new key seals, the old one opens what it sealed until
    // everything is sealed again at start.
    let s = s
        .restart_with(|c| {
            c.master_key = Some(key(2));
            c.master_key_previous = vec![key(1)];
        })
        .await;
    all_sealed_with(&s, 2, &secrets).await;
    world.check(&s, &receiver, "rotated").await;
    let s = s.restart_with(|c| c.master_key_previous = Vec::new()).await;
    world.check(&s, &receiver, "old key dropped").await;

    // And back to no key: the previous key opens, everything is stored clear.
    let s = s
        .restart_with(|c| {
            c.master_key = None;
            c.master_key_previous = vec![key(2)];
        })
        .await;
    let values = stored(&s).await;
    assert!(values.iter().all(|(_, v)| !v.starts_with(b"bsv1.")), "{values:?}");
    assert!(
        values
            .iter()
            .any(|(c, v)| c == "users.mfa_secret" && v == world.totp_secret.as_bytes())
    );
    world.check(&s, &receiver, "unsealed").await;
    s.stop().await;
}
