//! Account and repo endpoints: whoami, repo creation, repo info, refs, commit history and
//! README metadata validation.

use axum::http::StatusCode;
use serde_json::Value;

use super::auth::{self, Access, Caller};
use super::error::{json, HubError};
use super::state::{iso8601, HubState, Repo};
use super::{Answer, Call, USER};
use crate::openai::wire::{obj, Json};

/// `GET /api/whoami-v2`.
pub(crate) fn whoami(caller: &Caller) -> Answer {
    let role = caller.role()?;
    let body = obj! {
        "type": "user",
        "id": "6123456789abcdef01234567",
        "name": USER,
        "fullname": "Test User",
        "email": "tester@example.com",
        "emailVerified": true,
        "canPay": false,
        "isPro": false,
        "periodEnd": Value::Null,
        "avatarUrl": "/avatars/tester.svg",
        "orgs": Json::empty_array(),
        "auth": obj! {
            "type": "access_token",
            "accessToken": obj! {
                "displayName": format!("fake-{}", role.name()),
                "role": role.name(),
                "createdAt": "2026-01-01T00:00:00.000Z",
            },
        },
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /api/repos/create`: `{"name", "organization", "type", "visibility" | "private"}`.
pub(crate) fn create(state: &mut HubState, call: &Call<'_>, caller: &Caller) -> Answer {
    caller.role()?;
    let body = call.json()?;
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let Some(name) = text("name") else {
        return Err(HubError::bad_request("\"name\" is required"));
    };
    if text("type") != Some("dataset") {
        return Err(HubError::bad_request(format!(
            "The fake Hub only hosts dataset repos: \"type\" must be \"dataset\", not {}",
            body.get("type").map_or("missing (a model repo)".to_owned(), Value::to_string)
        )));
    }
    check_name(name)?;
    let private = match text("visibility") {
        Some("private") => true,
        Some("public") => false,
        Some(other) => {
            return Err(HubError::bad_request(format!("Invalid visibility \"{other}\" for a dataset repo")));
        }
        None => body.get("private").and_then(Value::as_bool).unwrap_or(false),
    };
    let namespace = text("organization").unwrap_or(USER);
    auth::check_create(caller, namespace)?;
    let repo_id = format!("{namespace}/{name}");
    let url = format!("{}/datasets/{repo_id}", call.base);
    if state.repo(&repo_id).is_some() {
        return Err(HubError::already_exists(url));
    }
    let repo = state.create_repo(&repo_id, private);
    Ok(json(StatusCode::OK, &obj! { "url": url, "name": repo_id.as_str(), "id": repo.object_id.as_str() }))
}

/// The Hub's repo name rules: 1–96 characters among letters, digits, `-`, `_` and `.`, not
/// starting or ending with `-` or `.`, without `--` or `..`.
fn check_name(name: &str) -> Result<(), HubError> {
    let allowed = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    let edges =
        [name.bytes().next(), name.bytes().last()].into_iter().flatten().all(|b| b != b'-' && b != b'.');
    let valid =
        (1..=96).contains(&name.len()) && allowed && edges && !name.contains("--") && !name.contains("..");
    if valid {
        return Ok(());
    }
    Err(HubError::bad_request(format!(
        "Invalid repo name \"{name}\": use 1-96 letters, digits, '-', '_' or '.', not starting or ending with '-' or '.', \
         without '--' or '..'"
    )))
}

/// `POST /api/validate-yaml`: `{"content", "repoType"}`; the fake accepts any metadata.
pub(crate) fn validate_yaml(call: &Call<'_>) -> Answer {
    let body = call.json()?;
    if !body.get("content").is_some_and(Value::is_string) {
        return Err(HubError::bad_request("\"content\" is required"));
    }
    Ok(json(StatusCode::OK, &obj! { "errors": Json::empty_array(), "warnings": Json::empty_array() }))
}

/// `GET /api/datasets/{repo}[/revision/{rev}]` with `?blobs=true` and `?expand=…`.
pub(crate) fn info(
    state: &HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: Option<&str>,
) -> Answer {
    let repo = auth::repo(state, caller, repo_id, Access::Read)?;
    let rev = rev.unwrap_or("main");
    let commit = repo.resolve(rev).ok_or_else(|| HubError::revision_not_found(rev))?;
    let blobs = call.flag("blobs");
    let siblings: Vec<Json> = commit
        .files
        .iter()
        .map(|(path, entry)| {
            let mut sibling = obj! { "rfilename": path };
            if blobs {
                sibling.push("size", entry.content.len());
                sibling.push("blobId", &entry.oid);
                if let (Some(sha256), Some(pointer_size)) = (&entry.lfs, entry.pointer_size()) {
                    sibling.push(
                        "lfs",
                        obj! { "sha256": sha256, "size": entry.content.len(), "pointerSize": pointer_size },
                    );
                }
            }
            sibling
        })
        .collect();
    let fields: Vec<(&'static str, Json)> = vec![
        ("author", Json::from(owner(repo))),
        ("sha", Json::from(&commit.id)),
        ("lastModified", Json::from(commit.date())),
        ("createdAt", Json::from(iso8601(repo.created_at))),
        ("private", Json::from(repo.private)),
        ("gated", Json::from(false)),
        ("disabled", Json::from(false)),
        ("downloads", Json::from(0_u64)),
        ("likes", Json::from(0_u64)),
        ("tags", Json::empty_array()),
        ("siblings", Json::from(siblings)),
    ];
    // With `expand`, the Hub answers only `_id`, `id` and the requested properties.
    let expand = call.query_all("expand");
    let mut body = obj! { "_id": repo.object_id.as_str(), "id": repo.id.as_str() };
    for (key, value) in fields.into_iter().filter(|(key, _)| expand.is_empty() || expand.contains(key)) {
        body.push(key, value);
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /api/datasets/{repo}/refs[?include_prs=1]`.
pub(crate) fn refs(state: &HubState, call: &Call<'_>, caller: &Caller, repo_id: &str) -> Answer {
    let repo = auth::repo(state, caller, repo_id, Access::Read)?;
    let main = obj! { "name": "main", "ref": "refs/heads/main", "targetCommit": repo.head().id.as_str() };
    let mut body =
        obj! { "branches": vec![main], "tags": Json::empty_array(), "converts": Json::empty_array() };
    if call.flag("include_prs") {
        body.push("pullRequests", Json::empty_array());
    }
    Ok(json(StatusCode::OK, &body))
}

/// `GET /api/datasets/{repo}/commits/{rev}`: the history up to `rev`, newest first.
pub(crate) fn commits(state: &HubState, caller: &Caller, repo_id: &str, rev: &str) -> Answer {
    let repo = auth::repo(state, caller, repo_id, Access::Read)?;
    let index = repo.resolve_index(rev).ok_or_else(|| HubError::revision_not_found(rev))?;
    let commits: Vec<Json> = repo.commits[..=index]
        .iter()
        .rev()
        .map(|commit| {
            obj! {
                "id": commit.id.as_str(),
                "title": commit.title.as_str(),
                "message": commit.message.as_str(),
                "date": commit.date(),
                "authors": vec![obj! { "user": USER, "avatar": "/avatars/tester.svg" }],
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &Json::from(commits)))
}

/// The namespace of a repo.
fn owner(repo: &Repo) -> &str {
    repo.id.split('/').next().unwrap_or(USER)
}
