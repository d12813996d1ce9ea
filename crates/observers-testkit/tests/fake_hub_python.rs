#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Drives `FakeHub` with the official Python clients (huggingface_hub 2.4 with
//! `HF_HUB_DISABLE_XET=1`, datasets 5.2, pyarrow) to prove the fake is faithful: whoami, repo
//! creation (and `exist_ok`), `upload_file` of a small and a multipart Parquet shard, a no-op
//! re-upload, a stale `parent_commit`, downloads, listings and `datasets.load_dataset`.
//!
//! The interpreter is `$OBSERVERS_PYTHON` (set by `cargo xtask test` to its venv), else
//! `python3`; the test fails, never skips, when the packages are missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use observers_testkit::hub::{FakeHub, FakeHubConfig, WRITE_TOKEN};

const REPO: &str = "tester/pyclient";
/// Rows of the small and the big shard.
const SMALL_ROWS: usize = 10;
const BIG_ROWS: usize = 1500;
/// How long the script may run.
const TIMEOUT: Duration = Duration::from_secs(600);

const SCRIPT: &str = r#"
import os, random, shutil, sys

import huggingface_hub
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
import pyarrow as pa
import pyarrow.parquet as pq

repo, work, small_rows, big_rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("VERSION huggingface_hub", huggingface_hub.__version__, flush=True)
api = HfApi()

me = api.whoami()
assert me["name"] == "tester", me
assert me["auth"]["accessToken"]["role"] == "write", me
print("STEP whoami", me["name"], flush=True)

url = api.create_repo(repo, repo_type="dataset", private=True)
again = api.create_repo(repo, repo_type="dataset", private=True, exist_ok=True)
assert str(again) == str(url), (url, again)
info = api.dataset_info(repo)
assert info.private is True and info.id == repo, info
initial = info.sha
print("STEP create_repo", url, flush=True)

small = os.path.join(work, "small.parquet")
pq.write_table(pa.table({"id": list(range(small_rows)), "text": [f"row {i}" for i in range(small_rows)]}), small)
api.upload_file(path_or_fileobj=small, path_in_repo="data/train-00000.parquet", repo_id=repo,
                repo_type="dataset", commit_message="Add small shard")
print("STEP upload_small", os.path.getsize(small), flush=True)

rng = random.Random(42)
texts = [rng.randbytes(1000).hex() for _ in range(big_rows)]
big = os.path.join(work, "big.parquet")
pq.write_table(pa.table({"id": list(range(small_rows, small_rows + big_rows)), "text": texts}), big,
               compression="none", use_dictionary=False)
assert os.path.getsize(big) > 2 * 1024 * 1024, os.path.getsize(big)
api.upload_file(path_or_fileobj=big, path_in_repo="data/train-00001.parquet", repo_id=repo,
                repo_type="dataset", commit_message="Add big shard")
print("STEP upload_big", os.path.getsize(big), flush=True)

# Re-uploading identical bytes: preupload reports the oid, the batch has no actions, no commit.
head = api.dataset_info(repo).sha
noop = api.upload_file(path_or_fileobj=small, path_in_repo="data/train-00000.parquet", repo_id=repo,
                       repo_type="dataset", commit_message="Same bytes")
assert api.dataset_info(repo).sha == head, "a no-op upload must not commit"
print("STEP reupload_noop", flush=True)

try:
    api.create_commit(repo, repo_type="dataset", commit_message="stale", parent_commit=initial,
                      operations=[CommitOperationAdd(path_in_repo="x.txt", path_or_fileobj=b"x")])
    raise AssertionError("a stale parent_commit must fail")
except HfHubHTTPError as err:
    assert err.response.status_code == 412, err
    assert "The branch was updated since you opened this page" in str(err), err
print("STEP stale_parent_412", flush=True)

for local, remote in [(small, "data/train-00000.parquet"), (big, "data/train-00001.parquet")]:
    path = hf_hub_download(repo, remote, repo_type="dataset")
    with open(path, "rb") as downloaded, open(local, "rb") as original:
        assert downloaded.read() == original.read(), remote
print("STEP hf_hub_download", flush=True)

files = sorted(api.list_repo_files(repo, repo_type="dataset"))
print("FILES", ",".join(files), flush=True)
entries = list(api.list_repo_tree(repo, path_in_repo="data", repo_type="dataset"))
assert all(entry.lfs is not None and entry.lfs.size == entry.size for entry in entries), entries
infos = api.get_paths_info(repo, ["data/train-00001.parquet", "missing.txt"], repo_type="dataset")
assert [info.path for info in infos] == ["data/train-00001.parquet"], infos
assert api.file_exists(repo, "data/train-00000.parquet", repo_type="dataset")
assert not api.file_exists(repo, "nope.parquet", repo_type="dataset")
print("STEP listings", flush=True)

# Empty the hub cache so that `datasets` downloads the shards from the fake again.
shutil.rmtree(os.path.join(os.environ["HF_HOME"], "hub"), ignore_errors=True)
import datasets
ds = datasets.load_dataset(repo, split="train")
print("ROWS", ds.num_rows, flush=True)
assert sorted(ds["id"]) == list(range(small_rows + big_rows))

# push_to_hub: shards uploaded first (preupload_lfs_files), then one commit with a README
# whose `configs` the reader follows.
pushed = repo + "-pushed"
datasets.Dataset.from_dict({"id": [1, 2, 3], "text": ["a", "b", "c"]}).push_to_hub(pushed, private=True)
again = datasets.load_dataset(pushed, split="train")
print("PUSHED_ROWS", again.num_rows, flush=True)
print("OK", flush=True)
"#;

