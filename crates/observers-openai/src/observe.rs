//! Observation: turning each call into a [`ChatCompletionRecord`] handed to a store.
//!
//! Everything here runs on the caller's path, so it does only CPU work proportional to the
//! request and response it already has, and hands the record over with a queue push
//! ([`Store::try_add`]); it awaits the store only when its queue is full.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use observers_core::pricing::Prices;
use observers_core::{ChatCompletionRecord, Message, Store, TryAddError};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::client::{elapsed_ms, Answer, OpenAi};
use crate::error::{Error, Result};
use crate::redact::{Capture, Masker, Redactor};
use crate::types::{CallMetadata, ChatCompletion, ChatCompletionRequest};

/// Wraps `client` so that every chat completion it makes is recorded in `store`.
///
/// The returned client has the same API; it hands each call's record to the store without
/// waiting for I/O, and a failing store never fails the call (see
/// [`OpenAi::records_lost`]). Use [`wrap_openai_with`] for tags, properties, sampling and
/// default arguments.
///
/// # Example
/// ```no_run
/// use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
/// use observers_store_duckdb::DuckDbStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = wrap_openai(OpenAi::from_env()?, DuckDbStore::open_default()?);
/// let request = ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Hello"));
/// let completion = client.chat().completions().create(request).await?;
/// # Ok(())
/// # }
/// ```
pub fn wrap_openai(client: OpenAi, store: impl Store) -> OpenAi {
    wrap_openai_with(client, store, WrapOptions::default())
}

/// [`wrap_openai`] with options.
pub fn wrap_openai_with(client: OpenAi, store: impl Store, options: WrapOptions) -> OpenAi {
    OpenAi { inner: client.inner, observer: Some(Observer::new(store, options)) }
}

/// How a wrapped client records its calls.
///
/// # Example
/// ```
/// use observers_openai::WrapOptions;
/// use serde_json::json;
///
/// let options = WrapOptions::default()
///     .tags(["production", "chatbot"])
///     .properties(json!({"app_version": "1.4.2"}))
///     .logging_rate(0.25)                              // record one call in four
///     .default_arguments(json!({"temperature": 0.0}))  // unless a call sets its own
///     .stream_usage(true);                             // ask streams for token usage
/// ```
#[derive(Debug, Clone)]
pub struct WrapOptions {
    tags: Vec<String>,
    properties: Map<String, Value>,
    logging_rate: f64,
    seed: Option<u64>,
    default_arguments: Map<String, Value>,
    stream_usage: bool,
    content: Capture,
    masker: Option<Masker>,
    redactor: Option<UserRedactor>,
    prices: Prices,
}

/// The user's redaction function, shown by name only.
#[derive(Clone)]
struct UserRedactor(Redactor);

impl std::fmt::Debug for UserRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redaction function>")
    }
}

impl Default for WrapOptions {
    fn default() -> Self {
        Self {
            tags: Vec::new(),
            properties: Map::new(),
            logging_rate: 1.0,
            seed: None,
            default_arguments: Map::new(),
            stream_usage: false,
            content: Capture::Full,
            masker: None,
            redactor: None,
            prices: Prices::shipped(),
        }
    }
}

impl WrapOptions {
    /// Tags added to every record.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Properties added to every record (a JSON object; other values are ignored).
    pub fn properties(mut self, properties: Value) -> Self {
        if let Value::Object(map) = properties {
            self.properties.extend(map);
        }
        self
    }

    /// The share of calls recorded, from 0.0 (none) to 1.0 (all, the default).
    pub fn logging_rate(mut self, rate: f64) -> Self {
        self.logging_rate = if rate.is_nan() { 1.0 } else { rate.clamp(0.0, 1.0) };
        self
    }

    /// Makes sampling deterministic: the same seed samples the same calls (for tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Request parameters used when a call does not set them (a JSON object).
    pub fn default_arguments(mut self, arguments: Value) -> Self {
        if let Value::Object(map) = arguments {
            self.default_arguments.extend(map);
        }
        self
    }

