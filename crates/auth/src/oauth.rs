//! Sign-in with OAuth 2.0 / OpenID Connect providers: authorization code
//! with PKCE (S256), `state` and `nonce`; OIDC ID tokens verified against
//! the issuer's JWKS. A provider account links to an existing user only
//! through an email the provider says is verified.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basalt_core::api::{Access, Api, Route};
use basalt_core::caller::Authenticator;
use basalt_core::config::{OAuthKind, OAuthProvider};
use basalt_core::extract::{ClientIp, Path, Query};
use basalt_core::rate_limit::RateLimiter;
use basalt_core::{Error, Timestamp};
use basalt_store::Param;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::Auth;
use crate::one_time::{self, Kind};
use crate::sessions::{self, Origin};
use crate::users::{self, NewUser, User};
use basalt_core::url::encode_component;

/// A sign-in started at `authorize` must finish within this time.
const FLOW_TTL_MS: i64 = 10 * 60 * 1000;
/// The issuer's keys are fetched again at most this often (for a new `kid`).
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// The configured providers and what was learnt about them.
pub struct OAuth {
    http: reqwest::Client,
    providers: HashMap<String, Provider>,
}

struct Provider {
    config: OAuthProvider,
    discovered: Mutex<Option<Discovered>>,
}

#[derive(Clone)]
struct Discovered {
    issuer: String,
    authorize: String,
    token: String,
    userinfo: Option<String>,
    jwks_uri: String,
    keys: JwkSet,
    keys_fetched: Instant,
    basic_auth: bool,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// Who the provider says signed in.
struct ProviderAccount {
    subject: String,
    email: Option<String>,
    email_verified: bool,
}

fn failure(what: &str, cause: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %cause, "{what}");
    Error::unavailable(what.to_owned())
}

impl OAuth {
    pub fn new(providers: &[OAuthProvider]) -> Result<OAuth, String> {
        // reqwest's TLS comes from rustls with the ring provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent("Basalt")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let providers = providers
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    Provider {
                        config: p.clone(),
                        discovered: Mutex::new(None),
                    },
                )
            })
            .collect();
        Ok(OAuth { http, providers })
    }

    fn provider(&self, name: &str) -> Result<&Provider, Error> {
        self.providers
            .get(name)
            .ok_or_else(|| Error::not_found(format!("no OAuth provider named `{name}`")))
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, Error> {
        let mut req = self.http.get(url).header(header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let res = req
            .send()
            .await
            .map_err(|e| failure("the provider did not answer", e))?;
        if !res.status().is_success() {
            return Err(failure(
                "the provider refused the request",
                format!("{url}: {}", res.status()),
            ));
        }
        res.json()
            .await
            .map_err(|e| failure("the provider sent malformed JSON", e))
    }

    /// OIDC endpoints and keys, discovered once and kept.
    async fn discover(&self, p: &Provider, issuer: &str) -> Result<Discovered, Error> {
        let mut slot = p.discovered.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: DiscoveryDocument = serde_json::from_value(self.get_json(&url, None).await?)
            .map_err(|e| failure("the provider's discovery document is malformed", e))?;
        // The document must be about the issuer we were configured with (a
        // per-tenant template, as Microsoft's, is checked token by token).
        let templated = doc.issuer.contains('{');
        if !templated && doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(failure(
                "the provider's discovery document names another issuer",
                &doc.issuer,
            ));
        }
        let keys: JwkSet = serde_json::from_value(self.get_json(&doc.jwks_uri, None).await?)
            .map_err(|e| failure("the provider's JWKS is malformed", e))?;
        let d = Discovered {
            basic_auth: doc
                .token_endpoint_auth_methods_supported
                .iter()
                .any(|m| m == "client_secret_basic")
                || doc.token_endpoint_auth_methods_supported.is_empty(),
            issuer: doc.issuer,
            authorize: doc.authorization_endpoint,
            token: doc.token_endpoint,
            userinfo: doc.userinfo_endpoint,
            jwks_uri: doc.jwks_uri,
            keys,
            keys_fetched: Instant::now(),
        };
        *slot = Some(d.clone());
        Ok(d)
    }

    /// Fetches the issuer's keys again (a rotated key), at most once a minute.
    async fn refresh_keys(&self, p: &Provider) -> Result<Option<Discovered>, Error> {
        let mut slot = p.discovered.lock().await;
        let Some(d) = slot.as_mut() else { return Ok(None) };
        if d.keys_fetched.elapsed() < JWKS_REFRESH {
            return Ok(None);
        }
        d.keys = serde_json::from_value(self.get_json(&d.jwks_uri, None).await?)
            .map_err(|e| failure("the provider's JWKS is malformed", e))?;
        d.keys_fetched = Instant::now();
        Ok(Some(d.clone()))
    }
}