/// A fresh scratch directory.
fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("observers-fake-hub-py-{}-{nanos}", std::process::id()));
    fs::create_dir_all(dir.join("hf_home")).unwrap();
    dir
}

/// Runs the script against `endpoint`; returns (success, stdout, stderr).
fn run_script(python: &Path, endpoint: &str, dir: &Path) -> (bool, String, String) {
    let script = dir.join("client.py");
    fs::write(&script, SCRIPT).unwrap();
    let stdout_path = dir.join("stdout.txt");
    let stderr_path = dir.join("stderr.txt");
    let mut command = Command::new(python);
    command
        .arg(&script)
        .args([REPO, &dir.display().to_string(), &SMALL_ROWS.to_string(), &BIG_ROWS.to_string()])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap());
    for name in [
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_CACHE",
        "HF_DATASETS_CACHE",
        "HF_HUB_ENABLE_HF_TRANSFER",
        "HF_OIDC_RESOURCE",
        "HUGGINGFACE_CO_STAGING",
    ] {
        command.env_remove(name);
    }
    command
        .env("HF_ENDPOINT", endpoint)
        .env("HF_TOKEN", WRITE_TOKEN)
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HOME", dir.join("hf_home"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    (status.is_some_and(|status| status.success()), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_clients_round_trip_through_the_fake() {
    let python = observers_testkit::tools::python_with_hub_clients();
    let config =
        FakeHubConfig { multipart_threshold: 1024 * 1024, chunk_size: 512 * 1024, offer_verify: true };
    let hub = FakeHub::start_with(config).await.unwrap();
    let dir = scratch_dir();
    let endpoint = hub.endpoint();
    let (script_dir, python_bin) = (dir.clone(), python.clone());
    let (success, stdout, stderr) =
        tokio::task::spawn_blocking(move || run_script(&python_bin, &endpoint, &script_dir)).await.unwrap();
    let requests: Vec<String> =
        hub.requests().iter().map(|request| format!("{} {}", request.method, request.path)).collect();
    let context = format!(
        "python: {}\n--- stdout\n{stdout}\n--- stderr (last 6000 bytes)\n{}\n--- requests\n{}",
        python.display(),
        &stderr[stderr.len().saturating_sub(6000)..],
        requests.join("\n")
    );
    assert!(success, "the Python client script failed\n{context}");
    assert!(stdout.contains("VERSION huggingface_hub 2."), "{context}");
    assert!(
        stdout.contains("FILES .gitattributes,data/train-00000.parquet,data/train-00001.parquet"),
        "{context}"
    );
    assert!(stdout.contains(&format!("ROWS {}", SMALL_ROWS + BIG_ROWS)), "{context}");
    assert!(stdout.contains("PUSHED_ROWS 3"), "{context}");
    assert!(stdout.trim_end().ends_with("OK"), "{context}");

    // The fake's state from Rust: the initial commit plus one per upload (the no-op and the
    // stale commit added none), the real bytes behind LFS.
    assert_eq!(
        hub.files(REPO),
        vec![".gitattributes", "data/train-00000.parquet", "data/train-00001.parquet"]
    );
    let commits = hub.commits(REPO);
    let summaries: Vec<&str> = commits.iter().map(|commit| commit.summary.as_str()).collect();
    assert_eq!(summaries, vec!["initial commit", "Add small shard", "Add big shard"], "{context}");
    assert_eq!(commits[1].added, vec!["data/train-00000.parquet"]);
    assert_eq!(commits[2].added, vec!["data/train-00001.parquet"]);
    assert_eq!(hub.is_private(REPO), Some(true));
    let small = fs::read(dir.join("small.parquet")).unwrap();
    let big = fs::read(dir.join("big.parquet")).unwrap();
    assert_eq!(hub.file(REPO, "data/train-00000.parquet").unwrap(), small);
    assert_eq!(hub.file(REPO, "data/train-00001.parquet").unwrap(), big);

    // The big shard went multipart: ceil(size / 512 KiB) part PUTs, then one completion; the
    // storage URLs never saw the Hub token.
    let requests = hub.requests();
    let storage = |kind: &str| {
        let prefix = format!("/__lfs/{kind}/{REPO}/");
        requests.iter().filter(|request| request.path.starts_with(&prefix)).count()
    };
    assert_eq!(storage("part"), big.len().div_ceil(512 * 1024), "{context}");
    assert_eq!(storage("complete"), 1, "{context}");
    assert_eq!(storage("upload"), 1, "{context}");
    assert!(requests
        .iter()
        .filter(|request| request.path.starts_with("/__lfs/"))
        .all(|request| request.header("authorization").is_none()));
    assert!(requests.iter().any(|request| request.path.ends_with(".git/info/lfs/objects/verify")));
    assert!(!requests.iter().any(|request| request.path.contains("xet")), "{context}");
    // `datasets` resolved main to the head sha and downloaded the shards at that sha.
    let at_head = format!("/datasets/{REPO}/resolve/{}/data/train-00001.parquet", commits[2].id);
    assert!(requests.iter().any(|request| request.method == "GET" && request.path == at_head), "{context}");

    let pushed = format!("{REPO}-pushed");
    assert_eq!(hub.files(&pushed), vec![".gitattributes", "README.md", "data/train-00000-of-00001.parquet"]);
    let readme = String::from_utf8(hub.file(&pushed, "README.md").unwrap()).unwrap();
    assert!(readme.contains("configs:"), "{readme}");
    assert!(requests.iter().any(|request| request.path == "/api/validate-yaml"), "{context}");
    let _ = fs::remove_dir_all(&dir);
}
