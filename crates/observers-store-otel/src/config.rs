//! [`OtelStoreBuilder`]: where spans go and what they carry, from code or the standard
//! `OTEL_*` environment variables.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL (`/v1/traces` is appended for HTTP).
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full traces URL, used as is; wins over
/// [`ENDPOINT_VAR`].
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,...` headers for every request (percent-encoded).
pub const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`: headers for trace exports, over [`HEADERS_VAR`].
pub const TRACES_HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` (default) or `grpc` (feature `grpc`).
pub const PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`: the protocol for traces, over [`PROTOCOL_VAR`].
pub const TRACES_PROTOCOL_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds one export may take (default 10 000).
pub const TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`: the timeout for trace exports, over [`TIMEOUT_VAR`].
pub const TRACES_TIMEOUT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,...` resource attributes (percent-encoded).
pub const RESOURCE_ATTRIBUTES_VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`: `true` to send message content.
pub const CAPTURE_CONTENT_VAR: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// `OTEL_BSP_MAX_QUEUE_SIZE`: records the queue holds before dropping.
pub const MAX_QUEUE_SIZE_VAR: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: spans per export request.
pub const MAX_EXPORT_BATCH_SIZE_VAR: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// `OTEL_BSP_SCHEDULE_DELAY`: milliseconds between exports of a partial batch.
pub const SCHEDULE_DELAY_VAR: &str = "OTEL_BSP_SCHEDULE_DELAY";

/// The default HTTP traces endpoint (an OpenTelemetry Collector on this machine).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318/v1/traces";
/// The default gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// The default service name, when neither `.service_name(..)` nor `OTEL_SERVICE_NAME` says.
pub const DEFAULT_SERVICE_NAME: &str = "observers";
/// Default time one export request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default largest number of records waiting for export (then new ones are dropped, counted).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Default largest number of spans in one export request.
pub const DEFAULT_MAX_EXPORT_BATCH_SIZE: usize = 512;
/// Default delay before a partial batch is exported.
pub const DEFAULT_SCHEDULED_DELAY: Duration = Duration::from_secs(5);
/// Default number of retries of a failed export (with exponential backoff from 100 ms).
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over HTTP with protobuf bodies (port 4318), the default.
    #[default]
    HttpProtobuf,
    /// OTLP over gRPC (port 4317); needs the crate's `grpc` feature.
    Grpc,
}

/// Options for an [`OtelStore`](crate::OtelStore): the collector, the resource, what spans
/// carry, and the batching.
///
/// Start from [`OtelStore::builder`](crate::OtelStore::builder) (defaults, ignoring `OTEL_*`
/// variables except [`CAPTURE_CONTENT_VAR`]) or [`OtelStoreBuilder::from_env`] (the standard
/// variables), then override in code. `Debug` never shows header values.
///
/// # Example
/// ```no_run
/// use observers_store_otel::OtelStore;
/// use std::time::Duration;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = OtelStore::builder()
///     .endpoint("https://otlp.example.com/v1/traces")
///     .header("authorization", "Bearer secret-token")
///     .service_name("chatbot")
///     .resource_attribute("deployment.environment", "prod")
///     .timeout(Duration::from_secs(5))
///     .capture_content(false)
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OtelStoreBuilder {
    pub(crate) endpoint: Option<(String, String)>,
    pub(crate) protocol: (Protocol, String),
    pub(crate) headers: Vec<(String, String, String)>,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) capture_content: bool,
    pub(crate) openinference: bool,
    pub(crate) provider_name: Option<String>,
    pub(crate) server_url: Option<String>,
    pub(crate) max_queue_size: usize,
    pub(crate) max_export_batch_size: usize,
    pub(crate) scheduled_delay: Duration,
    pub(crate) max_retries: u32,
    pub(crate) initial_backoff: Duration,
}

impl fmt::Debug for OtelStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self.headers.iter().map(|(k, _, _)| format!("{k}: [REDACTED]")).collect();
        f.debug_struct("OtelStoreBuilder")
            .field("endpoint", &self.endpoint.as_ref().map(|(e, _)| e))
            .field("protocol", &self.protocol.0)
            .field("headers", &headers)
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("timeout", &self.timeout)
            .field("capture_content", &self.capture_content)
            .field("openinference", &self.openinference)
            .field("provider_name", &self.provider_name)
            .field("server_url", &self.server_url)
            .field("max_queue_size", &self.max_queue_size)
            .field("max_export_batch_size", &self.max_export_batch_size)
            .field("scheduled_delay", &self.scheduled_delay)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl Default for OtelStoreBuilder {
    fn default() -> Self {
        let capture = std::env::var(CAPTURE_CONTENT_VAR).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Self {
            endpoint: None,
            protocol: (Protocol::HttpProtobuf, "the default".into()),
            headers: Vec::new(),
            service_name: None,
            resource_attributes: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            capture_content: capture,
            openinference: true,
            provider_name: None,
            server_url: None,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_export_batch_size: DEFAULT_MAX_EXPORT_BATCH_SIZE,
            scheduled_delay: DEFAULT_SCHEDULED_DELAY,
            max_retries: DEFAULT_MAX_RETRIES,
            initial_backoff: Duration::from_millis(100),
        }
    }
}

