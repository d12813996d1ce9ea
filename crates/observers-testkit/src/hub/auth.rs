//! Who is calling (`Authorization: Bearer <token>`) and what they may see or change.

use axum::http::{HeaderMap, StatusCode};

use super::error::{HubError, ANONYMOUS, BAD_TOKEN};
use super::state::{HubState, Repo};
use super::{READ_TOKEN, USER, WRITE_TOKEN};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Read public repos and the user's own.
    Read,
    /// Also create repos and commit.
    Write,
}

impl Role {
    /// `auth.accessToken.role` of whoami.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }
}

/// What a request needs on a repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// See it and its files.
    Read,
    /// Upload to it and commit.
    Write,
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// No `Authorization` header.
    Anonymous,
    /// [`USER`], with one of the fake's tokens.
    User {
        /// The token's role.
        role: Role,
        /// The token itself.
        token: &'static str,
    },
}

/// The caller named by the `Authorization` header; 401 for a token the fake does not know.
pub(crate) fn identify(headers: &HeaderMap) -> Result<Caller, HubError> {
    let Some(value) = headers.get("authorization") else { return Ok(Caller::Anonymous) };
    let value = value.to_str().unwrap_or("").trim();
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match token {
        Some(WRITE_TOKEN) => Ok(Caller::User { role: Role::Write, token: WRITE_TOKEN }),
        Some(READ_TOKEN) => Ok(Caller::User { role: Role::Read, token: READ_TOKEN }),
        _ => Err(HubError::new(StatusCode::UNAUTHORIZED, BAD_TOKEN)),
    }
}

impl Caller {
    /// The role of an authenticated caller; 401 for anonymous ones.
    pub(crate) fn role(&self) -> Result<Role, HubError> {
        match self {
            Caller::Anonymous => Err(HubError::new(StatusCode::UNAUTHORIZED, ANONYMOUS)),
            Caller::User { role, .. } => Ok(*role),
        }
    }
}

/// The error a caller gets for a repo it cannot see: 401 `RepoNotFound` when anonymous, 404
/// `RepoNotFound` otherwise.
pub(crate) fn repo_not_found(caller: &Caller) -> HubError {
    match caller {
        Caller::Anonymous => HubError::new(StatusCode::UNAUTHORIZED, ANONYMOUS).with_code("RepoNotFound"),
        Caller::User { .. } => HubError::repo_not_found(),
    }
}

/// Checks `access` to a repo: `private` is `None` when the repo does not exist.
pub(crate) fn check_repo(
    caller: &Caller,
    repo_id: &str,
    private: Option<bool>,
    access: Access,
) -> Result<(), HubError> {
    let owned = repo_id.split('/').next() == Some(USER);
    let visible = match (caller, private) {
        (_, None) => false,
        (_, Some(false)) => true,
        (Caller::Anonymous, Some(true)) => false,
        (Caller::User { .. }, Some(true)) => owned,
    };
    if !visible {
        return Err(repo_not_found(caller));
    }
    if access == Access::Read {
        return Ok(());
    }
    match caller.role()? {
        Role::Read => Err(HubError::new(
            StatusCode::FORBIDDEN,
            "You don't have the rights to write to this repo (read-only token)",
        )),
        Role::Write if !owned => Err(HubError::new(
            StatusCode::FORBIDDEN,
            format!("You don't have the rights to write to {repo_id}"),
        )),
        Role::Write => Ok(()),
    }
}

/// Checks that the caller may create a repo in `namespace`.
pub(crate) fn check_create(caller: &Caller, namespace: &str) -> Result<(), HubError> {
    let role = caller.role()?;
    if role != Role::Write || namespace != USER {
        let message =
            format!("You don't have the rights to create a dataset under the namespace \"{namespace}\"");
        return Err(HubError::new(StatusCode::FORBIDDEN, message));
    }
    Ok(())
}

/// The repo `repo_id` if the caller has `access` to it.
pub(crate) fn repo<'s>(
    state: &'s HubState,
    caller: &Caller,
    repo_id: &str,
    access: Access,
) -> Result<&'s Repo, HubError> {
    let repo = state.repo(repo_id);
    check_repo(caller, repo_id, repo.map(|repo| repo.private), access)?;
    repo.ok_or_else(|| repo_not_found(caller))
}

/// [`repo`], mutable.
pub(crate) fn repo_mut<'s>(
    state: &'s mut HubState,
    caller: &Caller,
    repo_id: &str,
    access: Access,
) -> Result<&'s mut Repo, HubError> {
    let private = state.repo(repo_id).map(|repo| repo.private);
    check_repo(caller, repo_id, private, access)?;
    state.repo_mut(repo_id).ok_or_else(|| repo_not_found(caller))
}
