//! `POST /api/datasets/{repo}/commit/{rev}`: the NDJSON commit (header, `file`, `lfsFile`,
//! `deletedFile`, `deletedFolder`), applied atomically to `main`.

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::auth::{self, Access, Caller};
use super::error::{json, HubError, STALE_PARENT};
use super::git;
use super::state::{is_branch, Entry, Files, HubState, Repo};
use super::{optional_str, Answer, Call};
use crate::openai::wire::obj;

/// One line of the NDJSON body: `{"key": …, "value": {…}}`.
type Line = (String, Map<String, Value>);

/// LFS objects by sha256.
type Objects = Vec<(String, Bytes)>;

/// Applies a commit to `main` (all or nothing) and answers `{success, commitOid, commitUrl,
/// hookOutput}`.
pub(crate) fn commit(
    state: &mut HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
) -> Answer {
    let time = state.tick();
    let repo = auth::repo_mut(state, caller, repo_id, Access::Write)?;
    if call.flag("create_pr") {
        return Err(HubError::bad_request("The fake Hub does not support create_pr (pull requests)"));
    }
    if !is_branch(rev) {
        return Err(match repo.resolve(rev) {
            Some(_) => {
                HubError::bad_request(format!("Cannot commit to {rev}: commits go to a branch (main)"))
            }
            None => HubError::revision_not_found(rev),
        });
    }
    let lines = parse_lines(call.body)?;
    let Some(((_, header), operations)) = lines.split_first().filter(|((key, _), _)| key == "header") else {
        return Err(HubError::bad_request(
            "The first line of a commit must be {\"key\": \"header\", \"value\": {\"summary\", …}}",
        ));
    };
    let summary = optional_str(header, "summary")?.map(str::trim).unwrap_or("");
    if summary.is_empty() {
        return Err(HubError::bad_request("The commit header needs a non-empty \"summary\""));
    }
    let description = optional_str(header, "description")?.unwrap_or("");
    if let Some(parent) = optional_str(header, "parentCommit")? {
        let head = &repo.head().id;
        if parent.len() < 5 || !head.starts_with(&parent.to_ascii_lowercase()) {
            return Err(HubError::new(StatusCode::PRECONDITION_FAILED, STALE_PARENT));
        }
    }
    let mut draft = Draft { files: repo.head().files.clone(), objects: Vec::new(), lfs_paths: Vec::new() };
    for (key, value) in operations {
        draft.apply(repo, key, value)?;
    }
    let (files, objects) = draft.finish()?;
    repo.objects.extend(objects);
    let commit = repo.add_commit(files, summary, description, time);
    let id = commit.id.clone();
    let body = obj! {
        "success": true,
        "commitOid": id.as_str(),
        "commitUrl": format!("{}/datasets/{repo_id}/commit/{id}", call.base),
        "hookOutput": "",
    };
    Ok(json(StatusCode::OK, &body))
}

/// The lines of an NDJSON body (blank lines skipped).
fn parse_lines(body: &[u8]) -> Result<Vec<Line>, HubError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| HubError::bad_request("The commit body must be UTF-8 NDJSON"))?;
    let lines = text.lines().filter(|line| !line.trim().is_empty());
    lines
        .enumerate()
        .map(|(index, line)| {
            let invalid =
                |why: String| HubError::bad_request(format!("Line {} of the commit: {why}", index + 1));
            let mut value: Value =
                serde_json::from_str(line).map_err(|err| invalid(format!("invalid JSON: {err}")))?;
            let key = value.get("key").and_then(Value::as_str).map(str::to_owned);
            match (key, value.get_mut("value").map(Value::take)) {
                (Some(key), Some(Value::Object(value))) => Ok((key, value)),
                _ => Err(invalid("expected {\"key\": string, \"value\": object}".to_owned())),
            }
        })
        .collect()
}

/// The new head being built.
struct Draft {
    files: Files,
    /// LFS objects of inline `file`s whose path LFS tracks, stored when the commit succeeds.
    objects: Objects,
    /// Paths added by `lfsFile`, which `.gitattributes` must track.
    lfs_paths: Vec<String>,
}

impl Draft {
    /// Applies one operation line.
    fn apply(&mut self, repo: &Repo, key: &str, value: &Map<String, Value>) -> Result<(), HubError> {
        let path = optional_str(value, "path")?
            .ok_or_else(|| HubError::bad_request(format!("\"{key}\" needs a \"path\"")))?;
        match key {
            "file" => self.add_file(value, checked_path(path)?),
            "lfsFile" => self.add_lfs_file(repo, value, checked_path(path)?),
            "deletedFile" => match self.files.remove(path) {
                Some(_) => Ok(()),
                None => Err(HubError::entry_not_found("A file with this name doesn't exist")),
            },
            "deletedFolder" => {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let before = self.files.len();
                self.files.retain(|file, _| !file.starts_with(&prefix));
                if self.files.len() == before {
                    return Err(HubError::entry_not_found("A folder with this name doesn't exist"));
                }
                Ok(())
            }
            other => Err(HubError::bad_request(format!("Unknown commit operation \"{other}\""))),
        }
    }

