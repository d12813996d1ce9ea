//! The proxy between real HTTP clients and loopback upstreams: what goes through unchanged,
//! what is recorded (rows read back from a real DuckDB file), and how failures, disconnects
//! and shutdown are handled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use axum::Router;
use common::{chat_body, loopback, Gated, Setup, KEY};
use futures_util::StreamExt;
use observers_core::{ChatCompletionRecord, Store};
use observers_openai::{wrap_openai, ChatCompletionRequest, ChatMessage, OpenAi};
use observers_proxy::Proxy;
use observers_store_duckdb::DuckDbStore;
use observers_testkit::openai::{self as mock, MockOpenAi, Scenario};
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// `"created":<n>` set to 0: the mock stamps answers with the current second.
fn without_created(text: &str) -> String {
    const KEY: &str = "\"created\":";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        out.push_str(&rest[..at + KEY.len()]);
        rest = &rest[at + KEY.len()..];
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        out.push('0');
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

async fn direct_and_proxied(scenario: Scenario, body: &str) -> (reqwest::Response, reqwest::Response, Setup) {
    let direct_mock = MockOpenAi::start_with(scenario.clone()).await.unwrap();
    let s = Setup::new(scenario).await;
    let send = |url: String| {
        client()
            .post(url)
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let direct = send(format!("{}/chat/completions", direct_mock.base_url())).await.unwrap();
    let proxied = send(s.url("/v1/chat/completions")).await.unwrap();
    (direct, proxied, s)
}

/// Headers but `date`, as (name, value) pairs.
fn head(response: &reqwest::Response) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn answers_come_back_as_the_upstream_sent_them() {
    for (scenario, stream) in [
        (Scenario::Text, false),
        (Scenario::Text, true),
        (Scenario::ToolCalls, true),
        (Scenario::HttpError(429), false),
        (Scenario::MidStreamError, true),
        (Scenario::InvalidUtf8, true),
    ] {
        let body = chat_body("gpt-4o-mini", "What is the capital of France?", stream);
        let (direct, proxied, s) = direct_and_proxied(scenario.clone(), &body).await;
        assert_eq!(direct.status(), proxied.status(), "{scenario:?}");
        assert_eq!(head(&direct), head(&proxied), "{scenario:?}");
        let (direct, proxied) = (direct.bytes().await.unwrap(), proxied.bytes().await.unwrap());
        assert_eq!(
            without_created(&String::from_utf8_lossy(&direct)),
            without_created(&String::from_utf8_lossy(&proxied)),
            "{scenario:?}"
        );
        assert_eq!(s.only_row().await.model.as_deref(), Some("gpt-4o-mini"), "{scenario:?}");
    }
}

/// What an upstream received, all of it.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// An upstream that keeps every request whole and answers 418 with odd headers and bytes that
/// are not UTF-8.
async fn echo_upstream() -> (String, Arc<Mutex<Vec<Received>>>) {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let keep = Arc::clone(&seen);
    let app = Router::new().fallback(move |request: Request| {
        let keep = Arc::clone(&keep);
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            keep.lock().unwrap().push(Received {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                    .collect(),
                body: body.to_vec(),
            });
            Response::builder()
                .status(418)
                .header("x-upstream-thing", "one")
                .header("x-upstream-thing", "two")
                .header("content-type", "application/octet-stream")
                .body(Body::from(vec![0xff, 0x00, b'r', b'a', b'w', 0xfe]))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

fn header<'a>(received: &'a Received, name: &str) -> Vec<&'a [u8]> {
    received.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_slice()).collect()
}

#[tokio::test]
async fn requests_go_upstream_as_they_came() {
    let (upstream, seen) = echo_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path().join("store.db")).unwrap();
    let proxy =
        Proxy::builder().upstream(&upstream).store(store.clone()).listen(loopback()).start().await.unwrap();
    let body: &[u8] =
        b"{\"model\": \"m\",  \"messages\": [{\"role\":\"user\",\"content\":\"caf\xc3\xa9\"}]}\n";
    let cases: [(&str, &str, &[u8]); 4] = [
        ("POST", "/v1/chat/completions?api-version=2024-10-21&x=%20y", body),
        ("POST", "/v1/embeddings?dimensions=3", b"{\"input\":\"hi\"}"),
        ("GET", "/v1/models?limit=2", b""),
        ("DELETE", "/v1/files/file-abc", b""),
    ];
    for (method, path, body) in cases {
        let answer = client()
            .request(method.parse().unwrap(), format!("http://{}{path}", proxy.addr()))
            .header("authorization", format!("Bearer {KEY}"))
            .header("x-custom", "kept")
            .header("x-custom", "twice")
            .header("OpenAI-Organization", "org-1")
            .header("X-Observers-Tags", "stripped")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 418, "{method} {path}");
        let things: Vec<&str> =
            answer.headers().get_all("x-upstream-thing").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(things, ["one", "two"]);
        assert_eq!(answer.headers()["content-type"], "application/octet-stream");
        assert_eq!(answer.bytes().await.unwrap().as_ref(), [0xff, 0x00, b'r', b'a', b'w', 0xfe]);

        let received = seen.lock().unwrap().pop().unwrap();
        assert_eq!(received.method, method);
        assert_eq!(received.uri, path, "the path and query, byte for byte");
        assert_eq!(received.body, body);
        assert_eq!(header(&received, "authorization"), [format!("Bearer {KEY}").as_bytes()]);
        assert_eq!(header(&received, "x-custom"), [b"kept".as_slice(), b"twice"]);
        assert_eq!(header(&received, "openai-organization"), [b"org-1".as_slice()]);
        assert!(header(&received, "x-observers-tags").is_empty(), "the proxy's headers are its own");
        assert_eq!(header(&received, "host"), [proxy_host(&upstream).as_bytes()]);
        if !body.is_empty() {
            assert_eq!(header(&received, "content-length"), [body.len().to_string().as_bytes()]);
        }
    }
    let stats = proxy.shutdown().await.unwrap();
    assert_eq!((stats.requests, stats.recorded), (4, 1), "only the chat completion is recorded");
    let rows = store.unsynced(None, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].messages[0].content.as_deref(), Some("café"));
    assert!(rows[0].error.as_deref().unwrap().contains("HTTP 418"), "{:?}", rows[0].error);
}

