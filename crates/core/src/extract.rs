//! Extractors whose rejections are Basalt errors, so a bad body, query or
//! path gets the same envelope as every other failure.

use std::net::{IpAddr, Ipv4Addr};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Code, Error};

/// A JSON request body (always an object) or a JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        if !is_json_content_type(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "expected a JSON body with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(Code::PayloadTooLarge, "request body is too large")
            } else {
                Error::invalid_argument("could not read the request body")
            }
        })?;
        parse_object(&bytes).map(Json)
    }
}

/// A JSON request body that may be left out: no body (or an empty one)
/// reads as `T::default()`; a body there is read as [`Json`] reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (req.headers().get(header::CONTENT_LENGTH).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none());
        if empty {
            return Ok(OptionalJson(T::default()));
        }
        Json::from_request(req, state)
            .await
            .map(|Json(v)| OptionalJson(v))
    }
}

/// For `#[serde(default, deserialize_with = "…::present")]` on an
/// `Option<Option<T>>` field of a PATCH body: tells `null` (`Some(None)`,
/// clear it) from an absent field (`None`, keep it).
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Parses a body that must be a JSON object into `T`.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(Error::invalid_argument("request body is empty")),
        Some(_) => return Err(Error::invalid_argument("request body must be a JSON object")),
    }
    serde_json::from_slice(bytes).or_else(|e| {
        let data = e.classify() == serde_json::error::Category::Data;
        // JSON does not tell 3 from 3.0: an integer written with a
        // fraction of zero is still an integer (the slow path, only after a
        // first reading failed).
        if data
            && let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes)
            && whole_numbers(&mut value)
            && let Ok(parsed) = serde_json::from_value(value)
        {
            return Ok(parsed);
        }
        let what = if data {
            "invalid request body"
        } else {
            "malformed JSON"
        };
        Err(Error::invalid_argument(format!("{what}: {e}")))
    })
}

/// Rewrites numbers like `3.0` as `3`, everywhere in `value`; whether any was.
fn whole_numbers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Exactly representable: below 2^53 in magnitude.
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                *value = Value::from(f as i64);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |any, v| whole_numbers(v) | any),
        Value::Object(map) => map.values_mut().fold(false, |any, v| whole_numbers(v) | any),
        _ => false,
    }
}

fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(Ok(value)) = value.map(HeaderValue::to_str) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[..essence.len() - 5].starts_with("application/")
            && essence.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                body,
            )
                .into_response(),
            Err(e) => Error::internal(e).into_response(),
        }
    }
}

/// Query-string parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| Error::invalid_argument(format!("invalid query string: {}", e.body_text())))
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| Error::invalid_argument(format!("invalid path: {}", e.body_text())))
    }
}

/// The client's address as the server decided it (peer address, or the
/// forwarded address when the server is told to trust its proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Body {
            n: u64,
            list: Vec<i32>,
            data: serde_json::Value,
        }
        let body: Body = parse_object(br#"{"n": 60.0, "list": [1, -2.0], "data": {"x": 1.5}}"#).unwrap();
        assert_eq!(body.n, 60);
        assert_eq!(body.list, [1, -2]);
        assert_eq!(body.data["x"], 1.5);
        for bad in [
            &br#"{"n": 60.5, "list": [], "data": 0}"#[..],
            br#"{"n": -1.0, "list": [], "data": 0}"#,
            br#"{"n": 1e300, "list": [], "data": 0}"#,
            br#"{"n": "6", "list": [], "data": 0}"#,
        ] {
            let e = parse_object::<Body>(bad).unwrap_err();
            assert!(e.message().starts_with("invalid request body"), "{}", e.message());
        }
    }

    #[test]
    fn json_content_types() {
        let ok = [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ];
        for v in ok {
            assert!(is_json_content_type(Some(&HeaderValue::from_static(v))), "{v}");
        }
        let bad = [
            "text/plain",
            "application/x-www-form-urlencoded",
            "+json",
            "application/jsonp",
        ];
        for v in bad {
            assert!(!is_json_content_type(Some(&HeaderValue::from_static(v))), "{v}");
        }
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn bodies_must_be_objects() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[allow(dead_code)]
            name: String,
        }
        for bad in ["[]", "5", "\"x\"", "null", "", "   ", "{", "{\"name\": 5}"] {
            let err = parse_object::<Body>(bad.as_bytes()).unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        }
        assert!(parse_object::<Body>(b" {\"name\":\"x\"}").is_ok());
    }
}
