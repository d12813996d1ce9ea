#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Drives `MockOpenAi` over real HTTP with a raw `reqwest` client and checks the wire shapes.

use std::time::{Duration, Instant};

use observers_testkit::openai::{
    HF_ROUTER_MODEL, LLAMA_CPP_MODEL, MID_STREAM_ERROR_MESSAGE, MOCK_ANSWER_PREFIX, OLLAMA_MODEL,
    SCENARIO_HEADER, TGI_MODEL, TIME_TOOL_ARGUMENTS, TIME_TOOL_CALL_ID, TIME_TOOL_NAME, VLLM_MODEL,
    WEATHER_TOOL_ARGUMENTS, WEATHER_TOOL_CALL_ID, WEATHER_TOOL_NAME,
};
use observers_testkit::{MockOpenAi, Scenario};
use serde_json::{json, Value};

const QUESTION: &str = "What is the weather in Paris today?";
/// Words in the system and user messages of `body()`.
const PROMPT_WORDS: u64 = 3 + 7;

fn body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": QUESTION},
        ],
    })
}

fn with_usage(mut body: Value) -> Value {
    body["stream_options"] = json!({"include_usage": true});
    body
}

fn answer() -> String {
    format!("{MOCK_ANSWER_PREFIX}{QUESTION}")
}

fn answer_words() -> u64 {
    answer().split_whitespace().count() as u64
}

async fn post_with(server: &MockOpenAi, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.base_url()))
        .bearer_auth("sk-test-key")
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn post(server: &MockOpenAi, body: &Value) -> reqwest::Response {
    post_with(server, body, &[]).await
}

/// Posts to a server started with `scenario`; returns status, content type and body text.
async fn exchange(scenario: Scenario, body: &Value) -> (u16, String, String) {
    let server = MockOpenAi::start_with(scenario).await.unwrap();
    let response = post(&server, body).await;
    let status = response.status().as_u16();
    let content_type = header(&response, "content-type");
    (status, content_type, response.text().await.unwrap())
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The `data` payloads of an SSE body (lenient: CRLF, optional space, comments skipped).
fn sse_data(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data:")))
        .map(|data| data.strip_prefix(' ').unwrap_or(data).to_owned())
        .collect()
}

/// Every JSON chunk of an SSE body (skips `[DONE]`, panics on anything else that is not JSON).
fn sse_chunks(text: &str) -> Vec<Value> {
    sse_data(text)
        .iter()
        .filter(|data| data.as_str() != "[DONE]")
        .map(|data| serde_json::from_str(data).unwrap_or_else(|err| panic!("{err}: {data}")))
        .collect()
}

/// Concatenation of `choices[0].delta.content` over all chunks.
fn streamed_content(chunks: &[Value]) -> String {
    chunks.iter().filter_map(|chunk| chunk.pointer("/choices/0/delta/content")?.as_str()).collect()
}

/// `(index, id, name, arguments)` of every tool-call fragment.
fn tool_fragments(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|chunk| chunk.pointer("/choices/0/delta/tool_calls")?.as_array().cloned())
        .flatten()
        .collect()
}

fn content_chunk_count(chunks: &[Value]) -> usize {
    chunks
        .iter()
        .filter(|chunk| {
            chunk.pointer("/choices/0/delta/content").and_then(Value::as_str).is_some_and(|c| !c.is_empty())
        })
        .count()
}

