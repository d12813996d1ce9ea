//! The read side: tree listings, paths-info and file downloads (`resolve`, with `Range`).

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::Value;

use super::auth::{self, Access, Caller};
use super::endpoint::{self, percent_encode};
use super::error::{json, HubError};
use super::state::{Node, Repo};
use super::{Answer, Call, HubState};
use crate::openai::wire::{obj, Json, Reply};

/// Tree entries per page (the Hub's: 1000, or 50 with `expand`).
const PAGE: usize = 1000;
const EXPANDED_PAGE: usize = 50;

/// `GET /api/datasets/{repo}/tree/{rev}[/{path}]?recursive=&expand=&cursor=`: directories
/// first, then files, each sorted; `Link: <…>; rel="next"` when there are more.
pub(crate) fn tree(
    state: &HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
    path: &str,
) -> Answer {
    let (repo, index) = revision(state, caller, repo_id, rev)?;
    let commit = &repo.commits[index];
    let dir = path.trim_matches('/');
    if !matches!(commit.node(dir), Some(Node::Dir(_))) {
        return Err(HubError::entry_not_found("Entry not found"));
    }
    let recursive = call.flag("recursive");
    let expand = call.flag("expand");
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let listed =
        |path: &&String| path.strip_prefix(&prefix).is_some_and(|rest| recursive || !rest.contains('/'));
    let paths: Vec<&String> =
        commit.trees.dirs.keys().filter(listed).chain(commit.files.keys().filter(listed)).collect();
    let page = if expand { EXPANDED_PAGE } else { PAGE };
    let start = call.query("cursor").and_then(|cursor| cursor.parse::<usize>().ok()).unwrap_or(0);
    let entries: Vec<Json> = paths
        .iter()
        .skip(start)
        .take(page)
        .filter_map(|path| tree_entry(repo, index, path, expand))
        .collect();
    let mut reply = json(StatusCode::OK, &Json::from(entries));
    if start + page < paths.len() {
        let mut query: Vec<String> = call
            .query
            .iter()
            .filter(|(name, _)| name != "cursor")
            .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
            .collect();
        query.push(format!("cursor={}", start + page));
        reply = reply.with_header(
            "link",
            format!("<{}{}?{}>; rel=\"next\"", call.base, call.raw_path, query.join("&")),
        );
    }
    Ok(reply)
}

/// `POST /api/datasets/{repo}/paths-info/{rev}`: form (`paths=…&paths=…&expand=…`) or JSON
/// (`{"paths": […], "expand": bool}`) body; the entries of the paths that exist, in order.
pub(crate) fn paths_info(
    state: &HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
) -> Answer {
    let (repo, index) = revision(state, caller, repo_id, rev)?;
    let (paths, expand) = if call
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("application/json"))
    {
        let body = call.json()?;
        let paths = match body.get("paths") {
            Some(Value::Array(paths)) => paths.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(path)) => vec![path.clone()],
            _ => return Err(HubError::bad_request("\"paths\" must be an array of strings")),
        };
        (paths, body.get("expand").and_then(Value::as_bool).unwrap_or(false))
    } else {
        let form = endpoint::parse_query(&String::from_utf8_lossy(call.body));
        let paths = form.iter().filter(|(name, _)| name == "paths").map(|(_, path)| path.clone()).collect();
        (paths, form.iter().any(|(name, value)| name == "expand" && endpoint::is_true(value)))
    };
    let mut seen = BTreeSet::new();
    let entries: Vec<Json> = paths
        .iter()
        .map(|path| path.trim_matches('/'))
        .filter(|path| !path.is_empty() && seen.insert(*path))
        .filter_map(|path| tree_entry(repo, index, path, expand))
        .collect();
    Ok(json(StatusCode::OK, &Json::from(entries)))
}

