//! [`ProxyBuilder`]: where requests go, where records go, and how the proxy is reached.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use observers_core::Store;
use observers_openai::WrapOptions;

use crate::error::{Error, Result};
use crate::server::{Proxy, ProxyHandle, ProxyStats};

/// Where the proxy listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8788);
/// How long a shutdown waits for requests in flight (streams included) before cutting them.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);
/// How long an upstream may stay silent (before its answer starts, or between two chunks of
/// it) before the request fails: as the official OpenAI clients, 10 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long connecting to an upstream may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An API the proxy forwards to.
#[derive(Clone)]
pub(crate) struct Upstream {
    /// The base URL without a trailing `/` (paths are appended to it).
    pub(crate) base: String,
    /// The same without credentials, for messages and records.
    pub(crate) display: String,
    /// `Bearer <key>` when the proxy holds the key.
    pub(crate) authorization: Option<HeaderValue>,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("url", &self.display)
            .field("key", &self.authorization.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Upstream {
    fn new(what: String, url: &str, key: Option<&str>) -> Result<Upstream> {
        let invalid = |reason: &str| Error::InvalidUrl {
            what: what.clone(),
            url: without_credentials(url),
            reason: reason.to_owned(),
        };
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("only http:// and https:// are supported"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                "it has a query or fragment; give the base URL alone (clients add their query to each request)",
            ));
        }
        let mut display = parsed.clone();
        let _ = display.set_username("");
        let _ = display.set_password(None);
        let authorization = match key.map(str::trim).filter(|k| !k.is_empty()) {
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {key}"))
                    .map_err(|_| Error::InvalidKey { what: what.clone() })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Upstream {
            base: parsed.as_str().trim_end_matches('/').to_owned(),
            display: display.as_str().trim_end_matches('/').to_owned(),
            authorization,
        })
    }
}

/// `url` with any `user:password@` removed, for messages.
fn without_credentials(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) if url.contains('@') => "<a URL with credentials>".to_owned(),
        Err(_) => url.to_owned(),
    }
}

/// The checked configuration a server runs with.
pub(crate) struct Config {
    pub(crate) default: Upstream,
    pub(crate) routes: Vec<(String, Upstream)>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) options: WrapOptions,
    pub(crate) listen: SocketAddr,
    pub(crate) access_token: Option<String>,
    pub(crate) grace_period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

