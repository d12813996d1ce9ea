#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Drives `FakeHub` over real HTTP with a raw `reqwest` client: the upload protocol step by
//! step (preupload, LFS batch, single and multipart PUTs, verify, NDJSON commit), the read
//! side, errors and injected faults.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use observers_testkit::hub::{FakeHub, FakeHubConfig, Fault, Route, READ_TOKEN, USER, WRITE_TOKEN};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REPO: &str = "tester/demo";
const STALE_MESSAGE: &str =
    "The branch was updated since you opened this page. Please refresh and try again.";
/// `git hash-object` of the README of `uploads_commits_and_reads_back`.
const README_BLOB: &str = "ee89c659fc92350f8f0f8c777d3432e3052db886";
/// `git hash-object` of the LFS pointer of `parquet(7, 4617)` (129 bytes).
const SHARD_POINTER_BLOB: &str = "9dcc0497729ae3d456550d30006f19529f087ecc";

/// Bytes that look like a small Parquet file (binary, `PAR1` at both ends).
fn parquet(seed: u8, len: usize) -> Vec<u8> {
    let mut bytes = b"PAR1".to_vec();
    bytes.extend((0..len.saturating_sub(8)).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes.extend_from_slice(b"PAR1");
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|value| value.to_str().unwrap().to_owned())
}

/// A fake Hub and a client for it.
struct Hub {
    hub: FakeHub,
    http: reqwest::Client,
}

impl Hub {
    async fn start() -> Hub {
        Hub::with(FakeHubConfig::default()).await
    }

    async fn with(config: FakeHubConfig) -> Hub {
        Hub { hub: FakeHub::start_with(config).await.unwrap(), http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.hub.endpoint())
    }

    fn request(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, token).send().await.unwrap()
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, path, token).json(body).send().await.unwrap()
    }

    async fn create(&self, name: &str, private: bool) -> reqwest::Response {
        let body = json!({"name": name, "organization": USER, "visibility": if private { "private" } else { "public" }, "type": "dataset"});
        self.post("/api/repos/create", Some(WRITE_TOKEN), &body).await
    }

    async fn preupload(&self, files: &[(&str, &[u8])]) -> Value {
        let files: Vec<Value> = files
            .iter()
            .map(|(path, bytes)| json!({"path": path, "sample": BASE64.encode(&bytes[..bytes.len().min(512)]), "size": bytes.len()}))
            .collect();
        let response = self
            .post(
                &format!("/api/datasets/{REPO}/preupload/main"),
                Some(WRITE_TOKEN),
                &json!({"files": files}),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn batch(&self, objects: &[&[u8]]) -> Value {
        let objects: Vec<Value> =
            objects.iter().map(|bytes| json!({"oid": sha256(bytes), "size": bytes.len()})).collect();
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/datasets/{REPO}.git/info/lfs/objects/batch"),
                Some(WRITE_TOKEN),
            )
            .header("accept", "application/vnd.git-lfs+json")
            .header("content-type", "application/vnd.git-lfs+json")
            .body(
                json!({"operation": "upload", "transfers": ["basic", "multipart"], "objects": objects,
                       "hash_algo": "sha256", "ref": {"name": "main"}})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type").as_deref(), Some("application/vnd.git-lfs+json"));
        response.json().await.unwrap()
    }

    /// PUTs to a storage URL the way Python does: raw bytes, no auth.
    async fn put(&self, href: &str, bytes: &[u8]) -> reqwest::Response {
        self.http.put(href).body(bytes.to_vec()).send().await.unwrap()
    }

    /// Batch and single PUT of one object; returns its oid.
    async fn upload(&self, bytes: &[u8]) -> String {
        let batch = self.batch(&[bytes]).await;
        let href = batch["objects"][0]["actions"]["upload"]["href"].as_str().unwrap();
        assert_eq!(self.put(href, bytes).await.status(), 200);
        sha256(bytes)
    }

    async fn commit(&self, lines: &[Value]) -> reqwest::Response {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.request(reqwest::Method::POST, &format!("/api/datasets/{REPO}/commit/main"), Some(WRITE_TOKEN))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn head_sha(&self) -> String {
        let info: Value =
            self.get(&format!("/api/datasets/{REPO}"), Some(WRITE_TOKEN)).await.json().await.unwrap();
        info["sha"].as_str().unwrap().to_owned()
    }

    async fn bytes(&self, path: &str) -> (reqwest::StatusCode, Vec<u8>) {
        let response = self.get(&format!("/datasets/{REPO}/resolve/main/{path}"), Some(WRITE_TOKEN)).await;
        (response.status(), response.bytes().await.unwrap().to_vec())
    }
}

fn commit_header(summary: &str, parent: Option<&str>) -> Value {
    let mut value = json!({"summary": summary, "description": ""});
    if let Some(parent) = parent {
        value["parentCommit"] = json!(parent);
    }
    json!({"key": "header", "value": value})
}

fn lfs_line(path: &str, bytes: &[u8]) -> Value {
    json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha256(bytes), "size": bytes.len()}})
}