fn proxy_host(upstream: &str) -> String {
    upstream.trim_start_matches("http://").trim_end_matches("/v1").to_owned()
}

#[tokio::test]
async fn streams_are_relayed_as_they_arrive() {
    let mut g = Gated::start(|b| b).await;
    let mut answer = g.open_stream().await;
    // Each piece reaches the client while the upstream holds back the next one.
    for word in ["one ", "two ", "three"] {
        g.gate.send_delta(word);
        let piece = tokio::time::timeout(Duration::from_secs(5), answer.next())
            .await
            .expect("a piece stayed in the proxy")
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&piece).contains(word), "{piece:?}");
    }
    g.gate.send_end();
    while let Some(piece) = answer.next().await {
        piece.unwrap();
    }
    let (_, row, _) = g.shutdown_then_row().await;
    assert_eq!(row.assistant_message.as_deref(), Some("one two three"));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert!(row.error.is_none(), "{:?}", row.error);
    assert!(row.time_to_first_token_ms.is_some());
}

#[tokio::test]
async fn routes_reach_their_upstreams() {
    let other = MockOpenAi::start().await.unwrap();
    let other_url = other.base_url();
    let s = Setup::with(Scenario::Text, |b| b.route("other", &other_url)).await;
    let ask = |url: String, question: &str| {
        client().post(url).bearer_auth(KEY).body(chat_body("m", question, false)).send()
    };
    assert_eq!(ask(s.url("/v1/chat/completions"), "default").await.unwrap().status(), 200);
    assert_eq!(
        ask(s.proxy().route_url("other") + "/chat/completions", "routed").await.unwrap().status(),
        200
    );
    let models = client().get(s.proxy().route_url("other") + "/models").send().await.unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(s.mock.requests().len(), 1);
    assert_eq!(s.mock.requests()[0].json().unwrap()["messages"][1]["content"], "default");
    let routed = other.requests();
    assert_eq!(routed.len(), 2);
    assert_eq!(routed[0].path, "/v1/chat/completions");
    assert_eq!(routed[0].json().unwrap()["messages"][1]["content"], "routed");
    assert_eq!(routed[1].path, "/v1/models");

    for path in ["/nope/v1/chat/completions", "/v2/models", "/chat/completions", "/other", "/"] {
        let answer = client().post(s.url(path)).body("{}").send().await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unknown_route", "{path}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("/v1/...") && message.contains("/other/v1/..."), "{message}");
    }
    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].messages[1].content.as_deref(), Some("routed"));
}

