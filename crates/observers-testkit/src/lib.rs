//! Loopback servers that speak the OpenAI and Hugging Face Hub wire protocols, for offline
//! tests.
//!
//! [`MockOpenAi`] binds `127.0.0.1` on a free port and answers `POST /v1/chat/completions`
//! the way real OpenAI-compatible servers do (OpenAI itself, vLLM, TGI, Ollama, llama.cpp, the
//! Hugging Face router), including their failure modes: HTTP errors, dropped connections,
//! stalls, malformed JSON and SSE, errors inside a stream, answers of any size up to 1 GiB,
//! bytes that are not UTF-8. A [`Scenario`] picks the behaviour;
//! every request is recorded as a [`ReceivedRequest`].
//!
//! [`FakeHub`] does the same for the Hugging Face Hub's dataset-repo protocol (repo creation,
//! preupload, LFS batch with single and multipart uploads, NDJSON commits, tree, paths-info
//! and downloads), faithful enough for the official `huggingface_hub` and `datasets` clients;
//! see the [`hub`] module.
//!
//! [`phoenix::Phoenix`] runs a real Arize Phoenix from the test venv, for the OpenTelemetry
//! store's tests: spans go in over OTLP and come back through Phoenix's own Python client.
//!
//! ```
//! use observers_testkit::openai::{MockOpenAi, Scenario, SCENARIO_HEADER};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockOpenAi::start_with(Scenario::ToolCalls).await?;
//! let request = serde_json::json!({
//!     "model": "gpt-4o-mini",
//!     "messages": [{"role": "user", "content": "Weather in Paris?"}],
//! });
//! let response = reqwest::Client::new()
//!     .post(format!("{}/chat/completions", server.base_url()))
//!     .header(SCENARIO_HEADER, "http_error_429") // this request only
//!     .json(&request)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 429);
//! assert_eq!(server.requests()[0].json(), Some(request));
//! # Ok(())
//! # }
//! ```

pub mod bench;
pub mod hub;
pub mod openai;
pub mod otlp;
pub mod phoenix;
pub mod records;
pub mod tools;

pub use hub::FakeHub;
pub use openai::{MockOpenAi, ReceivedRequest, Scenario};