    /// Sets `stream_options.include_usage` on streamed calls that do not set
    /// `stream_options`, so their records get token counts. Off by default: some providers
    /// (Azure AI Foundry, old TGI) refuse the parameter.
    pub fn stream_usage(mut self, enabled: bool) -> Self {
        self.stream_usage = enabled;
        self
    }

    /// How much content is recorded: [`Capture::Full`] (the default) or
    /// [`Capture::MetadataOnly`] (no messages, answers, tool calls or raw bodies).
    pub fn content(mut self, capture: Capture) -> Self {
        self.content = capture;
        self
    }

    /// Masks secrets and personal data in every text column before a record is queued
    /// ([`Masker::default`]: emails, phone and card numbers, API keys, bearer tokens).
    pub fn mask(mut self, masker: Masker) -> Self {
        self.masker = Some(masker);
        self
    }

    /// The price table `cost_usd` is computed from when a call is recorded (default:
    /// [`Prices::shipped`]). A model the table does not price leaves `cost_usd` empty;
    /// [`Prices::empty`] records no costs.
    ///
    /// ```
    /// use observers_core::pricing::Prices;
    /// use observers_openai::WrapOptions;
    ///
    /// let mine = Prices::from_json(r#"{"models": {"my-model": {"input": 0.2, "output": 0.8}}}"#)?;
    /// let options = WrapOptions::default().prices(Prices::shipped().merge(mine));
    /// # Ok::<(), observers_core::pricing::PriceError>(())
    /// ```
    pub fn prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    /// A function that sees each record just before it is queued, after [`content`](Self::content)
    /// and [`mask`](Self::mask), and may change any field (a PII scrubber of your own). If it
    /// panics, that record is dropped (counted in [`OpenAi::records_lost`]) and the call
    /// still succeeds.
    ///
    /// ```
    /// use observers_openai::WrapOptions;
    ///
    /// let options = WrapOptions::default().redact(|record| {
    ///     record.properties = None; // never keep properties
    ///     if let Some(answer) = &mut record.assistant_message {
    ///         *answer = answer.replace("ACME-internal", "[internal]");
    ///     }
    /// });
    /// ```
    pub fn redact(mut self, redactor: impl Fn(&mut ChatCompletionRecord) + Send + Sync + 'static) -> Self {
        self.redactor = Some(UserRedactor(Arc::new(redactor)));
        self
    }
}

pub(crate) struct Observer {
    store: Arc<dyn Store>,
    options: WrapOptions,
    seed: u64,
    calls: AtomicU64,
    lost: AtomicU64,
}

/// SplitMix64: a fast, well-mixed hash of the call number, so sampling is deterministic
/// under a seed without a lock.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Observer {
    pub(crate) fn new(store: impl Store, options: WrapOptions) -> Arc<Observer> {
        let seed = options.seed.unwrap_or_else(rand::random);
        Arc::new(Observer {
            store: Arc::new(store),
            options,
            seed,
            calls: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        })
    }

    fn sample(&self) -> bool {
        let rate = self.options.logging_rate;
        if rate >= 1.0 {
            return true;
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let uniform = (splitmix64(self.seed ^ n) >> 11) as f64 / (1u64 << 53) as f64;
        uniform < rate
    }

    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    fn count_lost(&self, reason: &dyn std::fmt::Display) {
        let total = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(total_lost = total, "observers could not store a record: {reason}");
    }

    /// Hands a record to the store; waits only if its queue is full.
    pub(crate) async fn submit(&self, record: ChatCompletionRecord) {
        let record = match self.store.try_add(record) {
            Ok(()) => return,
            Err(TryAddError::Full(record)) => *record,
            Err(TryAddError::Closed(record)) => {
                return self.count_lost(&format!("{}: the store is closed", record.id))
            }
            Err(TryAddError::Invalid(error)) => return self.count_lost(&error),
        };
        let id = record.id;
        if let Err(error) = self.store.add(record).await {
            self.count_lost(&format!("{id}: {error}"));
        }
    }

    /// Hands a record to the store from code that cannot wait (a `Drop`, a `poll_next`):
    /// a queue push, or a spawned task when the queue is full.
    pub(crate) fn submit_now(self: &Arc<Self>, record: ChatCompletionRecord) {
        match self.store.try_add(record) {
            Ok(()) => {}
            Err(TryAddError::Full(record)) => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let observer = self.clone();
                    runtime.spawn(async move { observer.submit(*record).await });
                }
                Err(_) => self.count_lost(&format!(
                    "{}: the store's queue is full and no async runtime runs",
                    record.id
                )),
            },
            Err(TryAddError::Closed(record)) => {
                self.count_lost(&format!("{}: the store is closed", record.id))
            }
            Err(TryAddError::Invalid(error)) => self.count_lost(&error),
        }
    }
}

