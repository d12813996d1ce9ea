//! [`OtelStore`]: records → GenAI spans → OTLP, on a thread of its own.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use observers_core::{ChatCompletionRecord, Store, StoreError, StoreStats, TryAddError};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanExporter;
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};

use crate::config::{OtelStoreBuilder, Protocol, DEFAULT_SERVICE_NAME};
use crate::error::{Error, Result};
use crate::span::Mapping;

/// How often, at most, a warning about dropped spans is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A store that sends every record as an OpenTelemetry GenAI span to an OTLP collector
/// (an OpenTelemetry Collector, Phoenix, Langfuse, Jaeger, Grafana Tempo, Honeycomb...).
///
/// Each record becomes one span `chat {model}` of kind CLIENT, from the call's start to its
/// end, with the GenAI semantic-convention attributes and, unless turned off, the
/// OpenInference ones. A record that carries `trace_id`/`parent_span_id` (see the `otel`
/// feature of `observers-openai`) nests under that span; one with a `span_id` keeps it.
///
/// [`add`](Store::add) only pushes the record on a bounded queue: spans are built, batched
/// and exported (retried with backoff) on the store's own thread, never on the caller's path.
/// When the queue is full or the collector is down, spans are dropped and counted
/// ([`dropped`](Self::dropped), [`StoreStats::failed`]) with a rate-limited warning: a call
/// never fails or waits because of telemetry. [`flush`](Store::flush) waits for the queued
/// spans to be exported (bounded by the timeout); [`close`](Store::close), or dropping the
/// last handle, flushes and stops the thread.
///
/// # Example
/// ```no_run
/// use observers_core::{ChatCompletionRecord, Store};
/// use observers_store_otel::OtelStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:6006 (Phoenix), OTEL_SERVICE_NAME=chatbot
/// let store = OtelStore::from_env()?;
/// store.add(ChatCompletionRecord::new("gpt-4o-mini")).await?;
/// store.flush().await?;
/// assert_eq!(store.dropped(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OtelStore {
    inner: Arc<Inner>,
}

struct Inner {
    records: mpsc::Sender<Box<ChatCompletionRecord>>,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<Counters>,
    closed: AtomicBool,
    endpoint: String,
    timeout: Duration,
    finished: Mutex<std_mpsc::Receiver<()>>,
}

enum Control {
    Flush(oneshot::Sender<()>),
    Close(Option<oneshot::Sender<()>>),
}

#[derive(Debug, Default)]
struct Counters {
    exported: AtomicU64,
    dropped: AtomicU64,
    /// Drops not yet reported in a warning, and when the last warning was.
    unreported: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

impl Counters {
    /// Counts `n` lost spans; warns at most once per [`WARN_EVERY`]. Never blocks.
    fn drop_spans(&self, n: u64, reason: &dyn fmt::Display) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.unreported.fetch_add(n, Ordering::Relaxed);
        let Ok(mut last) = self.last_warning.try_lock() else { return };
        if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let lost = self.unreported.swap(0, Ordering::Relaxed);
        tracing::warn!(
            lost,
            total_dropped = self.dropped.load(Ordering::Relaxed),
            "observers could not send spans to the OpenTelemetry collector ({reason}); they are dropped, \
             calls are not affected (next warning in {}s at the earliest)",
            WARN_EVERY.as_secs()
        );
    }
}

