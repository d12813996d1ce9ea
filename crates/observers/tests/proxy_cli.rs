//! `observers proxy` as users run it: the real binary, driven with `curl`, stopped with
//! SIGTERM, its rows read with the DuckDB CLI. Tests that need curl fail, never skip, without
//! it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use observers_testkit::hub::{self as fake, FakeHub};
use observers_testkit::openai::MockOpenAi;
use observers_testkit::tools::{curl, duckdb_csv};

const KEY: &str = "sk-cli-test-0123456789SECRET";

/// An `observers proxy` process, killed if the test ends before it stopped.
struct ProxyProcess {
    child: Child,
    base_url: String,
    stderr: Arc<Mutex<String>>,
}

impl ProxyProcess {
    /// Starts `observers proxy <args>` and waits for it to say where it listens.
    fn start(args: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
        ProxyProcess::start_in(Path::new("."), args, env)
    }

    /// The same, in the directory `dir`.
    fn start_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_observers"));
        command.current_dir(dir);
        command.arg("proxy").args(args).env_remove("OPENAI_BASE_URL").env_remove("RUST_LOG");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut process = ProxyProcess { child, base_url: String::new(), stderr: Arc::default() };
        let (lines_tx, lines) = mpsc::channel();
        let pipe = process.child.stderr.take().unwrap();
        let all = Arc::clone(&process.stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                all.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = lines_tx.send(line);
            }
        });
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the proxy did not start: {}", process.stderr()));
            if let Some(rest) = line.strip_prefix("observers proxy: listening on ") {
                process.base_url = rest.split(',').next().unwrap().to_owned();
                return process;
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM, and waits for the exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        use rustix::process::{kill_process, Pid, Signal};
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        kill_process(pid, Signal::TERM).unwrap();
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the proxy did not stop within 30 s of SIGTERM: {}", self.stderr());
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn chat(model: &str, question: &str, stream: bool) -> String {
    let mut body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": question}],
    });
    if stream {
        body["stream"] = true.into();
        body["stream_options"] = serde_json::json!({"include_usage": true});
    }
    body.to_string()
}

/// `curl -sS <args> -d <body> <url>` with the test key and a JSON content type.
fn curl_post(url: &str, body: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(curl());
    command
        .args(["-sS", "-N", "--max-time", "60"])
        .args(["-H", &format!("Authorization: Bearer {KEY}"), "-H", "Content-Type: application/json"])
        .args(extra)
        .args(["-d", body, url]);
    command
}

fn text(output: &Output) -> String {
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_calls_through_observers_proxy_are_rows_and_sigterm_lets_streams_finish() {
    let mock = MockOpenAi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let mut proxy = ProxyProcess::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &mock.base_url(),
            "--db",
            db.to_str().unwrap(),
            "--tag",
            "cli",
        ],
        &[],
    );
    let completions = format!("{}/chat/completions", proxy.base_url);

    let plain = text(&run(&mut curl_post(
        &completions,
        &chat("gpt-4o-mini", "Hello from curl", false),
        &["-i", "-H", "X-Observers-Tags: curl"],
    )));
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.contains("x-request-id: req_mock_1"), "the upstream's headers come back: {plain}");
    assert!(plain.contains("Mock answer to: Hello from curl"), "{plain}");

    let streamed = text(&run(&mut curl_post(&completions, &chat("gpt-4o-mini", "Stream it", true), &[])));
    assert!(streamed.contains("data: {") && streamed.ends_with("data: [DONE]\n\n"), "{streamed}");

    let limited = text(&run(&mut curl_post(
        &completions,
        &chat("mock:http_error_429", "Too many", false),
        &["-o", "/dev/null", "-w", "%{http_code}"],
    )));
    assert_eq!(limited, "429");

    let models = text(&run(Command::new(curl()).args(["-sS", &format!("{}/models", proxy.base_url)])));
    assert!(models.contains("\"object\":\"list\""), "{models}");

    // A stream in flight when SIGTERM comes: it finishes, then the proxy exits 0.
    let slow = curl_post(&completions, &chat("mock:slow_first_token_1500ms", "Slowly", true), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = proxy.terminate();
    let slow = slow.wait_with_output().unwrap();
    assert!(text(&slow).ends_with("data: [DONE]\n\n"), "the stream in flight was cut: {}", text(&slow));
    assert!(status.success(), "exit status {status:?}: {}", proxy.stderr());
    let log = proxy.stderr();
    assert!(log.contains("stopped after 5 requests; 4 calls recorded"), "{log}");
    assert!(!log.contains(KEY), "the key reached the log: {log}");

    let rows = duckdb_csv(
        &db,
        "select model, finish_reason, array_to_string(tags, '|'), total_tokens, error is null \
         from openai_records order by id",
        true,
    );
    assert_eq!(
        rows.lines().collect::<Vec<_>>(),
        [
            "gpt-4o-mini,stop,cli|curl,9,true",
            "gpt-4o-mini,stop,cli,7,true",
            "mock:http_error_429,error,cli,NULL,false",
            "mock:slow_first_token_1500ms,stop,cli,5,true",
        ],
        "{rows}"
    );
    let leaked = duckdb_csv(
        &db,
        &format!("select count(*) from openai_records r where r::varchar like '%{KEY}%'"),
        true,
    );
    assert_eq!(leaked.trim(), "0");
}