/// One call in flight: the request as sent, and (when observed) the record being built.
pub(crate) struct Call {
    body: Bytes,
    started: Instant,
    pub(crate) recording: Option<Recording>,
}

/// What an observed, sampled call carries until its record is complete.
pub(crate) struct Recording {
    pub(crate) observer: Arc<Observer>,
    pub(crate) record: ChatCompletionRecord,
    pub(crate) api_key: Option<Arc<str>>,
}

impl Observer {
    /// The recording of a call starting now with this request body, unless sampling skips it.
    pub(crate) fn begin(
        self: &Arc<Self>,
        body: &Map<String, Value>,
        metadata: &CallMetadata,
        api_key: Option<Arc<str>>,
    ) -> Option<Recording> {
        let timestamp = Utc::now();
        self.sample().then(|| {
            #[allow(unused_mut)]
            let mut record = base_record(&self.options, body, metadata, timestamp);
            #[cfg(feature = "otel")]
            join_current_trace(&mut record);
            Recording { record, observer: self.clone(), api_key }
        })
    }
}

/// Feature `otel`: a call made inside an OpenTelemetry span records that span's trace as its
/// own and the span as its parent, with a fresh span id of its own, so a store exporting
/// spans (`observers-store-otel`) nests the call under it and the row and the span agree.
#[cfg(feature = "otel")]
fn join_current_trace(record: &mut ChatCompletionRecord) {
    use opentelemetry::trace::TraceContextExt;
    let context = opentelemetry::Context::current();
    let span = context.span();
    let parent = span.span_context();
    if parent.is_valid() {
        record.trace_id = Some(parent.trace_id().to_string());
        record.parent_span_id = Some(parent.span_id().to_string());
        record.span_id = Some(format!("{:016x}", rand::random::<u64>().max(1)));
    }
}

impl Call {
    pub(crate) fn begin(client: &OpenAi, mut request: ChatCompletionRequest) -> Call {
        let started = Instant::now();
        let observer = client.observer.as_ref();
        if let Some(observer) = observer {
            for (key, value) in &observer.options.default_arguments {
                request.body_mut().entry(key.clone()).or_insert_with(|| value.clone());
            }
            if observer.options.stream_usage
                && request.is_stream()
                && !request.body().contains_key("stream_options")
            {
                request
                    .body_mut()
                    .insert("stream_options".into(), serde_json::json!({"include_usage": true}));
            }
        }
        let body = Bytes::from(serde_json::to_vec(request.body()).unwrap_or_default());
        let recording = observer
            .and_then(|o| o.begin(request.body(), request.metadata(), client.inner.api_key().cloned()));
        Call { body, started, recording }
    }

    /// A call whose request someone else sent (see [`crate::Recorder`]).
    pub(crate) fn observed(recording: Recording) -> Call {
        Call { body: Bytes::new(), started: Instant::now(), recording: Some(recording) }
    }