#[tokio::test]
async fn text_non_stream_is_an_openai_completion() {
    let (status, content_type, text) = exchange(Scenario::Text, &body("gpt-4o-mini", false)).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    assert!(text.starts_with(r#"{"id":"chatcmpl-mock-1","object":"chat.completion","created":"#), "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["model"], "gpt-4o-mini");
    assert_eq!(json["choices"][0]["message"]["role"], "assistant");
    assert_eq!(json["choices"][0]["message"]["content"], answer());
    assert_eq!(json["choices"][0]["finish_reason"], "stop");
    assert_eq!(json["usage"]["prompt_tokens"], PROMPT_WORDS);
    assert_eq!(json["usage"]["completion_tokens"], answer_words());
    assert_eq!(json["usage"]["total_tokens"], PROMPT_WORDS + answer_words());
}

#[tokio::test]
async fn text_stream_deltas_concatenate_to_the_non_stream_answer() {
    let server = MockOpenAi::start().await.unwrap();
    let response = post(&server, &body("gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("data: {\"id\":\"chatcmpl-mock-1\",\"object\":\"chat.completion.chunk\""),
        "{text}"
    );
    assert!(text.ends_with("\n\ndata: [DONE]\n\n"), "{text}");
    assert!(text.split("\n\n").filter(|e| !e.is_empty()).all(|e| e.starts_with("data: ")));
    let chunks = sse_chunks(&text);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert_eq!(streamed_content(&chunks), answer());
    assert_eq!(content_chunk_count(&chunks) as u64, answer_words());
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()), "no usage without include_usage");

    let non_stream: Value = post(&server, &body("gpt-4o", false)).await.json().await.unwrap();
    assert_eq!(non_stream["choices"][0]["message"]["content"], streamed_content(&chunks));
}

#[tokio::test]
async fn include_usage_adds_a_final_usage_chunk() {
    let (_, _, text) = exchange(Scenario::Text, &with_usage(body("gpt-4o", true))).await;
    let chunks = sse_chunks(&text);
    let (usage_chunk, others) = chunks.split_last().unwrap();
    assert!(others.iter().all(|chunk| chunk["usage"].is_null() && chunk.get("usage").is_some()));
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], PROMPT_WORDS);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], answer_words());
    assert_eq!(usage_chunk["usage"]["total_tokens"], PROMPT_WORDS + answer_words());
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn tool_calls_non_stream() {
    let (status, _, text) = exchange(Scenario::ToolCalls, &body("gpt-4o", false)).await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&text).unwrap();
    let choice = &json["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([
            {"id": WEATHER_TOOL_CALL_ID, "type": "function",
             "function": {"name": WEATHER_TOOL_NAME, "arguments": WEATHER_TOOL_ARGUMENTS}},
            {"id": TIME_TOOL_CALL_ID, "type": "function",
             "function": {"name": TIME_TOOL_NAME, "arguments": TIME_TOOL_ARGUMENTS}},
        ])
    );
}

#[tokio::test]
async fn tool_calls_stream_in_fragments() {
    let (status, content_type, text) = exchange(Scenario::ToolCalls, &with_usage(body("gpt-4o", true))).await;
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    let chunks = sse_chunks(&text);
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": null}));
    let fragments = tool_fragments(&chunks);
    for (index, (id, name, arguments)) in [
        (WEATHER_TOOL_CALL_ID, WEATHER_TOOL_NAME, WEATHER_TOOL_ARGUMENTS),
        (TIME_TOOL_CALL_ID, TIME_TOOL_NAME, TIME_TOOL_ARGUMENTS),
    ]
    .into_iter()
    .enumerate()
    {
        let mine: Vec<&Value> = fragments.iter().filter(|f| f["index"] == index).collect();
        assert!(mine.len() > 2, "arguments split over several chunks");
        assert_eq!(mine[0]["id"], id);
        assert_eq!(mine[0]["type"], "function");
        assert_eq!(mine[0]["function"]["name"], name);
        assert!(mine[1..].iter().all(|f| f.get("id").is_none() && f["function"].get("name").is_none()));
        let joined: String = mine.iter().map(|f| f["function"]["arguments"].as_str().unwrap()).collect();
        assert_eq!(joined, arguments);
        // Split mid-token: some fragment is not valid JSON on its own.
        assert!(mine.iter().any(|f| {
            let piece = f["function"]["arguments"].as_str().unwrap();
            !piece.is_empty() && serde_json::from_str::<Value>(piece).is_err()
        }));
    }
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
}

#[tokio::test]
async fn http_errors_have_openai_bodies() {
    let server = MockOpenAi::start().await.unwrap();
    for status in [400_u16, 401, 403, 404, 418, 429, 500, 502, 503] {
        server.set_scenario(Scenario::HttpError(status));
        let response = post(&server, &body("gpt-4o", status % 2 == 0)).await;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(header(&response, "content-type"), "application/json");
        let retry_after = header(&response, "retry-after");
        let reset = header(&response, "x-ratelimit-reset-requests");
        let json: Value = response.json().await.unwrap();
        let error = json["error"].as_object().unwrap();
        let keys: Vec<&str> = error.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{json}");
        for key in ["message", "type", "param", "code"] {
            assert!(error.contains_key(key), "{status}: {json}");
        }
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        match status {
            429 => {
                assert_eq!(retry_after, "1");
                assert_eq!(reset, "1s");
                assert_eq!(error["code"], "rate_limit_exceeded");
            }
            500 => {
                assert_eq!(error["type"], "server_error");
                assert_eq!(
                    error["message"],
                    "The server had an error while processing your request. Sorry about that!"
                );
            }
            401 => assert_eq!(error["code"], "invalid_api_key"),
            _ => assert_eq!(retry_after, ""),
        }
    }
}

