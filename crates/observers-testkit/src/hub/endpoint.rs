//! URL routing: which endpoint a method and path address, with the repo, revision and path
//! they name (percent-decoded), plus query-string and form decoding.

use axum::http::Method;

use super::Route;

/// One Hub endpoint with its URL parameters (repos are `owner/name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /api/whoami-v2`.
    Whoami,
    /// `POST /api/repos/create`.
    CreateRepo,
    /// `POST /api/validate-yaml`.
    ValidateYaml,
    /// `GET /api/datasets/{repo}[/revision/{rev}]`.
    RepoInfo { repo: String, rev: Option<String> },
    /// `GET /api/datasets/{repo}/refs`.
    Refs { repo: String },
    /// `GET /api/datasets/{repo}/commits/{rev}`.
    Commits { repo: String, rev: String },
    /// `POST /api/datasets/{repo}/preupload/{rev}`.
    Preupload { repo: String, rev: String },
    /// `POST /api/datasets/{repo}/commit/{rev}`.
    Commit { repo: String, rev: String },
    /// `GET /api/datasets/{repo}/tree/{rev}[/{path}]`.
    Tree { repo: String, rev: String, path: String },
    /// `POST /api/datasets/{repo}/paths-info/{rev}`.
    PathsInfo { repo: String, rev: String },
    /// `GET|HEAD /datasets/{repo}/resolve/{rev}/{path}`.
    Resolve { repo: String, rev: String, path: String },
    /// `POST /datasets/{repo}.git/info/lfs/objects/batch`.
    LfsBatch { repo: String },
    /// `POST /datasets/{repo}.git/info/lfs/objects/verify`.
    LfsVerify { repo: String },
    /// `PUT /__lfs/upload/{repo}/{oid}`: a single-part upload URL.
    UploadObject { repo: String, oid: String },
    /// `PUT /__lfs/part/{repo}/{oid}/{part}`: a multipart part URL.
    UploadPart { repo: String, oid: String, part: String },
    /// `POST /__lfs/complete/{repo}/{oid}`: a multipart completion URL.
    CompleteMultipart { repo: String, oid: String },
    /// `GET /api/datasets/{repo}/xet-{read|write}-token/{rev}`.
    Xet,
    /// A model or Space repo URL: such repos never exist here.
    OtherRepoType { repo: String },
    /// Anything else.
    Unknown,
}

/// Prefix of the fake's storage URLs (what presigned S3 URLs are on the real Hub).
pub(crate) const STORAGE_PREFIX: &str = "/__lfs";

impl Endpoint {
    /// The endpoint `method path` addresses (`path` still percent-encoded).
    pub(crate) fn parse(method: &Method, path: &str) -> Endpoint {
        let segments: Vec<String> =
            path.trim_start_matches('/').split('/').map(|segment| percent_decode(segment, false)).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        match segments.as_slice() {
            ["api", "whoami-v2"] if get => Endpoint::Whoami,
            ["api", "repos", "create"] if post => Endpoint::CreateRepo,
            ["api", "validate-yaml"] if post => Endpoint::ValidateYaml,
            ["api", "datasets", owner, name, rest @ ..] => api_endpoint(method, repo_id(owner, name), rest),
            ["api", "models" | "spaces", owner, name, ..] => {
                Endpoint::OtherRepoType { repo: repo_id(owner, name) }
            }
            ["datasets", owner, name, "resolve", rev, path @ ..] if get || method == Method::HEAD => {
                Endpoint::Resolve { repo: repo_id(owner, name), rev: (*rev).to_owned(), path: path.join("/") }
            }
            ["datasets", owner, name, "info", "lfs", "objects", action] if post => {
                let Some(name) = name.strip_suffix(".git") else { return Endpoint::Unknown };
                let repo = repo_id(owner, name);
                match *action {
                    "batch" => Endpoint::LfsBatch { repo },
                    "verify" => Endpoint::LfsVerify { repo },
                    _ => Endpoint::Unknown,
                }
            }
            ["__lfs", "upload", owner, name, oid] if method == Method::PUT => {
                Endpoint::UploadObject { repo: repo_id(owner, name), oid: (*oid).to_owned() }
            }
            ["__lfs", "part", owner, name, oid, part] if method == Method::PUT => Endpoint::UploadPart {
                repo: repo_id(owner, name),
                oid: (*oid).to_owned(),
                part: (*part).to_owned(),
            },
            ["__lfs", "complete", owner, name, oid] if post => {
                Endpoint::CompleteMultipart { repo: repo_id(owner, name), oid: (*oid).to_owned() }
            }
            [owner, name, "resolve", ..] | [owner, name, "info", "lfs", ..] | ["spaces", owner, name, ..]
                if *owner != "api" && *owner != "datasets" =>
            {
                Endpoint::OtherRepoType { repo: repo_id(owner, name.trim_end_matches(".git")) }
            }
            _ => Endpoint::Unknown,
        }
    }

