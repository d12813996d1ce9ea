//! Record every chat completion an [async-openai](https://docs.rs/async-openai) client makes,
//! with one change where the client is built.
//!
//! This crate provides:
//! - [`wrap`] / [`wrap_with`]: take an `async_openai::Client<C>` and give back the same
//!   type, whose `chat().create(..)` and `chat().create_stream(..)` are recorded in any
//!   [`Store`]; everything else it does is unchanged;
//! - [`Wrapper`]: the same, sending with your own `reqwest::Client` (timeouts, proxies) and
//!   retry count;
//! - [`RecordLayer`]: the recording as a tower layer, for a transport stack of your own.
//!
//! The rows are those [`observers_openai::wrap_openai`] writes for the same exchange: the
//! same columns, the same reassembly of streams and tool calls, the same errors, built by
//! the same code ([`observers_openai::Recorder`]) from the bytes on the wire. Observing adds
//! a few microseconds and never fails or changes a call: the caller gets what async-openai
//! would have given it. The client's API key never reaches a record.
//!
//! # Example
//! ```no_run
//! use async_openai::types::chat::{ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs};
//! use async_openai::Client;
//! use observers_store_duckdb::DuckDbStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The one change: wrap the client where it is built.
//! let client = observers_async_openai::wrap(Client::new(), DuckDbStore::open_default()?);
//!
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessage::from("Tell me a joke").into()])
//!     .build()?;
//! let response = client.chat().create(request).await?; // a row in ./store.db
//! println!("{:?}", response.choices[0].message.content);
//! # Ok(())
//! # }
//! ```
//!
//! # Per-call user, session and tags
//! async-openai's requests have no field for them, so they ride on `X-Observers-*` headers
//! of the call ([`RequestOptionsBuilder`](async_openai::traits::RequestOptionsBuilder)),
//! which the recording reads and removes: they reach the record, never the provider.
//! `X-Observers-Skip: 1` makes the call without recording it. OpenAI's own `user` field,
//! set on the request, is sent as usual.
//! ```no_run
//! # use async_openai::types::chat::CreateChatCompletionRequest;
//! use async_openai::traits::RequestOptionsBuilder;
//! use observers_openai::{SESSION_ID_HEADER, TAGS_HEADER, USER_ID_HEADER};
//!
//! # async fn run(client: async_openai::Client<async_openai::config::OpenAIConfig>, request: CreateChatCompletionRequest)
//! # -> Result<(), async_openai::error::OpenAIError> {
//! let response = client
//!     .chat()
//!     .header(USER_ID_HEADER, "u-42")? // column user_id
//!     .header(SESSION_ID_HEADER, "s-7")? // column session_id
//!     .header(TAGS_HEADER, "checkout,beta")? // added to the wrapper's tags
//!     .create(request)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # How it works, and what to know
//! The recording is a tower service installed with async-openai's
//! [`Client::with_http_service`](async_openai::Client::with_http_service) (its `middleware`
//! feature). So:
//! - **Wrap last.** A later `.with_http_client(..)` or `.with_http_service(..)` on the
//!   returned client replaces the recording and nothing more is recorded.
//! - **The `reqwest::Client` is ours.** async-openai does not hand back the one a client
//!   was built with; [`wrap`] sends with a default one, as `Client::new()` does. If yours
//!   sets timeouts, proxies or TLS roots, pass it to [`Wrapper::http_client`].
//! - **Retries are async-openai's.** Its default retry (3 retries of 429, 5xx and refused
//!   connections, with backoff) is kept, outside the recording: each attempt is a row.
//!   [`Wrapper::max_retries`] changes the count.
//! - **`OpenAIError::Boxed`.** The `middleware` feature adds the variant
//!   `async_openai::error::OpenAIError::Boxed` to your build (features unify, and the enum is
//!   not `#[non_exhaustive]`): an exhaustive `match` on `OpenAIError` without a wildcard arm
//!   needs one more arm.
//! - **Only chat completions** (`POST …/chat/completions`, also Azure's deployment URLs) are
//!   recorded; every other call passes through untouched.
//! - **Options.** Tags, properties, sampling, [`Capture`](observers_openai::Capture),
//!   [`Masker`](observers_openai::Masker) and the redaction function of
//!   [`WrapOptions`] apply. `default_arguments` and `stream_usage` do not, since the request
//!   is async-openai's: set them on the request (`stream_options` for usage).
//! - **Differences from [`wrap_openai`](observers_openai::wrap_openai)**: the client has no
//!   64 MiB limit on a whole answer, so neither does its record; a timeout is recorded as a
//!   failed connection whose message says it timed out (the limit in force is the
//!   `reqwest::Client`'s, unknown here); a stream the caller drops early is recorded with the
//!   error "the client stopped reading the stream before its end" (async-openai reads ahead
//!   of its caller, so a stream whose body had already arrived is recorded whole). A call
//!   whose future is dropped before its answer comes is not recorded, as with `wrap_openai`.
//!
//! ## Crate Feature Flags
//! None. async-openai is used with `default-features = false` and the features
//! `chat-completion` and `middleware`; it shares the workspace's reqwest 0.13 (one HTTP
//! stack). Enable its TLS feature (`rustls`) in your own dependency as usual.
//!
//! The minimum supported Rust version is 1.88.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod service;

