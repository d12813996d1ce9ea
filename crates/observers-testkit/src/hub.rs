//! A loopback fake of the Hugging Face Hub, for dataset repos.
//!
//! [`FakeHub`] listens on `127.0.0.1:<free port>` and speaks the Hub's HTTP protocol the way
//! the official clients use it (huggingface_hub 2.4 with `HF_HUB_DISABLE_XET=1`, datasets 5.2,
//! hf-hub 1.0), with the field names, status codes, error bodies and headers recorded from them
//! (the project's Hub protocol notes, `hub-protocol.md`). Point a client at
//! [`FakeHub::endpoint`] (`HF_ENDPOINT` for Python) with [`WRITE_TOKEN`] or [`READ_TOKEN`].
//!
//! What it serves (`{repo}` is `{owner}/{name}`, `{rev}` is `main`, `refs/heads/main`, or a
//! full or unique ≥5-character prefix of a commit sha):
//! - `GET /api/whoami-v2`; `POST /api/repos/create`; `POST /api/validate-yaml`;
//! - `GET /api/datasets/{repo}`, `…/revision/{rev}` (`?blobs=true`, `?expand=`), `…/refs`,
//!   `…/commits/{rev}`;
//! - `POST /api/datasets/{repo}/preupload/{rev}`;
//! - `POST /datasets/{repo}.git/info/lfs/objects/batch` and `…/verify`, plus the "presigned"
//!   storage URLs the batch hands out (`/__lfs/upload/…`, `/__lfs/part/…`,
//!   `/__lfs/complete/…`), which behave like S3: no Hub auth, XML errors;
//! - `POST /api/datasets/{repo}/commit/{rev}` (NDJSON);
//! - `GET /api/datasets/{repo}/tree/{rev}[/{path}]`, `POST …/paths-info/{rev}`,
//!   `GET|HEAD /datasets/{repo}/resolve/{rev}/{path}` (with `Range`).
//!
//! Model and Space repos do not exist here: their URLs answer `RepoNotFound`, which catches a
//! client that forgot the `datasets/` prefix. Xet is not implemented (the batch always answers
//! `"transfer": "basic"`; the `xet-*-token` routes answer 501). `create_pr` is refused with 400.
//!
//! State lives in memory and is deterministic: commit ids are real git commit hashes over a
//! logical clock that starts at 2026-01-01T00:00:00Z and ticks one second per repo or commit.
//! Every request is recorded ([`FakeHub::requests`]) and any route can be made to fail
//! ([`FakeHub::fail_next`]).
//!
//! ```
//! use observers_testkit::hub::{FakeHub, Fault, Route, WRITE_TOKEN};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = FakeHub::start().await?;
//! hub.fail_next(Route::CreateRepo, Fault::Status(503), 1);
//! let create = || {
//!     reqwest::Client::new()
//!         .post(format!("{}/api/repos/create", hub.endpoint()))
//!         .bearer_auth(WRITE_TOKEN)
//!         .json(&serde_json::json!({"name": "demo", "type": "dataset", "private": true}))
//!         .send()
//! };
//! assert_eq!(create().await?.status(), 503);
//! assert_eq!(create().await?.status(), 200);
//! assert_eq!(hub.files("tester/demo"), vec![".gitattributes"]);
//! assert_eq!(hub.is_private("tester/demo"), Some(true));
//! # Ok(())
//! # }
//! ```

mod auth;
mod commit;
mod endpoint;
mod error;
mod git;
mod net;
mod read;
mod repos;
mod state;
mod upload;

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::auth::Caller;
use self::endpoint::Endpoint;
use self::error::HubError;
use self::net::{KillSwitch, KillableListener};
use self::state::HubState;
use crate::openai::wire::Reply;
use crate::openai::ReceivedRequest;

/// A token of [`USER`] with the `write` role.
pub const WRITE_TOKEN: &str = "hf_fake_write_token";
/// A token of [`USER`] with the `read` role: write routes answer it 403.
pub const READ_TOKEN: &str = "hf_fake_read_token";
/// The user both tokens belong to; the only namespace repos can be created in.
pub const USER: &str = "tester";

/// Request bodies above this size are refused with 413.
const MAX_REQUEST_BYTES: usize = 1024 * 1024 * 1024;