fn file_line(path: &str, bytes: &[u8]) -> Value {
    json!({"key": "file", "value": {"content": BASE64.encode(bytes), "path": path, "encoding": "base64"}})
}

#[tokio::test]
async fn creates_repos_and_answers_409_with_url() {
    let hub = Hub::start().await;
    let response = hub.create("demo", true).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], REPO);
    assert_eq!(body["url"], format!("{}/datasets/{REPO}", hub.hub.endpoint()));
    assert_eq!(body["id"].as_str().unwrap().len(), 24);

    let again = hub.create("demo", true).await;
    assert_eq!(again.status(), 409);
    assert_eq!(header(&again, "x-error-message"), None, "the Hub's 409 has no X-Error-Message");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["url"], body["url"]);
    assert_eq!(again["error"], "You already created this dataset repo");

    // hf-hub's legacy body: `private`, and `organization: null` means the token owner.
    let legacy = json!({"name": "legacy", "organization": null, "private": false, "type": "dataset"});
    assert_eq!(hub.post("/api/repos/create", Some(WRITE_TOKEN), &legacy).await.status(), 200);
    assert_eq!(hub.hub.is_private("tester/legacy"), Some(false));
    assert_eq!(hub.hub.is_private(REPO), Some(true));
    assert!(hub.hub.repo_exists(REPO));
    assert!(!hub.hub.repo_exists("tester/nope"));

    // The repo starts with the Hub's initial commit and default .gitattributes.
    assert_eq!(hub.hub.files(REPO), vec![".gitattributes"]);
    let gitattributes = String::from_utf8(hub.hub.file(REPO, ".gitattributes").unwrap()).unwrap();
    assert!(gitattributes.contains("*.parquet filter=lfs diff=lfs merge=lfs -text"));
    let commits = hub.hub.commits(REPO);
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].summary, "initial commit");
    assert_eq!(commits[0].added, vec![".gitattributes"]);
    let info: Value = hub.get(&format!("/api/datasets/{REPO}"), Some(READ_TOKEN)).await.json().await.unwrap();
    assert_eq!(info["id"], REPO);
    assert_eq!(info["sha"], commits[0].id);
    assert_eq!(info["private"], true);
    assert_eq!(info["siblings"], json!([{"rfilename": ".gitattributes"}]));

    // Model repos, other namespaces and bad names are refused.
    let model = json!({"name": "model", "organization": USER});
    assert_eq!(hub.post("/api/repos/create", Some(WRITE_TOKEN), &model).await.status(), 400);
    let org = json!({"name": "x", "organization": "someone-else", "type": "dataset"});
    assert_eq!(hub.post("/api/repos/create", Some(WRITE_TOKEN), &org).await.status(), 403);
    let bad = json!({"name": "bad--name", "type": "dataset"});
    assert_eq!(hub.post("/api/repos/create", Some(WRITE_TOKEN), &bad).await.status(), 400);
}