impl fmt::Debug for OtelStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelStore")
            .field("endpoint", &self.inner.endpoint)
            .field("exported", &self.exported())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl OtelStore {
    /// Options for a store (defaults; the `OTEL_*` variables are not read, except
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`).
    pub fn builder() -> OtelStoreBuilder {
        OtelStoreBuilder::default()
    }

    /// A store configured by the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`...; see [`OtelStoreBuilder::from_env`]).
    ///
    /// # Errors
    /// A variable that is set but unusable, with what to write instead.
    pub fn from_env() -> Result<Self> {
        OtelStoreBuilder::from_env()?.build()
    }

    /// Spans exported (the collector acknowledged them).
    pub fn exported(&self) -> u64 {
        self.inner.counters.exported.load(Ordering::Relaxed)
    }

    /// Spans lost: the queue was full, the store closed, or the collector failed every retry.
    pub fn dropped(&self) -> u64 {
        self.inner.counters.dropped.load(Ordering::Relaxed)
    }

    /// Where spans go (`custom exporter` for [`OtelStoreBuilder::build_with_exporter`]).
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// Queues a record, waiting for room in the queue instead of dropping it: for bulk tools
    /// that send existing records (a backfill), never for a request path, which
    /// [`Store::add`] serves. Compare [`exported`](Self::exported) and
    /// [`dropped`](Self::dropped) after [`flush`](Store::flush) to know what arrived.
    ///
    /// # Errors
    /// [`StoreError::Closed`] once the store is closed; [`StoreError::InvalidRecord`] for a
    /// record no store can keep.
    pub async fn add_waiting(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        record.validate()?;
        self.inner.records.send(Box::new(record)).await.map_err(|_| StoreError::Closed)
    }

    /// Queues a record without waiting: a full queue drops it (counted).
    fn enqueue(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(TryAddError::Closed(Box::new(record)));
        }
        record.validate().map_err(TryAddError::Invalid)?;
        match self.inner.records.try_send(Box::new(record)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.counters.drop_spans(1, &"the store's queue is full");
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(record)) => Err(TryAddError::Closed(record)),
        }
    }

    /// How long `flush` and `close` wait for the thread: an export in progress, then theirs.
    fn wait_bound(&self) -> Duration {
        self.inner.timeout * 2 + Duration::from_millis(500)
    }
}

#[async_trait]
impl Store for OtelStore {
    /// Queues the record and returns at once; never waits for the collector. A full queue
    /// drops the record (counted in [`OtelStore::dropped`]) rather than waiting.
    async fn add(&self, record: ChatCompletionRecord) -> observers_core::Result<()> {
        self.enqueue(record).map_err(|e| match e {
            TryAddError::Invalid(error) => error,
            TryAddError::Full(_) | TryAddError::Closed(_) => StoreError::Closed,
        })
    }

    fn try_add(&self, record: ChatCompletionRecord) -> std::result::Result<(), TryAddError> {
        self.enqueue(record)
    }

    /// Exports everything queued before the call; spans the collector refuses through every
    /// retry are counted as dropped, not returned as an error. Waits at most about twice the
    /// timeout (an export already in progress, then this one).
    async fn flush(&self) -> observers_core::Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        if self.inner.control.send(Control::Flush(reply)).is_err() {
            return Ok(());
        }
        let bound = self.wait_bound();
        match tokio::time::timeout(bound, done).await {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Timeout(bound)),
        }
    }

    /// Flushes and stops the store's thread; later `add`s get [`StoreError::Closed`].
    async fn close(&self) -> observers_core::Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (reply, done) = oneshot::channel();
        if self.inner.control.send(Control::Close(Some(reply))).is_err() {
            return Ok(());
        }
        let bound = self.wait_bound();
        match tokio::time::timeout(bound, done).await {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Timeout(bound)),
        }
    }

    fn stats(&self) -> StoreStats {
        StoreStats { written: self.exported(), failed: self.dropped() }
    }
}

impl Drop for Inner {
    /// The last handle: flush what is queued and stop the thread, waiting a bounded time.
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.control.send(Control::Close(None));
        }
        let finished = self.finished.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bound = self.timeout * 2 + Duration::from_millis(500);
        if let Err(std_mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(bound) {
            tracing::warn!(
                "the OpenTelemetry store's exports are still running after {bound:?}; not waiting longer"
            );
        }
    }
}