/// Options for a [`Proxy`], from [`Proxy::builder`].
///
/// Only [`store`](Self::store) is required; the upstream defaults to the OpenAI API and the
/// address to [`DEFAULT_LISTEN`] (`127.0.0.1:8788`).
#[derive(Default, Clone)]
pub struct ProxyBuilder {
    upstream: Option<String>,
    upstream_key: Option<String>,
    routes: Vec<(String, String)>,
    route_keys: Vec<(String, String)>,
    store: Option<Arc<dyn Store>>,
    options: WrapOptions,
    listen: Option<SocketAddr>,
    access_token: Option<String>,
    grace_period: Option<Duration>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("upstream", &self.upstream.as_deref().map(without_credentials))
            .field(
                "routes",
                &self.routes.iter().map(|(n, u)| (n, without_credentials(u))).collect::<Vec<_>>(),
            )
            .field("store", &self.store)
            .field("listen", &self.listen)
            .field("access_token", &self.access_token.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

impl ProxyBuilder {
    /// The API that `/v1/...` goes to, e.g. `http://localhost:8000/v1` (default
    /// `https://api.openai.com/v1`): `/v1/chat/completions` is forwarded to
    /// `{url}/chat/completions`.
    pub fn upstream(mut self, url: impl Into<String>) -> Self {
        self.upstream = Some(url.into());
        self
    }

    /// A key the proxy sends to the default upstream as `Authorization: Bearer <key>`, in
    /// place of whatever the client sends, so clients need none.
    pub fn upstream_key(mut self, key: impl Into<String>) -> Self {
        self.upstream_key = Some(key.into());
        self
    }

    /// Another upstream, served under `/{name}/v1/...`: `route("hf",
    /// "https://router.huggingface.co/v1")` forwards `/hf/v1/chat/completions` to
    /// `https://router.huggingface.co/v1/chat/completions`.
    pub fn route(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.routes.push((name.into(), url.into()));
        self
    }

    /// A key the proxy sends to the route `name`, as [`upstream_key`](Self::upstream_key)
    /// does for the default upstream.
    pub fn route_key(mut self, name: impl Into<String>, key: impl Into<String>) -> Self {
        self.route_keys.push((name.into(), key.into()));
        self
    }

    /// Where records go (required): a `DuckDbStore`, a `HubStore`, a
    /// [`Fanout`](observers_core::Fanout) of several...
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How calls are recorded: tags, properties, sampling, masking, metadata only (see
    /// [`WrapOptions`]; default arguments and `stream_usage` do not apply, since the proxy
    /// forwards requests as they are).
    pub fn options(mut self, options: WrapOptions) -> Self {
        self.options = options;
        self
    }

    /// The address to listen on (default [`DEFAULT_LISTEN`]; port 0 picks a free one). An
    /// address other machines can reach needs an [`access_token`](Self::access_token).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// A token every request must carry, as `X-Observers-Token: <token>` or
    /// `Authorization: Bearer <token>` (then that header is the proxy's and is not
    /// forwarded; pair it with [`upstream_key`](Self::upstream_key)). Without it, a request
    /// gets a 401.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(token.into()).filter(|t: &String| !t.is_empty());
        self
    }

    /// How long a shutdown lets requests in flight finish (default 30 s); past it they are
    /// cut, and recorded as such.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = Some(grace);
        self
    }

    /// How long an upstream may stay silent before the request fails with a 504 (or, once
    /// the answer has started, the answer is cut). Default 10 minutes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long connecting to an upstream may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Checks the options.
    ///
    /// A missing store is checked last, so building without one tells whether everything
    /// else is right before a store is opened ([`Error::NoStore`] then means it is).
    pub fn build(self) -> Result<Proxy> {
        let listen = self.listen.unwrap_or(DEFAULT_LISTEN);
        if !listen.ip().is_loopback() && self.access_token.is_none() {
            return Err(Error::TokenRequired { addr: listen });
        }
        let upstream_url = self.upstream.unwrap_or_else(|| observers_openai::OPENAI_BASE_URL.to_owned());
        let default = Upstream::new("upstream".into(), &upstream_url, self.upstream_key.as_deref())?;
        check_not_self(&default, listen)?;
        let mut routes: Vec<(String, Upstream)> = Vec::new();
        for (name, url) in &self.routes {
            check_route_name(name)?;
            if routes.iter().any(|(n, _)| n == name) {
                return Err(Error::InvalidRoute { name: name.clone(), reason: "it is given twice".into() });
            }
            let key = self.route_keys.iter().rev().find(|(n, _)| n == name).map(|(_, k)| k.as_str());
            let upstream = Upstream::new(format!("route {name}"), url, key)?;
            check_not_self(&upstream, listen)?;
            routes.push((name.clone(), upstream));
        }
        if let Some((name, _)) = self.route_keys.iter().find(|(n, _)| !routes.iter().any(|(r, _)| r == n)) {
            return Err(Error::InvalidRoute {
                name: name.clone(),
                reason: "a key is given for it but no route of that name (add it with --route NAME=URL)"
                    .into(),
            });
        }
        let store = self.store.ok_or(Error::NoStore)?;
        Ok(Proxy {
            config: Config {
                default,
                routes,
                store,
                options: self.options,
                listen,
                access_token: self.access_token,
                grace_period: self.grace_period.unwrap_or(DEFAULT_GRACE_PERIOD),
                timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
                connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            },
        })
    }

    /// Builds, then starts the proxy in the background: see [`Proxy::start`].
    pub async fn start(self) -> Result<ProxyHandle> {
        self.build()?.start().await
    }

    /// Builds, then serves until SIGINT (Ctrl-C) or SIGTERM: see [`Proxy::serve`].
    pub async fn serve(self) -> Result<ProxyStats> {
        self.build()?.serve().await
    }
}

fn check_route_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "v1" {
        "`v1` is where the default upstream is served"
    } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        "use letters, digits, `-`, `_` and `.` only (it is a path segment)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidRoute { name: name.to_owned(), reason: reason.into() })
}

