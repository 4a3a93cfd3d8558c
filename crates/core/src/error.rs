//! The one error type every slice returns, and its JSON envelope.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The public error codes of API.md, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Aborted,
    FailedPrecondition,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    ValidationFailed,
    RateLimited,
    Internal,
    Unavailable,
    DeadlineExceeded,
}

impl Code {
    pub const ALL: [Code; 16] = [
        Code::InvalidArgument,
        Code::Unauthenticated,
        Code::PermissionDenied,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::AlreadyExists,
        Code::Aborted,
        Code::FailedPrecondition,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::RangeNotSatisfiable,
        Code::ValidationFailed,
        Code::RateLimited,
        Code::Internal,
        Code::Unavailable,
        Code::DeadlineExceeded,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidArgument => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::Unauthenticated => "unauthenticated",
            Code::PermissionDenied => "permission_denied",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::AlreadyExists => "already_exists",
            Code::Aborted => "aborted",
            Code::FailedPrecondition => "failed_precondition",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::RangeNotSatisfiable => "range_not_satisfiable",
            Code::ValidationFailed => "validation_failed",
            Code::RateLimited => "rate_limited",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DeadlineExceeded => "deadline_exceeded",
        }
    }

    /// The code a bare status maps to, for responses produced outside our
    /// handlers (router fallbacks, timeouts, panics).
    pub fn from_status(status: StatusCode) -> Code {
        match status.as_u16() {
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            408 | 504 => Code::DeadlineExceeded,
            409 => Code::Aborted,
            412 => Code::FailedPrecondition,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            416 => Code::RangeNotSatisfiable,
            422 => Code::ValidationFailed,
            429 => Code::RateLimited,
            503 => Code::Unavailable,
            400..=499 => Code::InvalidArgument,
            _ => Code::Internal,
        }
    }
}

/// A failure as a client sees it: a code, a human message and optional details.
/// Internal causes are logged where they happen and never carried here.
#[derive(Debug, Clone)]
pub struct Error {
    code: Code,
    message: Cow<'static, str>,
    details: Option<Box<Value>>,
    retry_after: Option<u64>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }
    pub fn unauthenticated(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Unauthenticated, message)
    }
    pub fn permission_denied(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::PermissionDenied, message)
    }
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::NotFound, message)
    }
    pub fn already_exists(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::AlreadyExists, message)
    }
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Unavailable, message)
    }
    /// The server's disk (or the database's) has no room left: `503` with
    /// `details.reason` `disk_full`, so clients can tell it from an outage.
    pub fn disk_full() -> Self {
        tracing::error!("a write failed: no space left on the disk");
        Self::new(
            Code::Unavailable,
            "the server has no disk space left; reads still work, writes resume once space is freed",
        )
        .with_details(serde_json::json!({"reason": "disk_full"}))
    }
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(Code::RateLimited, "too many requests, try again later");
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// An unexpected failure. The cause goes to the log (with the request's
    /// span), the client only learns that something went wrong.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(Code::Internal, "internal error")
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn details(&self) -> Option<&Value> {
        self.details.as_deref()
    }

    pub fn body(&self) -> Value {
        json!({"error": {
            "code": self.code.as_str(),
            "message": self.message,
            "details": self.details.as_deref().cloned().unwrap_or_else(|| json!({})),
        }})
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (self.code.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// Marks a response as already carrying the envelope, so the server's
/// envelope layer leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub Code);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_status() {
        for code in Code::ALL {
            let back = Code::from_status(code.status());
            // 409 is shared by already_exists and aborted; both are conflicts.
            if code != Code::AlreadyExists {
                assert_eq!(back, code, "{code:?}");
            }
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::internal("relation \"admins\" does not exist");
        assert_eq!(e.message(), "internal error");
        assert!(!e.body().to_string().contains("admins"));
    }
}