/// What the worker thread needs besides the exporter.
struct Settings {
    mapping: Mapping,
    max_export_batch_size: usize,
    scheduled_delay: Duration,
    timeout: Duration,
    max_retries: u32,
    initial_backoff: Duration,
}

impl OtelStoreBuilder {
    /// Starts the store: checks the options, builds the OTLP exporter and starts the store's
    /// thread. Nothing goes over the network here; an unreachable collector shows as dropped
    /// spans and a warning.
    ///
    /// # Errors
    /// An invalid endpoint or header, gRPC without the `grpc` feature, or an exporter or
    /// thread that cannot be created.
    pub fn build(self) -> Result<OtelStore> {
        let endpoint = self.resolved_endpoint()?;
        let headers = self.checked_headers()?;
        let timeout = self.timeout;
        let protocol = self.protocol.0;
        if protocol == Protocol::Grpc && !cfg!(feature = "grpc") {
            return Err(Error::GrpcNotEnabled { source_name: self.protocol.1.clone() });
        }
        let shown = endpoint.clone();
        self.start(shown, move || otlp_exporter(protocol, endpoint, headers, timeout))
    }

    /// Starts the store with `exporter` instead of OTLP (an in-memory exporter in tests,
    /// another protocol); endpoint and headers are ignored.
    ///
    /// # Errors
    /// When the store's thread cannot be created.
    pub fn build_with_exporter<E: SpanExporter + 'static>(self, exporter: E) -> Result<OtelStore> {
        self.start("custom exporter".into(), move || Ok(exporter))
    }

    fn resource(&self) -> Resource {
        let mut attributes: Vec<KeyValue> =
            self.resource_attributes.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect();
        let named = attributes.iter().any(|kv| kv.key.as_str() == "service.name");
        match (&self.service_name, named) {
            (Some(name), _) => attributes.push(KeyValue::new("service.name", name.clone())),
            (None, false) => attributes.push(KeyValue::new("service.name", DEFAULT_SERVICE_NAME)),
            (None, true) => {}
        }
        attributes.push(KeyValue::new("telemetry.sdk.language", "rust"));
        attributes.push(KeyValue::new("telemetry.sdk.name", "observers"));
        attributes.push(KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")));
        Resource::builder_empty().with_attributes(attributes).build()
    }

    fn start<E, F>(self, endpoint: String, make_exporter: F) -> Result<OtelStore>
    where
        E: SpanExporter + 'static,
        F: FnOnce() -> Result<E> + Send + 'static,
    {
        let resource = self.resource();
        let settings = Settings {
            mapping: Mapping::new(
                self.provider_name.clone(),
                self.server_url.as_deref(),
                self.capture_content,
                self.openinference,
            ),
            max_export_batch_size: self.max_export_batch_size,
            scheduled_delay: self.scheduled_delay,
            timeout: self.timeout,
            max_retries: self.max_retries,
            initial_backoff: self.initial_backoff,
        };
        let (records_tx, records_rx) = mpsc::channel(self.max_queue_size);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (finished_tx, finished_rx) = std_mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<()>>();
        let counters = Arc::new(Counters::default());
        let worker_counters = counters.clone();
        std::thread::Builder::new().name("observers-otel-exporter".into()).spawn(move || {
            let _finished = finished_tx;
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(Error::Thread(e)));
                    return;
                }
            };
            let exporter = {
                let _entered = runtime.enter(); // gRPC channels need a runtime to be created
                make_exporter()
            };
            let mut exporter = match exporter {
                Ok(exporter) => exporter,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            exporter.set_resource(&resource);
            let _ = ready_tx.send(Ok(()));
            let worker = Worker { exporter, settings, counters: worker_counters };
            runtime.block_on(worker.run(records_rx, control_rx));
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Exporter("the store's thread ended while starting".into())),
        }
        Ok(OtelStore {
            inner: Arc::new(Inner {
                records: records_tx,
                control: control_tx,
                counters,
                closed: AtomicBool::new(false),
                endpoint,
                timeout: self.timeout,
                finished: Mutex::new(finished_rx),
            }),
        })
    }
}