#[tokio::test]
async fn disconnect_mid_stream_fails_the_body_read() {
    let server = MockOpenAi::start_with(Scenario::DisconnectMidStream).await.unwrap();
    let mut response = post(&server, &body("gpt-4o", true)).await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => panic!("the body ended cleanly: {}", String::from_utf8_lossy(&received)),
            Err(err) => break err,
        }
    };
    assert!(error.is_body() || error.is_decode() || error.is_request(), "{error:?}");
    let text = String::from_utf8(received).unwrap();
    let chunks = sse_chunks(&text);
    assert_eq!(chunks.len(), 4, "role + 3 content chunks: {text}");
    assert_eq!(content_chunk_count(&chunks), 3);
    assert!(!text.contains("[DONE]"));

    let non_stream = post(&server, &body("gpt-4o", false)).await;
    assert!(non_stream.bytes().await.is_err());
}

#[tokio::test]
async fn slow_first_token_delays_the_first_byte() {
    let delay = Duration::from_millis(250);
    let server = MockOpenAi::start_with(Scenario::SlowFirstToken(delay)).await.unwrap();

    let started = Instant::now();
    let mut response = post(&server, &body("gpt-4o", true)).await;
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let first = response.chunk().await.unwrap().unwrap();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert!(first.starts_with(b"data: "));
    let mut text = String::from_utf8(first.to_vec()).unwrap();
    text.push_str(&response.text().await.unwrap());
    assert_eq!(streamed_content(&sse_chunks(&text)), answer());

    let started = Instant::now();
    let json: Value = post(&server, &body("gpt-4o", false)).await.json().await.unwrap();
    assert!(started.elapsed() >= delay);
    assert_eq!(json["choices"][0]["message"]["content"], answer());
}

#[tokio::test]
async fn stall_hits_the_client_timeout() {
    let server = MockOpenAi::start_with(Scenario::Stall).await.unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let started = Instant::now();
    let error = client
        .post(format!("{}/chat/completions", server.base_url()))
        .json(&body("gpt-4o", true))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.requests().len(), 1, "the stalled request was received");
}

