//! Sign-in with OpenID Connect against a real provider on loopback
//! (oidc-provider), driven over HTTP: redirects, the provider's login and
//! consent forms, the callback, and the Basalt session it ends with.

mod common;

use basalt_core::Secret;
use basalt_core::config::{OAuthKind, OAuthProvider};
use common::{Backend, OidcProvider, TestServer};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn browser() -> reqwest::Client {
    common::install_tls_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response, base: &str) -> String {
    absolute(
        res.headers()
            .get("location")
            .expect("a Location")
            .to_str()
            .unwrap(),
        base,
    )
}

fn absolute(url: &str, base: &str) -> String {
    if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{base}{url}")
    }
}

/// The `action` of the only form on a page.
fn form_action(html: &str) -> String {
    let after = html.split("action=\"").nth(1).expect("a form");
    after.split('"').next().unwrap().replace("&amp;", "&")
}

/// Follows redirects (keeping the provider's cookies) until one leaves for
/// `stop_at`, answering the provider's login and consent forms on the way.
/// Returns that last Location.
async fn sign_in_at_provider(
    b: &reqwest::Client,
    start: &str,
    issuer: &str,
    login: &str,
    consent: bool,
    stop_at: &str,
) -> String {
    let mut url = start.to_owned();
    for _ in 0..20 {
        if url.starts_with(stop_at) {
            return url;
        }
        let res = b.get(&url).send().await.unwrap();
        if res.status().is_redirection() {
            url = location(&res, issuer);
            continue;
        }
        let html = res.text().await.unwrap();
        let action = absolute(&form_action(&html), issuer);
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "anything")]
        } else if consent {
            vec![("prompt", "consent")]
        } else {
            // Decline: the provider's abort link.
            let abort = html
                .split("href=\"")
                .find(|s| s.contains("/abort"))
                .expect("an abort link");
            url = absolute(&abort.split('"').next().unwrap().replace("&amp;", "&"), issuer);
            continue;
        };
        let res = b.post(&action).form(&form).send().await.unwrap();
        assert!(
            res.status().is_redirection(),
            "{}: {}",
            res.status(),
            res.text().await.unwrap()
        );
        url = location(&res, issuer);
    }
    panic!("too many redirects");
}

fn fragment(url: &str) -> Value {
    let frag = url.split_once('#').expect("a fragment").1;
    let pairs: serde_json::Map<String, Value> = frag
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), Value::String(v.replace("%20", " "))))
        .collect();
    Value::Object(pairs)
}

struct Setup {
    server: TestServer,
    provider: OidcProvider,
    app: String,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let port = OidcProvider::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let server = TestServer::start_with(backend, move |c| {
        c.oauth = vec![OAuthProvider {
            name: "acme".into(),
            client_id: "basalt".into(),
            client_secret: Secret::new("basalt-test-secret".into()),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            kind: OAuthKind::Oidc {
                issuer,
                issuer_template: None,
                form_post: false,
            },
        }];
    })
    .await?;
    let provider = OidcProvider::start(port, &format!("{}/v1/auth/oauth/acme/callback", server.url)).await;
    let app = format!("{}/app/signed-in", server.url);
    Some(Setup {
        server,
        provider,
        app,
    })
}

/// A whole sign-in as `login`; returns where Basalt sent the browser at the end.
async fn oauth_sign_in(s: &Setup, login: &str, consent: bool) -> String {
    let b = browser();
    let res = b
        .get(format!(
            "{}/v1/auth/oauth/acme/authorize?redirect_to={}",
            s.server.url, s.app
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to_provider = location(&res, &s.server.url);
    assert!(
        to_provider.starts_with(&format!("{}/auth?", s.provider.issuer)),
        "{to_provider}"
    );
    for param in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "client_id=basalt",
        "scope=openid",
    ] {
        assert!(to_provider.contains(param), "{param} in {to_provider}");
    }
    let callback = sign_in_at_provider(
        &b,
        &to_provider,
        &s.provider.issuer,
        login,
        consent,
        &s.server.url,
    )
    .await;
    // Login CSRF: the callback carried to another browser is refused, and
    // the sign-in stays usable by the browser that started it.
    let stranger = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let res = stranger.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = b.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 302, "{callback}: {}", res.text().await.unwrap());
    let done = location(&res, &s.server.url);
    assert!(done.starts_with(&format!("{}#", s.app)), "{done}");
    // The same callback cannot be used twice.
    let again = b.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    done
}