/// The OTLP exporter (built on the store's thread, inside its runtime).
fn otlp_exporter(
    protocol: Protocol,
    endpoint: String,
    headers: http::HeaderMap,
    timeout: Duration,
) -> Result<opentelemetry_otlp::SpanExporter> {
    use opentelemetry_otlp::{RetryPolicy, WithExportConfig};
    match protocol {
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::WithHttpConfig;
            let headers = headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .with_headers(headers)
                .with_timeout(timeout)
                .with_retry_policy(RetryPolicy::disabled()) // the store retries, within its bounds
                .build()
                .map_err(|e| Error::Exporter(e.to_string()))
        }
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
            use opentelemetry_otlp::WithTonicConfig;
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(endpoint)
                .with_metadata(MetadataMap::from_headers(headers))
                .with_timeout(timeout)
                .with_retry_policy(RetryPolicy::disabled())
                .build()
                .map_err(|e| Error::Exporter(e.to_string()))
        }
        #[cfg(not(feature = "grpc"))]
        Protocol::Grpc => Err(Error::GrpcNotEnabled { source_name: "the protocol".into() }),
    }
}

/// The store's thread: owns the exporter, batches records, builds and exports spans.
struct Worker<E> {
    exporter: E,
    settings: Settings,
    counters: Arc<Counters>,
}