#[test]
fn a_public_address_without_a_token_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let output = run(Command::new(env!("CARGO_BIN_EXE_observers"))
        .args(["proxy", "--listen", "0.0.0.0:0", "--db", db.to_str().unwrap()])
        .env_remove("OPENAI_BASE_URL"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0:0"), "{stderr}");
    assert!(stderr.contains("--require-token-env"), "{stderr}");
    assert!(!Path::new(&db).exists(), "a refused start must not create the store");

    let output = run(Command::new(env!("CARGO_BIN_EXE_observers"))
        .args(["proxy", "--listen", "127.0.0.1:0", "--db", db.to_str().unwrap()])
        .args(["--upstream-key-env", "OBSERVERS_TEST_UNSET_VARIABLE"])
        .env_remove("OBSERVERS_TEST_UNSET_VARIABLE"));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OBSERVERS_TEST_UNSET_VARIABLE is not set"), "{stderr}");
    assert!(!Path::new(&db).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_and_the_upstream_key_come_from_the_environment() {
    let mock = MockOpenAi::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let token = "proxy-token-from-env-42";
    let body = chat("gpt-4o-mini", "Hi", false);
    let mut proxy = ProxyProcess::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--require-token-env",
            "PROXY_TOKEN",
            "--upstream-key-env",
            "HELD_KEY",
        ],
        &[
            ("PROXY_TOKEN", token),
            ("HELD_KEY", "sk-held-by-the-proxy-77"),
            ("OPENAI_BASE_URL", &mock.base_url()),
        ],
    );
    let completions = format!("{}/chat/completions", proxy.base_url);
    let refused = text(&run(&mut curl_post(&completions, &body, &["-o", "/dev/null", "-w", "%{http_code}"])));
    assert_eq!(refused, "401");
    let mut with_token = Command::new(curl());
    with_token.args(["-sS", "-H", &format!("Authorization: Bearer {token}"), "-d", &body, &completions]);
    assert!(text(&run(&mut with_token)).contains("Mock answer to: Hi"));
    assert!(proxy.terminate().success());
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("authorization"), Some("Bearer sk-held-by-the-proxy-77"));
}

/// Rows in the dataset's Parquet shards.
fn hub_row_count(hub: &FakeHub, repo: &str) -> usize {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut rows = 0;
    for path in hub.files(repo).into_iter().filter(|p| p.ends_with(".parquet")) {
        let bytes = bytes::Bytes::from(hub.file(repo, &path).unwrap());
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap() {
            rows += batch.unwrap().num_rows();
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_store_alone_or_with_duckdb_gets_every_call_by_the_exit() {
    let mock = MockOpenAi::start().await.unwrap();
    let hub = FakeHub::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = hub.endpoint();
    let cache = dir.path().join("cache");
    let env = [
        ("HF_ENDPOINT", endpoint.as_str()),
        ("HF_TOKEN", fake::WRITE_TOKEN),
        ("XDG_CACHE_HOME", cache.to_str().unwrap()),
    ];
    let upstream = mock.base_url();

    // The Hub alone: no DuckDB file appears.
    let mut proxy = ProxyProcess::start_in(
        dir.path(),
        &["--listen", "127.0.0.1:0", "--upstream", &upstream, "--hf-repo", "tester/hub-only"],
        &env,
    );
    let completions = format!("{}/chat/completions", proxy.base_url);
    text(&run(&mut curl_post(&completions, &chat("gpt-4o-mini", "To the Hub", false), &[])));
    assert!(proxy.terminate().success(), "{}", proxy.stderr());
    assert_eq!(hub_row_count(&hub, "tester/hub-only"), 1, "the last shard is pushed at exit");
    assert!(!dir.path().join("store.db").exists());
    assert!(!proxy.stderr().contains(fake::WRITE_TOKEN));

    // Both at once.
    let db = dir.path().join("both.db");
    let mut proxy = ProxyProcess::start_in(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--hf-repo",
            "tester/both",
            "--db",
            db.to_str().unwrap(),
        ],
        &env,
    );
    let completions = format!("{}/chat/completions", proxy.base_url);
    for stream in [false, true] {
        text(&run(&mut curl_post(&completions, &chat("gpt-4o-mini", "To both", stream), &[])));
    }
    assert!(proxy.terminate().success(), "{}", proxy.stderr());
    assert_eq!(hub_row_count(&hub, "tester/both"), 2);
    assert_eq!(duckdb_csv(&db, "select count(*) from openai_records", true).trim(), "2");
}