/// One commit of a repo's `main` branch, as [`FakeHub::commits`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCommit {
    /// The commit id: 40 lowercase hex digits (a real git commit hash).
    pub id: String,
    /// The commit title (the header's `summary`; `"initial commit"` for the first one).
    pub summary: String,
    /// Paths this commit created or changed, sorted (including `.gitattributes` when the Hub
    /// added an LFS rule for a new `lfsFile` path). Re-committing identical bytes changes nothing.
    pub added: Vec<String>,
    /// Paths this commit removed, sorted.
    pub deleted: Vec<String>,
}

/// How the fake's LFS batch endpoint splits uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHubConfig {
    /// LFS objects of at least this size get a multipart upload (when the client offers the
    /// `multipart` transfer); preupload also answers `lfs` for files this big. Default 10 MiB.
    pub multipart_threshold: u64,
    /// The `chunk_size` of multipart uploads: every part but the last must be exactly this
    /// long. Default 5 MiB.
    pub chunk_size: u64,
    /// Whether batch answers include `actions.verify`. Default true.
    pub offer_verify: bool,
}

impl Default for FakeHubConfig {
    fn default() -> FakeHubConfig {
        FakeHubConfig {
            multipart_threshold: 10 * 1024 * 1024,
            chunk_size: 5 * 1024 * 1024,
            offer_verify: true,
        }
    }
}

/// A group of endpoints, for [`FakeHub::fail_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /api/whoami-v2`.
    Whoami,
    /// `POST /api/repos/create`.
    CreateRepo,
    /// `GET /api/datasets/{repo}` and `…/revision/{rev}`, also `…/refs` and `…/commits/{rev}`.
    RepoInfo,
    /// `POST /api/validate-yaml`.
    ValidateYaml,
    /// `POST /api/datasets/{repo}/preupload/{rev}`.
    Preupload,
    /// `POST /datasets/{repo}.git/info/lfs/objects/batch`.
    LfsBatch,
    /// `PUT` of a single-part upload and of every multipart part.
    UploadPut,
    /// `POST` of a multipart completion.
    MultipartComplete,
    /// `POST /datasets/{repo}.git/info/lfs/objects/verify`.
    Verify,
    /// `POST /api/datasets/{repo}/commit/{rev}`.
    Commit,
    /// `GET /api/datasets/{repo}/tree/{rev}[/{path}]`.
    Tree,
    /// `POST /api/datasets/{repo}/paths-info/{rev}`.
    PathsInfo,
    /// `GET|HEAD /datasets/{repo}/resolve/{rev}/{path}`.
    Resolve,
}

/// What a failing request gets instead of its normal answer (see [`FakeHub::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with the Hub's error shape: a JSON `{"error": msg}` body and an
    /// `X-Error-Message: msg` header. 429 adds `Retry-After: 1` and the `RateLimit` headers;
    /// 5xx carry a server-error message.
    Status(u16),
    /// That status with the Hub's error shape and `Retry-After: <seconds>` (plus the
    /// `RateLimit` headers when the status is 429).
    RetryAfter(u16, u64),
    /// The connection is closed without any HTTP response (not even a status line), after the
    /// whole request body was read: clients see "server disconnected without sending a
    /// response".
    DropConnection,
}

/// State shared by the server task and the [`FakeHub`] handle.
#[derive(Debug)]
struct Shared {
    state: Mutex<HubState>,
    requests: Mutex<Vec<ReceivedRequest>>,
    config: FakeHubConfig,
    endpoint: String,
    last_seq: AtomicU64,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, request: ReceivedRequest) {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).push(request);
    }
}

/// A fake Hugging Face Hub on `127.0.0.1`; dropping it shuts the server down.
///
/// Must be started inside a tokio runtime.
pub struct FakeHub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl FakeHub {
    /// Starts a fake Hub with [`FakeHubConfig::default`].
    pub async fn start() -> std::io::Result<FakeHub> {
        FakeHub::start_with(FakeHubConfig::default()).await
    }

