//! Shared by the proxy's tests: a proxy in front of the mock with a DuckDB store, and an
//! upstream whose stream the test releases chunk by chunk.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Response};
use axum::Router;
use bytes::Bytes;
use observers_core::ChatCompletionRecord;
use observers_openai::WrapOptions;
use observers_proxy::{Proxy, ProxyBuilder, ProxyHandle};
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{MockOpenAi, Scenario};
use tokio::sync::{mpsc, oneshot};

pub const KEY: &str = "sk-test-0123456789abcdefSECRET";

/// A proxy on a free loopback port in front of a mock, recording into a DuckDB file.
pub struct Setup {
    pub mock: MockOpenAi,
    pub store: DuckDbStore,
    pub proxy: Option<ProxyHandle>,
    pub dir: tempfile::TempDir,
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Setup {
    pub async fn new(scenario: Scenario) -> Setup {
        Setup::with(scenario, |builder| builder).await
    }

    /// `configure` adds to a builder that already has the mock as upstream, the store and a
    /// free loopback port.
    pub async fn with(scenario: Scenario, configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> Setup {
        let mock = MockOpenAi::start_with(scenario).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let builder = Proxy::builder()
            .upstream(mock.base_url())
            .store(store.clone())
            .listen(loopback())
            .options(WrapOptions::default());
        let proxy = configure(builder).start().await.unwrap();
        Setup { mock, store, proxy: Some(proxy), dir }
    }

    pub fn proxy(&self) -> &ProxyHandle {
        self.proxy.as_ref().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy().addr())
    }

    /// Every row, oldest first.
    pub async fn rows(&self) -> Vec<ChatCompletionRecord> {
        use observers_core::Store;
        self.store.flush().await.unwrap();
        self.store.unsynced(None, 100_000).await.unwrap()
    }

    /// The only row, once it is there (records of cut calls arrive a little later).
    pub async fn only_row(&self) -> ChatCompletionRecord {
        let mut rows = Vec::new();
        for _ in 0..200 {
            rows = self.rows().await;
            if !rows.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(rows.len(), 1, "expected exactly one row: {rows:#?}");
        rows.remove(0)
    }

    /// Shuts the proxy down (flushing the store).
    pub async fn shutdown(&mut self) -> observers_proxy::ProxyStats {
        self.proxy.take().unwrap().shutdown().await.unwrap()
    }
}

/// A request body for `model` asking `question`.
pub fn chat_body(model: &str, question: &str, stream: bool) -> String {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": question}],
        "temperature": 0.3,
        "stream": stream,
    })
    .to_string()
}

/// An upstream whose one chat-completion answer is an event stream the test writes piece by
/// piece, and which says when the proxy dropped the connection.
pub struct Gate {
    pub addr: SocketAddr,
    /// Sends the next piece of the answer body.
    pub pieces: mpsc::UnboundedSender<Bytes>,
    /// Fires when the answer's body is dropped: the proxy closed the upstream request.
    pub closed: Option<oneshot::Receiver<()>>,
    /// Fires when the request arrived.
    pub arrived: Option<oneshot::Receiver<()>>,
}

struct Notify(Option<oneshot::Sender<()>>);

impl Drop for Notify {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

type GateState =
    Arc<Mutex<Option<(mpsc::UnboundedReceiver<Bytes>, oneshot::Sender<()>, oneshot::Sender<()>)>>>;

impl Gate {
    pub async fn start() -> Gate {
        let (pieces, rx) = mpsc::unbounded_channel();
        let (closed_tx, closed) = oneshot::channel();
        let (arrived_tx, arrived) = oneshot::channel();
        let state: GateState = Arc::new(Mutex::new(Some((rx, closed_tx, arrived_tx))));
        let app = Router::new().fallback(move || {
            let state = Arc::clone(&state);
            async move {
                let Some((rx, closed_tx, arrived_tx)) = state.lock().unwrap().take() else {
                    return Response::builder().status(409).body(Body::from("one request only")).unwrap();
                };
                let _ = arrived_tx.send(());
                let guard = Notify(Some(closed_tx));
                // Ends after `[DONE]`, or when the test drops the sender.
                let body =
                    futures_util::stream::unfold((rx, guard, false), |(mut rx, guard, done)| async move {
                        if done {
                            return None;
                        }
                        let piece = rx.recv().await?;
                        let done = piece.ends_with(b"data: [DONE]\n\n");
                        Some((Ok::<_, std::io::Error>(piece), (rx, guard, done)))
                    });
                let mut response = Response::new(Body::from_stream(body));
                response.headers_mut().insert("content-type", HeaderValue::from_static("text/event-stream"));
                response
            }
        });
        let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gate { addr, pieces, closed: Some(closed), arrived: Some(arrived) }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Sends one `data:` event with `content` as the delta.
    pub fn send_delta(&self, content: &str) {
        let chunk = serde_json::json!({
            "id": "chatcmpl-gate", "object": "chat.completion.chunk", "created": 1, "model": "gate-model",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}],
        });
        self.pieces.send(Bytes::from(format!("data: {chunk}\n\n"))).unwrap();
    }

    /// Sends the finish chunk and `[DONE]`.
    pub fn send_end(&self) {
        let chunk = serde_json::json!({
            "id": "chatcmpl-gate", "object": "chat.completion.chunk", "created": 1, "model": "gate-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        });
        self.pieces.send(Bytes::from(format!("data: {chunk}\n\ndata: [DONE]\n\n"))).unwrap();
    }
}

/// A proxy in front of a [`Gate`], recording into a DuckDB file.
pub struct Gated {
    pub gate: Gate,
    pub store: DuckDbStore,
    pub proxy: ProxyHandle,
    pub dir: tempfile::TempDir,
}

impl Gated {
    /// `configure` adds to a builder that already has the gate as upstream, the store and a
    /// free loopback port.
    pub async fn start(configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> Gated {
        let gate = Gate::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
        let builder = Proxy::builder().upstream(gate.base_url()).store(store.clone()).listen(loopback());
        let proxy = configure(builder).start().await.unwrap();
        Gated { gate, store, proxy, dir }
    }

    /// Starts a streamed chat completion through the proxy; its body as it comes.
    pub async fn open_stream(&mut self) -> impl futures_util::Stream<Item = reqwest::Result<Bytes>> {
        let answer = reqwest::Client::new()
            .post(format!("{}/chat/completions", self.proxy.base_url()))
            .body(chat_body("gate-model", "Count", true))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        self.gate.arrived.take().unwrap().await.unwrap();
        answer.bytes_stream()
    }

    /// Shuts the proxy down (flushing the store) and returns the only row.
    pub async fn shutdown_then_row(self) -> (observers_proxy::ProxyStats, ChatCompletionRecord, Gate) {
        let stats = self.proxy.shutdown().await.unwrap();
        let mut rows = self.store.unsynced(None, 10).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:#?}");
        (stats, rows.remove(0), self.gate)
    }
}