/// `GET|HEAD /datasets/{repo}/resolve/{rev}/{path}`: the bytes (LFS files: the real content)
/// with `ETag`, `X-Repo-Commit`, `X-Linked-Etag`/`X-Linked-Size` for LFS, and one `Range`.
pub(crate) fn resolve(
    state: &HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
    path: &str,
) -> Answer {
    let (repo, index) = revision(state, caller, repo_id, rev)?;
    let commit = &repo.commits[index];
    let Some(entry) = commit.files.get(path) else {
        return Err(HubError::entry_not_found("Entry not found"));
    };
    let total = entry.content.len();
    let (status, body, content_range) = match byte_range(call.header("range"), total) {
        Span::Whole => (StatusCode::OK, entry.content.clone(), None),
        Span::Part(start, end) => (
            StatusCode::PARTIAL_CONTENT,
            entry.content.slice(start..=end),
            Some(format!("bytes {start}-{end}/{total}")),
        ),
        Span::Unsatisfiable => {
            return Ok(Reply::raw(StatusCode::RANGE_NOT_SATISFIABLE, "text/plain", "")
                .with_header("content-range", format!("bytes */{total}")));
        }
    };
    let mut reply = Reply::raw(status, "application/octet-stream", body)
        .with_header("etag", format!("\"{}\"", entry.upload_oid()))
        .with_header("x-repo-commit", commit.id.as_str())
        .with_header("accept-ranges", "bytes");
    if let Some(content_range) = content_range {
        reply = reply.with_header("content-range", content_range);
    }
    if let Some(sha256) = &entry.lfs {
        reply = reply
            .with_header("x-linked-etag", format!("\"{sha256}\""))
            .with_header("x-linked-size", total.to_string());
    }
    Ok(reply)
}

/// The repo (readable by the caller) and the index of the commit `rev` names.
fn revision<'s>(
    state: &'s HubState,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
) -> Result<(&'s Repo, usize), HubError> {
    let repo = auth::repo(state, caller, repo_id, Access::Read)?;
    let index = repo.resolve_index(rev).ok_or_else(|| HubError::revision_not_found(rev))?;
    Ok((repo, index))
}

/// The tree entry of `path` at commit `index`: `{type, oid, size, path, lfs?, lastCommit?}`.
fn tree_entry(repo: &Repo, index: usize, path: &str, expand: bool) -> Option<Json> {
    let mut entry = match repo.commits[index].node(path)? {
        Node::File(file) => {
            let mut entry =
                obj! { "type": "file", "oid": file.oid.as_str(), "size": file.content.len(), "path": path };
            if let (Some(sha256), Some(pointer_size)) = (&file.lfs, file.pointer_size()) {
                entry.push(
                    "lfs",
                    obj! { "oid": sha256, "size": file.content.len(), "pointerSize": pointer_size },
                );
            }
            entry
        }
        Node::Dir(id) => obj! { "type": "directory", "oid": id, "size": 0_u64, "path": path },
    };
    if expand {
        let last = repo.last_change(index, path);
        entry.push(
            "lastCommit",
            obj! { "id": last.id.as_str(), "title": last.title.as_str(), "date": last.date() },
        );
    }
    Some(entry)
}

/// What a `Range` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// No (usable) range: the whole content.
    Whole,
    /// Bytes `start..=end`.
    Part(usize, usize),
    /// A range starting past the end.
    Unsatisfiable,
}

/// Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range; anything else means the whole
/// content (as servers ignore ranges they do not understand).
fn byte_range(header: Option<&str>, total: usize) -> Span {
    let Some((start, end)) = header.and_then(|value| value.trim().strip_prefix("bytes=")).and_then(|spec| {
        if spec.contains(',') {
            return None;
        }
        spec.split_once('-')
    }) else {
        return Span::Whole;
    };
    let number = |text: &str| text.trim().parse::<usize>().ok();
    let (start, end) = match (start.trim().is_empty(), number(start), number(end)) {
        (true, _, Some(suffix)) if suffix > 0 => (total.saturating_sub(suffix), total.saturating_sub(1)),
        (true, _, _) => return Span::Unsatisfiable,
        (false, Some(start), None) if end.trim().is_empty() => (start, total.saturating_sub(1)),
        (false, Some(start), Some(end)) if end >= start => (start, end.min(total.saturating_sub(1))),
        _ => return Span::Whole,
    };
    if start >= total {
        return Span::Unsatisfiable;
    }
    Span::Part(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(byte_range(None, 10), Span::Whole);
        assert_eq!(byte_range(Some("bytes=0-3"), 10), Span::Part(0, 3));
        assert_eq!(byte_range(Some("bytes=4-"), 10), Span::Part(4, 9));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Span::Part(7, 9));
        assert_eq!(byte_range(Some("bytes=5-100"), 10), Span::Part(5, 9));
        assert_eq!(byte_range(Some("bytes=10-"), 10), Span::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=0-1,4-5"), 10), Span::Whole);
        assert_eq!(byte_range(Some("bytes=0-"), 0), Span::Unsatisfiable);
        assert_eq!(byte_range(Some("items=0-1"), 10), Span::Whole);
    }
}