impl OtelStoreBuilder {
    /// The options the standard `OTEL_*` variables give (see the `*_VAR` constants); code can
    /// override each afterwards.
    ///
    /// # Errors
    /// A variable that is set but unusable (a header entry without `=`, a protocol this build
    /// does not speak, a timeout that is not a number...), with what to write instead.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) reading variables through `lookup` (for tests and for
    /// configuration that is not the process environment).
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut builder = Self {
            capture_content: get(CAPTURE_CONTENT_VAR).is_some_and(|v| v.eq_ignore_ascii_case("true")),
            ..Self::default()
        };
        if let Some((var, value)) = first(&get, &[TRACES_PROTOCOL_VAR, PROTOCOL_VAR]) {
            builder.protocol = (parse_protocol(var, &value)?, var.to_string());
        }
        if let Some(endpoint) = get(TRACES_ENDPOINT_VAR) {
            builder.endpoint = Some((endpoint, TRACES_ENDPOINT_VAR.into()));
        } else if let Some(base) = get(ENDPOINT_VAR) {
            let endpoint = match builder.protocol.0 {
                Protocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
                Protocol::Grpc => base,
            };
            builder.endpoint = Some((endpoint, ENDPOINT_VAR.into()));
        }
        for var in [HEADERS_VAR, TRACES_HEADERS_VAR] {
            if let Some(value) = get(var) {
                for (key, value) in parse_pairs(&value)
                    .map_err(|reason| Error::InvalidHeader { source_name: var.into(), reason })?
                {
                    builder.headers.retain(|(k, _, _)| !k.eq_ignore_ascii_case(&key));
                    builder.headers.push((key, value, var.into()));
                }
            }
        }
        if let Some((var, value)) = first(&get, &[TRACES_TIMEOUT_VAR, TIMEOUT_VAR]) {
            builder.timeout = Duration::from_millis(parse_number(var, &value, "milliseconds, an integer")?);
        }
        builder.service_name = get(SERVICE_NAME_VAR);
        if let Some(value) = get(RESOURCE_ATTRIBUTES_VAR) {
            builder.resource_attributes = parse_pairs(&value).map_err(|reason| {
                Error::InvalidResourceAttribute { source_name: RESOURCE_ATTRIBUTES_VAR.into(), reason }
            })?;
        }
        if let Some(value) = get(MAX_QUEUE_SIZE_VAR) {
            builder.max_queue_size = parse_number(MAX_QUEUE_SIZE_VAR, &value, "a positive integer")? as usize;
        }
        if let Some(value) = get(MAX_EXPORT_BATCH_SIZE_VAR) {
            builder.max_export_batch_size =
                parse_number(MAX_EXPORT_BATCH_SIZE_VAR, &value, "a positive integer")? as usize;
        }
        if let Some(value) = get(SCHEDULE_DELAY_VAR) {
            builder.scheduled_delay =
                Duration::from_millis(parse_number(SCHEDULE_DELAY_VAR, &value, "milliseconds, an integer")?);
        }
        Ok(builder)
    }

    /// The collector's traces URL, used as is: `http://host:4318/v1/traces` for HTTP (Phoenix:
    /// `http://localhost:6006/v1/traces`), `http://host:4317` for gRPC.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some((endpoint.into(), "`.endpoint(..)`".into()));
        self
    }

    /// The transport (default [`Protocol::HttpProtobuf`]).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = (protocol, "`.protocol(..)`".into());
        self
    }

    /// A header sent with every export (an API key, `authorization`...). Its value is never
    /// logged nor shown by `Debug`.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.headers.retain(|(k, _, _)| !k.eq_ignore_ascii_case(&key));
        self.headers.push((key, value.into(), "`.header(..)`".into()));
        self
    }

    /// The `service.name` resource attribute (default `OTEL_SERVICE_NAME` with
    /// [`from_env`](Self::from_env), else `observers`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// A resource attribute (e.g. `openinference.project.name` for a Phoenix project).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.resource_attributes.retain(|(k, _)| *k != key);
        self.resource_attributes.push((key, value.into()));
        self
    }

    /// How long one export request may take (default 10 s); also bounds
    /// [`flush`](observers_core::Store::flush).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Whether spans carry the messages (`gen_ai.input.messages`, `gen_ai.output.messages`,
    /// and OpenInference's `input.value`/`output.value`). Off by default, as the GenAI
    /// conventions ask; `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` turns it on.
    pub fn capture_content(mut self, capture: bool) -> Self {
        self.capture_content = capture;
        self
    }

    /// Whether spans also carry the OpenInference attributes Phoenix and Arize read
    /// (`openinference.span.kind`, `llm.*`); on by default.
    pub fn openinference(mut self, on: bool) -> Self {
        self.openinference = on;
        self
    }

    /// `gen_ai.provider.name` (`openai`, `azure.ai.openai`, `mistral_ai`...); default inferred
    /// from [`server_url`](Self::server_url), else `openai`.
    pub fn provider_name(mut self, name: impl Into<String>) -> Self {
        self.provider_name = Some(name.into());
        self
    }

    /// The LLM server the calls go to (its base URL), for `server.address` and `server.port`
    /// and to infer the provider.
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.server_url = Some(url.into());
        self
    }

    /// How many records may wait for export (default 2048); beyond, new records are dropped
    /// and counted, never waited for.
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = size.max(1);
        self
    }

    /// Spans per export request (default 512).
    pub fn max_export_batch_size(mut self, size: usize) -> Self {
        self.max_export_batch_size = size.max(1);
        self
    }

    /// How long a partial batch waits before it is exported (default 5 s).
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = delay.max(Duration::from_millis(1));
        self
    }

    /// How many times a failed export is retried (default 3, backoff doubling from 100 ms),
    /// within the [`timeout`](Self::timeout).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The endpoint to export to, checked.
    pub(crate) fn resolved_endpoint(&self) -> Result<String> {
        let (endpoint, source_name) = match &self.endpoint {
            Some((endpoint, source)) => (endpoint.trim().to_string(), source.clone()),
            None => match self.protocol.0 {
                Protocol::HttpProtobuf => (DEFAULT_HTTP_ENDPOINT.to_string(), "the default".into()),
                Protocol::Grpc => (DEFAULT_GRPC_ENDPOINT.to_string(), "the default".into()),
            },
        };
        let invalid = |reason: String| Error::InvalidEndpoint {
            endpoint: endpoint.clone(),
            source_name: source_name.clone(),
            reason,
        };
        let uri: http::Uri = endpoint.parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => return Err(invalid(format!("the scheme is {other:?}, not http or https"))),
            None => return Err(invalid("it has no scheme (http:// or https://)".into())),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("it has no host".into()));
        }
        Ok(endpoint)
    }

    /// The headers, checked (names and values that HTTP allows); errors never show a value.
    pub(crate) fn checked_headers(&self) -> Result<http::HeaderMap> {
        let mut map = http::HeaderMap::new();
        for (key, value, source) in &self.headers {
            let name =
                http::HeaderName::from_bytes(key.trim().as_bytes()).map_err(|_| Error::InvalidHeader {
                    source_name: source.clone(),
                    reason: format!("{key:?} is not a valid header name"),
                })?;
            let mut value = http::HeaderValue::from_str(value.trim()).map_err(|_| Error::InvalidHeader {
                source_name: source.clone(),
                reason: format!(
                    "the value of {key:?} holds characters a header cannot (control characters or non-ASCII)"
                ),
            })?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Ok(map)
    }
}

