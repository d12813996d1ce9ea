//! [`Phoenix`]: a real Arize Phoenix (the open-source LLM tracing server) on a loopback
//! port, fed over OTLP by the tests and read back with Phoenix's own Python client
//! (`arize-phoenix-client`).
//!
//! Phoenix comes from the test venv (`arize-phoenix` and `arize-phoenix-client`, pinned in
//! `xtask/requirements.txt`; see [`crate::tools::python_with_phoenix`]). It starts in about
//! 15-45 s, so a test binary shares one ([`Phoenix::shared`]) and each test writes to a
//! project of its own (the `openinference.project.name` resource attribute).
//!
//! The server runs under a small Python process that also holds the client: it stops
//! Phoenix when its stdin closes, so even a shared instance (never dropped) goes away with
//! the test process.
//!
//! ```no_run
//! use observers_testkit::phoenix::Phoenix;
//! use std::time::Duration;
//!
//! let phoenix = Phoenix::shared();
//! println!("send spans to {}", phoenix.otlp_http_endpoint());
//! let spans = phoenix.wait_for_spans("my-test", 1, Duration::from_secs(30)).unwrap();
//! assert_eq!(spans[0]["name"], "chat gpt-4o-mini");
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long [`Phoenix::start`] waits for Phoenix to be healthy: `$OBSERVERS_PHOENIX_START_SECS`,
/// else 180 s.
pub const START_TIMEOUT_VAR: &str = "OBSERVERS_PHOENIX_START_SECS";

const GLUE: &str = include_str!("phoenix_glue.py");

/// A running Phoenix server and a client to read its spans. Stopped on drop.
pub struct Phoenix {
    port: u16,
    grpc_port: u16,
    dir: PathBuf,
    child: Mutex<Child>,
    link: Mutex<Option<Link>>,
}

/// The pipes to the Python process: requests in, answer lines out (through a thread).
struct Link {
    stdin: ChildStdin,
    answers: mpsc::Receiver<String>,
}

impl std::fmt::Debug for Phoenix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phoenix").field("port", &self.port).field("dir", &self.dir).finish()
    }
}

/// A loopback port free right now.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Phoenix {
    /// One Phoenix for the whole test binary, started on first use.
    ///
    /// # Panics
    /// When Phoenix is not installed or does not start (see [`Phoenix::start`]).
    pub fn shared() -> &'static Phoenix {
        static SHARED: OnceLock<Phoenix> = OnceLock::new();
        SHARED.get_or_init(|| match Phoenix::start() {
            Ok(phoenix) => phoenix,
            Err(e) => panic!("{e}"),
        })
    }

    /// Starts Phoenix from the test venv on a free loopback port, with a fresh working
    /// directory (its SQLite database) under the system temp dir, and waits until it is
    /// healthy (at most [`START_TIMEOUT_VAR`] seconds, default 180).
    ///
    /// # Errors
    /// When it exits or is not healthy in time, with the tail of its log.
    ///
    /// # Panics
    /// When the venv has no Phoenix (see [`crate::tools::python_with_phoenix`]).
    pub fn start() -> Result<Phoenix, String> {
        let python = crate::tools::python_with_phoenix();
        let port = free_port().map_err(|e| format!("no free port for Phoenix: {e}"))?;
        let grpc_port = free_port().map_err(|e| format!("no free port for Phoenix: {e}"))?;
        let dir = std::env::temp_dir().join(format!("observers-phoenix-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("phoenix.log")).map_err(|e| format!("phoenix.log: {e}"))?;
        let base_url = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(&python)
            .args(["-c", GLUE, &base_url])
            .env("PHOENIX_WORKING_DIR", &dir)
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", grpc_port.to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("PHOENIX_ALLOW_EXTERNAL_RESOURCES", "false")
            .env("PHOENIX_LOGGING_LEVEL", "warning")
            .env("PHOENIX_DB_LOGGING_LEVEL", "warning")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("could not run {}: {e}", python.display()))?;
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(stdin), Some(stdout)) => (stdin, stdout),
            _ => return Err("no pipes to the Phoenix process".into()),
        };
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let phoenix = Phoenix {
            port,
            grpc_port,
            dir,
            child: Mutex::new(child),
            link: Mutex::new(Some(Link { stdin, answers })),
        };
        let limit = std::env::var(START_TIMEOUT_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(180), Duration::from_secs);
        let started = Instant::now();
        loop {
            if healthy(port) {
                break;
            }
            if let Ok(Some(status)) = phoenix.child().try_wait() {
                return Err(format!(
                    "Phoenix exited ({status}) before it was healthy; the end of its log:\n{}",
                    phoenix.log_tail()
                ));
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "Phoenix was not healthy on port {port} after {limit:?} (raise {START_TIMEOUT_VAR}); \
                     the end of its log:\n{}",
                    phoenix.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(phoenix)
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Phoenix's UI and REST base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Phoenix's OTLP/HTTP traces endpoint, `http://127.0.0.1:PORT/v1/traces`.
    pub fn otlp_http_endpoint(&self) -> String {
        format!("{}/v1/traces", self.base_url())
    }

    /// Phoenix's OTLP/gRPC endpoint, `http://127.0.0.1:GRPC_PORT`.
    pub fn otlp_grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// Phoenix's working directory (database, `phoenix.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last 40 lines of Phoenix's log.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.dir.join("phoenix.log")) {
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The spans of `project` (newest first, as Phoenix's client returns them), each the
    /// client's JSON: `name`, `context.trace_id`/`span_id`, `parent_id`, `span_kind`,
    /// `start_time`, `end_time`, `status_code`, `status_message`, `attributes`...
    ///
    /// # Errors
    /// The client's error (an unknown project is one), or a Python process that is gone.
    pub fn spans(&self, project: &str) -> Result<Vec<Value>, String> {
        let mut guard = self.link.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let link = guard.as_mut().ok_or("the Phoenix client is closed")?;
        let request = json!({"project": project, "limit": 10_000}).to_string();
        writeln!(link.stdin, "{request}").map_err(|e| format!("the Phoenix client is gone: {e}"))?;
        let _ = link.stdin.flush();
        loop {
            let line = link
                .answers
                .recv_timeout(Duration::from_secs(120))
                .map_err(|_| format!("no answer from the Phoenix client; log:\n{}", self.log_tail()))?;
            let Ok(answer) = serde_json::from_str::<Value>(&line) else { continue };
            if answer.get("client").is_some() {
                continue; // the start-up line
            }
            if let Some(error) = answer.get("error").and_then(Value::as_str) {
                return Err(error.to_string());
            }
            return match answer.get("spans") {
                Some(Value::Array(spans)) => Ok(spans.clone()),
                _ => Err(format!("unexpected answer from the Phoenix client: {line}")),
            };
        }
    }

    /// Waits until `project` has at least `n` spans (polling), then returns them all.
    ///
    /// # Errors
    /// When fewer than `n` arrived within `timeout`, with the last client error.
    pub fn wait_for_spans(&self, project: &str, n: usize, timeout: Duration) -> Result<Vec<Value>, String> {
        let started = Instant::now();
        loop {
            let last = match self.spans(project) {
                Ok(spans) if spans.len() >= n => return Ok(spans),
                Ok(spans) => format!("{} span(s) so far", spans.len()),
                Err(e) => e,
            };
            if started.elapsed() > timeout {
                return Err(format!(
                    "project {project:?} did not get {n} span(s) within {timeout:?}: {last}"
                ));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Whether `GET /healthz` answers 200.
fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        // Closing stdin makes the Python side stop Phoenix; then make sure it is gone.
        self.link.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let mut child = self.child();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        drop(child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