#[tokio::test]
async fn malformed_json_is_cut_short() {
    let (status, content_type, text) = exchange(Scenario::MalformedJson, &body("gpt-4o", false)).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert!(text.starts_with(r#"{"id":"chatcmpl-mock-"#));
    assert!(serde_json::from_str::<Value>(&text).unwrap_err().is_eof());
}

#[tokio::test]
async fn malformed_sse_has_one_bad_event() {
    let (status, content_type, text) = exchange(Scenario::MalformedSse, &body("gpt-4o", true)).await;
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    let data = sse_data(&text);
    assert_eq!(data[1], "{not json}");
    assert_eq!(data.last().unwrap(), "[DONE]");
    let valid: Vec<Value> = data.iter().filter_map(|d| serde_json::from_str(d).ok()).collect();
    assert_eq!(valid.len(), data.len() - 2);
    assert_eq!(streamed_content(&valid), answer());
}

#[tokio::test]
async fn mid_stream_error_ends_with_a_vllm_error_event() {
    let (status, _, text) = exchange(Scenario::MidStreamError, &body("gpt-4o", true)).await;
    assert_eq!(status, 200);
    assert!(!text.contains("[DONE]"));
    let chunks = sse_chunks(&text);
    assert_eq!(content_chunk_count(&chunks), 2);
    assert_eq!(
        chunks.last().unwrap(),
        &json!({"error": {"object": "error", "message": MID_STREAM_ERROR_MESSAGE,
                          "type": "InternalServerError", "param": null, "code": 500}})
    );
    assert!(text.ends_with("\"code\":500}}\n\n"));

    let (status, _, text) = exchange(Scenario::MidStreamError, &body("gpt-4o", false)).await;
    assert_eq!(status, 500);
    assert!(text.contains("InternalServerError"));
}

/// Non-stream body, stream chunks and raw stream text of a provider scenario.
async fn provider(scenario: Scenario, include_usage: bool) -> (Value, String, Vec<Value>) {
    let server = MockOpenAi::start_with(scenario).await.unwrap();
    let non_stream: Value = post(&server, &body("ignored", false)).await.json().await.unwrap();
    let mut stream_body = body("ignored", true);
    if include_usage {
        stream_body = with_usage(stream_body);
    }
    let response = post(&server, &stream_body).await;
    assert_eq!(header(&response, "content-type"), "text/event-stream");
    let text = response.text().await.unwrap();
    let chunks = sse_chunks(&text);
    assert_eq!(streamed_content(&chunks), answer(), "stream == non-stream answer");
    assert_eq!(non_stream.pointer("/choices/0/message/content").unwrap(), &answer());
    (non_stream, text, chunks)
}

#[tokio::test]
async fn vllm_shapes() {
    let (json, text, chunks) = provider(Scenario::Vllm, true).await;
    assert_eq!(json["model"], VLLM_MODEL);
    assert!(json["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(json["choices"][0].as_object().unwrap().contains_key("stop_reason"));
    assert_eq!(json["choices"][0]["message"]["tool_calls"], json!([]));
    assert!(json["choices"][0]["message"]["reasoning_content"].is_null());
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({"content": ""}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert!(finish["choices"][0].as_object().unwrap().contains_key("stop_reason"));
    assert!(chunks[..chunks.len() - 1].iter().all(|chunk| chunk.get("usage").is_none()));
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], answer_words());
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn tgi_shapes() {
    let (json, text, chunks) = provider(Scenario::Tgi, false).await;
    assert_eq!(json["id"], "");
    assert_eq!(json["model"], TGI_MODEL);
    assert!(text.starts_with("data:{\"object\":\"chat.completion.chunk\",\"id\":\"\""), "{text}");
    assert!(text.ends_with("\n\ndata:[DONE]\n\n"));
    assert!(chunks.iter().all(|chunk| chunk["choices"][0]["delta"]["role"] == "assistant"));
    assert!(chunks.iter().all(|chunk| chunk.get("usage") == Some(&Value::Null)));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["delta"]["content"], "");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn ollama_shapes() {
    let (json, text, chunks) = provider(Scenario::Ollama, true).await;
    let id = json["id"].as_str().unwrap();
    assert!(id.strip_prefix("chatcmpl-").unwrap().parse::<u16>().unwrap() < 999);
    assert_eq!(json["model"], OLLAMA_MODEL);
    assert_eq!(json["system_fingerprint"], "fp_ollama");
    assert!(!json["choices"][0].as_object().unwrap().contains_key("logprobs"));
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(chunks.last().unwrap()["usage"]["prompt_tokens"], PROMPT_WORDS);
    assert!(text.starts_with("data: {\"id\":\"chatcmpl-"));
}

#[tokio::test]
async fn llama_cpp_shapes() {
    let (json, text, chunks) = provider(Scenario::LlamaCpp, false).await;
    assert_eq!(json["model"], LLAMA_CPP_MODEL);
    assert_eq!(json["timings"]["predicted_n"], answer_words());
    let first =
        r#"data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}]"#;
    assert!(text.starts_with(first), "{text}");
    assert!(chunks.iter().all(|chunk| chunk["model"] == ""));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last.get("timings").is_some());
    assert!(chunks[..chunks.len() - 1].iter().all(|chunk| chunk.get("timings").is_none()));

    let (_, _, chunks) = provider(Scenario::LlamaCpp, true).await;
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last.get("usage").is_some() && last.get("timings").is_some());
}

#[tokio::test]
async fn hf_router_shapes() {
    let (json, text, chunks) = provider(Scenario::HfRouter, false).await;
    assert_eq!(json["model"], HF_ROUTER_MODEL);
    assert!(json["id"].as_str().unwrap().ends_with("-SJC"));
    assert_eq!(json["choices"][0]["finish_reason"], "eos");
    assert!(json["choices"][0]["seed"].as_u64().unwrap() > i64::MAX as u64);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "eos");
    assert_eq!(last["usage"]["completion_tokens"], answer_words());
    assert!(chunks[..chunks.len() - 1].iter().all(|chunk| chunk["usage"].is_null()));
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn quirky_stream_has_every_framing_quirk() {
    let (status, content_type, text) = exchange(Scenario::Quirky, &body("gpt-4o", true)).await;
    assert_eq!((status, content_type.as_str()), (200, "text/event-stream"));
    assert!(text.starts_with(": keep-alive\r\n\r\ndata:{"), "{text}");
    assert!(text.matches(": keep-alive\r\n\r\n").count() >= 2);
    assert!(!text.replace("\r\n", "").contains('\n'), "only CRLF line endings");
    assert!(!text.contains("data: "));
    assert!(!text.contains("[DONE]"));
    let chunks = sse_chunks(&text);
    assert_eq!(streamed_content(&chunks), answer());
    let fragments = tool_fragments(&chunks);
    assert!(fragments.iter().any(|f| f.get("index").is_none() && f["id"] == WEATHER_TOOL_CALL_ID));
    assert!(fragments.iter().any(|f| f["index"] == 0 && f["id"] == TIME_TOOL_CALL_ID));
    assert!(fragments.iter().all(|f| f["index"].is_null() || f["index"] == 0));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(last["usage"]["prompt_tokens"], PROMPT_WORDS);
}

#[tokio::test]
async fn quirky_non_stream_lacks_the_usual_fields() {
    let (status, _, text) = exchange(Scenario::Quirky, &body("gpt-4o", false)).await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&text).unwrap();
    for missing in ["id", "created", "object", "usage"] {
        assert!(json.get(missing).is_none(), "{missing}");
    }
    assert!(json.get("provider").is_some());
    let message = &json["choices"][0]["message"];
    assert!(message.as_object().unwrap().contains_key("content") && message["content"].is_null());
    assert_eq!(message["tool_calls"][1]["function"]["name"], TIME_TOOL_NAME);
}

#[tokio::test]
async fn scenario_selection_header_then_model_then_default() {
    let server = MockOpenAi::start().await.unwrap();
    let plain = body("gpt-4o", false);
    let mock_model = body("mock:tool_calls", false);

    let json: Value = post(&server, &plain).await.json().await.unwrap();
    assert_eq!(json["choices"][0]["finish_reason"], "stop", "default is Text");

    let json: Value = post(&server, &mock_model).await.json().await.unwrap();
    assert_eq!(json["choices"][0]["finish_reason"], "tool_calls", "mock: model");
    assert_eq!(json["model"], "mock:tool_calls");

    let response = post_with(&server, &mock_model, &[(SCENARIO_HEADER, "http_error_429")]).await;
    assert_eq!(response.status(), 429, "the header wins over the model");

    server.set_scenario(Scenario::Tgi);
    let json: Value = post(&server, &plain).await.json().await.unwrap();
    assert_eq!(json["id"], "", "set_scenario changes the default");

    let response = post_with(&server, &plain, &[(SCENARIO_HEADER, "no_such_scenario")]).await;
    assert_eq!(response.status(), 400);
    let response = post(&server, &body("mock:nope", false)).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn requests_are_recorded_with_headers_and_body() {
    let server = MockOpenAi::start().await.unwrap();
    let request_body = body("gpt-4o", false);
    post_with(&server, &request_body, &[("X-Custom", "yes")]).await.text().await.unwrap();
    let models: Value =
        reqwest::get(format!("{}/models", server.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(models["object"], "list");
    assert!(models["data"].as_array().unwrap().iter().any(|model| model["id"] == "mock:tool_calls"));
    let missing = reqwest::get(format!("{}/nowhere", server.base_url())).await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Invalid URL (GET /v1/nowhere)");

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let chat = &requests[0];
    assert_eq!((chat.method.as_str(), chat.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(chat.header("Authorization"), Some("Bearer sk-test-key"));
    assert_eq!(chat.header("x-custom"), Some("yes"));
    assert_eq!(chat.header("content-type"), Some("application/json"));
    assert_eq!(chat.json(), Some(request_body));
    assert_eq!((requests[1].method.as_str(), requests[1].path.as_str()), ("GET", "/v1/models"));
    assert_eq!(requests[2].path, "/v1/nowhere");
    assert!(requests[1].json().is_none());
}

#[tokio::test]
async fn chat_completions_without_v1_prefix() {
    let server = MockOpenAi::start().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("http://{}/chat/completions", server.addr()))
        .json(&body("gpt-4o", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.base_url(), format!("http://127.0.0.1:{}/v1", server.addr().port()));
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = MockOpenAi::start_with(Scenario::Stall).await.unwrap();
    let url = format!("{}/models", server.base_url());
    assert!(format!("{server:?}").contains("Stall"));
    drop(server);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
    let mut refused = false;
    for _ in 0..50 {
        if client.get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the server still answers after drop");
}