pub fn api<S>() -> Api<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
    Authenticator: FromRef<S>,
{
    Api::new()
        .route(
            Route::get("/v1/auth/oauth/{provider}/authorize", authorize)
                .tag("auth")
                .access(Access::Public)
                .summary("Start signing in with an OAuth / OpenID Connect provider")
                .query::<AuthorizeQuery>()
                .empty(302, "To the provider's sign-in page"),
        )
        .route(
            Route::get("/v1/auth/oauth/{provider}/callback", callback_get)
                .tag("auth")
                .access(Access::Public)
                .summary("Where the provider sends the user back")
                .query::<CallbackParams>()
                .empty(
                    302,
                    "To redirect_to#access_token=…&refresh_token=…&expires_in=… or #error=…",
                ),
        )
        .route(
            Route::post("/v1/auth/oauth/{provider}/callback", callback_post)
                .tag("auth")
                .access(Access::Public)
                .summary("The callback for providers that post it (response_mode=form_post)")
                .raw_body("application/x-www-form-urlencoded")
                .empty(302, "As the GET callback"),
        )
}

#[derive(Deserialize, JsonSchema)]
pub struct AuthorizeQuery {
    /// Where to send the user afterwards; must be on an allowed origin.
    redirect_to: String,
}

#[derive(Deserialize, JsonSchema, Default)]
pub struct CallbackParams {
    code: Option<String>,
    /// The `state` the sign-in started with: required.
    #[schemars(with = "String")]
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn hash(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => Error::invalid_argument("cannot redirect there").into_response(),
    }
}

fn callback_url(auth: &Auth, provider: &str) -> String {
    format!("{}/v1/auth/oauth/{provider}/callback", auth.issuer())
}

