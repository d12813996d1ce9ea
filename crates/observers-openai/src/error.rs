//! Errors of the OpenAI-compatible client.

use std::time::Duration;

use serde_json::{Map, Value};

/// What can go wrong calling a chat-completions endpoint.
///
/// Messages never contain the API key: the client removes it from anything a server echoes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error (HTTP 4xx/5xx, or an error event in a stream).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No answer within the configured timeout.
    #[error("the request to {url} timed out: no answer within the configured timeout ({timeout:?}); raise it with `timeout(..)` or check the server")]
    Timeout {
        /// Where the request went (no credentials).
        url: String,
        /// The timeout in force.
        timeout: Duration,
    },
    /// The server could not be reached (refused, DNS, TLS...).
    #[error("could not connect to {url}: {message}; check the base URL and that the server is running")]
    Connect {
        /// Where the request went (no credentials).
        url: String,
        /// What failed.
        message: String,
    },
    /// The connection failed while sending or receiving (reset, closed early...).
    #[error("the connection to {url} failed: {message}")]
    Http {
        /// Where the request went (no credentials).
        url: String,
        /// What failed.
        message: String,
    },
    /// The body is not the JSON a chat completion should be.
    #[error("the server's answer is not a valid chat completion ({message}); it starts with: {snippet:?}")]
    Decode {
        /// The parser's message.
        message: String,
        /// The start of what the server sent.
        snippet: String,
    },
    /// A non-streaming answer is larger than [`MAX_ANSWER_BYTES`](crate::MAX_ANSWER_BYTES).
    #[error(
        "the server's answer is larger than {limit} bytes, the client's limit for one answer; \
         ask for a shorter one (`max_tokens`), stream it (`create_stream`, which has no limit) or \
         check the server"
    )]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The stream broke: a malformed event, or it stopped before its end.
    #[error("the stream failed: {0}")]
    Stream(String),
    /// The request cannot be sent as given.
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// No API key was found where the endpoint needs one.
    #[error(
        "no API key: set OPENAI_API_KEY (HF_TOKEN for Hugging Face endpoints) or call \
         `OpenAi::builder().api_key(..)`; local servers (Ollama, vLLM, llama.cpp) need none: \
         set OPENAI_BASE_URL to them"
    )]
    MissingApiKey,
}

impl Error {
    /// The HTTP status, for [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            _ => None,
        }
    }
}

/// An error answer from the server, in whatever shape the provider sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (200 for an error event inside a stream).
    pub status: u16,
    /// The provider's message (or the start of the body when it has none).
    pub message: String,
    /// The provider's error type (`invalid_request_error`, `rate_limit_exceeded`...).
    pub error_type: Option<String>,
    /// The provider's error code, as text.
    pub code: Option<String>,
    /// The parameter at fault, when the provider says.
    pub param: Option<String>,
    /// How long the server asks to wait before retrying (`retry-after-ms` / `retry-after`).
    pub retry_after: Option<Duration>,
    /// The body, when it is JSON.
    pub body: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 200 {
            // A gateway's error in a success answer (or an error event in a stream).
            write!(f, "the server answered HTTP 200 with an error: {}", self.message)?;
        } else {
            write!(f, "the server answered HTTP {}: {}", self.status, self.message)?;
        }
        match (&self.error_type, &self.code) {
            (Some(t), Some(c)) => write!(f, " ({t}, {c})")?,
            (Some(x), None) | (None, Some(x)) => write!(f, " ({x})")?,
            (None, None) => {}
        }
        if let Some(wait) = self.retry_after {
            write!(f, "; retry after {wait:?}")?;
        }
        Ok(())
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) if s.is_empty() || s == "None" => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The first `max` characters of `text`, on a char boundary.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

impl ApiError {
    /// Reads an error body of any of the shapes providers send: `{"error":{message,type,
    /// param,code}}`, `{"error":"..."}`, `{"error":["..."]}`, `{"object":"error","message"}`,
    /// `{"detail":...}`, plain text or HTML.
    pub(crate) fn from_body(status: u16, body: &str, retry_after: Option<Duration>) -> Self {
        let json: Option<Value> = serde_json::from_str(body.trim()).ok();
        let mut error = ApiError {
            status,
            message: String::new(),
            error_type: None,
            code: None,
            param: None,
            retry_after,
            body: None,
        };
        if let Some(json) = &json {
            error.fill_from(json);
        }
        if error.message.is_empty() {
            let plain = body.trim();
            error.message =
                if plain.is_empty() { format!("empty body (HTTP {status})") } else { snippet(plain, 500) };
        }
        error.body = json;
        error
    }

