//! Wire-level building blocks: JSON with ordered keys, SSE framing and the reply a scenario
//! produces (status, headers and a body made of data, pauses and an abrupt failure).

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{AppendHeaders, IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::sync::watch;

/// A JSON value whose object keys keep the order they were written in.
///
/// `serde_json::Map` sorts its keys unless the `preserve_order` feature is on (it is not in
/// this workspace), and the mock must reproduce the key order real servers send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// A string, number, boolean or null.
    Scalar(Value),
    /// An object, keys in wire order.
    Object(Vec<(&'static str, Json)>),
    /// An array.
    Array(Vec<Json>),
}

/// JSON `null`.
pub(crate) const NULL: Json = Json::Scalar(Value::Null);

impl Json {
    /// An empty array `[]`.
    pub(crate) fn empty_array() -> Json {
        Json::Array(Vec::new())
    }

    /// The compact JSON text of this value.
    pub(crate) fn to_text(&self) -> String {
        // Serializing this type cannot fail (string keys, no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_else(|err| format!("{{\"mock_error\":\"{err}\"}}"))
    }

    /// Appends a key to an object (no-op for other values).
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<Json>) {
        if let Json::Object(fields) = self {
            fields.push((key, value.into()));
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Scalar(value) => value.serialize(serializer),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(fields) => serializer.collect_map(fields.iter().map(|(key, value)| (*key, value))),
        }
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Json {
        Json::Scalar(value)
    }
}

impl From<&str> for Json {
    fn from(value: &str) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<String> for Json {
    fn from(value: String) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<&String> for Json {
    fn from(value: &String) -> Json {
        Json::from(value.as_str())
    }
}

impl From<u64> for Json {
    fn from(value: u64) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<usize> for Json {
    fn from(value: usize) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<u16> for Json {
    fn from(value: u16) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<f64> for Json {
    fn from(value: f64) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<bool> for Json {
    fn from(value: bool) -> Json {
        Json::Scalar(Value::from(value))
    }
}

impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Json {
        Json::Array(items)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Json {
        value.map_or(NULL, Into::into)
    }
}

/// Builds a [`Json::Object`] with keys in the written order: `obj! { "id": id, "n": 1_u64 }`.
macro_rules! obj {
    ($($key:literal : $value:expr),* $(,)?) => {
        $crate::openai::wire::Json::Object(vec![$(($key, $crate::openai::wire::Json::from($value))),*])
    };
}
pub(crate) use obj;

/// One step of a response body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Bytes to send.
    Data(Bytes),
    /// Wait before the next step (cut short when the server shuts down).
    Pause(Duration),
    /// Make the body stream fail, so the server aborts the connection mid-body.
    Fail,
}

/// How a server frames its SSE events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Framing {
    /// The field prefix of a data line: `"data: "` or `"data:"`.
    data: &'static str,
    /// The line ending: `"\n"` or `"\r\n"`.
    eol: &'static str,
}

impl Framing {
    /// OpenAI, vLLM, Ollama, llama.cpp: `data: {json}\n\n`.
    pub(crate) const OPENAI: Framing = Framing { data: "data: ", eol: "\n" };
    /// TGI (axum's SSE writer): `data:{json}\n\n`.
    pub(crate) const TGI: Framing = Framing { data: "data:", eol: "\n" };
    /// sse-starlette style with no space after `data:`: `data:{json}\r\n\r\n`.
    pub(crate) const CRLF_NO_SPACE: Framing = Framing { data: "data:", eol: "\r\n" };

    /// One event carrying a JSON payload.
    pub(crate) fn event(self, payload: &Json) -> Step {
        self.raw(&payload.to_text())
    }

    /// One event carrying `payload` verbatim (for `[DONE]` and deliberately broken payloads).
    pub(crate) fn raw(self, payload: &str) -> Step {
        self.raw_bytes(payload.as_bytes())
    }

    /// One event carrying `payload` bytes verbatim, even when they are not UTF-8.
    pub(crate) fn raw_bytes(self, payload: &[u8]) -> Step {
        let mut event = Vec::with_capacity(self.data.len() + payload.len() + 2 * self.eol.len());
        event.extend_from_slice(self.data.as_bytes());
        event.extend_from_slice(payload);
        event.extend_from_slice(self.eol.as_bytes());
        event.extend_from_slice(self.eol.as_bytes());
        Step::Data(Bytes::from(event))
    }

    /// The `[DONE]` sentinel.
    pub(crate) fn done(self) -> Step {
        self.raw("[DONE]")
    }

    /// A comment line (`: text`), which SSE readers must ignore.
    pub(crate) fn comment(self, text: &str) -> Step {
        Step::Data(Bytes::from(format!(": {text}{eol}{eol}", eol = self.eol)))
    }
}

/// What the server sends for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    status: StatusCode,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<Step>,
}

impl Reply {
    /// A body sent as-is with the given content type.
    pub(crate) fn raw(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply { status, content_type, headers: Vec::new(), body: vec![Step::Data(body.into())] }
    }

    /// An `application/json` body.
    pub(crate) fn json(status: StatusCode, body: &Json) -> Reply {
        Reply::raw(status, "application/json", body.to_text())
    }

    /// A `200 text/event-stream` body made of `steps`.
    pub(crate) fn sse(steps: Vec<Step>) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: "text/event-stream",
            headers: vec![("cache-control", "no-cache".to_owned())],
            body: steps,
        }
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends a step to the body.
    pub(crate) fn then(mut self, step: Step) -> Reply {
        self.body.push(step);
        self
    }

    /// Waits `delay` before the first byte of the body (headers go out at once).
    pub(crate) fn delayed(mut self, delay: Duration) -> Reply {
        self.body.insert(0, Step::Pause(delay));
        self
    }

    /// The HTTP response; pauses in the body end early once `shutdown` turns true.
    pub(crate) fn into_response(self, shutdown: watch::Receiver<bool>) -> Response {
        let mut headers = vec![("content-type", self.content_type.to_owned())];
        headers.extend(self.headers);
        let body = match self.body.as_slice() {
            // A plain body gets a content-length, as real servers send for JSON.
            [Step::Data(bytes)] => Body::from(bytes.clone()),
            _ => Body::from_stream(body_stream(self.body, shutdown)),
        };
        (self.status, AppendHeaders(headers), body).into_response()
    }
}

/// Turns body steps into the byte stream hyper writes.
fn body_stream(
    steps: Vec<Step>,
    shutdown: watch::Receiver<bool>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    stream::unfold((steps.into_iter(), shutdown), |(mut steps, mut shutdown)| async move {
        loop {
            match steps.next()? {
                Step::Data(bytes) => return Some((Ok(bytes), (steps, shutdown))),
                Step::Pause(delay) => pause(delay, &mut shutdown).await,
                Step::Fail => {
                    let err = io::Error::new(io::ErrorKind::ConnectionAborted, "mock: connection dropped");
                    // Nothing follows a failure: hyper aborts the connection on the error.
                    return Some((Err(err), (Vec::new().into_iter(), shutdown)));
                }
            }
        }
    })
}

/// Sleeps for `delay`, or until the server shuts down, whichever comes first.
pub(crate) async fn pause(delay: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        // An error means the sender is gone, which also means shutdown.
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}