    pub(crate) fn body(&self) -> Bytes {
        self.body.clone()
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Records the outcome of a non-streaming call and passes it on.
    pub(crate) async fn finish(&mut self, result: Result<Answer>) -> Result<ChatCompletion> {
        let Some(mut recording) = self.recording.take() else {
            return result.map(|answer| answer.completion);
        };
        recording.record.latency_ms = Some(elapsed_ms(self.started));
        match result {
            Ok(answer) => {
                fill_from_completion(&mut recording.record, &answer.completion);
                recording.record.raw_response = raw_json(&answer.raw);
                recording.submit().await;
                Ok(answer.completion)
            }
            Err(error) => {
                record_error(&mut recording.record, &error);
                recording.submit().await;
                Err(error)
            }
        }
    }

    /// Records a call that failed before any answer, and passes the error on.
    pub(crate) async fn fail(&mut self, error: Error) -> Error {
        if let Some(mut recording) = self.recording.take() {
            recording.record.latency_ms = Some(elapsed_ms(self.started));
            record_error(&mut recording.record, &error);
            recording.submit().await;
        }
        error
    }
}

/// The record as far as the request tells: model, messages, arguments, and the metadata of
/// the wrapper and of the call.
fn base_record(
    options: &WrapOptions,
    body: &Map<String, Value>,
    metadata: &CallMetadata,
    timestamp: chrono::DateTime<Utc>,
) -> ChatCompletionRecord {
    let model = body.get("model").and_then(Value::as_str).map(str::to_string);
    let mut record = ChatCompletionRecord::started_at(model, timestamp);
    if let Some(Value::Array(messages)) = body.get("messages") {
        record.messages = messages.iter().map(Message::from_openai).collect();
    }
    let arguments: Map<String, Value> = body
        .iter()
        .filter(|(k, _)| *k != "model" && *k != "messages")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    record.arguments = (!arguments.is_empty()).then_some(Value::Object(arguments));
    record.tags = options.tags.iter().chain(&metadata.tags).cloned().collect();
    let mut properties = options.properties.clone();
    properties.extend(metadata.properties.clone());
    record.properties = (!properties.is_empty()).then_some(Value::Object(properties));
    record.user_id = metadata.user_id.clone();
    record.session_id = metadata.session_id.clone();
    record
}

/// The server's bytes as a JSON column value.
pub(crate) fn raw_json(raw: &[u8]) -> Option<Box<RawValue>> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    RawValue::from_string(text.to_string()).ok()
}

/// Replaces the API key wherever the record holds it: in what the user sent (a message, a
/// parameter, a property), in what a server echoed, in an error. Cheap: one substring search
/// per text, and only a client with a key pays it.
fn scrub(record: &mut ChatCompletionRecord, key: &str) {
    const REDACTED: &str = "[REDACTED]";
    fn text(s: &mut String, key: &str) {
        if s.contains(key) {
            *s = s.replace(key, REDACTED);
        }
    }
    fn json(value: &mut Value, key: &str) {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                Value::String(s) => text(s, key),
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => {
                    if map.keys().any(|k| k.contains(key)) {
                        let entries = std::mem::take(map);
                        map.extend(entries.into_iter().map(|(k, v)| (k.replace(key, REDACTED), v)));
                    }
                    stack.extend(map.values_mut());
                }
                _ => {}
            }
        }
    }
    if key.len() < 4 {
        return; // too short to tell from ordinary text
    }
    let r = record;
    for s in [&mut r.model, &mut r.assistant_message, &mut r.finish_reason, &mut r.error, &mut r.response_id]
        .into_iter()
        .flatten()
    {
        text(s, key);
    }
    r.tags.iter_mut().for_each(|t| text(t, key));
    for message in &mut r.messages {
        text(&mut message.role, key);
        [&mut message.content, &mut message.name, &mut message.tool_call_id]
            .into_iter()
            .flatten()
            .for_each(|s| text(s, key));
        message.tool_calls.iter_mut().for_each(|v| json(v, key));
    }
    for value in
        [&mut r.tool_calls, &mut r.function_call, &mut r.properties, &mut r.arguments].into_iter().flatten()
    {
        json(value, key);
    }
    if let Some(raw) = &r.raw_response {
        if raw.get().contains(key) {
            r.raw_response = RawValue::from_string(raw.get().replace(key, REDACTED)).ok();
        }
    }
}