use std::fmt;
use std::sync::Arc;

use async_openai::config::Config;
use async_openai::middleware::retry::OpenAIRetryLayer;
use async_openai::middleware::ReqwestService;
use async_openai::Client;
use observers_core::Store;
use observers_openai::Recorder;
pub use observers_openai::WrapOptions;
use secrecy::ExposeSecret;

pub use crate::service::RecordService;

/// Wraps an async-openai `client` so that every chat completion it makes is recorded in
/// `store`; returns the same client type. See the [crate] docs for what changes.
///
/// # Example
/// ```
/// use async_openai::config::OpenAIConfig;
/// use async_openai::Client;
/// use observers_store_duckdb::DuckDbStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = OpenAIConfig::new().with_api_base("http://localhost:11434/v1"); // Ollama
/// let client: Client<OpenAIConfig> =
///     observers_async_openai::wrap(Client::with_config(config), DuckDbStore::open(":memory:")?);
/// # Ok(())
/// # }
/// ```
pub fn wrap<C: Config>(client: Client<C>, store: impl Store) -> Client<C> {
    wrap_with(client, store, WrapOptions::default())
}

/// [`wrap`] with options: tags, properties, sampling, content policy, masking, redaction.
///
/// # Example
/// ```
/// use async_openai::Client;
/// use observers_async_openai::{wrap_with, WrapOptions};
/// use observers_store_duckdb::DuckDbStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = WrapOptions::default().tags(["production"]).logging_rate(0.5);
/// let client = wrap_with(Client::new(), DuckDbStore::open(":memory:")?, options);
/// # Ok(())
/// # }
/// ```
pub fn wrap_with<C: Config>(client: Client<C>, store: impl Store, options: WrapOptions) -> Client<C> {
    Wrapper::new(store, options).wrap(client)
}

/// Wraps async-openai clients, with a `reqwest::Client` and a retry count of your own.
///
/// Cheap to clone; one wrapper can wrap several clients, all recording into its store.
///
/// # Example
/// ```
/// use std::time::Duration;
///
/// use async_openai::Client;
/// use observers_async_openai::{WrapOptions, Wrapper};
/// use observers_store_duckdb::DuckDbStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The reqwest client yours was built with: async-openai does not hand it back.
/// let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
/// let wrapper = Wrapper::new(DuckDbStore::open(":memory:")?, WrapOptions::default())
///     .http_client(http)
///     .max_retries(5);
/// let client = wrapper.wrap(Client::new());
/// assert_eq!(wrapper.records_lost(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Wrapper {
    layer: RecordLayer,
    http: Option<reqwest::Client>,
    max_retries: usize,
}

impl fmt::Debug for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wrapper")
            .field("layer", &self.layer)
            .field("http_client", &self.http.is_some())
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// async-openai's own default: retries after the first attempt.
const DEFAULT_MAX_RETRIES: usize = 3;

impl Wrapper {
    /// A wrapper recording into `store` with `options`; it sends with a default
    /// `reqwest::Client` and retries as async-openai does by default (3 retries).
    pub fn new(store: impl Store, options: WrapOptions) -> Wrapper {
        Wrapper { layer: RecordLayer::new(store, options), http: None, max_retries: DEFAULT_MAX_RETRIES }
    }

