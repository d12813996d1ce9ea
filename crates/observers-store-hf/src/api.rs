//! The Hub's HTTP API, as much of it as pushing shards needs (see
//! `shared/docs/hub-protocol.md`): whoami, create repo, preupload, LFS batch, single and
//! multipart PUT, verify, NDJSON commit. Transient failures (429 with its Retry-After, 5xx,
//! network) are retried with backoff; 401/403 are reported at once with what to do.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};

const LFS_JSON: &str = "application/vnd.git-lfs+json";

/// How failed requests are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Attempts in all (1 = no retry).
    pub(crate) attempts: u32,
    /// First backoff; doubles each time.
    pub(crate) backoff: Duration,
    /// Longest wait between attempts, whatever the server asks.
    pub(crate) max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 5, backoff: Duration::from_secs(1), max_wait: Duration::from_secs(60) }
    }
}

/// A dataset repository id, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepoId {
    pub(crate) owner: String,
    pub(crate) name: String,
}

impl RepoId {
    pub(crate) fn parse(id: &str) -> Result<(Option<String>, String)> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !part.starts_with('.')
        };
        match id.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => {
                Ok((Some(owner.to_string()), name.to_string()))
            }
            None if valid(id) => Ok((None, id.to_string())),
            _ => Err(Error::InvalidRepoId(id.to_string())),
        }
    }
}

impl std::fmt::Display for RepoId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// One file announced to preupload.
pub(crate) struct Announce<'a> {
    pub(crate) path: &'a str,
    pub(crate) size: u64,
    pub(crate) sample: &'a [u8],
}

#[derive(Debug, Deserialize)]
pub(crate) struct PreuploadFile {
    pub(crate) path: String,
    #[serde(rename = "uploadMode")]
    pub(crate) upload_mode: String,
    #[serde(default)]
    pub(crate) oid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Preupload {
    pub(crate) files: Vec<PreuploadFile>,
    #[serde(rename = "commitOid", default)]
    pub(crate) commit_oid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Action {
    href: String,
    #[serde(default)]
    header: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct Actions {
    upload: Option<Action>,
    verify: Option<Action>,
}

#[derive(Debug, Deserialize)]
struct ObjectError {
    code: i64,
    message: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BatchObject {
    pub(crate) oid: String,
    size: u64,
    #[serde(default)]
    actions: Option<Actions>,
    #[serde(default)]
    error: Option<ObjectError>,
}

#[derive(Debug, Deserialize)]
struct Batch {
    objects: Vec<BatchObject>,
}

/// A file added by a commit.
pub(crate) enum CommitFile<'a> {
    /// Small text file, sent inline.
    Regular { path: &'a str, content: &'a [u8] },
    /// Already uploaded through LFS.
    Lfs { path: &'a str, oid: &'a str, size: u64 },
}

#[derive(Debug, Deserialize)]
pub(crate) struct Commit {
    #[serde(rename = "commitOid")]
    pub(crate) commit_oid: String,
    #[serde(rename = "commitUrl", default)]
    pub(crate) commit_url: Option<String>,
}

/// A client of one Hub endpoint.
#[derive(Debug, Clone)]
pub(crate) struct HubApi {
    http: reqwest::Client,
    pub(crate) endpoint: String,
    token: Option<String>,
    retry: Retry,
}

/// Percent-encodes a revision as one path segment (`refs/pr/1` → `refs%2Fpr%2F1`).
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The Hub's message: `X-Error-Message`, else `{"error": ...}`, else the body's start.
fn hub_message(headers: &HeaderMap, body: &str) -> String {
    if let Some(message) = headers.get("x-error-message").and_then(|v| v.to_str().ok()) {
        return message.to_string();
    }
    let json: Option<Value> = serde_json::from_str(body).ok();
    let from_json = json.as_ref().and_then(|j| {
        j.get("error")
            .and_then(|e| {
                e.as_str().map(str::to_string).or_else(|| e.get("message")?.as_str().map(str::to_string))
            })
            .or_else(|| j.get("errors")?.get(0)?.get("message")?.as_str().map(str::to_string))
    });
    from_json.unwrap_or_else(|| body.chars().take(300).collect::<String>().trim().to_string())
}

impl HubApi {
    pub(crate) fn new(endpoint: String, token: Option<String>, retry: Retry) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("observers/", env!("CARGO_PKG_VERSION"), "; hf_hub/rust"))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(Self { http, endpoint, token, retry })
    }

    fn authed(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
            None => builder,
        }
    }

    fn redact(&self, text: String) -> String {
        match &self.token {
            Some(token) if token.len() >= 4 && text.contains(token.as_str()) => {
                text.replace(token.as_str(), "[REDACTED]")
            }
            _ => text,
        }
    }

    /// Hrefs the Hub returns name its public host; point them at the configured endpoint.
    fn fix_href(&self, href: &str) -> String {
        match href.strip_prefix(crate::auth::DEFAULT_ENDPOINT) {
            Some(rest) if self.endpoint != crate::auth::DEFAULT_ENDPOINT => {
                format!("{}{rest}", self.endpoint)
            }
            _ => href.to_string(),
        }
    }