/// The first of `vars` that is set, with its value.
fn first(get: &impl Fn(&str) -> Option<String>, vars: &[&'static str]) -> Option<(&'static str, String)> {
    vars.iter().find_map(|var| get(var).map(|value| (*var, value)))
}

fn parse_protocol(var: &'static str, value: &str) -> Result<Protocol> {
    match value.to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err(Error::InvalidEnv {
            variable: var,
            value: value.into(),
            expected: "`http/protobuf` or `grpc` (http/json is not supported: use http/protobuf)",
        }),
    }
}

fn parse_number(var: &'static str, value: &str, expected: &'static str) -> Result<u64> {
    value.parse::<u64>().map_err(|_| Error::InvalidEnv { variable: var, value: value.into(), expected })
}

/// `key=value,key2=value2` (W3C baggage style, values percent-decoded). Errors name the
/// entry's position or key, never its value.
pub(crate) fn parse_pairs(input: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (index, entry) in input.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {} has no `=`", index + 1));
        };
        let key = percent_decode(key.trim())
            .ok_or_else(|| format!("the key of entry {} is badly percent-encoded", index + 1))?;
        if key.is_empty() {
            return Err(format!("entry {} has an empty key", index + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of {key:?} (entry {}) is badly percent-encoded", index + 1))?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_standard_variables_configure_the_store() {
        let builder = OtelStoreBuilder::from_lookup(env(&[
            (ENDPOINT_VAR, "http://collector:4318/"),
            (HEADERS_VAR, "api-key=s3cr3t%20value, x-team = ml"),
            (SERVICE_NAME_VAR, "chatbot"),
            (RESOURCE_ATTRIBUTES_VAR, "deployment.environment=prod,openinference.project.name=p%2C1"),
            (TIMEOUT_VAR, "2500"),
            (CAPTURE_CONTENT_VAR, "TRUE"),
        ]))
        .unwrap();
        assert_eq!(builder.resolved_endpoint().unwrap(), "http://collector:4318/v1/traces");
        let headers = builder.checked_headers().unwrap();
        assert_eq!(headers.get("api-key").unwrap(), "s3cr3t value");
        assert_eq!(headers.get("x-team").unwrap(), "ml");
        assert_eq!(builder.service_name.as_deref(), Some("chatbot"));
        assert_eq!(builder.resource_attributes[1], ("openinference.project.name".into(), "p,1".into()));
        assert_eq!(builder.timeout, Duration::from_millis(2500));
        assert!(builder.capture_content);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("s3cr3t") && debug.contains("api-key: [REDACTED]"), "{debug}");
    }

    #[test]
    fn the_traces_endpoint_is_used_as_is_and_wins() {
        let builder = OtelStoreBuilder::from_lookup(env(&[
            (ENDPOINT_VAR, "http://base:4318"),
            (TRACES_ENDPOINT_VAR, "https://traces.example.com/custom/path"),
        ]))
        .unwrap();
        assert_eq!(builder.resolved_endpoint().unwrap(), "https://traces.example.com/custom/path");
        let builder = OtelStoreBuilder::from_lookup(env(&[])).unwrap();
        assert_eq!(builder.resolved_endpoint().unwrap(), DEFAULT_HTTP_ENDPOINT);
        assert!(!builder.capture_content);
    }

    #[test]
    fn grpc_keeps_the_base_endpoint() {
        let builder = OtelStoreBuilder::from_lookup(env(&[
            (PROTOCOL_VAR, "grpc"),
            (ENDPOINT_VAR, "http://collector:4317"),
        ]))
        .unwrap();
        assert_eq!(builder.protocol.0, Protocol::Grpc);
        assert_eq!(builder.resolved_endpoint().unwrap(), "http://collector:4317");
    }

    #[test]
    fn bad_variables_say_what_to_write_and_never_show_a_header_value() {
        let err = OtelStoreBuilder::from_lookup(env(&[(HEADERS_VAR, "authorization=ok,Bearer-TOPSECRET")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(HEADERS_VAR) && err.contains("entry 2 has no `=`"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
        let err =
            OtelStoreBuilder::from_lookup(env(&[(HEADERS_VAR, "k=%zzTOPSECRET")])).unwrap_err().to_string();
        assert!(err.contains("percent-encoded") && !err.contains("TOPSECRET"), "{err}");
        let err = OtelStoreBuilder::from_lookup(env(&[(PROTOCOL_VAR, "http/json")])).unwrap_err().to_string();
        assert!(err.contains("http/protobuf"), "{err}");
        let err = OtelStoreBuilder::from_lookup(env(&[(TIMEOUT_VAR, "10s")])).unwrap_err().to_string();
        assert!(err.contains(TIMEOUT_VAR) && err.contains("milliseconds"), "{err}");
        let err =
            OtelStoreBuilder::from_lookup(env(&[(RESOURCE_ATTRIBUTES_VAR, "=x")])).unwrap_err().to_string();
        assert!(err.contains("empty key"), "{err}");
    }

    #[test]
    fn bad_endpoints_and_header_values_are_refused_clearly() {
        for (endpoint, expected) in [
            ("localhost:4318", "scheme"),
            ("ftp://host/v1/traces", "not http or https"),
            ("http://", "invalid OTLP endpoint"),
            ("not a url", "invalid OTLP endpoint"),
        ] {
            let err =
                OtelStoreBuilder::default().endpoint(endpoint).resolved_endpoint().unwrap_err().to_string();
            assert!(err.contains(expected) && err.contains("http://localhost:4318/v1/traces"), "{err}");
        }
        let err = OtelStoreBuilder::default()
            .header("authorization", "Bearer TOPSECRET\n")
            .header("x", "y\u{7}TOPSECRET")
            .checked_headers()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("TOPSECRET"), "{err}");
        let err =
            OtelStoreBuilder::default().header("bad key", "v").checked_headers().unwrap_err().to_string();
        assert!(err.contains("not a valid header name"), "{err}");
    }
}
