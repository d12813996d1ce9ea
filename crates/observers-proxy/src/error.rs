//! Errors of the proxy: what stops it from starting, or from stopping cleanly. Requests never
//! fail with these: a request the proxy cannot forward gets an OpenAI-shaped error answer.

use std::net::SocketAddr;

/// Why the proxy could not start, or could not flush its store when it stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An upstream base URL is not an `http(s)://` URL the proxy can append paths to.
    #[error("the {what} {url:?} is not a usable base URL: {reason}")]
    InvalidUrl {
        /// Which URL (`upstream`, `route hf`).
        what: String,
        /// The URL as given, without credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A route name cannot be a path segment, or is given twice.
    #[error("invalid route {name:?}: {reason}")]
    InvalidRoute {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An upstream key holds characters an HTTP header cannot carry.
    #[error("the API key of the {what} cannot be sent in an HTTP header (it holds control characters or non-ASCII bytes); check the variable it comes from")]
    InvalidKey {
        /// Which upstream (`upstream`, `route hf`).
        what: String,
    },
    /// No store was given.
    #[error(
        "no store: give the proxy one with `.store(..)` (a DuckDbStore, a HubStore, a Fanout of both...)"
    )]
    NoStore,
    /// The listening address is reachable from other machines and no access token was set.
    #[error(
        "refusing to listen on {addr} without an access token: it is not a loopback address, so \
         anyone who can reach it could spend the upstream keys and write into the store; set a token \
         (`--require-token-env NAME`, or `ProxyBuilder::access_token`) that clients send as \
         `Authorization: Bearer <token>` or `X-Observers-Token: <token>`, or listen on 127.0.0.1"
    )]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The upstream is the proxy's own address: every request would loop back to it.
    #[error(
        "the upstream {url} is this proxy's own address ({addr}), so requests would loop back to it \
         (is OPENAI_BASE_URL already pointing at the proxy?); pass the real API with --upstream"
    )]
    UpstreamIsProxy {
        /// The upstream URL, without credentials.
        url: String,
        /// The proxy's address.
        addr: SocketAddr,
    },
    /// The listening socket could not be opened.
    #[error(
        "could not listen on {addr}: {source}; is another process using the port? pick another with --listen"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for upstream requests could not be built (TLS roots...).
    #[error("could not build the HTTP client for upstream requests: {0}")]
    Client(String),
    /// The server task ended abnormally (it panicked, or its runtime shut down).
    #[error("the proxy's server task ended abnormally: {0}")]
    Stopped(String),
    /// Flushing the store at shutdown failed: some records may not be durable.
    #[error("the store could not flush at shutdown: {0}")]
    Flush(#[source] observers_core::StoreError),
}

/// `Result` with the proxy's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