async fn authorize(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    Path(name): Path<String>,
    Query(q): Query<AuthorizeQuery>,
) -> Result<Response, Error> {
    let oauth = auth.oauth();
    let provider = oauth.provider(&name)?;
    auth.check_redirect(&q.redirect_to)?;
    auth.inner
        .login_limiter
        .check(&RateLimiter::ip_key("oauth:ip", ip))?;
    let (endpoint, nonce_needed, form_post) = match &provider.config.kind {
        OAuthKind::Oidc {
            issuer, form_post, ..
        } => (
            oauth.discover(provider, issuer).await?.authorize,
            true,
            *form_post,
        ),
        OAuthKind::OAuth2 { authorize_url, .. } => (authorize_url.clone(), false, false),
    };
    let state = basalt_core::secret::random_hex(32);
    let mut verifier_bytes = [0u8; 32];
    basalt_core::secret::fill_random(&mut verifier_bytes);
    let verifier = URL_SAFE_NO_PAD.encode(verifier_bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let nonce = basalt_core::secret::random_hex(16);
    let browser = basalt_core::secret::random_hex(16);
    let now = Timestamp::now().millis();
    let db = auth.db();
    db.execute("DELETE FROM oauth_flows WHERE expires_at < $1", &[now.into()])
        .await?;
    db.execute(
        "INSERT INTO oauth_flows (state_hash, provider, code_verifier, nonce, redirect_to, expires_at, browser_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Param::Bytes(&hash(&state)),
            (&name).into(),
            (&verifier).into(),
            (&nonce).into(),
            (&q.redirect_to).into(),
            (now + FLOW_TTL_MS).into(),
            Param::Bytes(&hash(&browser)),
        ],
    )
    .await?;
    let cookie_name = cookie_name(&state);
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", provider.config.client_id.clone()),
        ("redirect_uri", callback_url(&auth, &name)),
        ("scope", provider.config.scopes.join(" ")),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if nonce_needed {
        params.push(("nonce", nonce));
    }
    params.retain(|(k, v)| *k != "scope" || !v.is_empty());
    if form_post {
        params.push(("response_mode", "form_post".to_owned()));
    }
    let url = reqwest::Url::parse_with_params(&endpoint, &params)
        .map_err(|e| failure("the provider's authorization endpoint is not a URL", e))?;
    // Providers that post the callback (form_post) arrive cross-site, which
    // only a SameSite=None cookie survives; that needs https.
    let same_site = if form_post { "None; Secure" } else { "Lax" };
    let secure = if auth.issuer().starts_with("https://") && !form_post {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{cookie_name}={browser}; Path=/v1/auth/oauth/; Max-Age={}; HttpOnly; SameSite={same_site}{secure}",
        FLOW_TTL_MS / 1000
    );
    let mut response = redirect(url.as_str());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn callback_get(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<CallbackParams>,
) -> Response {
    finish(&auth, &name, params, &headers, Origin::of(&headers, ip)).await
}

async fn callback_post(
    State(auth): State<Auth>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let params: CallbackParams = serde_urlencoded_from(&body);
    finish(&auth, &name, params, &headers, Origin::of(&headers, ip)).await
}

/// `application/x-www-form-urlencoded` into the callback's fields.
fn serde_urlencoded_from(body: &[u8]) -> CallbackParams {
    let mut params = CallbackParams::default();
    for (key, value) in reqwest::Url::parse("http://x/")
        .map(|mut u| {
            u.set_query(Some(&String::from_utf8_lossy(body)));
            u.query_pairs().into_owned().collect::<Vec<_>>()
        })
        .unwrap_or_default()
    {
        match key.as_str() {
            "code" => params.code = Some(value),
            "state" => params.state = Some(value),
            "error" => params.error = Some(value),
            "error_description" => params.error_description = Some(value),
            _ => {}
        }
    }
    params
}

struct Flow {
    verifier: String,
    nonce: String,
    redirect_to: String,
}

/// The cookie that ties a sign-in to the browser that started it (one per
/// flow, so two sign-ins at once do not overwrite each other).
fn cookie_name(state: &str) -> String {
    format!("basalt_oauth_{}", &basalt_core::secret::hex(&hash(state))[..16])
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

enum Taken {
    Flow(Flow),
    Unknown,
    OtherBrowser,
}

/// The sign-in `state` names, spent, if this browser started it and it is fresh.
async fn take_flow(auth: &Auth, name: &str, state: &str, headers: &HeaderMap) -> Result<Taken, Error> {
    let key = hash(state);
    let row = auth
        .db()
        .fetch_optional(
            "SELECT code_verifier, nonce, redirect_to, expires_at, browser_hash FROM oauth_flows
             WHERE state_hash = $1 AND provider = $2",
            &[Param::Bytes(&key), name.into()],
        )
        .await?;
    let Some(row) = row else { return Ok(Taken::Unknown) };
    // Login CSRF: a callback carried to another browser is refused, and the
    // flow stays for the browser that started it.
    let presented = cookie_value(headers, &cookie_name(state))
        .map(hash)
        .unwrap_or_default();
    if !bool::from(presented.as_slice().ct_eq(row.bytes(4)?.as_slice())) {
        return Ok(Taken::OtherBrowser);
    }
    // Single use: only the request that deletes the row goes on.
    if auth
        .db()
        .execute(
            "DELETE FROM oauth_flows WHERE state_hash = $1",
            &[Param::Bytes(&key)],
        )
        .await?
        != 1
    {
        return Ok(Taken::Unknown);
    }
    if row.int(3)? < Timestamp::now().millis() {
        return Ok(Taken::Unknown);
    }
    Ok(Taken::Flow(Flow {
        verifier: row.text(0)?,
        nonce: row.text(1)?,
        redirect_to: row.text(2)?,
    }))
}

async fn finish(
    auth: &Auth,
    name: &str,
    params: CallbackParams,
    headers: &HeaderMap,
    origin: Origin,
) -> Response {
    let Some(state) = params.state.as_deref() else {
        return Error::invalid_argument("the sign-in has no state; start again").into_response();
    };
    let flow = match take_flow(auth, name, state, headers).await {
        Ok(Taken::Flow(flow)) => flow,
        Ok(Taken::Unknown) => {
            return Error::invalid_argument("this sign-in is unknown or has expired; start again")
                .into_response();
        }
        Ok(Taken::OtherBrowser) => {
            return Error::permission_denied("this sign-in was started in another browser; start again here")
                .into_response();
        }
        Err(e) => return e.into_response(),
    };
    let back = |fragment: String| redirect(&format!("{}#{fragment}", flow.redirect_to));
    if let Some(error) = params.error {
        let description = params.error_description.unwrap_or_default();
        return back(format!(
            "error={}&error_description={}",
            encode_component(&error),
            encode_component(&description)
        ));
    }
    let Some(code) = params.code else {
        return back("error=invalid_request&error_description=no%20authorization%20code".into());
    };
    match sign_in(auth, name, &code, &flow, &origin).await {
        Ok(fragment) => back(fragment),
        Err((error, e)) => {
            tracing::warn!(provider = name, error = %e, "OAuth sign-in failed");
            back(format!(
                "error={}&error_description={}",
                error,
                encode_component(e.message())
            ))
        }
    }
}

/// Exchanges the code, learns who signed in, and starts a session; the
/// fragment to send back, or an OAuth error code with the reason.
async fn sign_in(
    auth: &Auth,
    name: &str,
    code: &str,
    flow: &Flow,
    origin: &Origin,
) -> Result<String, (&'static str, Error)> {
    let server_error = |e: Error| ("server_error", e);
    let oauth = auth.oauth();
    let provider = oauth.provider(name).map_err(server_error)?;
    let account = match &provider.config.kind {
        OAuthKind::Oidc {
            issuer,
            issuer_template,
            ..
        } => {
            let d = oauth.discover(provider, issuer).await.map_err(server_error)?;
            let tokens = exchange(auth, provider, &d.token, d.basic_auth, code, flow, name)
                .await
                .map_err(server_error)?;
            oidc_account(auth, provider, d, &tokens, flow, issuer_template.as_deref())
                .await
                .map_err(|e| ("access_denied", e))?
        }
        OAuthKind::OAuth2 {
            token_url,
            user_url,
            emails_url,
            id_field,
            email_field,
            verified_field,
            ..
        } => {
            let tokens = exchange(auth, provider, token_url, false, code, flow, name)
                .await
                .map_err(server_error)?;
            let access = tokens
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    server_error(failure(
                        "the provider sent no access token",
                        "token response without access_token",
                    ))
                })?;
            oauth2_account(
                oauth,
                access,
                user_url,
                emails_url.as_deref(),
                id_field,
                email_field,
                verified_field.as_deref(),
            )
            .await
            .map_err(server_error)?
        }
    };
    let user = link(auth, name, &account).await?;
    if user.mfa_enabled {
        let token = one_time::issue(auth.db(), Kind::Mfa, Some(&user.id), None, None)
            .await
            .map_err(server_error)?;
        return Ok(format!(
            "mfa_required=true&mfa_token={}",
            encode_component(&token)
        ));
    }
    let session = sessions::start(auth, user, 1, origin)
        .await
        .map_err(|e| ("access_denied", e))?;
    Ok(format!(
        "access_token={}&refresh_token={}&expires_in={}&token_type=bearer",
        encode_component(&session.access_token),
        encode_component(&session.refresh_token),
        session.expires_in
    ))
}