#[tokio::test]
async fn authenticates_like_the_hub() {
    let hub = Hub::start().await;
    hub.create("demo", true).await;
    hub.create("open", false).await;

    let whoami: Value = hub.get("/api/whoami-v2", Some(WRITE_TOKEN)).await.json().await.unwrap();
    assert_eq!(whoami["name"], USER);
    assert_eq!(whoami["type"], "user");
    assert_eq!(whoami["auth"]["accessToken"]["role"], "write");
    let whoami: Value = hub.get("/api/whoami-v2", Some(READ_TOKEN)).await.json().await.unwrap();
    assert_eq!(whoami["auth"]["accessToken"]["role"], "read");

    let bad = hub.get("/api/whoami-v2", Some("hf_wrong")).await;
    assert_eq!(bad.status(), 401);
    assert_eq!(
        header(&bad, "x-error-message").as_deref(),
        Some("Invalid credentials in Authorization header")
    );
    assert_eq!(bad.json::<Value>().await.unwrap()["error"], "Invalid credentials in Authorization header");
    // A bad token fails even on public repos.
    assert_eq!(hub.get("/api/datasets/tester/open", Some("hf_wrong")).await.status(), 401);

    // Anonymous: private and missing repos look the same (401 RepoNotFound); public ones are readable.
    for repo in ["tester/demo", "tester/missing"] {
        let anonymous = hub.get(&format!("/api/datasets/{repo}"), None).await;
        assert_eq!(anonymous.status(), 401, "{repo}");
        assert_eq!(header(&anonymous, "x-error-code").as_deref(), Some("RepoNotFound"));
    }
    assert_eq!(hub.get("/api/datasets/tester/open", None).await.status(), 200);

    // Authenticated: a missing repo is a 404 RepoNotFound.
    let missing = hub.get("/api/datasets/tester/missing", Some(WRITE_TOKEN)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "x-error-code").as_deref(), Some("RepoNotFound"));
    assert_eq!(header(&missing, "x-error-message").as_deref(), Some("Repository not found"));
    // The model URL of a dataset repo does not exist either.
    assert_eq!(hub.get("/api/models/tester/demo", Some(WRITE_TOKEN)).await.status(), 404);

    // A read token cannot write.
    let files = json!({"files": [{"path": "a.txt", "sample": "aGVsbG8=", "size": 5}]});
    let forbidden = hub.post(&format!("/api/datasets/{REPO}/preupload/main"), Some(READ_TOKEN), &files).await;
    assert_eq!(forbidden.status(), 403);
    assert!(header(&forbidden, "x-error-message").unwrap().contains("read-only token"));
    let create = json!({"name": "x", "type": "dataset"});
    assert_eq!(hub.post("/api/repos/create", Some(READ_TOKEN), &create).await.status(), 403);
    assert_eq!(hub.post("/api/repos/create", None, &create).await.status(), 401);
    let commit = hub
        .request(reqwest::Method::POST, &format!("/api/datasets/{REPO}/commit/main"), Some(READ_TOKEN))
        .body(format!("{}\n", commit_header("x", None)))
        .send()
        .await
        .unwrap();
    assert_eq!(commit.status(), 403);
}