    /// Fills the fields from a JSON error object (a body, or an error event of a stream).
    pub(crate) fn fill_from(&mut self, json: &Value) {
        let inner = json.get("error");
        let (message, error_type, code, param) = match inner {
            Some(Value::Object(e)) => (
                text(e.get("message")).or_else(|| text(e.get("msg"))),
                text(e.get("type")),
                text(e.get("code")),
                text(e.get("param")),
            ),
            Some(Value::Array(items)) => (
                Some(items.iter().map(|i| text(Some(i)).unwrap_or_default()).collect::<Vec<_>>().join("; ")),
                text(json.get("error_type")),
                None,
                None,
            ),
            Some(other) => (text(Some(other)), text(json.get("error_type")), None, None),
            None => (
                text(json.get("message")).or_else(|| text(json.get("detail"))),
                text(json.get("type")).or_else(|| text(json.get("error_type"))),
                text(json.get("code")),
                text(json.get("param")),
            ),
        };
        self.message = message.unwrap_or_default();
        self.error_type = error_type;
        self.code = code;
        self.param = param;
    }
}

/// Whether a JSON value counts as set, as the official SDKs test an `error` key (Python's
/// truthiness): `null`, `false`, `0`, `""`, `[]` and `{}` do not.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// The error an answer carries although its HTTP status says success, as gateways send it:
/// a top-level `error` next to or instead of `choices` (OpenRouter: `{"error":{"message",
/// "code":429,"metadata"}}`), a flat `{"object":"error","message",...}` (old vLLM), or an
/// `error` inside a choice (OpenRouter's per-choice errors). Returns the JSON to read the
/// error from with [`ApiError::fill_from`].
pub(crate) fn embedded_error<'a>(
    object: Option<&str>,
    extra: &'a Map<String, Value>,
    choices: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Option<Value> {
    // The top level whole, so siblings of `error` (TGI's `error_type`) are read too.
    if extra.get("error").is_some_and(truthy) || object == Some("error") {
        return Some(Value::Object(extra.clone()));
    }
    let in_choice = choices.into_iter().find_map(|choice| choice.get("error").filter(|e| truthy(e)))?;
    Some(serde_json::json!({ "error": in_choice }))
}

impl ApiError {
    /// The error of an answer sent with HTTP 200 (see [`embedded_error`]); `body` is the
    /// whole answer, kept for the record.
    pub(crate) fn embedded(error: &Value, body: Option<Value>) -> Self {
        let mut api = ApiError {
            status: 200,
            message: String::new(),
            error_type: None,
            code: None,
            param: None,
            retry_after: None,
            body,
        };
        api.fill_from(error);
        if api.message.is_empty() {
            api.message = "the answer carries an error with no message".into();
        }
        api
    }
}

/// `Result` with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_body_shape_gives_a_message() {
        let cases = [
            (
                r#"{"error":{"message":"Bad key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                "Bad key",
            ),
            (r#"{"error":"Model is overloaded","error_type":"overloaded"}"#, "Model is overloaded"),
            (r#"{"error":["Input validation error: `inputs` must be non-empty"]}"#, "Input validation error"),
            (
                r#"{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","code":404}"#,
                "does not exist",
            ),
            (r#"{"detail":"Not Found"}"#, "Not Found"),
            (r#"{"detail":[{"loc":["body"],"msg":"field required"}]}"#, "field required"),
            ("<html><body>502 Bad Gateway</body></html>", "502 Bad Gateway"),
            ("", "empty body"),
        ];
        for (body, expected) in cases {
            let error = ApiError::from_body(400, body, None);
            assert!(error.message.contains(expected), "{body} -> {}", error.message);
        }
        let typed = ApiError::from_body(404, cases[3].0, None);
        assert_eq!(
            (typed.error_type.as_deref(), typed.code.as_deref()),
            (Some("NotFoundError"), Some("404"))
        );
    }
}