#[tokio::test]
async fn metadata_headers_are_recorded_and_never_forwarded() {
    let s = Setup::new(Scenario::Text).await;
    let answer = client()
        .post(s.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("X-Observers-Tags", "a, b")
        .header("X-Observers-Tags", "c")
        .header("X-Observers-Property-App-Version", "1.4.2")
        .header("X-Observers-User-Id", "u-42")
        .header("X-Observers-Session-Id", "s-7")
        .body(chat_body("gpt-4o-mini", "Hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let row = s.only_row().await;
    assert_eq!(row.tags, ["a", "b", "c"]);
    assert_eq!(row.properties, Some(json!({"app-version": "1.4.2"})));
    assert_eq!(row.user_id.as_deref(), Some("u-42"));
    assert_eq!(row.session_id.as_deref(), Some("s-7"));
    let sent = &s.mock.requests()[0];
    assert!(sent.headers.iter().all(|(name, _)| !name.starts_with("x-observers-")), "{:?}", sent.headers);
}

#[tokio::test]
async fn the_skip_header_forwards_without_recording() {
    let mut s = Setup::new(Scenario::Text).await;
    for stream in [false, true] {
        let answer = client()
            .post(s.url("/v1/chat/completions"))
            .header("X-Observers-Skip", "1")
            .body(chat_body("gpt-4o-mini", "Off the record", stream))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.unwrap();
        assert!(text.contains("record"), "{text}");
    }
    assert_eq!(s.mock.requests().len(), 2);
    let stats = s.shutdown().await;
    assert_eq!((stats.requests, stats.recorded), (2, 0));
    assert!(s.rows().await.is_empty());
}

/// Everything written through `tracing` while the test runs.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Writer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let logs: Arc<Mutex<Vec<u8>>> = Arc::default();
    let writer = Writer(Arc::clone(&logs));
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    logs
}

#[tokio::test]
async fn keys_are_forwarded_and_never_recorded_or_logged() {
    let logs = capture_logs();
    let s = Setup::new(Scenario::Text).await;
    // The mock echoes the question, key included, into its answer.
    let question = format!("Is {KEY} my key?");
    for (stream, header) in [(false, "authorization"), (true, "authorization"), (false, "api-key")] {
        let value = if header == "api-key" { KEY.to_owned() } else { format!("Bearer {KEY}") };
        let answer = client()
            .post(s.url("/v1/chat/completions"))
            .header(header, value)
            .body(chat_body("gpt-4o-mini", &question, stream))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.text().await.unwrap().contains(KEY), "the client gets the answer unchanged");
    }
    // An upstream that cannot be reached: its error must not carry the key either.
    let closed = tokio::net::TcpListener::bind(loopback()).await.unwrap().local_addr().unwrap();
    let unreachable = Setup::with(Scenario::Text, |b| b.upstream(format!("http://{closed}/v1"))).await;
    let answer = client()
        .post(unreachable.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 502);

    let sent = s.mock.requests();
    assert_eq!(sent[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(sent[2].header("api-key"), Some(KEY));
    let rows = s.rows().await;
    assert_eq!(rows.len(), 3);
    let mut rows_text = serde_json::to_string(&rows).unwrap();
    rows_text += &serde_json::to_string(&unreachable.only_row().await).unwrap();
    assert!(!rows_text.contains(KEY), "the key reached a record: {rows_text}");
    assert!(rows_text.contains("[REDACTED]"));
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains("relayed"), "the test must see the proxy's logs: {logs}");
    assert!(!logs.contains(KEY), "the key reached a log line: {logs}");
}

#[tokio::test]
async fn the_proxy_can_hold_the_upstream_key() {
    let s = Setup::with(Scenario::Text, |b| b.upstream_key("sk-held-by-the-proxy-0001")).await;
    for auth in [None, Some("Bearer not-a-real-key")] {
        let mut request = client().post(s.url("/v1/chat/completions")).body(chat_body("m", "Hi", false));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    for sent in s.mock.requests() {
        assert_eq!(sent.header("authorization"), Some("Bearer sk-held-by-the-proxy-0001"));
    }
    let rows = serde_json::to_string(&s.rows().await).unwrap();
    assert!(!rows.contains("sk-held-by-the-proxy-0001"));
}

#[tokio::test]
async fn an_access_token_guards_the_proxy() {
    let token = "proxy-token-0123456789";
    let s = Setup::with(Scenario::Text, |b| b.access_token(token).upstream_key("sk-upstream-key-9876")).await;
    let send = |headers: &[(&str, &str)]| {
        let mut request = client().post(s.url("/v1/chat/completions")).body(chat_body("m", "Hi", false));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for refused in
        [vec![], vec![("authorization", "Bearer wrong")], vec![("x-observers-token", "proxy-token")]]
    {
        let answer = send(&refused).await.unwrap();
        assert_eq!(answer.status(), 401, "{refused:?}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_proxy_token");
        assert!(!error.to_string().contains(token));
    }
    assert!(s.mock.requests().is_empty(), "a refused request goes nowhere");
    assert_eq!(send(&[("authorization", &format!("Bearer {token}"))]).await.unwrap().status(), 200);
    assert_eq!(send(&[("x-observers-token", token)]).await.unwrap().status(), 200);
    for sent in s.mock.requests() {
        assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream-key-9876"));
        assert!(sent.headers.iter().all(|(_, value)| !value.contains(token)), "{:?}", sent.headers);
    }
    assert_eq!(s.rows().await.len(), 2);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_and_recorded() {
    let closed = tokio::net::TcpListener::bind(loopback()).await.unwrap().local_addr().unwrap();
    let mut s = Setup::with(Scenario::Text, |b| b.upstream(format!("http://{closed}/v1"))).await;
    for path in ["/v1/chat/completions", "/v1/models"] {
        let answer = client().post(s.url(path)).body(chat_body("m", "Hi", false)).send().await.unwrap();
        assert_eq!(answer.status(), 502, "{path}");
        assert_eq!(answer.headers()["content-type"], "application/json");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], "upstream_unreachable");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(&closed.to_string()), "{message}");
    }
    let row = s.only_row().await;
    assert_eq!(row.finish_reason.as_deref(), Some("error"));
    let error = row.error.unwrap();
    assert!(error.contains("could not connect"), "{error}");
    assert_eq!(s.shutdown().await.upstream_failures, 2);
}

#[tokio::test]
async fn a_silent_upstream_is_a_504_and_recorded() {
    let s = Setup::with(Scenario::Stall, |b| b.timeout(Duration::from_millis(300))).await;
    let answer =
        client().post(s.url("/v1/chat/completions")).body(chat_body("m", "Hi", false)).send().await.unwrap();
    assert_eq!(answer.status(), 504);
    let error: Value = answer.json().await.unwrap();
    assert_eq!(error["error"]["code"], "upstream_timeout");
    let row = s.only_row().await;
    assert!(row.error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn upstream_errors_pass_through_unchanged_and_are_recorded() {
    let s = Setup::new(Scenario::HttpError(429)).await;
    let answer =
        client().post(s.url("/v1/chat/completions")).body(chat_body("m", "Hi", true)).send().await.unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "1");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let row = s.only_row().await;
    let error = row.error.unwrap();
    assert!(error.contains("HTTP 429") && error.contains("retry after 1s"), "{error}");
    assert_eq!(row.raw_response.map(|r| serde_json::from_str::<Value>(r.get()).unwrap()), Some(body));
}

#[tokio::test]
async fn bodies_that_are_not_json_or_huge_are_forwarded_and_recorded() {
    let s = Setup::new(Scenario::Text).await;
    let answer = client().post(s.url("/v1/chat/completions")).body("this is not JSON").send().await.unwrap();
    assert_eq!(answer.status(), 400, "the upstream decides");
    assert_eq!(s.mock.requests()[0].body, "this is not JSON");

    // Past what the proxy holds for a record (64 MiB): streamed through all the same.
    let huge = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(observers_openai::MAX_ANSWER_BYTES + 1024)
    );
    let length = huge.len();
    let answer = client().post(s.url("/v1/chat/completions")).body(huge).send().await.unwrap();
    // The mock refuses bodies over 64 MiB as empty ones: the upstream decides.
    assert_eq!(answer.status(), 400);
    answer.bytes().await.unwrap();
    let rows = s.rows().await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.model, None);
        assert!(row.messages.is_empty());
        assert!(row.error.as_deref().unwrap().contains("HTTP 400"), "{:?}", row.error);
    }
    assert!(length > observers_openai::MAX_ANSWER_BYTES);
}