#[tokio::test]
async fn preupload_picks_lfs_for_parquet_binary_and_big_files() {
    let hub = Hub::with(FakeHubConfig { multipart_threshold: 2048, ..FakeHubConfig::default() }).await;
    hub.create("demo", false).await;
    let text = b"hello\n".as_slice();
    let binary = b"\x00\x01\x02 not text".as_slice();
    let big_text = vec![b'a'; 4096];
    let body = hub
        .preupload(&[
            ("data/train-00000-of-00001.parquet", &parquet(1, 100)),
            ("README.md", text),
            ("blob.dat", binary),
            ("big.txt", &big_text),
            ("data/empty.parquet", b""),
            ("accent.txt", "é".repeat(300).as_bytes()),
        ])
        .await;
    let modes: Vec<(&str, &str)> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| (file["path"].as_str().unwrap(), file["uploadMode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        modes,
        vec![
            ("data/train-00000-of-00001.parquet", "lfs"),
            ("README.md", "regular"),
            ("blob.dat", "lfs"),
            ("big.txt", "lfs"),
            ("data/empty.parquet", "regular"),
            // A sample cut in the middle of a UTF-8 character is still text.
            ("accent.txt", "regular"),
        ]
    );
    assert!(body["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|file| file["shouldIgnore"] == false && file.get("oid").is_none()));
    assert_eq!(body["commitOid"], hub.head_sha().await);
    let missing_rev = hub
        .post(&format!("/api/datasets/{REPO}/preupload/dev"), Some(WRITE_TOKEN), &json!({"files": []}))
        .await;
    assert_eq!(missing_rev.status(), 404);
    assert_eq!(header(&missing_rev, "x-error-code").as_deref(), Some("RevisionNotFound"));
}

#[tokio::test]
async fn uploads_commits_and_reads_back() {
    let hub = Hub::start().await;
    hub.create("demo", true).await;
    let shard = parquet(7, 4617);
    let readme = b"---\nlicense: mit\n---\n# Demo\n".to_vec();
    let initial = hub.head_sha().await;

    // LFS batch: one basic upload with verify.
    let batch = hub.batch(&[&shard]).await;
    assert_eq!(batch["transfer"], "basic");
    let object = &batch["objects"][0];
    assert_eq!(object["oid"], sha256(&shard));
    assert_eq!(object["size"], shard.len());
    let href = object["actions"]["upload"]["href"].as_str().unwrap().to_owned();
    assert!(href.starts_with(&hub.hub.endpoint()), "{href}");
    assert!(object["actions"]["upload"].get("header").is_none());
    let verify = object["actions"]["verify"]["href"].as_str().unwrap().to_owned();
    assert_eq!(verify, hub.url(&format!("/datasets/{REPO}.git/info/lfs/objects/verify")));

    // Wrong bytes, and a Hub token sent to the storage, are refused; the object stays absent.
    let wrong = hub.put(&href, &parquet(8, 4617)).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("BadDigest"));
    assert_eq!(hub.put(&href, &shard[..100]).await.status(), 400);
    let with_token = hub.http.put(&href).bearer_auth(WRITE_TOKEN).body(shard.clone()).send().await.unwrap();
    assert_eq!(with_token.status(), 400);
    let verify_body = json!({"oid": sha256(&shard), "size": shard.len()});
    assert_eq!(
        hub.post(&verify[hub.hub.endpoint().len()..], Some(WRITE_TOKEN), &verify_body).await.status(),
        404
    );

    let put = hub.put(&href, &shard).await;
    assert_eq!(put.status(), 200);
    let etag = header(&put, "etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34, "{etag}");
    assert_eq!(
        hub.post(&verify[hub.hub.endpoint().len()..], Some(WRITE_TOKEN), &verify_body).await.status(),
        200
    );
    // Stored objects come back without actions.
    let again = hub.batch(&[&shard]).await;
    assert_eq!(again["objects"][0], json!({"oid": sha256(&shard), "size": shard.len()}));

    // One commit with the LFS shard and an inline README.
    let response = hub
        .commit(&[
            commit_header("Add README and first shard", Some(&initial)),
            file_line("README.md", &readme),
            lfs_line("data/train-00000-of-00001.parquet", &shard),
        ])
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["hookOutput"], "");
    let commit_oid = body["commitOid"].as_str().unwrap().to_owned();
    assert_eq!(commit_oid.len(), 40);
    assert_eq!(body["commitUrl"], hub.url(&format!("/datasets/{REPO}/commit/{commit_oid}")));

    // The fake's state.
    assert_eq!(hub.hub.files(REPO), vec![".gitattributes", "README.md", "data/train-00000-of-00001.parquet"]);
    assert_eq!(hub.hub.file(REPO, "data/train-00000-of-00001.parquet").unwrap(), shard);
    let commits = hub.hub.commits(REPO);
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[1].id, commit_oid);
    assert_eq!(commits[1].summary, "Add README and first shard");
    assert_eq!(commits[1].added, vec!["README.md", "data/train-00000-of-00001.parquet"]);
    assert!(commits[1].deleted.is_empty());

    // A stale parentCommit: 412 with the Hub's message; nothing changes.
    let stale = hub.commit(&[commit_header("stale", Some(&initial)), file_line("x.txt", b"x")]).await;
    assert_eq!(stale.status(), 412);
    assert_eq!(header(&stale, "x-error-message").as_deref(), Some(STALE_MESSAGE));
    assert_eq!(stale.json::<Value>().await.unwrap()["error"], STALE_MESSAGE);
    assert_eq!(hub.hub.commits(REPO).len(), 2);

    // Preupload now reports the oids: sha256 for LFS, git blob sha1 for regular files.
    let body = hub.preupload(&[("data/train-00000-of-00001.parquet", &shard), ("README.md", &readme)]).await;
    assert_eq!(body["files"][0]["oid"], sha256(&shard));
    assert_eq!(body["files"][1]["oid"], README_BLOB);
    assert_eq!(body["commitOid"], commit_oid);

    // Read-back: resolve, HEAD, Range, tree and paths-info.
    assert_eq!(
        hub.bytes("data/train-00000-of-00001.parquet").await,
        (reqwest::StatusCode::OK, shard.clone())
    );
    assert_eq!(hub.bytes("README.md").await, (reqwest::StatusCode::OK, readme.clone()));
    let head = hub
        .request(
            reqwest::Method::HEAD,
            &format!("/datasets/{REPO}/resolve/main/data/train-00000-of-00001.parquet"),
            Some(WRITE_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-length"), Some(shard.len().to_string()));
    assert_eq!(header(&head, "etag"), Some(format!("\"{}\"", sha256(&shard))));
    assert_eq!(header(&head, "x-linked-etag"), Some(format!("\"{}\"", sha256(&shard))));
    assert_eq!(header(&head, "x-linked-size"), Some(shard.len().to_string()));
    assert_eq!(header(&head, "x-repo-commit"), Some(commit_oid.clone()));
    let range = hub
        .request(
            reqwest::Method::GET,
            &format!("/datasets/{REPO}/resolve/{commit_oid}/data/train-00000-of-00001.parquet"),
            Some(WRITE_TOKEN),
        )
        .header("range", "bytes=4-9")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(header(&range, "content-range"), Some(format!("bytes 4-9/{}", shard.len())));
    assert_eq!(range.bytes().await.unwrap().to_vec(), shard[4..=9].to_vec());
    let missing = hub.get(&format!("/datasets/{REPO}/resolve/main/nope.json"), Some(WRITE_TOKEN)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "x-error-code").as_deref(), Some("EntryNotFound"));

    let tree: Value = hub
        .get(&format!("/api/datasets/{REPO}/tree/main?recursive=true&expand=false"), Some(WRITE_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tree[0]["type"], "directory");
    assert_eq!(tree[0]["path"], "data");
    assert_eq!(tree[0]["oid"].as_str().unwrap().len(), 40);
    let shard_entry = json!({
        "type": "file", "oid": SHARD_POINTER_BLOB, "size": shard.len(),
        "path": "data/train-00000-of-00001.parquet",
        "lfs": {"oid": sha256(&shard), "size": shard.len(), "pointerSize": 129},
    });
    assert_eq!(tree[3], shard_entry);
    assert_eq!(tree.as_array().unwrap().len(), 4);
    // Python sends the tree path as one percent-encoded segment.
    let data: Value = hub
        .get(&format!("/api/datasets/{REPO}/tree/{commit_oid}/data"), Some(WRITE_TOKEN))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data, json!([shard_entry]));
    let nope = hub.get(&format!("/api/datasets/{REPO}/tree/main/nope"), Some(WRITE_TOKEN)).await;
    assert_eq!(nope.status(), 404);
    assert_eq!(header(&nope, "x-error-code").as_deref(), Some("EntryNotFound"));

    let form = hub
        .request(reqwest::Method::POST, &format!("/api/datasets/{REPO}/paths-info/main"), Some(WRITE_TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("paths=data%2Ftrain-00000-of-00001.parquet&paths=missing&paths=data&expand=false")
        .send()
        .await
        .unwrap();
    let form: Value = form.json().await.unwrap();
    assert_eq!(form[0], shard_entry);
    assert_eq!(form[1]["type"], "directory");
    assert_eq!(form.as_array().unwrap().len(), 2);
    let by_json: Value = hub
        .post(
            &format!("/api/datasets/{REPO}/paths-info/main"),
            Some(WRITE_TOKEN),
            &json!({"paths": ["README.md"], "expand": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_json[0]["oid"], README_BLOB);
    assert_eq!(by_json[0]["lastCommit"]["id"], commit_oid);
    assert_eq!(by_json[0]["lastCommit"]["title"], "Add README and first shard");

    // Deleting a file, and deleting one that does not exist.
    let delete = hub
        .commit(&[
            commit_header("Delete README", None),
            json!({"key": "deletedFile", "value": {"path": "README.md"}}),
        ])
        .await;
    assert_eq!(delete.status(), 200);
    assert_eq!(hub.hub.commits(REPO)[2].deleted, vec!["README.md"]);
    let gone = hub
        .commit(&[
            commit_header("Delete again", None),
            json!({"key": "deletedFile", "value": {"path": "README.md"}}),
        ])
        .await;
    assert_eq!(gone.status(), 404);
    assert_eq!(header(&gone, "x-error-code").as_deref(), Some("EntryNotFound"));
}

#[tokio::test]
async fn multipart_upload_in_three_parts() {
    let hub =
        Hub::with(FakeHubConfig { multipart_threshold: 1000, chunk_size: 400, offer_verify: false }).await;
    hub.create("demo", false).await;
    let big = parquet(3, 1100);
    let batch = hub.batch(&[&big]).await;
    let upload = &batch["objects"][0]["actions"]["upload"];
    assert!(batch["objects"][0]["actions"].get("verify").is_none(), "offer_verify: false");
    let header_map = upload["header"].as_object().unwrap();
    assert_eq!(header_map["chunk_size"], "400");
    let mut parts: Vec<(&String, &Value)> =
        header_map.iter().filter(|(key, _)| key.bytes().all(|b| b.is_ascii_digit())).collect();
    parts.sort_by_key(|(key, _)| key.parse::<u32>().unwrap());
    assert_eq!(
        parts.iter().map(|(key, _)| key.as_str()).collect::<Vec<_>>(),
        vec!["00001", "00002", "00003"]
    );
    let complete_href = upload["href"].as_str().unwrap().to_owned();

    let mut etags = Vec::new();
    for ((_, url), chunk) in parts.iter().zip(big.chunks(400)) {
        let response = hub.put(url.as_str().unwrap(), chunk).await;
        assert_eq!(response.status(), 200);
        let etag = header(&response, "etag").unwrap();
        assert!(etag.starts_with('"'), "{etag}");
        etags.push(etag);
    }
    let completion = |parts: Value| {
        hub.http
            .post(&complete_href)
            .header("accept", "application/vnd.git-lfs+json")
            .header("content-type", "application/vnd.git-lfs+json")
            .body(json!({"oid": sha256(&big), "parts": parts}).to_string())
            .send()
    };
    // A wrong ETag, or a missing part, is refused.
    let wrong = json!([{"partNumber": 1, "etag": "\"0000\""}, {"partNumber": 2, "etag": etags[1]}, {"partNumber": 3, "etag": etags[2]}]);
    assert_eq!(completion(wrong).await.unwrap().status(), 400);
    let short = json!([{"partNumber": 1, "etag": etags[0]}, {"partNumber": 2, "etag": etags[1]}]);
    assert_eq!(completion(short).await.unwrap().status(), 400);
    let parts_body: Vec<Value> =
        etags.iter().enumerate().map(|(i, etag)| json!({"partNumber": i + 1, "etag": etag})).collect();
    let done = completion(Value::from(parts_body)).await.unwrap();
    assert_eq!(done.status(), 200);

    let response = hub.commit(&[commit_header("Big shard", None), lfs_line("data/big.parquet", &big)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(hub.hub.file(REPO, "data/big.parquet").unwrap(), big);
    assert_eq!(hub.bytes("data/big.parquet").await.1, big);

    // Small objects stay single-part; clients that do not offer multipart get a single PUT.
    let small = parquet(4, 999);
    assert!(hub.batch(&[&small]).await["objects"][0]["actions"]["upload"].get("header").is_none());
    let basic_only = hub
        .post(
            &format!("/datasets/{REPO}.git/info/lfs/objects/batch"),
            Some(WRITE_TOKEN),
            &json!({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": sha256(&parquet(5, 5000)), "size": 5000}]}),
        )
        .await;
    let basic_only: Value = basic_only.json().await.unwrap();
    assert!(basic_only["objects"][0]["actions"]["upload"].get("header").is_none());
}

#[tokio::test]
async fn commit_checks_lfs_objects_and_tracks_new_lfs_paths() {
    let hub = Hub::start().await;
    hub.create("demo", false).await;
    let never = parquet(9, 300);
    let response =
        hub.commit(&[commit_header("Missing object", None), lfs_line("data/x.parquet", &never)]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("never uploaded"));

    let log = b"{\"a\": 1}\n".repeat(50);
    hub.upload(&log).await;
    let wrong_size = json!({"key": "lfsFile", "value": {"path": "logs/log.jsonl", "algo": "sha256", "oid": sha256(&log), "size": 1}});
    assert_eq!(hub.commit(&[commit_header("Wrong size", None), wrong_size]).await.status(), 422);

    // No header, or no summary: 400.
    assert_eq!(hub.commit(&[file_line("a.txt", b"a")]).await.status(), 400);
    assert_eq!(hub.commit(&[json!({"key": "header", "value": {"summary": ""}})]).await.status(), 400);

    // An LFS path no pattern covers gets a .gitattributes rule, as on the Hub.
    let response = hub.commit(&[commit_header("Add log", None), lfs_line("logs/log.jsonl", &log)]).await;
    assert_eq!(response.status(), 200);
    let commits = hub.hub.commits(REPO);
    assert_eq!(commits.last().unwrap().added, vec![".gitattributes", "logs/log.jsonl"]);
    let gitattributes = String::from_utf8(hub.hub.file(REPO, ".gitattributes").unwrap()).unwrap();
    assert!(
        gitattributes.ends_with("logs/log.jsonl filter=lfs diff=lfs merge=lfs -text\n"),
        "{gitattributes}"
    );

    // An inline `file` at a path LFS tracks is stored in LFS (hf-hub 1.0 inlines Parquet).
    let inline = parquet(10, 500);
    assert_eq!(
        hub.commit(&[commit_header("Inline", None), file_line("data/inline.parquet", &inline)])
            .await
            .status(),
        200
    );
    let info: Value = hub
        .post(
            &format!("/api/datasets/{REPO}/paths-info/main"),
            None,
            &json!({"paths": ["data/inline.parquet"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info[0]["lfs"]["oid"], sha256(&inline));
    // …and is then known to the batch.
    assert_eq!(hub.batch(&[&inline]).await["objects"][0].get("actions"), None);
}

#[tokio::test]
async fn injected_faults() {
    let hub = Hub::start().await;
    hub.create("demo", false).await;
    let files = json!({"files": [{"path": "rl.txt", "sample": "eA==", "size": 1}]});
    let preupload = format!("/api/datasets/{REPO}/preupload/main");

    hub.hub.fail_next(Route::Preupload, Fault::Status(429), 1);
    let limited = hub.post(&preupload, Some(WRITE_TOKEN), &files).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after").as_deref(), Some("1"));
    assert!(header(&limited, "ratelimit").is_some());
    assert!(limited.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("rate limit"));
    assert_eq!(hub.post(&preupload, Some(WRITE_TOKEN), &files).await.status(), 200);

    hub.hub.fail_next(Route::Commit, Fault::RetryAfter(503, 7), 2);
    for _ in 0..2 {
        let unavailable = hub.commit(&[commit_header("x", None)]).await;
        assert_eq!(unavailable.status(), 503);
        assert_eq!(header(&unavailable, "retry-after").as_deref(), Some("7"));
        assert!(header(&unavailable, "x-error-message").is_some());
    }
    assert_eq!(hub.commit(&[commit_header("x", None)]).await.status(), 200);

    // Faults apply before auth and to storage URLs too.
    hub.hub.fail_next(Route::Whoami, Fault::Status(500), 1);
    assert_eq!(hub.get("/api/whoami-v2", None).await.status(), 500);
    let data = parquet(2, 64);
    let batch = hub.batch(&[&data]).await;
    let href = batch["objects"][0]["actions"]["upload"]["href"].as_str().unwrap();
    hub.hub.fail_next(Route::UploadPut, Fault::Status(503), 1);
    assert_eq!(hub.put(href, &data).await.status(), 503);
    assert_eq!(hub.put(href, &data).await.status(), 200);

    // A dropped connection: no status at all, then the route works again.
    hub.hub.fail_next(Route::RepoInfo, Fault::DropConnection, 1);
    let fresh = reqwest::Client::new();
    let dropped = fresh.get(hub.url(&format!("/api/datasets/{REPO}"))).bearer_auth(WRITE_TOKEN).send().await;
    let err = dropped.expect_err("the connection is dropped without a response");
    assert!(err.status().is_none(), "{err:?}");
    assert_eq!(
        fresh
            .get(hub.url(&format!("/api/datasets/{REPO}")))
            .bearer_auth(WRITE_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let info_requests =
        hub.hub.requests().iter().filter(|request| request.path == format!("/api/datasets/{REPO}")).count();
    assert_eq!(info_requests, 2, "the dropped request was recorded and not retried");
}

#[tokio::test]
async fn records_requests_and_pages_tree_listings() {
    let hub = Hub::start().await;
    hub.create("demo", false).await;
    let mut lines = vec![commit_header("Many files", None)];
    lines.extend((0..60).map(|i| file_line(&format!("logs/{i:03}.txt"), format!("{i}\n").as_bytes())));
    assert_eq!(hub.commit(&lines).await.status(), 200);

    let first = hub.get(&format!("/api/datasets/{REPO}/tree/main/logs?expand=true"), None).await;
    let link = header(&first, "link").unwrap();
    let page: Value = first.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 50);
    assert_eq!(page[0]["lastCommit"]["title"], "Many files");
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    assert!(link.ends_with("rel=\"next\""), "{link}");
    let rest: Value = hub.http.get(next).send().await.unwrap().json().await.unwrap();
    assert_eq!(rest.as_array().unwrap().len(), 10);
    assert_eq!(rest[9]["path"], "logs/059.txt");

    let requests = hub.hub.requests();
    let create = &requests[0];
    assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", "/api/repos/create"));
    assert_eq!(create.header("authorization"), Some(format!("Bearer {WRITE_TOKEN}").as_str()));
    assert_eq!(create.json().unwrap()["name"], "demo");
    assert!(requests.iter().all(|request| !request.path.contains('?')));

    // Refs and commit history.
    let refs: Value = hub.get(&format!("/api/datasets/{REPO}/refs"), None).await.json().await.unwrap();
    let commits = hub.hub.commits(REPO);
    assert_eq!(refs["branches"][0]["targetCommit"], commits[1].id);
    let history: Value =
        hub.get(&format!("/api/datasets/{REPO}/commits/main"), None).await.json().await.unwrap();
    assert_eq!(history[0]["id"], commits[1].id);
    assert_eq!(history[1]["title"], "initial commit");
}