async fn exchange(
    auth: &Auth,
    provider: &Provider,
    token_url: &str,
    basic_auth: bool,
    code: &str,
    flow: &Flow,
    name: &str,
) -> Result<Map<String, Value>, Error> {
    let c = &provider.config;
    let redirect_uri = callback_url(auth, name);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    let mut req = auth
        .oauth()
        .http
        .post(token_url)
        .header(header::ACCEPT, "application/json");
    if basic_auth {
        req = req.basic_auth(
            encode_component(&c.client_id),
            Some(encode_component(c.client_secret.expose())),
        );
    } else {
        form.push(("client_id", c.client_id.as_str()));
        form.push(("client_secret", c.client_secret.expose().as_str()));
    }
    let res = req
        .form(&form)
        .send()
        .await
        .map_err(|e| failure("the provider's token endpoint did not answer", e))?;
    let status = res.status();
    let body: Value = res
        .json()
        .await
        .map_err(|e| failure("the provider's token endpoint sent malformed JSON", e))?;
    if !status.is_success() || body.get("error").is_some() {
        return Err(failure(
            "the provider refused the authorization code",
            format!("{status}: {body}"),
        ));
    }
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(failure(
            "the provider's token response is not an object",
            "not an object",
        )),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

async fn oidc_account(
    auth: &Auth,
    provider: &Provider,
    mut d: Discovered,
    tokens: &Map<String, Value>,
    flow: &Flow,
    issuer_template: Option<&str>,
) -> Result<ProviderAccount, Error> {
    let denied = |why: &str| Error::permission_denied(format!("the provider's ID token was refused: {why}"));
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or_else(|| denied("there is none"))?;
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| denied("malformed"))?;
    let allowed = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    if !allowed.contains(&header.alg) {
        return Err(denied("unacceptable algorithm"));
    }
    let find = |keys: &JwkSet| match &header.kid {
        Some(kid) => keys.find(kid).cloned(),
        None if keys.keys.len() == 1 => keys.keys.first().cloned(),
        None => None,
    };
    let jwk = match find(&d.keys) {
        Some(jwk) => jwk,
        None => {
            if let Some(fresh) = auth.oauth().refresh_keys(provider).await? {
                d = fresh;
            }
            find(&d.keys).ok_or_else(|| denied("signed with an unknown key"))?
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| denied("unusable key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[provider.config.client_id.as_str()]);
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    if issuer_template.is_none() {
        validation.set_issuer(&[d.issuer.as_str()]);
    }
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
        .map_err(|e| denied(&format!("{:?}", e.kind())))?
        .claims;
    if let Some(template) = issuer_template {
        let tid = claims.get("tid").and_then(Value::as_str).unwrap_or("");
        if claims.get("iss").and_then(Value::as_str) != Some(template.replace("{tenantid}", tid).as_str()) {
            return Err(denied("wrong issuer"));
        }
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !bool::from(nonce.as_bytes().ct_eq(flow.nonce.as_bytes())) || flow.nonce.is_empty() {
        return Err(denied("wrong nonce"));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| denied("no subject"))?
        .to_owned();
    let mut email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    let mut email_verified = truthy(claims.get("email_verified"));
    // Many providers put the email in the userinfo response, not in the ID token.
    if email.is_none()
        && let (Some(url), Some(access)) = (&d.userinfo, tokens.get("access_token").and_then(Value::as_str))
    {
        let info = auth.oauth().get_json(url, Some(access)).await?;
        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err(denied("userinfo is about someone else"));
        }
        email = info.get("email").and_then(Value::as_str).map(str::to_owned);
        email_verified = truthy(info.get("email_verified"));
    }
    Ok(ProviderAccount {
        subject,
        email,
        email_verified,
    })
}

async fn oauth2_account(
    oauth: &OAuth,
    access: &str,
    user_url: &str,
    emails_url: Option<&str>,
    id_field: &str,
    email_field: &str,
    verified_field: Option<&str>,
) -> Result<ProviderAccount, Error> {
    let user = oauth.get_json(user_url, Some(access)).await?;
    let subject = match user.get(id_field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(failure(
                "the provider's user has no id",
                format!("no `{id_field}`"),
            ));
        }
    };
    let mut email = user.get(email_field).and_then(Value::as_str).map(str::to_owned);
    let mut email_verified = verified_field.is_some_and(|f| truthy(user.get(f)));
    if let Some(url) = emails_url {
        // GitHub-style: [{email, primary, verified}]; take the primary verified one.
        let list = oauth.get_json(url, Some(access)).await?;
        if let Some(primary) = list.as_array().and_then(|l| {
            l.iter()
                .find(|e| truthy(e.get("primary")) && truthy(e.get("verified")))
        }) {
            email = primary.get("email").and_then(Value::as_str).map(str::to_owned);
            email_verified = true;
        } else {
            email_verified = false;
        }
    }
    Ok(ProviderAccount {
        subject,
        email,
        email_verified,
    })
}

/// The user a provider account belongs to: linked before, linked now by a
/// verified email, or new.
async fn link(auth: &Auth, provider: &str, account: &ProviderAccount) -> Result<User, (&'static str, Error)> {
    let server_error = |e: Error| ("server_error", e);
    let db = auth.db();
    let email = account
        .email
        .as_deref()
        .map(crate::email::Email::parse)
        .transpose()
        .ok()
        .flatten();
    let linked = db
        .fetch_optional(
            "SELECT user_id FROM identities WHERE provider = $1 AND subject = $2",
            &[provider.into(), (&account.subject).into()],
        )
        .await
        .map_err(|e| server_error(e.into()))?;
    let user = if let Some(row) = linked {
        let id = row.text(0).map_err(|e| server_error(e.into()))?;
        users::by_id(db, &id).await.map_err(server_error)?.map(|r| r.user)
    } else {
        None
    };
    let user = match user {
        Some(user) => user,
        None => {
            let existing = match &email {
                Some(e) => users::by_email(db, e.as_str()).await.map_err(server_error)?,
                None => None,
            };
            let user = match existing {
                Some(record) if account.email_verified => {
                    if !record.user.email_verified {
                        // Whoever registered this address never proved it; its owner
                        // just did. Password, provider links, MFA and sessions go, so
                        // an account claimed in advance is not kept by the claimant.
                        users::owner_proved(auth, &record.user.id)
                            .await
                            .map_err(server_error)?;
                    }
                    users::by_id(db, &record.user.id)
                        .await
                        .map_err(server_error)?
                        .map(|r| r.user)
                        .ok_or_else(|| server_error(Error::internal("a user vanished while signing in")))?
                }
                Some(_) => {
                    return Err((
                        "access_denied",
                        Error::permission_denied(
                            "an account with this email exists, and the provider has not verified the email",
                        ),
                    ));
                }
                None => {
                    let empty = Map::new();
                    users::sign_up(
                        auth,
                        NewUser {
                            email: email.as_ref().map(|e| e.as_str()),
                            email_verified: account.email_verified && email.is_some(),
                            password_hash: None,
                            anonymous: false,
                            data: &empty,
                            claims: &empty,
                        },
                    )
                    .await
                    .map_err(server_error)?
                }
            };
            db.execute(
                "INSERT INTO identities (provider, subject, user_id, email, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[
                    provider.into(),
                    (&account.subject).into(),
                    (&user.id).into(),
                    email.as_ref().map(|e| e.as_str()).into(),
                    Timestamp::now().millis().into(),
                ],
            )
            .await
            .map_err(|e| server_error(e.into()))?;
            user
        }
    };
    if user.disabled {
        return Err((
            "access_denied",
            Error::permission_denied("this account is disabled"),
        ));
    }
    if auth.inner.require_email_confirmation && !user.email_verified {
        return Err((
            "access_denied",
            Error::permission_denied("confirm your email address before signing in"),
        ));
    }
    Ok(user)
}