impl<E: SpanExporter> Worker<E> {
    async fn run(
        self,
        mut records: mpsc::Receiver<Box<ChatCompletionRecord>>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let delay = self.settings.scheduled_delay;
        let mut batch: Vec<ChatCompletionRecord> = Vec::new();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + delay, delay);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                message = control.recv() => match message {
                    Some(Control::Flush(reply)) => {
                        drain(&mut records, &mut batch);
                        self.export_all(&mut batch).await;
                        let _ = reply.send(());
                    }
                    Some(Control::Close(reply)) => {
                        records.close();
                        drain(&mut records, &mut batch);
                        self.export_all(&mut batch).await;
                        let _ = self.exporter.shutdown_with_timeout(self.settings.timeout);
                        if let Some(reply) = reply {
                            let _ = reply.send(());
                        }
                        return;
                    }
                    None => {
                        // Every handle is gone without a close (cannot happen: Drop sends one).
                        drain(&mut records, &mut batch);
                        self.export_all(&mut batch).await;
                        return;
                    }
                },
                record = records.recv() => match record {
                    Some(record) => {
                        batch.push(*record);
                        if batch.len() >= self.settings.max_export_batch_size {
                            self.export_all(&mut batch).await;
                            tick.reset();
                        }
                    }
                    None => {
                        self.export_all(&mut batch).await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    if !batch.is_empty() {
                        self.export_all(&mut batch).await;
                    }
                }
            }
        }
    }

    /// Exports `batch` (emptying it) in requests of at most `max_export_batch_size` spans,
    /// all within one timeout.
    async fn export_all(&self, batch: &mut Vec<ChatCompletionRecord>) {
        let deadline = Instant::now() + self.settings.timeout;
        let records = std::mem::take(batch);
        for chunk in records.chunks(self.settings.max_export_batch_size) {
            let spans: Vec<_> = chunk.iter().map(|record| self.settings.mapping.span(record)).collect();
            self.export(spans, deadline).await;
        }
    }

    /// One request, retried with exponential backoff while retries and time remain.
    async fn export(&self, spans: Vec<opentelemetry_sdk::trace::SpanData>, deadline: Instant) {
        let n = spans.len() as u64;
        let mut backoff = self.settings.initial_backoff;
        let mut attempt = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = if left.is_zero() {
                Err("no time left within the export timeout".to_string())
            } else {
                match tokio::time::timeout(left, self.exporter.export(spans.clone())).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {:?}", self.settings.timeout)),
                }
            };
            let reason = match outcome {
                Ok(()) => {
                    self.counters.exported.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Err(reason) => reason,
            };
            if attempt >= self.settings.max_retries || Instant::now() + backoff >= deadline {
                self.counters.drop_spans(n, &format!("{reason}; {} attempt(s)", attempt + 1));
                return;
            }
            tracing::debug!(attempt, "OTLP export failed ({reason}); retrying in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// Moves what is already queued into `batch`.
fn drain(records: &mut mpsc::Receiver<Box<ChatCompletionRecord>>, batch: &mut Vec<ChatCompletionRecord>) {
    while let Ok(record) = records.try_recv() {
        batch.push(*record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
    use opentelemetry_sdk::trace::SpanData;
    use std::sync::atomic::AtomicUsize;

    /// Keeps what it is given; fails the first `failures` calls; each call takes `delay`.
    #[derive(Debug, Clone, Default)]
    struct Memory {
        spans: Arc<Mutex<Vec<SpanData>>>,
        calls: Arc<AtomicUsize>,
        failures: usize,
        delay: Duration,
        resource: Arc<Mutex<Option<Resource>>>,
    }

    impl SpanExporter for Memory {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if call < self.failures {
                return Err(OTelSdkError::InternalFailure("collector says no".into()));
            }
            self.spans.lock().unwrap().extend(batch);
            Ok(())
        }
        fn set_resource(&mut self, resource: &Resource) {
            *self.resource.lock().unwrap() = Some(resource.clone());
        }
    }

    fn builder() -> OtelStoreBuilder {
        OtelStore::builder().scheduled_delay(Duration::from_secs(3600)).capture_content(false)
    }

    #[tokio::test]
    async fn flush_exports_everything_in_batches_with_the_resource() {
        let memory = Memory::default();
        let store = builder()
            .max_export_batch_size(2)
            .service_name("svc")
            .resource_attribute("openinference.project.name", "p")
            .build_with_exporter(memory.clone())
            .unwrap();
        for _ in 0..5 {
            store.add(ChatCompletionRecord::new("m")).await.unwrap();
        }
        store.flush().await.unwrap();
        assert_eq!(memory.spans.lock().unwrap().len(), 5);
        assert_eq!(memory.calls.load(Ordering::SeqCst), 3, "2 + 2 + 1");
        assert_eq!((store.exported(), store.dropped()), (5, 0));
        assert_eq!(store.stats(), StoreStats { written: 5, failed: 0 });
        let resource = memory.resource.lock().unwrap().clone().unwrap();
        let get =
            |k: &'static str| resource.get(&opentelemetry::Key::from_static_str(k)).map(|v| v.to_string());
        assert_eq!(get("service.name").as_deref(), Some("svc"));
        assert_eq!(get("openinference.project.name").as_deref(), Some("p"));
    }

    #[tokio::test]
    async fn a_partial_batch_goes_out_after_the_scheduled_delay() {
        let memory = Memory::default();
        let store =
            builder().scheduled_delay(Duration::from_millis(50)).build_with_exporter(memory.clone()).unwrap();
        store.add(ChatCompletionRecord::new("m")).await.unwrap();
        let started = Instant::now();
        while store.exported() < 1 && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.exported(), 1);
    }

    #[tokio::test]
    async fn failed_exports_are_retried_then_counted_as_dropped() {
        let memory = Memory { failures: 2, ..Memory::default() };
        let store = builder().max_retries(3).build_with_exporter(memory.clone()).unwrap();
        store.add(ChatCompletionRecord::new("m")).await.unwrap();
        store.flush().await.unwrap();
        assert_eq!((memory.calls.load(Ordering::SeqCst), store.exported(), store.dropped()), (3, 1, 0));

        let memory = Memory { failures: usize::MAX, ..Memory::default() };
        let store = builder().max_retries(2).build_with_exporter(memory.clone()).unwrap();
        store.add(ChatCompletionRecord::new("m")).await.unwrap();
        store.add(ChatCompletionRecord::new("m")).await.unwrap();
        store.flush().await.unwrap();
        assert_eq!(memory.calls.load(Ordering::SeqCst), 3, "one try and two retries");
        assert_eq!((store.exported(), store.dropped()), (0, 2));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let memory = Memory { delay: Duration::from_millis(300), ..Memory::default() };
        let store = builder()
            .max_queue_size(4)
            .max_export_batch_size(1)
            .timeout(Duration::from_secs(5))
            .build_with_exporter(memory.clone())
            .unwrap();
        let started = Instant::now();
        for _ in 0..100 {
            store.add(ChatCompletionRecord::new("m")).await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(200), "add never waits: {:?}", started.elapsed());
        assert!(store.dropped() >= 90, "dropped {}", store.dropped());
        store.close().await.unwrap();
        assert_eq!(store.exported() + store.dropped(), 100);
    }

    #[tokio::test]
    async fn add_waiting_never_drops() {
        let memory = Memory { delay: Duration::from_millis(20), ..Memory::default() };
        let store =
            builder().max_queue_size(2).max_export_batch_size(2).build_with_exporter(memory.clone()).unwrap();
        for _ in 0..20 {
            store.add_waiting(ChatCompletionRecord::new("m")).await.unwrap();
        }
        store.flush().await.unwrap();
        assert_eq!((store.exported(), store.dropped()), (20, 0));
        store.close().await.unwrap();
        assert!(matches!(store.add_waiting(ChatCompletionRecord::new("m")).await, Err(StoreError::Closed)));
    }

    #[tokio::test]
    async fn close_flushes_is_idempotent_and_refuses_later_records() {
        let memory = Memory::default();
        let store = builder().build_with_exporter(memory.clone()).unwrap();
        store.add(ChatCompletionRecord::new("m")).await.unwrap();
        store.close().await.unwrap();
        assert_eq!(memory.spans.lock().unwrap().len(), 1);
        store.close().await.unwrap();
        assert!(matches!(store.add(ChatCompletionRecord::new("m")).await, Err(StoreError::Closed)));
        assert!(matches!(store.try_add(ChatCompletionRecord::new("m")), Err(TryAddError::Closed(_))));
        store.flush().await.unwrap();
    }

    #[test]
    fn dropping_the_last_handle_exports_what_is_queued() {
        let memory = Memory::default();
        let store = builder().build_with_exporter(memory.clone()).unwrap();
        store.try_add(ChatCompletionRecord::new("m")).unwrap();
        let clone = store.clone();
        drop(store);
        assert!(memory.spans.lock().unwrap().is_empty(), "a clone is still alive");
        drop(clone);
        assert_eq!(memory.spans.lock().unwrap().len(), 1);
    }

    #[test]
    fn bad_configuration_fails_at_build_with_a_clear_error() {
        let err = OtelStore::builder().endpoint("localhost:4318").build().unwrap_err();
        assert!(matches!(err, Error::InvalidEndpoint { .. }), "{err}");
        if !cfg!(feature = "grpc") {
            let err = OtelStore::builder().protocol(Protocol::Grpc).build().unwrap_err().to_string();
            assert!(err.contains("`grpc` feature"), "{err}");
        }
        let err = OtelStore::builder().header("authorization", "Bearer \u{1}SECRET").build().unwrap_err();
        assert!(!err.to_string().contains("SECRET") && !format!("{err:?}").contains("SECRET"));
    }

    #[test]
    fn debug_never_shows_headers() {
        let store = OtelStore::builder()
            .endpoint("http://127.0.0.1:9/v1/traces")
            .header("authorization", "Bearer SECRET")
            .build()
            .unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains("127.0.0.1:9") && !debug.contains("SECRET"), "{debug}");
    }
}