    /// Starts a fake Hub on `127.0.0.1:<free port>`.
    pub async fn start_with(config: FakeHubConfig) -> std::io::Result<FakeHub> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(HubState::default()),
            requests: Mutex::new(Vec::new()),
            config,
            endpoint: format!("http://{addr}"),
            last_seq: AtomicU64::new(0),
            shutdown: shutdown_rx.clone(),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let mut stop = shutdown_rx;
        tokio::spawn(async move {
            let stopped = async move {
                // An error means the handle is gone: shut down as well.
                let _ = stop.wait_for(|stop| *stop).await;
            };
            let service = app.into_make_service_with_connect_info::<KillSwitch>();
            let served =
                axum::serve(KillableListener::new(listener), service).with_graceful_shutdown(stopped);
            if let Err(err) = served.await {
                tracing::warn!(%err, "fake Hub stopped with an error");
            }
        });
        tracing::debug!(%addr, "fake Hub listening");
        Ok(FakeHub { addr, shared, shutdown })
    }

    /// The endpoint clients use (`HF_ENDPOINT`): `http://127.0.0.1:<port>`, no trailing slash.
    pub fn endpoint(&self) -> String {
        self.shared.endpoint.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next `times` requests to `route` get `fault` instead of their normal answer (after
    /// faults queued earlier for that route). Faults apply before authentication.
    pub fn fail_next(&self, route: Route, fault: Fault, times: usize) {
        self.shared.state().queue_fault(route, fault, times);
    }

    /// Every request received so far, in arrival order (`path` without the query string).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether the dataset repo `owner/name` exists.
    pub fn repo_exists(&self, repo_id: &str) -> bool {
        self.shared.state().repo(repo_id).is_some()
    }

    /// The file paths at the head of `main`, sorted (empty when the repo does not exist).
    pub fn files(&self, repo_id: &str) -> Vec<String> {
        let state = self.shared.state();
        state.repo(repo_id).map(|repo| repo.head().files.keys().cloned().collect()).unwrap_or_default()
    }

    /// The content of `path` at the head of `main` (for LFS files, the real bytes, not the
    /// pointer).
    pub fn file(&self, repo_id: &str, path: &str) -> Option<Vec<u8>> {
        let state = self.shared.state();
        state.repo(repo_id)?.head().files.get(path).map(|entry| entry.content.to_vec())
    }

    /// The commits of `main`, oldest first, starting with the repo's `"initial commit"`.
    pub fn commits(&self, repo_id: &str) -> Vec<FakeCommit> {
        let state = self.shared.state();
        let Some(repo) = state.repo(repo_id) else { return Vec::new() };
        let mut previous = None;
        let mut commits = Vec::new();
        for commit in &repo.commits {
            let (added, deleted) = commit.diff(previous);
            commits.push(FakeCommit { id: commit.id.clone(), summary: commit.title.clone(), added, deleted });
            previous = Some(commit);
        }
        commits
    }

    /// Whether the repo is private; `None` when it does not exist.
    pub fn is_private(&self, repo_id: &str) -> Option<bool> {
        self.shared.state().repo(repo_id).map(|repo| repo.private)
    }
}

impl fmt::Debug for FakeHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let repos: BTreeSet<String> = self.shared.state().repo_ids();
        f.debug_struct("FakeHub")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .field("repos", &repos)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        // Stops accepting; open connections then close.
        self.shutdown.send_replace(true);
    }
}

/// One request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// The request headers.
    pub(crate) headers: &'a HeaderMap,
    /// The query string's pairs, form-decoded, in order.
    pub(crate) query: Vec<(String, String)>,
    /// The raw request body.
    pub(crate) body: &'a [u8],
    /// The fake's endpoint, `http://127.0.0.1:<port>`.
    pub(crate) base: &'a str,
    /// The raw (still percent-encoded) URL path, for pagination links.
    pub(crate) raw_path: &'a str,
    /// The server configuration.
    pub(crate) config: &'a FakeHubConfig,
}

impl Call<'_> {
    /// The first value of query parameter `key`.
    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
    }

    /// Every value of query parameter `key` (`expand=a&expand=b`).
    pub(crate) fn query_all(&self, key: &str) -> Vec<&str> {
        self.query.iter().filter(|(name, _)| name == key).map(|(_, value)| value.as_str()).collect()
    }

    /// A boolean query parameter (`true`/`1`, case-insensitive); false when absent.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.query(key).is_some_and(endpoint::is_true)
    }

    /// The value of header `name`, if it is valid text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body parsed as a JSON object; 400 otherwise.
    pub(crate) fn json(&self) -> Result<serde_json::Map<String, serde_json::Value>, HubError> {
        match serde_json::from_slice(self.body) {
            Ok(serde_json::Value::Object(object)) => Ok(object),
            _ => Err(HubError::bad_request("The request body must be a JSON object")),
        }
    }
}