    /// Sends a request, retrying transient failures; `repo` names the repository in 403s.
    async fn send(
        &self,
        action: &'static str,
        repo: Option<&RepoId>,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let backoff = (self.retry.backoff * 2u32.saturating_pow(attempt - 1)).min(self.retry.max_wait);
            let response = match make().send().await {
                Ok(response) => response,
                Err(e) => {
                    // No URLs in messages: presigned upload URLs carry signatures.
                    let mut causes = Vec::new();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        causes.push(s.to_string());
                        source = s.source();
                    }
                    let mut message = e.without_url().to_string();
                    for cause in causes {
                        message = format!("{message}: {cause}");
                    }
                    if last {
                        return Err(Error::Network {
                            endpoint: self.endpoint.clone(),
                            action,
                            message: self.redact(message),
                        });
                    }
                    tracing::warn!(action, attempt, error = %self.redact(message), "Hub unreachable; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let headers = response.headers().clone();
            let body = response.text().await.unwrap_or_default();
            let message = self.redact(hub_message(&headers, &body));
            let wait = retry_after(&headers);
            match status {
                StatusCode::UNAUTHORIZED => {
                    return Err(Error::Unauthorized { endpoint: self.endpoint.clone(), message })
                }
                StatusCode::FORBIDDEN => {
                    let repo_id = repo.map(ToString::to_string).unwrap_or_default();
                    return Err(Error::Forbidden { repo_id, message });
                }
                _ => {}
            }
            let transient = matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504);
            if !transient || last {
                return Err(Error::Hub { action, status: status.as_u16(), message, retry_after: wait });
            }
            let wait = wait.unwrap_or(backoff).min(self.retry.max_wait);
            tracing::warn!(action, attempt, status = status.as_u16(), %message, "Hub asked to retry in {wait:?}");
            tokio::time::sleep(wait).await;
        }
    }