    /// Sends with this `reqwest::Client`: pass the one your async-openai client was built
    /// with (`Client::build` or `with_http_client`), so its timeouts, proxies and TLS
    /// settings still apply.
    pub fn http_client(mut self, http: reqwest::Client) -> Wrapper {
        self.http = Some(http);
        self
    }

    /// How many times a call that failed with 429, 5xx or a refused connection is retried
    /// (async-openai's `OpenAIRetryLayer`; default 3, 0 for none). Each attempt is a row.
    pub fn max_retries(mut self, max_retries: usize) -> Wrapper {
        self.max_retries = max_retries;
        self
    }

    /// Wraps `client`: the same client, its calls recorded. Its configuration (base URL,
    /// API key, headers, Azure deployment) is kept; its transport is replaced.
    pub fn wrap<C: Config>(&self, client: Client<C>) -> Client<C> {
        let layer = self.layer.clone().api_key(client.config().api_key().expose_secret());
        let http = self.http.clone().unwrap_or_default();
        let service = tower::ServiceBuilder::new()
            .layer(OpenAIRetryLayer::new(self.max_retries))
            .layer(layer)
            .service(ReqwestService::new(http));
        client.with_http_service(service)
    }

    /// Records that could not be handed to the store (store closed or failing); each was
    /// logged.
    pub fn records_lost(&self) -> u64 {
        self.layer.records_lost()
    }
}

/// The recording as a tower [`Layer`](tower::Layer) over async-openai's transport, for a
/// stack of your own (rate limits, tracing, another retry policy).
///
/// Put it inside any retry layer, so that each attempt is recorded with its own status and
/// body, and over a service that sends (`ReqwestService`). Install the stack with
/// `Client::with_http_service`. [`Wrapper`] builds the usual stack.
///
/// # Example
/// ```
/// use async_openai::middleware::retry::OpenAIRetryLayer;
/// use async_openai::middleware::ReqwestService;
/// use async_openai::Client;
/// use observers_async_openai::{RecordLayer, WrapOptions};
/// use observers_store_duckdb::DuckDbStore;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = RecordLayer::new(DuckDbStore::open(":memory:")?, WrapOptions::default())
///     .api_key(std::env::var("OPENAI_API_KEY").unwrap_or_default());
/// let stack = tower::ServiceBuilder::new()
///     .layer(OpenAIRetryLayer::new(2))
///     .layer(layer)
///     .service(ReqwestService::new(reqwest::Client::new()));
/// let client = Client::new().with_http_service(stack);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RecordLayer {
    shared: Arc<Shared>,
}

/// What every call of a [`RecordLayer`]'s services needs: one `Arc` clone per call.
pub(crate) struct Shared {
    pub(crate) recorder: Recorder,
    /// Kept out of every record.
    pub(crate) api_key: Option<Arc<str>>,
}

impl fmt::Debug for RecordLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLayer")
            .field("recorder", &self.shared.recorder)
            .field("api_key", &self.shared.api_key.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl RecordLayer {
    /// A layer recording into `store` with `options`.
    pub fn new(store: impl Store, options: WrapOptions) -> RecordLayer {
        RecordLayer { shared: Arc::new(Shared { recorder: Recorder::new(store, options), api_key: None }) }
    }

    /// The API key the client sends: removed from every record, wherever a request or a
    /// server's answer holds it. [`Wrapper`] passes the client's own.
    pub fn api_key(self, api_key: impl AsRef<str>) -> RecordLayer {
        let api_key = Some(api_key.as_ref()).filter(|k| !k.is_empty()).map(Arc::from);
        RecordLayer { shared: Arc::new(Shared { recorder: self.shared.recorder.clone(), api_key }) }
    }

    /// Records that could not be handed to the store (store closed or failing); each was
    /// logged.
    pub fn records_lost(&self) -> u64 {
        self.shared.recorder.records_lost()
    }
}

impl<S> tower::Layer<S> for RecordLayer {
    type Service = RecordService<S>;

    fn layer(&self, inner: S) -> RecordService<S> {
        RecordService::new(inner, self.shared.clone())
    }
}
