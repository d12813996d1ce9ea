//! Error answers in the Hub's shapes (JSON `{"error"}` plus `X-Error-Message` /
//! `X-Error-Code`), in S3's XML shape for the storage URLs, and injected faults.

use axum::http::StatusCode;

use super::Fault;
use crate::openai::wire::{obj, Json, Reply};

/// The content type of the Hub's JSON answers.
pub(crate) const JSON: &str = "application/json; charset=utf-8";

/// The 412 message of a commit whose `parentCommit` is not the branch head (real Hub text).
pub(crate) const STALE_PARENT: &str =
    "The branch was updated since you opened this page. Please refresh and try again.";

/// The message of 401s for anonymous callers (and of `RepoNotFound` 401s).
pub(crate) const ANONYMOUS: &str = "Invalid username or password.";

/// The message of 401s for an unknown token.
pub(crate) const BAD_TOKEN: &str = "Invalid credentials in Authorization header";

/// A JSON answer with the Hub's content type.
pub(crate) fn json(status: StatusCode, body: &Json) -> Reply {
    Reply::raw(status, JSON, body.to_text())
}

/// How an error is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `{"error": msg}` with `X-Error-Message: msg`.
    Hub,
    /// `{"error": msg, "url": …}` without `X-Error-Message` (409 of repo creation).
    Conflict,
    /// S3's `<Error><Code>…</Code><Message>…</Message></Error>`.
    S3(&'static str),
}

/// An error answer; handlers return it with `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HubError {
    status: StatusCode,
    message: String,
    code: Option<&'static str>,
    url: Option<String>,
    shape: Shape,
}

impl HubError {
    /// `status` with `{"error": message}` and `X-Error-Message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> HubError {
        HubError { status, message: message.into(), code: None, url: None, shape: Shape::Hub }
    }

    /// Adds an `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`).
    pub(crate) fn with_code(mut self, code: &'static str) -> HubError {
        self.code = Some(code);
        self
    }

    /// 400 with the Hub's shape.
    pub(crate) fn bad_request(message: impl Into<String>) -> HubError {
        HubError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 `RepoNotFound` for an authenticated caller.
    pub(crate) fn repo_not_found() -> HubError {
        HubError::new(StatusCode::NOT_FOUND, "Repository not found").with_code("RepoNotFound")
    }

    /// 404 `RevisionNotFound`.
    pub(crate) fn revision_not_found(rev: &str) -> HubError {
        HubError::new(StatusCode::NOT_FOUND, format!("Invalid rev id: {rev}")).with_code("RevisionNotFound")
    }

    /// 404 `EntryNotFound`.
    pub(crate) fn entry_not_found(message: impl Into<String>) -> HubError {
        HubError::new(StatusCode::NOT_FOUND, message).with_code("EntryNotFound")
    }

    /// 404 for a URL the Hub does not serve.
    pub(crate) fn page_not_found() -> HubError {
        HubError::new(StatusCode::NOT_FOUND, "Sorry, we can't find the page you are looking for.")
    }

    /// 409 of `repos/create` for an existing repo: `url` in the body, no `X-Error-Message`.
    pub(crate) fn already_exists(url: String) -> HubError {
        HubError {
            status: StatusCode::CONFLICT,
            message: "You already created this dataset repo".to_owned(),
            code: None,
            url: Some(url),
            shape: Shape::Conflict,
        }
    }

    /// An S3-style XML error (the storage URLs are presigned S3 URLs on the real Hub).
    pub(crate) fn s3(status: StatusCode, code: &'static str, message: impl Into<String>) -> HubError {
        HubError { status, message: message.into(), code: None, url: None, shape: Shape::S3(code) }
    }

    /// The answer carrying this error.
    pub(crate) fn into_reply(self) -> Reply {
        match self.shape {
            Shape::S3(code) => {
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>\
                     <RequestId>FAKEHUB</RequestId></Error>",
                    xml_escape(&self.message)
                );
                Reply::raw(self.status, "application/xml", body)
            }
            Shape::Conflict => json(
                self.status,
                &obj! { "error": self.message.as_str(), "url": self.url.unwrap_or_default() },
            ),
            Shape::Hub => {
                let mut reply = json(self.status, &obj! { "error": self.message.as_str() })
                    .with_header("x-error-message", header_safe(&self.message));
                if let Some(code) = self.code {
                    reply = reply.with_header("x-error-code", code);
                }
                reply
            }
        }
    }
}

/// The answer of an injected fault (not [`Fault::DropConnection`], which has none).
pub(crate) fn fault_reply(fault: &Fault) -> Reply {
    let (status, retry_after) = match *fault {
        Fault::Status(status) => (status, (status == 429).then_some(1)),
        Fault::RetryAfter(status, seconds) => (status, Some(seconds)),
        Fault::DropConnection => (500, None),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = HubError::new(status, fault_message(status)).into_reply();
    if let Some(seconds) = retry_after {
        reply = reply.with_header("retry-after", seconds.to_string());
        if status == StatusCode::TOO_MANY_REQUESTS {
            reply = reply
                .with_header("ratelimit", format!("\"api\";r=0;t={seconds}"))
                .with_header("ratelimit-policy", "\"fixed window\";\"api\";q=500;w=300");
        }
    }
    reply
}

/// The Hub's message for an injected status.
fn fault_message(status: StatusCode) -> String {
    let message = match status.as_u16() {
        401 => BAD_TOKEN,
        403 => "You don't have the rights to access this resource",
        404 => "Repository not found",
        409 => "Conflict: another operation is in progress",
        412 => STALE_PARENT,
        429 => "You have exceeded the rate limit: you have reached your 'api' rate limit.",
        500 => "Internal Error - We're working hard to fix this as soon as possible!",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        code => {
            return format!("Injected fault: {code} {}", status.canonical_reason().unwrap_or(""))
                .trim()
                .to_owned()
        }
    };
    message.to_owned()
}

/// A header value: visible ASCII only (anything else becomes `?`).
fn header_safe(text: &str) -> String {
    text.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
