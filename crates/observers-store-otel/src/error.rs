//! Errors of the OpenTelemetry store.

use observers_core::StoreError;

/// What can go wrong configuring or starting an [`OtelStore`](crate::OtelStore).
///
/// Exporting never returns an error to a caller: a collector that is down or refuses spans
/// costs counted drops ([`OtelStore::dropped`](crate::OtelStore::dropped)) and a rate-limited
/// warning. Messages never contain a header value (they often hold credentials).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The collector endpoint is not an `http://` or `https://` URL with a host.
    #[error(
        "invalid OTLP endpoint {endpoint:?} (from {source_name}): {reason}; give a full URL such as \
         `http://localhost:4318/v1/traces` (HTTP) or `http://localhost:4317` (gRPC)"
    )]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Where it came from (`.endpoint(..)` or an environment variable).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header (from `.header(..)` or `OTEL_EXPORTER_OTLP_HEADERS`) cannot be sent. The value
    /// is never shown.
    #[error(
        "invalid OTLP header in {source_name}: {reason}; headers are `key=value` pairs separated \
         by commas, values percent-encoded (e.g. `authorization=Bearer%20<token>`)"
    )]
    InvalidHeader {
        /// `.header(..)` or the environment variable.
        source_name: String,
        /// What is wrong (the entry's position or key, never its value).
        reason: String,
    },
    /// A resource attribute (from `OTEL_RESOURCE_ATTRIBUTES`) is not `key=value`.
    #[error(
        "invalid resource attribute in {source_name}: {reason}; write `key=value` pairs separated \
         by commas (e.g. `deployment.environment=prod,service.version=1.2`)"
    )]
    InvalidResourceAttribute {
        /// The environment variable.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// An environment variable holds a value this store cannot use.
    #[error("{variable}={value:?} is not valid: {expected}")]
    InvalidEnv {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// gRPC was asked for, but the crate was built without its `grpc` feature.
    #[error(
        "OTLP over gRPC was requested ({source_name}) but observers-store-otel was built without \
         its `grpc` feature: enable it, or use OTLP over HTTP (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, \
         port 4318)"
    )]
    GrpcNotEnabled {
        /// What asked for gRPC.
        source_name: String,
    },
    /// The OTLP exporter could not be built.
    #[error("could not build the OTLP exporter: {0}")]
    Exporter(String),
    /// The store's background thread could not be started.
    #[error("could not start the OpenTelemetry store's thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The store is closed.
    #[error("the OpenTelemetry store is closed; create a new one")]
    Closed,
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        match error {
            Error::Closed => StoreError::Closed,
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

/// `Result` with the OpenTelemetry store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
