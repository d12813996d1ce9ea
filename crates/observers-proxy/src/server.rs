//! The server: one task accepting connections, one task per connection, and the shutdown that
//! lets requests in flight finish (for a bounded time), then flushes the store.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use observers_core::Store;
use observers_openai::Recorder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::builder::{Config, ProxyBuilder, Upstream};
use crate::error::{Error, Result};
use crate::relay;

/// Connections waiting to be accepted: enough for a thousand clients arriving at once.
const BACKLOG: u32 = 4096;
/// After a cut, how long records made by cut requests may take to reach the store.
const LATE_RECORDS_WAIT: Duration = Duration::from_secs(10);

/// An OpenAI-compatible recording proxy, configured: [`start`](Self::start) it in the
/// background, or [`serve`](Self::serve) until a signal.
///
/// Every request to `/v1/...` (or `/{route}/v1/...`) is forwarded to its upstream as it came
/// (method, path, query, headers, body) and the answer comes back as the upstream sent it,
/// streams chunk by chunk. Chat completions are recorded by the same code as the wrapped
/// client ([`observers_openai::Recorder`]), so their rows are the wrapper's.
///
/// # Example
/// ```
/// use observers_openai::{ChatCompletionRequest, ChatMessage, OpenAi};
/// use observers_proxy::Proxy;
/// use observers_store_duckdb::DuckDbStore;
/// use observers_testkit::openai::MockOpenAi;
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let upstream = MockOpenAi::start().await?; // any OpenAI-compatible API
/// let store = DuckDbStore::open(":memory:")?;
/// let proxy = Proxy::builder()
///     .upstream(upstream.base_url())
///     .store(store.clone())
///     .listen("127.0.0.1:0".parse()?)
///     .start()
///     .await?;
///
/// // Any client, in any language: only its base URL changes.
/// let client = OpenAi::builder().base_url(proxy.base_url()).api_key("sk-...").build()?;
/// let request = ChatCompletionRequest::new("gpt-4o-mini").message(ChatMessage::user("Hello"));
/// client.chat().completions().create(request).await?;
///
/// proxy.shutdown().await?; // finishes requests in flight, flushes the store
/// assert_eq!(store.count().await?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Proxy {
    pub(crate) config: Config,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("listen", &self.config.listen)
            .field("upstream", &self.config.default)
            .field("routes", &self.config.routes)
            .finish_non_exhaustive()
    }
}

/// Where a shutdown stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Not accepting; requests in flight finish.
    Draining,
    /// Requests still in flight are cut.
    Cutting,
}

/// What the proxy did, counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Requests received, on every endpoint.
    pub requests: u64,
    /// Chat completions recorded (handed to the store; sampling and `X-Observers-Skip`
    /// leave some out).
    pub recorded: u64,
    /// Requests answered 502 or 504 because the upstream could not be reached or was silent.
    pub upstream_failures: u64,
    /// Requests refused by the proxy: unknown path (404) or missing access token (401).
    pub rejected: u64,
    /// Records the store did not take (closed or failing store); each was logged.
    pub records_lost: u64,
}

/// Counters behind [`ProxyStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) recorded: AtomicU64,
    pub(crate) upstream_failures: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) default: Upstream,
    pub(crate) routes: Vec<(String, Upstream)>,
    pub(crate) http: reqwest::Client,
    pub(crate) recorder: Recorder,
    pub(crate) access_token: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) counters: Counters,
    /// Set once the grace period is over: requests still in flight are being cut, and record
    /// that rather than a client disconnect.
    pub(crate) cutting: AtomicBool,
    /// Records being made by tasks spawned from a `Drop` (a cut request), which shutdown
    /// waits for before flushing.
    late_records: AtomicUsize,
}

impl Shared {
    pub(crate) fn stats(&self) -> ProxyStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ProxyStats {
            requests: get(&self.counters.requests),
            recorded: get(&self.counters.recorded),
            upstream_failures: get(&self.counters.upstream_failures),
            rejected: get(&self.counters.rejected),
            records_lost: self.recorder.records_lost(),
        }
    }

    /// Runs `record` (making a record, from a `Drop`) in a task that shutdown waits for.
    pub(crate) fn spawn_record(self: &Arc<Self>, record: impl Future<Output = ()> + Send + 'static) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("a cut request's record is lost: no async runtime runs");
            return;
        };
        self.late_records.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            record.await;
            shared.late_records.fetch_sub(1, Ordering::SeqCst);
        });
    }

    async fn wait_for_late_records(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.late_records.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Proxy {
    /// Options for a proxy.
    pub fn builder() -> ProxyBuilder {
        ProxyBuilder::default()
    }

    /// Starts listening and serving in the background (in the current tokio runtime), and
    /// returns a handle to reach and stop it.
    pub async fn start(self) -> Result<ProxyHandle> {
        let config = self.config;
        let listener = bind(config.listen)?;
        let addr = listener.local_addr().map_err(|source| Error::Bind { addr: config.listen, source })?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.timeout)
            // A proxy relays redirects; following them would change what the client asked.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        let store = Arc::clone(&config.store);
        let shared = Arc::new(Shared {
            recorder: Recorder::new(Arc::clone(&config.store), config.options),
            default: config.default,
            routes: config.routes,
            http,
            access_token: config.access_token,
            timeout: config.timeout,
            counters: Counters::default(),
            cutting: AtomicBool::new(false),
            late_records: AtomicUsize::new(0),
        });
        let (phase, phase_rx) = watch::channel(Phase::Serving);
        let task = tokio::spawn(run(listener, Arc::clone(&shared), phase_rx, config.grace_period));
        tracing::debug!(%addr, upstream = %shared.default.display, "observers proxy listening");
        let grace_period = config.grace_period;
        Ok(ProxyHandle { addr, grace_period, phase: Arc::new(phase), task: Some(task), shared, store })
    }

    /// Serves until SIGINT (Ctrl-C) or SIGTERM, then shuts down as
    /// [`ProxyHandle::shutdown`] does; a second signal cuts the requests still in flight at
    /// once. [`start`](Self::start), then [`ProxyHandle::shutdown_on_signal`].
    pub async fn serve(self) -> Result<ProxyStats> {
        let handle = self.start().await?;
        tracing::info!(
            "observers proxy listening on {} (point clients at OPENAI_BASE_URL={})",
            handle.addr(),
            handle.base_url()
        );
        handle.shutdown_on_signal().await
    }
}