async fn oidc_sign_in(backend: Backend) {
    let Some(s) = setup(backend).await else { return };
    let done = oauth_sign_in(&s, "alice", true).await;
    let f = fragment(&done);
    assert_eq!(f["token_type"], "bearer");
    assert_eq!(f["expires_in"], "3600");
    let token = f["access_token"].as_str().unwrap();
    let me = s.server.get("/v1/auth/user", Some(token)).await;
    me.expect(200, None);
    let me = me.json();
    assert_eq!(me["email"], "alice@oidc.test");
    assert_eq!(me["email_verified"], true);
    let res = s
        .server
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": f["refresh_token"]}),
        )
        .await;
    res.expect(200, None);
    // Signing in again finds the same user.
    let f2 = fragment(&oauth_sign_in(&s, "alice", true).await);
    let me2 = s
        .server
        .get("/v1/auth/user", Some(f2["access_token"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(me2["id"], me["id"]);

    // A verified provider email links to the existing account.
    let res = s
        .server
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "bob@oidc.test", "password": PASSWORD}),
        )
        .await;
    res.expect(201, None);
    let bob_id = res.json()["user"]["id"].clone();
    let f = fragment(&oauth_sign_in(&s, "bob", true).await);
    let bob = s
        .server
        .get("/v1/auth/user", Some(f["access_token"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(bob["id"], bob_id);
    assert_eq!(bob["email_verified"], true);
    // Whoever registered bob@ without proving it loses the password and sessions.
    let res = s
        .server
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "bob@oidc.test", "password": PASSWORD}),
        )
        .await;
    res.expect(401, Some("unauthenticated"));
    // A redirect_to may not carry its own fragment.
    let res = browser()
        .get(format!(
            "{}/v1/auth/oauth/acme/authorize?redirect_to={}%23x",
            s.server.url, s.app
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // An unverified provider email never takes over an account.
    let res = s
        .server
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "unverified-carol@oidc.test", "password": PASSWORD}),
        )
        .await;
    res.expect(201, None);
    let f = fragment(&oauth_sign_in(&s, "unverified-carol", true).await);
    assert_eq!(f["error"], "access_denied", "{f}");
    assert!(f.get("access_token").is_none());
    // With no account yet, it makes a new user whose email is unverified.
    let f = fragment(&oauth_sign_in(&s, "unverified-dan", true).await);
    let dan = s
        .server
        .get("/v1/auth/user", Some(f["access_token"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(dan["email"], "unverified-dan@oidc.test");
    assert_eq!(dan["email_verified"], false);

    // Declining at the provider comes back as an error.
    let f = fragment(&oauth_sign_in(&s, "erin", false).await);
    assert_eq!(f["error"], "access_denied", "{f}");

    // Hostile starts and callbacks.
    let b = browser();
    let res = b
        .get(format!(
            "{}/v1/auth/oauth/acme/authorize?redirect_to=https://evil.example/",
            s.server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b
        .get(format!("{}/v1/auth/oauth/acme/authorize", s.server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = b
        .get(format!(
            "{}/v1/auth/oauth/nope/authorize?redirect_to={}",
            s.server.url, s.app
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    for query in [
        "",
        "?state=forged&code=x",
        "?code=x",
        "?state=&error=access_denied",
    ] {
        let res = b
            .get(format!("{}/v1/auth/oauth/acme/callback{query}", s.server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_argument");
    }
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_sign_in_sqlite() {
    oidc_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_sign_in_postgres() {
    oidc_sign_in(Backend::Postgres).await;
}