/// Refuses an upstream that is the proxy itself (a loop), as when `OPENAI_BASE_URL` was
/// already pointed at the proxy in the shell that starts it.
fn check_not_self(upstream: &Upstream, listen: SocketAddr) -> Result<()> {
    let Ok(url) = reqwest::Url::parse(&upstream.base) else { return Ok(()) };
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let local_host = match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified() || ip == listen.ip(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    let listens_there = listen.port() != 0 && url.port_or_known_default() == Some(listen.port());
    if local_host && listens_there {
        return Err(Error::UpstreamIsProxy { url: upstream.display.clone(), addr: listen });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ProxyBuilder {
        #[derive(Debug)]
        struct Nowhere;
        #[async_trait::async_trait]
        impl Store for Nowhere {
            async fn add(&self, _: observers_core::ChatCompletionRecord) -> observers_core::Result<()> {
                Ok(())
            }
            async fn flush(&self) -> observers_core::Result<()> {
                Ok(())
            }
            async fn close(&self) -> observers_core::Result<()> {
                Ok(())
            }
            fn stats(&self) -> observers_core::StoreStats {
                observers_core::StoreStats::default()
            }
        }
        Proxy::builder().store(Nowhere)
    }

    #[test]
    fn a_public_address_needs_a_token() {
        let addr: SocketAddr = "0.0.0.0:8788".parse().unwrap();
        let error = builder().listen(addr).build().unwrap_err();
        assert!(matches!(error, Error::TokenRequired { .. }), "{error}");
        assert!(error.to_string().contains("--require-token-env"), "{error}");
        builder().listen(addr).access_token("t").build().unwrap();
        builder().listen("[::1]:0".parse().unwrap()).build().unwrap();
    }

    #[test]
    fn the_upstream_cannot_be_the_proxy_itself() {
        let error = builder().upstream("http://127.0.0.1:8788/v1").build().unwrap_err();
        assert!(matches!(error, Error::UpstreamIsProxy { .. }), "{error}");
        let error = builder().upstream("http://localhost:8788/v1").build().unwrap_err();
        assert!(matches!(error, Error::UpstreamIsProxy { .. }), "{error}");
        builder().upstream("http://127.0.0.1:8000/v1").build().unwrap();
        builder()
            .upstream("http://localhost:8788/v1")
            .listen("127.0.0.1:0".parse().unwrap())
            .build()
            .unwrap();
    }

    #[test]
    fn urls_and_routes_are_checked_and_credentials_never_shown() {
        let error = builder().upstream("ftp://x").build().unwrap_err();
        assert!(error.to_string().contains("http://"), "{error}");
        let error = builder().upstream("http://user:s3cret@[bad").build().unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        let error = builder().upstream("http://user:s3cret@host/v1?x=1").build().unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        for bad in ["", "v1", "a/b", "a b"] {
            assert!(
                matches!(builder().route(bad, "http://h/v1").build(), Err(Error::InvalidRoute { .. })),
                "{bad}"
            );
        }
        let twice = builder().route("a", "http://h/v1").route("a", "http://i/v1").build();
        assert!(matches!(twice, Err(Error::InvalidRoute { .. })));
        let orphan_key = builder().route_key("hf", "k").build();
        assert!(matches!(orphan_key, Err(Error::InvalidRoute { .. })));
        assert!(matches!(builder().upstream_key("bad\nkey").build(), Err(Error::InvalidKey { .. })));
        assert!(matches!(Proxy::builder().build(), Err(Error::NoStore)));
    }

    #[test]
    fn debug_output_hides_keys_and_tokens() {
        let builder =
            builder().upstream("http://u:pw-123@h/v1").upstream_key("sk-secret").access_token("tok-secret");
        let text = format!("{builder:?}");
        assert!(
            !text.contains("pw-123") && !text.contains("sk-secret") && !text.contains("tok-secret"),
            "{text}"
        );
        let proxy = builder.build().unwrap();
        let text = format!("{:?}", proxy.config.default);
        assert!(!text.contains("pw-123") && !text.contains("sk-secret"), "{text}");
    }
}
