//! `observers proxy`: the recording proxy of `observers-proxy`, with a DuckDB file and/or a
//! Hub dataset as its store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use observers_core::{Fanout, Store};
use observers_openai::{Capture, Masker, WrapOptions};
use observers_proxy::{Proxy, ProxyBuilder, DEFAULT_LISTEN};

use crate::hf::HubStore;
use crate::DuckDbStore;

/// Options of `observers proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Where to listen. An address other machines can reach needs --require-token-env.
    #[arg(long, default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The API that /v1/... goes to [default: OPENAI_BASE_URL, else https://api.openai.com/v1].
    #[arg(long, env = "OPENAI_BASE_URL", hide_env_values = true)]
    upstream: Option<String>,
    /// Another upstream, served under /NAME/v1/... (repeatable), e.g.
    /// --route hf=https://router.huggingface.co/v1
    #[arg(long = "route", value_name = "NAME=URL", value_parser = name_and_value)]
    routes: Vec<(String, String)>,
    /// Send the key in this environment variable upstream, in place of what clients send, so
    /// they need none; ROUTE=VAR for a route's (repeatable).
    #[arg(long = "upstream-key-env", value_name = "[ROUTE=]VAR")]
    upstream_key_env: Vec<String>,
    /// Require the token in this environment variable from every client, sent as
    /// `X-Observers-Token: <token>` or `Authorization: Bearer <token>`.
    #[arg(long, value_name = "VAR")]
    require_token_env: Option<String>,
    /// The DuckDB store [default: store.db, unless --hf-repo is given alone].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Push records to this Hub dataset (`owner/name`), as well as to --db when given.
    #[arg(long, value_name = "REPO")]
    hf_repo: Option<String>,
    /// Create the Hub dataset private (if it does not exist).
    #[arg(long, requires = "hf_repo")]
    hf_private: bool,
    /// A tag on every record (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Mask emails, phone and card numbers, API keys and bearer tokens in recorded text.
    #[arg(long)]
    mask: bool,
    /// Record no content (messages, answers, tool calls, raw bodies): only models, tokens,
    /// timings, errors and metadata.
    #[arg(long)]
    metadata_only: bool,
    /// The share of calls recorded, from 0.0 to 1.0.
    #[arg(long, default_value_t = 1.0)]
    logging_rate: f64,
    /// Seconds an upstream may stay silent before the request fails (504).
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// On SIGINT/SIGTERM, seconds requests in flight (streams included) get to finish
    /// before they are cut; a second signal cuts them at once.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,
}

fn name_and_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=URL, got {text:?}")),
    }
}

/// The value of the environment variable `var`, named by `flag`.
fn from_env(var: &str, flag: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(format!("{flag} {var}: the environment variable {var} is not set (or empty)")),
    }
}

impl ProxyArgs {
    /// Everything but the store, from the options and the environment.
    fn builder(&self) -> Result<ProxyBuilder, String> {
        let mut builder = Proxy::builder()
            .listen(self.listen)
            .timeout(Duration::from_secs(self.timeout_secs))
            .grace_period(Duration::from_secs(self.grace_secs));
        if let Some(upstream) = self.upstream.as_deref().filter(|u| !u.trim().is_empty()) {
            builder = builder.upstream(upstream);
        }
        for (name, url) in &self.routes {
            builder = builder.route(name, url);
        }
        for spec in &self.upstream_key_env {
            builder = match spec.split_once('=') {
                Some((route, var)) => builder.route_key(route, from_env(var, "--upstream-key-env")?),
                None => builder.upstream_key(from_env(spec, "--upstream-key-env")?),
            };
        }
        if let Some(var) = &self.require_token_env {
            builder = builder.access_token(from_env(var, "--require-token-env")?);
        }
        let mut options =
            WrapOptions::default().tags(self.tags.iter().cloned()).logging_rate(self.logging_rate);
        if self.mask {
            options = options.mask(Masker::default());
        }
        if self.metadata_only {
            options = options.content(Capture::MetadataOnly);
        }
        Ok(builder.options(options))
    }

    /// The stores asked for, as one, and what they are for the banner.
    fn store(&self) -> Result<(Arc<dyn Store>, String), String> {
        let db = self.db.clone().or_else(|| self.hf_repo.is_none().then(|| PathBuf::from("store.db")));
        let local = match &db {
            Some(path) => Some(DuckDbStore::open(path).map_err(|e| e.to_string())?),
            None => None,
        };
        let hub = match &self.hf_repo {
            Some(repo) => Some(
                HubStore::builder()
                    .repo_id(repo)
                    .private(self.hf_private)
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let described = [
            db.map(|path| path.display().to_string()),
            self.hf_repo.as_ref().map(|repo| format!("the Hub dataset {repo}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ");
        let store: Arc<dyn Store> = match (local, hub) {
            (Some(local), Some(hub)) => Arc::new(Fanout::new().with(local).with(hub)),
            (Some(local), None) => Arc::new(local),
            (None, Some(hub)) => Arc::new(hub),
            (None, None) => return Err("no store: pass --db or --hf-repo".into()),
        };
        Ok((store, described))
    }
}

/// Logs to stderr: the proxy's start, shutdown and warnings by default; `RUST_LOG` for more
/// (`RUST_LOG=observers_proxy=debug` logs each request, never its headers or body).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,observers_proxy=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

pub(crate) async fn run(args: ProxyArgs) -> Result<(), String> {
    init_logging();
    let builder = args.builder()?;
    // Checked before a store is opened, so a refused start leaves no file behind.
    match builder.clone().build() {
        Err(observers_proxy::Error::NoStore) => {}
        Err(error) => return Err(error.to_string()),
        Ok(_) => {}
    }
    let (store, described) = args.store()?;
    let proxy = builder.store(Arc::clone(&store)).start().await.map_err(|e| e.to_string())?;
    eprintln!("observers proxy: listening on {}, recording to {described}", proxy.base_url());
    eprintln!("  point your apps at it: export OPENAI_BASE_URL={}", proxy.base_url());
    for (name, _) in &args.routes {
        eprintln!("  route {name}: {}", proxy.route_url(name));
    }
    eprintln!("  Ctrl-C stops it (requests in flight get {} s to finish)", args.grace_secs);
    let stats = proxy.shutdown_on_signal().await;
    // Closed whatever the shutdown said: a Hub store pushes its last shards here.
    let closed = store.close().await;
    let stats = stats.map_err(|e| e.to_string())?;
    closed.map_err(|e| format!("the store could not be closed: {e}"))?;
    eprintln!(
        "observers proxy: stopped after {} requests; {} calls recorded, {} upstream failures{}",
        stats.requests,
        stats.recorded,
        stats.upstream_failures,
        if stats.records_lost > 0 {
            format!(", {} records lost (see the warnings)", stats.records_lost)
        } else {
            String::new()
        }
    );
    Ok(())
}