    /// `file`: inline content, base64 (or `utf-8` text); stored in LFS when `.gitattributes`
    /// tracks the path, as git's filter would.
    fn add_file(&mut self, value: &Map<String, Value>, path: &str) -> Result<(), HubError> {
        let content = optional_str(value, "content")?.unwrap_or("");
        let content = match optional_str(value, "encoding")? {
            None | Some("base64") => BASE64.decode(content).map_err(|err| {
                HubError::bad_request(format!("The content of {path} is not base64: {err}"))
            })?,
            Some("utf-8" | "utf8") => content.as_bytes().to_vec(),
            Some(other) => {
                return Err(HubError::bad_request(format!("Unknown encoding \"{other}\" for {path}")))
            }
        };
        if let Some(old_path) = optional_str(value, "oldPath")? {
            self.files.remove(old_path);
        }
        let content = Bytes::from(content);
        let gitattributes = self.text(".gitattributes");
        let entry = if !content.is_empty() && git::lfs_tracked(&gitattributes, path) {
            let sha256 = git::sha256_hex(&content);
            self.objects.push((sha256.clone(), content.clone()));
            Entry::lfs(content, sha256)
        } else {
            Entry::regular(content)
        };
        self.files.insert(path.to_owned(), entry);
        Ok(())
    }

    /// `lfsFile`: `{path, algo, oid, size}` of an object uploaded through the LFS batch.
    fn add_lfs_file(&mut self, repo: &Repo, value: &Map<String, Value>, path: &str) -> Result<(), HubError> {
        if let Some(algo) = optional_str(value, "algo")?.filter(|algo| *algo != "sha256") {
            return Err(HubError::bad_request(format!(
                "Unsupported LFS hash algorithm \"{algo}\" for {path}"
            )));
        }
        let oid = optional_str(value, "oid")?.unwrap_or("");
        let unprocessable = |message: String| HubError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
        let Some(content) = repo.objects.get(oid) else {
            return Err(unprocessable(format!(
                "LFS object {oid} of {path} was never uploaded: upload it through the LFS batch (and PUT) before committing"
            )));
        };
        if let Some(size) = value.get("size").filter(|size| !size.is_null()) {
            if size.as_u64() != Some(content.len() as u64) {
                return Err(unprocessable(format!(
                    "LFS object {oid} of {path} is {} bytes, not {size}",
                    content.len()
                )));
            }
        }
        self.files.insert(path.to_owned(), Entry::lfs(content.clone(), oid.to_owned()));
        self.lfs_paths.push(path.to_owned());
        Ok(())
    }

    /// The content of a text file of the draft.
    fn text(&self, path: &str) -> String {
        self.files
            .get(path)
            .map(|entry| String::from_utf8_lossy(&entry.content).into_owned())
            .unwrap_or_default()
    }

    /// The final file set and the new LFS objects: `.gitattributes` gains a rule for each
    /// `lfsFile` path it does not track (as the Hub does), and no path may be both a file and
    /// a directory.
    fn finish(mut self) -> Result<(Files, Objects), HubError> {
        let mut gitattributes = self.text(".gitattributes");
        let before = gitattributes.clone();
        for path in self.lfs_paths.iter().filter(|path| self.files.contains_key(*path)) {
            if !git::lfs_tracked(&gitattributes, path) {
                if !gitattributes.is_empty() && !gitattributes.ends_with('\n') {
                    gitattributes.push('\n');
                }
                gitattributes.push_str(&git::lfs_rule(path));
            }
        }
        if gitattributes != before {
            self.files.insert(".gitattributes".to_owned(), Entry::regular(Bytes::from(gitattributes)));
        }
        for path in self.files.keys() {
            let mut ancestors = path.match_indices('/').map(|(at, _)| &path[..at]);
            if let Some(file) = ancestors.find(|ancestor| self.files.contains_key(*ancestor)) {
                return Err(HubError::bad_request(format!(
                    "{file} cannot be both a file and a directory ({path})"
                )));
            }
        }
        Ok((self.files, self.objects))
    }
}

/// A repo path the Hub accepts: relative, no empty, `.` or `..` segment, nothing under `.git/`.
fn checked_path(path: &str) -> Result<&str, HubError> {
    let valid = !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|segment| !matches!(segment, "" | "." | ".." | ".git"));
    if valid {
        return Ok(path);
    }
    Err(HubError::bad_request(format!("Invalid path \"{path}\" in the commit")))
}