impl Recording {
    /// Applies the content policy, the masker and the user's function, then removes the key;
    /// `false` when the record must not be stored (the user's function panicked).
    fn prepare(&mut self) -> bool {
        let options = &self.observer.options;
        // First, so the user's function sees the cost (and may change it).
        self.record.cost_usd = options.prices.cost(&self.record);
        options.content.apply(&mut self.record);
        if let Some(masker) = &options.masker {
            masker.apply(&mut self.record);
        }
        if let Some(UserRedactor(redact)) = &options.redactor {
            let record = &mut self.record;
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| redact(record))).is_err() {
                let id = self.record.id;
                self.observer
                    .count_lost(&format!("{id}: the redaction function panicked; the record was dropped"));
                return false;
            }
        }
        if let Some(key) = &self.api_key {
            scrub(&mut self.record, key.as_ref());
        }
        true
    }

    /// Prepares the record, then hands it to the store (see [`Observer::submit`]).
    pub(crate) async fn submit(mut self) {
        if self.prepare() {
            self.observer.submit(self.record).await;
        }
    }

    /// The same from code that cannot wait (see [`Observer::submit_now`]).
    pub(crate) fn submit_now(mut self) {
        if self.prepare() {
            self.observer.submit_now(self.record);
        }
    }
}

fn to_i32(n: Option<u64>) -> Option<i32> {
    n.and_then(|n| i32::try_from(n).ok())
}

pub(crate) fn fill_usage(record: &mut ChatCompletionRecord, usage: &crate::types::Usage) {
    record.prompt_tokens = to_i32(usage.prompt_tokens);
    record.completion_tokens = to_i32(usage.completion_tokens);
    record.total_tokens =
        to_i32(usage.total_tokens).or_else(|| match (usage.prompt_tokens, usage.completion_tokens) {
            (Some(p), Some(c)) => to_i32(p.checked_add(c)),
            _ => None,
        });
    // OpenAI's details objects (also vLLM, OpenRouter, Groq...); DeepSeek's flat cache count.
    let count = |value: &Value| value.as_u64().or_else(|| value.as_str()?.trim().parse().ok());
    let detail = |details: &str, field: &str| usage.extra.get(details)?.get(field).and_then(count);
    record.cached_tokens = to_i32(
        detail("prompt_tokens_details", "cached_tokens")
            .or_else(|| usage.extra.get("prompt_cache_hit_tokens").and_then(count)),
    );
    record.reasoning_tokens = to_i32(detail("completion_tokens_details", "reasoning_tokens"));
}

pub(crate) fn fill_from_completion(record: &mut ChatCompletionRecord, completion: &ChatCompletion) {
    record.response_id = completion.id.clone().filter(|id| !id.is_empty());
    if record.model.is_none() {
        record.model = completion.model.clone();
    }
    if let Some(usage) = &completion.usage {
        fill_usage(record, usage);
    }
    let choice = completion.choices.iter().find(|c| c.index.unwrap_or(0) == 0).or(completion.choices.first());
    if let Some(choice) = choice {
        record.assistant_message = choice.message.content.clone();
        record.finish_reason = choice.finish_reason.clone();
        record.tool_calls =
            choice.message.tool_calls.as_ref().and_then(|calls| serde_json::to_value(calls).ok());
        record.function_call = choice.message.function_call.clone();
    }
}

/// Marks the record failed, keeping the provider's error body.
pub(crate) fn record_error(record: &mut ChatCompletionRecord, error: &Error) {
    record.error = Some(error.to_string());
    record.finish_reason = Some("error".into());
    if let Error::Api(api) = error {
        if let Some(body) = &api.body {
            record.raw_response = raw_json(body.to_string().as_bytes());
        }
    }
}