#[tokio::test]
async fn a_client_leaving_mid_stream_cancels_the_upstream_and_is_recorded() {
    let mut g = Gated::start(|b| b).await;
    let mut answer = g.open_stream().await;
    g.gate.send_delta("one ");
    g.gate.send_delta("two ");
    let mut got = String::new();
    while !got.contains("two") {
        got += &String::from_utf8_lossy(&answer.next().await.unwrap().unwrap());
    }
    drop(answer);
    tokio::time::timeout(Duration::from_secs(5), g.gate.closed.take().unwrap())
        .await
        .expect("the upstream request was not cancelled")
        .unwrap();
    let (_, row, _) = g.shutdown_then_row().await;
    assert_eq!(row.assistant_message.as_deref(), Some("one two "));
    let error = row.error.as_deref().unwrap();
    assert!(error.contains("stopped reading the stream"), "{error}");
}

#[tokio::test]
async fn a_client_leaving_before_the_answer_is_recorded() {
    let s = Setup::new(Scenario::Stall).await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let sent = impatient.post(s.url("/v1/chat/completions")).body(chat_body("m", "Hi", false)).send().await;
    assert!(sent.unwrap_err().is_timeout());
    let row = s.only_row().await;
    let error = row.error.unwrap();
    assert!(error.contains("the client disconnected before the answer ended"), "{error}");
}