/// A running proxy, from [`Proxy::start`]. Dropping it stops the proxy as
/// [`shutdown`](Self::shutdown) does, in the background; only `shutdown` reports the outcome.
pub struct ProxyHandle {
    addr: SocketAddr,
    grace_period: Duration,
    phase: Arc<watch::Sender<Phase>>,
    task: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    store: Arc<dyn Store>,
}

impl fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyHandle").field("addr", &self.addr).field("stats", &self.stats()).finish()
    }
}

impl ProxyHandle {
    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use for the default upstream: `http://<addr>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL of the route `name`: `http://<addr>/<name>/v1`.
    pub fn route_url(&self, name: &str) -> String {
        format!("http://{}/{name}/v1", self.addr)
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats()
    }

    /// Serves until SIGINT (Ctrl-C) or SIGTERM, then [shuts down](Self::shutdown); a second
    /// signal cuts the requests still in flight at once. What `observers proxy` runs.
    pub async fn shutdown_on_signal(self) -> Result<ProxyStats> {
        signal().await;
        tracing::info!(
            "shutting down: waiting up to {:?} for requests in flight; a second signal cuts them now",
            self.grace_period
        );
        let phase = Arc::clone(&self.phase);
        let shutdown = self.shutdown();
        tokio::pin!(shutdown);
        tokio::select! {
            result = &mut shutdown => return result,
            () = signal() => {
                tracing::info!("second signal: cutting the requests still in flight");
                phase.send_replace(Phase::Cutting);
            }
        }
        shutdown.await
    }

    /// Stops accepting connections, lets the requests in flight finish (streams included)
    /// for up to the grace period, cuts those still running (each recorded as cut), then
    /// flushes the store. Returns what the proxy did.
    pub async fn shutdown(mut self) -> Result<ProxyStats> {
        self.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Draining;
            }
            serving
        });
        if let Some(task) = self.task.take() {
            task.await.map_err(|e| Error::Stopped(e.to_string()))?;
        }
        self.store.flush().await.map_err(Error::Flush)?;
        Ok(self.shared.stats())
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Draining;
            }
            serving
        });
    }
}

/// SIGINT or SIGTERM (Ctrl-C only where there is no SIGTERM).
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => tracing::warn!("cannot listen for SIGTERM ({e}); stop the proxy with Ctrl-C"),
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!("cannot listen for Ctrl-C ({e}); the proxy runs until killed");
        std::future::pending::<()>().await;
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let bind_error = |source| Error::Bind { addr, source };
    let socket =
        if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(bind_error)?;
    // A restarted proxy can take its port back while old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    socket.listen(BACKLOG).map_err(bind_error)
}

/// Returns once the shutdown reaches `at` (or went past it), or the handle is gone.
async fn reached(phase: &mut watch::Receiver<Phase>, at: Phase) {
    let rank = |p: Phase| match p {
        Phase::Serving => 0,
        Phase::Draining => 1,
        Phase::Cutting => 2,
    };
    // An error means every sender is gone, handle included: stop as well.
    let _ = phase.wait_for(|p| rank(*p) >= rank(at)).await;
}

/// Accepts connections until the shutdown starts, then drains them within `grace`.
async fn run(listener: TcpListener, shared: Arc<Shared>, mut phase: watch::Receiver<Phase>, grace: Duration) {
    let connection_phase = phase.clone();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    connections.spawn(connection(tcp, Arc::clone(&shared), connection_phase.clone()));
                }
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to close rather than spin.
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = reached(&mut phase, Phase::Draining) => break,
        }
    }
    drop(listener);
    let in_flight = connections.len();
    if in_flight > 0 {
        tracing::debug!("{in_flight} connection(s) open; letting their requests finish");
    }
    let drained = async { while connections.join_next().await.is_some() {} };
    let cut = async {
        let _ = tokio::time::timeout(grace, reached(&mut phase, Phase::Cutting)).await;
    };
    let cut_needed = tokio::select! {
        () = drained => false,
        () = cut => true,
    };
    if cut_needed {
        shared.cutting.store(true, Ordering::SeqCst);
        tracing::warn!("cutting {} connection(s) still open after the grace period", connections.len());
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    shared.wait_for_late_records(LATE_RECORDS_WAIT).await;
}

/// Serves one client connection (HTTP/1.1, keep-alive) until it closes or the shutdown
/// starts; then its request in flight finishes and it closes.
async fn connection(tcp: TcpStream, shared: Arc<Shared>, mut phase: watch::Receiver<Phase>) {
    // Streams are many small writes: without TCP_NODELAY, Nagle's algorithm meets the
    // client's delayed ACKs and chunks stall for 40 ms.
    let _ = tcp.set_nodelay(true);
    let service = service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(relay::handle(shared, request).await) }
    });
    let conn = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("client connection ended: {e}");
            }
        }
        () = reached(&mut phase, Phase::Draining) => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!("client connection ended: {e}");
            }
        }
    }
}