    /// The fault-injection route this endpoint belongs to.
    pub(crate) fn route(&self) -> Option<Route> {
        let route = match self {
            Endpoint::Whoami => Route::Whoami,
            Endpoint::CreateRepo => Route::CreateRepo,
            Endpoint::ValidateYaml => Route::ValidateYaml,
            Endpoint::RepoInfo { .. } | Endpoint::Refs { .. } | Endpoint::Commits { .. } => Route::RepoInfo,
            Endpoint::Preupload { .. } => Route::Preupload,
            Endpoint::Commit { .. } => Route::Commit,
            Endpoint::Tree { .. } => Route::Tree,
            Endpoint::PathsInfo { .. } => Route::PathsInfo,
            Endpoint::Resolve { .. } => Route::Resolve,
            Endpoint::LfsBatch { .. } => Route::LfsBatch,
            Endpoint::LfsVerify { .. } => Route::Verify,
            Endpoint::UploadObject { .. } | Endpoint::UploadPart { .. } => Route::UploadPut,
            Endpoint::CompleteMultipart { .. } => Route::MultipartComplete,
            Endpoint::Xet | Endpoint::OtherRepoType { .. } | Endpoint::Unknown => return None,
        };
        Some(route)
    }
}

/// `/api/datasets/{repo}/…` endpoints.
fn api_endpoint(method: &Method, repo: String, rest: &[&str]) -> Endpoint {
    let get = method == Method::GET;
    let post = method == Method::POST;
    // Revisions come as one percent-encoded segment (`refs%2Fpr%2F1`); extra raw segments
    // (JS-style unencoded slashes) are joined back.
    let rev = |segments: &[&str]| segments.join("/");
    match rest {
        [] if get => Endpoint::RepoInfo { repo, rev: None },
        ["revision", tail @ ..] if get && !tail.is_empty() => {
            Endpoint::RepoInfo { repo, rev: Some(rev(tail)) }
        }
        ["refs"] if get => Endpoint::Refs { repo },
        ["commits", tail @ ..] if get && !tail.is_empty() => Endpoint::Commits { repo, rev: rev(tail) },
        ["preupload", tail @ ..] if post && !tail.is_empty() => Endpoint::Preupload { repo, rev: rev(tail) },
        ["commit", tail @ ..] if post && !tail.is_empty() => Endpoint::Commit { repo, rev: rev(tail) },
        ["paths-info", tail @ ..] if post && !tail.is_empty() => Endpoint::PathsInfo { repo, rev: rev(tail) },
        ["tree", tree_rev, path @ ..] if get => {
            Endpoint::Tree { repo, rev: (*tree_rev).to_owned(), path: path.join("/") }
        }
        [token, ..] if get && token.starts_with("xet-") => Endpoint::Xet,
        _ => Endpoint::Unknown,
    }
}

fn repo_id(owner: &str, name: &str) -> String {
    format!("{owner}/{name}")
}

/// Decodes `%XX` escapes (and `+` as a space when `form` is set); invalid escapes stay as-is
/// and invalid UTF-8 is replaced.
pub(crate) fn percent_decode(text: &str, form: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (byte, escaped) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
                continue;
            }
            (b'+', _) if form => out.push(b' '),
            _ => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a query string or `application/x-www-form-urlencoded` body, decoded.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name, true), percent_decode(value, true))
        })
        .collect()
}

/// Whether a query or form value means true (`true`, `1`, any case).
pub(crate) fn is_true(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || value == "1"
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay as they are).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> String {
        "tester/demo".to_owned()
    }

    #[test]
    fn routes_dataset_urls() {
        let parse = |method: Method, path: &str| Endpoint::parse(&method, path);
        assert_eq!(
            parse(Method::GET, "/api/datasets/tester/demo/tree/main/data%2Fsub"),
            Endpoint::Tree { repo: repo(), rev: "main".into(), path: "data/sub".into() }
        );
        assert_eq!(
            parse(Method::GET, "/api/datasets/tester/demo/revision/refs%2Fpr%2F1"),
            Endpoint::RepoInfo { repo: repo(), rev: Some("refs/pr/1".into()) }
        );
        assert_eq!(
            parse(Method::HEAD, "/datasets/tester/demo/resolve/main/data/a%20b.parquet"),
            Endpoint::Resolve { repo: repo(), rev: "main".into(), path: "data/a b.parquet".into() }
        );
        assert_eq!(
            parse(Method::POST, "/datasets/tester/demo.git/info/lfs/objects/batch"),
            Endpoint::LfsBatch { repo: repo() }
        );
        assert_eq!(
            parse(Method::POST, "/tester/demo.git/info/lfs/objects/batch"),
            Endpoint::OtherRepoType { repo: repo() }
        );
        assert_eq!(parse(Method::GET, "/api/datasets/tester/demo/commit/main"), Endpoint::Unknown);
        assert_eq!(parse(Method::GET, "/api/datasets/tester/demo/xet-write-token/main"), Endpoint::Xet);
    }

    #[test]
    fn decodes_forms_and_queries() {
        assert_eq!(
            parse_query("paths=README.md&paths=data%2Fx+y&expand=false"),
            vec![
                ("paths".to_owned(), "README.md".to_owned()),
                ("paths".to_owned(), "data/x y".to_owned()),
                ("expand".to_owned(), "false".to_owned()),
            ]
        );
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