/// A record with what changes from run to run (ids, times, the mock's `created`) removed.
fn comparable(record: &ChatCompletionRecord) -> Value {
    let mut value = serde_json::to_value(record).unwrap();
    let object = value.as_object_mut().unwrap();
    for volatile in ["id", "timestamp", "latency_ms", "time_to_first_token_ms", "synced_at"] {
        object.remove(volatile);
    }
    object.insert("has_ttft".into(), record.time_to_first_token_ms.is_some().into());
    serde_json::from_str(&without_created(&value.to_string())).unwrap()
}

#[tokio::test]
async fn rows_equal_the_wrappers_rows() {
    let direct = MockOpenAi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrapper_store = DuckDbStore::open(dir.path().join("wrapper.db")).unwrap();
    let wrapped = wrap_openai(
        OpenAi::builder().base_url(direct.base_url()).api_key(KEY).build().unwrap(),
        wrapper_store.clone(),
    );
    let s = Setup::new(Scenario::Text).await;
    let through_proxy = OpenAi::builder().base_url(s.proxy().base_url()).api_key(KEY).build().unwrap();

    let question = |model: &str| {
        ChatCompletionRequest::new(model)
            .message(ChatMessage::system("You are terse."))
            .message(ChatMessage::user("What is the weather in Paris?"))
            .temperature(0.3)
    };
    let calls: Vec<(&str, bool, ChatCompletionRequest)> = vec![
        ("text", false, question("gpt-4o-mini")),
        (
            "text, include_usage",
            true,
            question("gpt-4o-mini").param("stream_options", json!({"include_usage": true})),
        ),
        ("tool calls", false, question("mock:tool_calls")),
        ("tool calls", true, question("mock:tool_calls")),
        ("HTTP 429", false, question("mock:http_error_429")),
        ("HTTP 429", true, question("mock:http_error_429")),
        ("error in a stream", true, question("mock:mid_stream_error")),
        ("error in a 200 body", false, question("mock:error_in_body")),
        ("quirky", true, question("mock:quirky")),
        ("malformed JSON", false, question("mock:malformed_json")),
        ("malformed SSE", true, question("mock:malformed_sse")),
        ("not UTF-8", true, question("mock:invalid_utf8")),
        ("vLLM", true, question("mock:vllm")),
    ];
    for (_, stream, request) in &calls {
        for client in [&wrapped, &through_proxy] {
            let completions = client.chat().completions();
            if *stream {
                if let Ok(mut chunks) = completions.create_stream(request.clone()).await {
                    while chunks.next().await.is_some() {}
                }
            } else {
                let _ = completions.create(request.clone()).await;
            }
        }
    }
    wrapper_store.flush().await.unwrap();
    let wrapper_rows = wrapper_store.unsynced(None, 100).await.unwrap();
    let proxy_rows = s.rows().await;
    assert_eq!(wrapper_rows.len(), calls.len());
    assert_eq!(proxy_rows.len(), calls.len());
    for ((name, stream, _), (wrapper, proxy)) in calls.iter().zip(wrapper_rows.iter().zip(&proxy_rows)) {
        assert_eq!(comparable(wrapper), comparable(proxy), "{name} (stream: {stream})");
    }
}