    async fn json<T: for<'de> Deserialize<'de>>(
        action: &'static str,
        response: reqwest::Response,
    ) -> Result<T> {
        let bytes = response.bytes().await.map_err(|e| Error::Protocol { action, message: e.to_string() })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            action,
            message: format!(
                "{e} in {:?}",
                String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>()
            ),
        })
    }

    /// The token owner's name.
    pub(crate) async fn whoami(&self) -> Result<String> {
        if self.token.is_none() {
            return Err(Error::MissingToken);
        }
        let url = format!("{}/api/whoami-v2", self.endpoint);
        let response =
            self.send("identify the token's owner", None, || self.authed(self.http.get(&url))).await?;
        let body: Value = Self::json("identify the token's owner", response).await?;
        body.get("name").and_then(Value::as_str).map(str::to_string).ok_or(Error::Protocol {
            action: "identify the token's owner",
            message: "whoami answer has no `name`".into(),
        })
    }

    /// Creates the dataset repository; an existing one is fine.
    pub(crate) async fn create_repo(&self, repo: &RepoId, private: bool) -> Result<()> {
        let url = format!("{}/api/repos/create", self.endpoint);
        let body = json!({
            "name": repo.name, "organization": repo.owner, "type": "dataset",
            "visibility": if private { "private" } else { "public" },
        });
        match self
            .send("create the repository", Some(repo), || self.authed(self.http.post(&url)).json(&body))
            .await
        {
            Ok(_) | Err(Error::Hub { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks how each file must be uploaded, and which already exist.
    pub(crate) async fn preupload(
        &self,
        repo: &RepoId,
        revision: &str,
        files: &[Announce<'_>],
    ) -> Result<Preupload> {
        let url = format!(
            "{}/api/datasets/{}/{}/preupload/{}",
            self.endpoint,
            repo.owner,
            repo.name,
            encode_segment(revision)
        );
        let engine = base64::engine::general_purpose::STANDARD;
        let body = json!({"files": files.iter().map(|f| json!({
            "path": f.path, "size": f.size, "sample": engine.encode(&f.sample[..f.sample.len().min(512)]),
        })).collect::<Vec<_>>()});
        let response = self
            .send("prepare the upload", Some(repo), || self.authed(self.http.post(&url)).json(&body))
            .await?;
        Self::json("prepare the upload", response).await
    }

    /// Asks where to upload LFS objects.
    pub(crate) async fn lfs_batch(
        &self,
        repo: &RepoId,
        revision: &str,
        objects: &[(String, u64)],
    ) -> Result<Vec<BatchObject>> {
        let url =
            format!("{}/datasets/{}/{}.git/info/lfs/objects/batch", self.endpoint, repo.owner, repo.name);
        let body = json!({
            "operation": "upload", "transfers": ["basic", "multipart"], "hash_algo": "sha256",
            "ref": {"name": revision},
            "objects": objects.iter().map(|(oid, size)| json!({"oid": oid, "size": size})).collect::<Vec<_>>(),
        });
        let body = body.to_string();
        let make = || {
            self.authed(self.http.post(&url))
                .header(ACCEPT, LFS_JSON)
                .header(CONTENT_TYPE, LFS_JSON)
                .body(body.clone())
        };
        let response = self.send("negotiate the LFS upload", Some(repo), make).await?;
        let batch: Batch = Self::json("negotiate the LFS upload", response).await?;
        for object in &batch.objects {
            if let Some(error) = &object.error {
                return Err(Error::Hub {
                    action: "negotiate the LFS upload",
                    status: u16::try_from(error.code).unwrap_or(500),
                    message: format!("object {}: {}", object.oid, error.message),
                    retry_after: None,
                });
            }
        }
        Ok(batch.objects)
    }

    /// Uploads one object as the batch answer says: nothing (already stored), one PUT, or
    /// multipart; then verify when offered.
    pub(crate) async fn upload(&self, object: &BatchObject, content: Bytes) -> Result<()> {
        let Some(actions) = &object.actions else { return Ok(()) };
        let Some(upload) = &actions.upload else { return Ok(()) };
        let chunk_size = upload
            .header
            .as_ref()
            .and_then(|h| h.get("chunk_size"))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        match chunk_size {
            Some(chunk_size) => self.upload_multipart(object, upload, chunk_size, content).await?,
            None => {
                let href = self.fix_href(&upload.href);
                self.send("upload a shard", None, || self.http.put(&href).body(content.clone())).await?;
            }
        }
        if let Some(verify) = &actions.verify {
            let href = self.fix_href(&verify.href);
            let body = json!({"oid": object.oid, "size": object.size});
            self.send("verify an upload", None, || self.authed(self.http.post(&href)).json(&body)).await?;
        }
        Ok(())
    }

    async fn upload_multipart(
        &self,
        object: &BatchObject,
        upload: &Action,
        chunk_size: u64,
        content: Bytes,
    ) -> Result<()> {
        let protocol = |message: String| Error::Protocol { action: "upload a shard in parts", message };
        if chunk_size == 0 {
            return Err(protocol("chunk_size is 0".into()));
        }
        let mut parts: Vec<(u64, String)> = upload
            .header
            .iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_str()?.to_string())))
            .collect();
        parts.sort_by_key(|(n, _)| *n);
        let expected = object.size.div_ceil(chunk_size);
        if parts.len() as u64 != expected {
            return Err(protocol(format!("{} part URLs for {expected} parts", parts.len())));
        }
        let mut etags = Vec::with_capacity(parts.len());
        for (i, (number, href)) in parts.iter().enumerate() {
            let start = (i as u64 * chunk_size).min(content.len() as u64) as usize;
            let end = ((i as u64 + 1) * chunk_size).min(content.len() as u64) as usize;
            let part = content.slice(start..end);
            let href = self.fix_href(href);
            let response = self
                .send("upload a shard part", None, || {
                    self.http.request(Method::PUT, &href).body(part.clone())
                })
                .await?;
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .filter(|e| !e.is_empty())
                .ok_or_else(|| protocol(format!("part {number} was stored without an ETag")))?;
            etags.push(json!({"partNumber": number, "etag": etag}));
        }
        let href = self.fix_href(&upload.href);
        let body = json!({"oid": object.oid, "parts": etags}).to_string();
        self.send("complete a multipart upload", None, || {
            self.http.post(&href).header(ACCEPT, LFS_JSON).header(CONTENT_TYPE, LFS_JSON).body(body.clone())
        })
        .await?;
        Ok(())
    }

    /// Commits files in one commit; `parent` makes it fail with 412 if the branch moved.
    pub(crate) async fn commit(
        &self,
        repo: &RepoId,
        revision: &str,
        summary: &str,
        parent: Option<&str>,
        files: &[CommitFile<'_>],
    ) -> Result<Commit> {
        let url = format!(
            "{}/api/datasets/{}/{}/commit/{}",
            self.endpoint,
            repo.owner,
            repo.name,
            encode_segment(revision)
        );
        let engine = base64::engine::general_purpose::STANDARD;
        let mut header = json!({"summary": summary, "description": ""});
        if let Some(parent) = parent {
            header["parentCommit"] = json!(parent);
        }
        let mut body = json!({"key": "header", "value": header}).to_string();
        body.push('\n');
        for file in files {
            let line = match file {
                CommitFile::Regular { path, content } => {
                    json!({"key": "file", "value": {"content": engine.encode(content), "path": path, "encoding": "base64"}})
                }
                CommitFile::Lfs { path, oid, size } => {
                    json!({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}})
                }
            };
            body.push_str(&line.to_string());
            body.push('\n');
        }
        let make = || {
            self.authed(self.http.post(&url)).header(CONTENT_TYPE, "application/x-ndjson").body(body.clone())
        };
        let response = self.send("commit", Some(repo), make).await?;
        Self::json("commit", response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert_eq!(RepoId::parse("me/logs").unwrap(), (Some("me".into()), "logs".into()));
        assert_eq!(RepoId::parse("logs").unwrap(), (None, "logs".into()));
        for bad in ["", "a/b/c", "me/", "/x", "me/lo gs", "../x"] {
            assert!(RepoId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn revisions_are_one_segment() {
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_segment("main"), "main");
    }
}
