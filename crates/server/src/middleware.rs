//! The layers every request passes through, outermost first: request
//! context (id, client address, span, metrics, error envelope), CORS, panic
//! catcher, timeout, body limit.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use basalt_core::caller::Authenticator;
use basalt_core::error::ErrorCode;
use basalt_core::extract::ClientIp;
use basalt_core::metrics::Metrics;
use basalt_core::{Caller, Code, Error};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

struct Context {
    metrics: Arc<Metrics>,
    authenticator: Authenticator,
    request_log: basalt_logs::RequestLog,
    trust_proxy: bool,
}

/// Wraps `router` (the app's routes) in Basalt's fallbacks and middleware.
pub fn with_middleware(router: Router<AppState>, state: &AppState) -> Router {
    let config = &state.config;
    let context = Arc::new(Context {
        metrics: state.metrics.clone(),
        authenticator: state.authenticator.clone(),
        request_log: state.request_log.clone(),
        trust_proxy: config.trust_proxy,
    });
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&config.cors_origins))
        .layer(axum::middleware::from_fn_with_state(context, request_context))
        .with_state(state.clone())
}

async fn not_found() -> Error {
    Error::not_found("no such route")
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic message went to stderr through the panic hook; the client learns nothing.
    tracing::error!("a request handler panicked");
    Error::new(Code::Internal, "internal error").into_response()
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
        ])
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request())
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_RANGE,
            header::CONTENT_DISPOSITION,
            REQUEST_ID.clone(),
        ])
        .max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(Any);
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(list))
}

async fn request_context(State(cx): State<Arc<Context>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| is_acceptable_request_id(v.as_bytes()))
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_str(&basalt_core::id::new_id()).expect("ids are ASCII"));
    let ip = client_ip(&req, cx.trust_proxy);
    req.extensions_mut().insert(ClientIp(ip));
    // The route registry's access checks resolve the caller with it.
    req.extensions_mut().insert(cx.authenticator.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    // Never the query string: it can carry tokens and signatures.
    let path = cx
        .request_log
        .is_on()
        .then(|| basalt_logs::truncate_path(req.uri().path()));
    let id: Arc<str> = Arc::from(request_id.to_str().unwrap_or(""));
    let mut response = crate::logging::REQUEST_ID.scope(id.clone(), next.run(req)).await;
    if response.status().as_u16() >= 400 && response.extensions().get::<ErrorCode>().is_none() {
        response = envelope(response);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    cx.metrics
        .record_request(method.as_str(), &route, status, elapsed);
    let (caller_kind, caller_id) = response
        .extensions()
        .get::<Caller>()
        .map_or(("anon", None), |c| c.log_identity());
    if tracing::enabled!(tracing::Level::INFO) {
        crate::logging::request(&crate::logging::RequestLine {
            request_id: &id,
            method: method.as_str(),
            route: &route,
            status,
            latency_us: elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            caller: caller_kind,
            caller_id: caller_id.unwrap_or(""),
        });
    }
    if let Some(path) = path {
        cx.request_log.record(basalt_logs::Entry {
            time: basalt_core::Timestamp::now().millis(),
            method: basalt_core::metrics::static_method(method.as_str()),
            caller: response.extensions().get::<Caller>().cloned(),
            route,
            path,
            status,
            duration_us: elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            ip,
            request_id: id,
            error: response.extensions().get::<ErrorCode>().map(|c| c.0.as_str()),
        });
    }
    response.headers_mut().insert(REQUEST_ID.clone(), request_id);
    response
}

/// Rewrites a bare error response from outside Basalt's handlers (router
/// fallbacks, the timeout layer) into the JSON envelope, keeping headers
/// such as `Allow`.
fn envelope(response: Response) -> Response {
    let status = response.status();
    let code = Code::from_status(status);
    let message = match code {
        Code::MethodNotAllowed => "method not allowed for this route",
        Code::DeadlineExceeded => "the request took too long",
        Code::PayloadTooLarge => "request body is too large",
        Code::NotFound => "not found",
        Code::Internal => "internal error",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let (parts, _) = response.into_parts();
    let mut fresh = Error::new(code, message).into_response();
    *fresh.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}

fn is_acceptable_request_id(v: &[u8]) -> bool {
    (1..=128).contains(&v.len()) && v.iter().all(|b| b.is_ascii_graphic())
}

fn client_ip(req: &Request, trust_proxy: bool) -> IpAddr {
    if trust_proxy {
        // The last hop is the one our own proxy appended; earlier ones are the client's word.
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}
