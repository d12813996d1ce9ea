//! Recording calls that other code sends: a proxy relaying requests, an adapter around
//! another client. The record is built by the same code as the wrapped client's.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use observers_core::Store;
use serde_json::{Map, Value};

use crate::client::{parse_answer, redact, status_error};
use crate::error::{Error, Result};
use crate::observe::{Call, Observer};
use crate::stream::{is_json_content_type, Decoder};
use crate::types::{CallMetadata, ChatCompletion};
use crate::WrapOptions;

/// Records chat-completion calls your own code sends, as the same rows the wrapped client
/// ([`wrap_openai`](crate::wrap_openai)) writes.
///
/// For code that does its own HTTP: a proxy relaying requests, an adapter around another
/// client. Hand it each call's request body as it goes out ([`begin`](Self::begin)), then the
/// answer as it comes back ([`Exchange::finish`], or [`Exchange::stream`] for an event
/// stream). It hands each record to the store without waiting, and never fails the call.
/// Cheap to clone.
///
/// # Example
/// ```
/// use observers_openai::{CallMetadata, Recorder, WrapOptions};
/// use observers_store_duckdb::DuckDbStore;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let store = DuckDbStore::open(":memory:")?;
/// let recorder = Recorder::new(store.clone(), WrapOptions::default().tags(["proxy"]));
///
/// let request = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}"#;
/// let exchange = recorder.begin(request, &CallMetadata::default().user_id("u-1"), None).unwrap();
/// // ... send the request yourself, then hand over the answer:
/// let body = r#"{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}]}"#;
/// let completion = exchange.finish(200, None, body.into()).await?;
/// assert_eq!(completion.content(), Some("Hello!"));
///
/// let rows = store.query("select assistant_message, user_id from openai_records").await?;
/// assert_eq!(rows[0].num_rows(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Recorder {
    observer: Arc<Observer>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").field("records_lost", &self.records_lost()).finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder writing to `store` with `options` (tags, properties and sampling apply;
    /// default arguments and `stream_usage` do not, since the request is yours to send).
    pub fn new(store: impl Store, options: WrapOptions) -> Recorder {
        Recorder { observer: Observer::new(store, options) }
    }

    /// Starts recording a call whose request body is `body` (the JSON sent to
    /// `/chat/completions`), now; `None` when sampling skips this call. A body that is not a
    /// JSON object is recorded as far as it goes: no model, no messages.
    ///
    /// `api_key`, when given, is removed from every column of the record and from error
    /// messages, wherever a server may echo it.
    pub fn begin(&self, body: &[u8], metadata: &CallMetadata, api_key: Option<&str>) -> Option<Exchange> {
        let request = serde_json::from_slice::<Map<String, Value>>(body).unwrap_or_default();
        let secret: Option<Arc<str>> = api_key.filter(|k| !k.is_empty()).map(Arc::from);
        let recording = self.observer.begin(&request, metadata, secret.clone())?;
        Some(Exchange { call: Call::observed(recording), secret })
    }

    /// Records that could not be handed to the store (store closed or failing); each was
    /// logged.
    pub fn records_lost(&self) -> u64 {
        self.observer.lost()
    }
}

/// One call being recorded, from [`Recorder::begin`]. End it with [`finish`](Self::finish),
/// [`fail`](Self::fail) or [`stream`](Self::stream); dropped unended, nothing is recorded.
pub struct Exchange {
    call: Call,
    secret: Option<Arc<str>>,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange").finish_non_exhaustive()
    }
}

impl Exchange {
    fn redact(&self, text: &str) -> String {
        redact(self.secret.as_deref(), text).into_owned()
    }

    /// Records a whole (non-streaming) answer: its HTTP status, the server's `Retry-After`
    /// if any (read it with [`retry_after`](crate::retry_after)), and its body. Returns what the wrapped client would give its caller: the
    /// completion, or the error (the status's, or one a gateway put in a 200 body).
    pub async fn finish(
        mut self,
        status: u16,
        retry_after: Option<Duration>,
        body: Bytes,
    ) -> Result<ChatCompletion> {
        let answer = if (200..300).contains(&status) {
            parse_answer(body, |text| self.redact(text))
        } else {
            Err(status_error(status, &body, retry_after, |text| self.redact(text)))
        };
        self.call.finish(answer).await
    }

    /// Records a call that failed before any answer came (refused, timed out...).
    pub async fn fail(mut self, error: Error) -> Error {
        self.call.fail(error).await
    }

    /// The answer is streamed: returns the recorder its bytes go through, as they pass.
    /// `content_type` is the answer's `Content-Type` (a JSON body on a stream request is an
    /// error, or a server that ignored `stream: true`).
    pub fn stream(mut self, content_type: Option<&str>) -> StreamRecorder {
        let decoder = Decoder::new(
            is_json_content_type(content_type),
            self.call.started(),
            self.call.recording.take(),
            self.secret.clone(),
            "the client stopped reading the stream before its end",
        );
        StreamRecorder { decoder, chunks: VecDeque::new() }
    }
}

/// Records a streamed answer from its bytes, from [`Exchange::stream`].
///
/// Feed it the body's bytes as they pass, in pieces of any size; call [`end`](Self::end)
/// when the body ends, or [`fail`](Self::fail) when the connection breaks. Dropped before
/// either (the client went away), the call is recorded with what arrived and an error saying
/// so. The record is made once, at whichever comes first: an error in the stream ends it, and
/// later bytes are ignored.
pub struct StreamRecorder {
    decoder: Decoder,
    /// The decoder's output; only the record is wanted here.
    chunks: VecDeque<Result<crate::ChatCompletionChunk>>,
}

impl fmt::Debug for StreamRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRecorder").field("ended", &self.decoder.ended).finish_non_exhaustive()
    }
}

impl StreamRecorder {
    /// The next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.decoder.feed(Some(bytes), &mut self.chunks);
        self.chunks.clear();
    }

    /// Whether the record is made (the stream ended, or failed): later bytes change nothing.
    pub fn is_ended(&self) -> bool {
        self.decoder.ended
    }

    /// The body ended.
    pub fn end(mut self) {
        self.decoder.feed(None, &mut self.chunks);
    }

    /// The connection broke before the end of the body; `reason` says how.
    pub fn fail(mut self, reason: impl fmt::Display) {
        let error = Error::Stream(format!("the connection broke before the end of the stream: {reason}"));
        self.decoder.fail(&error);
    }
}