#[tokio::test]
async fn shutdown_lets_streams_finish_then_flushes() {
    let mut g = Gated::start(|b| b).await;
    let mut answer = g.open_stream().await;
    g.gate.send_delta("before ");
    answer.next().await.unwrap().unwrap();
    let (addr, store) = (g.proxy.addr(), g.store.clone());
    let Gated { gate, proxy, dir: _dir, .. } = g;
    let shutdown = tokio::spawn(proxy.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "a stopping proxy accepts no connection");
    assert!(!shutdown.is_finished(), "the stream in flight holds the shutdown");
    gate.send_delta("after");
    gate.send_end();
    let mut rest = String::new();
    while let Some(piece) = answer.next().await {
        rest += &String::from_utf8_lossy(&piece.unwrap());
    }
    assert!(rest.contains("after") && rest.ends_with("data: [DONE]\n\n"), "{rest}");
    let stats = shutdown.await.unwrap().unwrap();
    assert_eq!(stats.recorded, 1);
    // Flushed by the shutdown: no flush here.
    let row = &store.unsynced(None, 10).await.unwrap()[0];
    assert_eq!(row.assistant_message.as_deref(), Some("before after"));
    assert!(row.error.is_none());
}

#[tokio::test]
async fn shutdown_cuts_what_outlives_the_grace_period() {
    let mut g = Gated::start(|b| b.grace_period(Duration::from_millis(300))).await;
    let mut answer = g.open_stream().await;
    g.gate.send_delta("partial");
    answer.next().await.unwrap().unwrap();
    let (_, row, mut gate) = g.shutdown_then_row().await;
    assert!(answer.next().await.is_some_and(|piece| piece.is_err()), "the client sees its answer cut");
    assert_eq!(row.assistant_message.as_deref(), Some("partial"));
    let error = row.error.as_deref().unwrap();
    assert!(error.contains("the proxy shut down before the end of the stream"), "{error}");
    gate.closed.take().unwrap().await.unwrap();
}

#[tokio::test]
async fn plain_answers_match_the_mock_text() {
    let s = Setup::new(Scenario::Text).await;
    let client = OpenAi::builder().base_url(s.proxy().base_url()).api_key(KEY).build().unwrap();
    let completion = client
        .chat()
        .completions()
        .create(ChatCompletionRequest::new("m").message(ChatMessage::user("Hello there")))
        .await
        .unwrap();
    assert_eq!(completion.content(), Some(format!("{}Hello there", mock::MOCK_ANSWER_PREFIX).as_str()));
}

#[tokio::test]
async fn recording_options_apply_to_proxied_calls() {
    use observers_openai::{Capture, Masker, WrapOptions};
    let question = "Mail jane.doe@example.com about it";
    let masked = Setup::with(Scenario::Text, |b| {
        b.options(WrapOptions::default().mask(Masker::default()).tags(["proxy"]))
    })
    .await;
    let bare =
        Setup::with(Scenario::Text, |b| b.options(WrapOptions::default().content(Capture::MetadataOnly)))
            .await;
    for s in [&masked, &bare] {
        let answer = client()
            .post(s.url("/v1/chat/completions"))
            .body(chat_body("m", question, false))
            .send()
            .await
            .unwrap();
        assert!(
            answer.text().await.unwrap().contains("jane.doe@example.com"),
            "the client's answer is untouched"
        );
    }
    let row = masked.only_row().await;
    assert_eq!(row.tags, ["proxy"]);
    let text = serde_json::to_string(&row).unwrap();
    assert!(!text.contains("jane.doe@example.com") && row.messages[1].content.is_some(), "{text}");
    let row = bare.only_row().await;
    assert!(row.messages.is_empty() && row.assistant_message.is_none() && row.raw_response.is_none());
    assert!(row.total_tokens.is_some(), "token counts are kept");
}