/// An optional string field of a JSON object (`None` also for `null`); 400 for other types.
pub(crate) fn optional_str<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<&'a str>, HubError> {
    match object.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(HubError::bad_request(format!("\"{key}\" must be a string, not {other}"))),
    }
}

/// What handlers return: a reply, or an error that becomes one.
pub(crate) type Answer = Result<Reply, HubError>;

/// Records every request, applies queued faults, then routes it.
async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(connection): ConnectInfo<KillSwitch>,
    request: Request,
) -> Response {
    let seq = shared.last_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let (parts, body) = request.into_parts();
    let shutdown = shared.shutdown.clone();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else {
        let error = HubError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
        return error.into_reply().into_response(shutdown);
    };
    shared.record(ReceivedRequest::new(&parts, &body));
    let path = parts.uri.path();
    let endpoint = Endpoint::parse(&parts.method, path);
    let call = Call {
        headers: &parts.headers,
        query: endpoint::parse_query(parts.uri.query().unwrap_or("")),
        body: &body,
        base: &shared.endpoint,
        raw_path: path,
        config: &shared.config,
    };
    let fault = endpoint.route().and_then(|route| shared.state().take_fault(route));
    let reply = match fault {
        Some(Fault::DropConnection) => {
            connection.kill();
            // Never written: the connection fails on its first write.
            Reply::raw(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "")
        }
        Some(fault) => error::fault_reply(&fault),
        None => dispatch(&mut shared.state(), &call, endpoint).unwrap_or_else(HubError::into_reply),
    };
    reply.with_header("x-request-id", format!("Root=1-fakehub-{seq:08x}")).into_response(shutdown)
}

/// Routes one request: storage URLs (S3-like, no Hub auth) or the Hub API.
fn dispatch(state: &mut HubState, call: &Call<'_>, endpoint: Endpoint) -> Answer {
    match endpoint {
        Endpoint::UploadObject { repo, oid } => upload::put_object(state, call, &repo, &oid),
        Endpoint::UploadPart { repo, oid, part } => upload::put_part(state, call, &repo, &oid, &part),
        Endpoint::CompleteMultipart { repo, oid } => upload::complete(state, call, &repo, &oid),
        Endpoint::Unknown => Err(HubError::page_not_found()),
        api => {
            let caller = auth::identify(call.headers)?;
            hub_api(state, call, &caller, api)
        }
    }
}

/// Routes one authenticated (or anonymous) Hub API request.
fn hub_api(state: &mut HubState, call: &Call<'_>, caller: &Caller, endpoint: Endpoint) -> Answer {
    match endpoint {
        Endpoint::Whoami => repos::whoami(caller),
        Endpoint::CreateRepo => repos::create(state, call, caller),
        Endpoint::ValidateYaml => repos::validate_yaml(call),
        Endpoint::RepoInfo { repo, rev } => repos::info(state, call, caller, &repo, rev.as_deref()),
        Endpoint::Refs { repo } => repos::refs(state, call, caller, &repo),
        Endpoint::Commits { repo, rev } => repos::commits(state, caller, &repo, &rev),
        Endpoint::Preupload { repo, rev } => upload::preupload(state, call, caller, &repo, &rev),
        Endpoint::LfsBatch { repo } => upload::batch(state, call, caller, &repo),
        Endpoint::LfsVerify { repo } => upload::verify(state, call, caller, &repo),
        Endpoint::Commit { repo, rev } => commit::commit(state, call, caller, &repo, &rev),
        Endpoint::Tree { repo, rev, path } => read::tree(state, call, caller, &repo, &rev, &path),
        Endpoint::PathsInfo { repo, rev } => read::paths_info(state, call, caller, &repo, &rev),
        Endpoint::Resolve { repo, rev, path } => read::resolve(state, call, caller, &repo, &rev, &path),
        Endpoint::OtherRepoType { .. } => Err(auth::repo_not_found(caller)),
        Endpoint::Xet => Err(HubError::new(
            StatusCode::NOT_IMPLEMENTED,
            "The fake Hub implements no Xet storage: set HF_HUB_DISABLE_XET=1 and use LFS",
        )),
        Endpoint::UploadObject { .. }
        | Endpoint::UploadPart { .. }
        | Endpoint::CompleteMultipart { .. }
        | Endpoint::Unknown => Err(HubError::page_not_found()),
    }
}
