//! The upload side: preupload (regular or LFS), the LFS batch, the storage URLs it hands out
//! (single PUT, multipart parts and completion, S3-like) and LFS verify.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::auth::{self, Access, Caller};
use super::endpoint::STORAGE_PREFIX;
use super::error::{json, HubError};
use super::git;
use super::state::{HubState, Multipart, Pending, Repo};
use super::{optional_str, Answer, Call};
use crate::openai::wire::{obj, Json, Reply};

/// Preupload answers `lfs` for files at least this big, whatever their name (and at least
/// the multipart threshold when that is lower).
const LFS_SIZE: u64 = 10 * 1024 * 1024;

/// The content type of LFS batch answers.
const LFS_JSON: &str = "application/vnd.git-lfs+json";

/// The query every storage URL carries, like a presigned S3 URL's signature.
const SIGNATURE: &str = "X-Amz-Signature=fake";

/// How long storage URLs are said to be valid, in seconds.
const EXPIRES_IN: u64 = 86_400;

/// `POST /api/datasets/{repo}/preupload/{rev}`: `{"files": [{"path", "sample", "size"}],
/// "gitIgnore"?}` → `uploadMode`, `shouldIgnore` and (for existing paths) `oid` per file.
pub(crate) fn preupload(
    state: &HubState,
    call: &Call<'_>,
    caller: &Caller,
    repo_id: &str,
    rev: &str,
) -> Answer {
    let repo = auth::repo(state, caller, repo_id, Access::Write)?;
    let commit = repo.resolve(rev).ok_or_else(|| HubError::revision_not_found(rev))?;
    let body = call.json()?;
    let Some(files) = body.get("files").and_then(Value::as_array) else {
        return Err(HubError::bad_request("\"files\" must be an array of {path, sample, size}"));
    };
    let gitattributes = commit.gitattributes();
    let gitignore =
        optional_str(&body, "gitIgnore")?.map_or_else(|| commit.text(".gitignore"), str::to_owned);
    let lfs_size = call.config.multipart_threshold.min(LFS_SIZE);
    let mut answers = Vec::with_capacity(files.len());
    for file in files {
        let (path, size) =
            match (file.get("path").and_then(Value::as_str), file.get("size").and_then(Value::as_u64)) {
                (Some(path), Some(size)) => (path, size),
                _ => {
                    return Err(HubError::bad_request(format!(
                        "Each file needs a \"path\" and a \"size\": {file}"
                    )))
                }
            };
        let sample = file.get("sample").and_then(Value::as_str).unwrap_or("");
        let sample = BASE64
            .decode(sample)
            .map_err(|err| HubError::bad_request(format!("\"sample\" of {path} is not base64: {err}")))?;
        let lfs = size > 0
            && (git::lfs_tracked(&gitattributes, path) || looks_binary(&sample, size) || size >= lfs_size);
        let mut answer = obj! {
            "path": path,
            "uploadMode": if lfs { "lfs" } else { "regular" },
            "shouldIgnore": git::ignored(&gitignore, path),
        };
        if let Some(entry) = commit.files.get(path) {
            answer.push("oid", entry.upload_oid());
        }
        answers.push(answer);
    }
    Ok(json(StatusCode::OK, &obj! { "files": answers, "commitOid": commit.id.as_str() }))
}

/// Whether a sample (the first bytes of a file of `size` bytes) looks binary: a NUL byte, or
/// invalid UTF-8 other than a character cut by the end of a truncated sample.
fn looks_binary(sample: &[u8], size: u64) -> bool {
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        Err(err) => !(err.error_len().is_none() && (sample.len() as u64) < size),
    }
}

/// `POST /datasets/{repo}.git/info/lfs/objects/batch`: an upload action per object not
/// stored yet (multipart at or above the threshold when offered), none for stored ones.
pub(crate) fn batch(state: &mut HubState, call: &Call<'_>, caller: &Caller, repo_id: &str) -> Answer {
    let repo = auth::repo_mut(state, caller, repo_id, Access::Write)?;
    let body = call.json()?;
    match optional_str(&body, "operation")? {
        Some("upload") => {}
        other => {
            return Err(HubError::bad_request(format!(
                "The fake Hub's LFS batch only supports \"operation\": \"upload\", not {other:?}"
            )));
        }
    }
    match optional_str(&body, "hash_algo")? {
        None | Some("sha256" | "sha_256") => {}
        Some(other) => {
            return Err(HubError::new(StatusCode::CONFLICT, format!("Unsupported hash algorithm {other}")))
        }
    }
    if let Some(name) = body.get("ref").and_then(|reference| reference.get("name")).and_then(Value::as_str) {
        if repo.resolve(name).is_none() {
            return Err(HubError::revision_not_found(name));
        }
    }
    let transfers = body.get("transfers").and_then(Value::as_array);
    let multipart =
        transfers.is_some_and(|transfers| transfers.iter().any(|transfer| transfer == "multipart"));
    let Some(objects) = body.get("objects").and_then(Value::as_array) else {
        return Err(HubError::bad_request("\"objects\" must be an array of {oid, size}"));
    };
    let token = match caller {
        Caller::User { token, .. } => *token,
        Caller::Anonymous => "",
    };
    let answers: Vec<Json> =
        objects.iter().map(|object| batch_object(repo, call, object, multipart, token)).collect();
    let body = obj! { "transfer": "basic", "objects": answers };
    Ok(Reply::raw(StatusCode::OK, LFS_JSON, body.to_text()))
}

/// The batch answer for one `{oid, size}` (registering the upload it announces).
fn batch_object(repo: &mut Repo, call: &Call<'_>, object: &Value, multipart: bool, token: &str) -> Json {
    let oid = object.get("oid").and_then(Value::as_str).unwrap_or("");
    let size = object.get("size").and_then(Value::as_u64).filter(|_| git::is_hex_id(oid, 64));
    let object_error = |message: String| {
        let size = object.get("size").cloned().unwrap_or(Value::Null);
        obj! { "oid": oid, "size": size, "error": obj! { "code": 422_u16, "message": message } }
    };
    let Some(size) = size else {
        return object_error(
            "Invalid object: \"oid\" must be a sha256 (64 lowercase hex digits) and \"size\" a non-negative integer"
                .to_owned(),
        );
    };
    if let Some(stored) = repo.objects.get(oid) {
        if stored.len() as u64 != size {
            return object_error(format!(
                "Object {oid} is already stored with size {}, not {size}",
                stored.len()
            ));
        }
        // Already uploaded: no actions, the client skips it.
        return obj! { "oid": oid, "size": size };
    }
    let storage = format!("{}{STORAGE_PREFIX}", call.base);
    let upload = if multipart && size >= call.config.multipart_threshold {
        let chunk_size = call.config.chunk_size.max(1);
        let upload_id = repo.next_upload_id();
        let mut header = Map::new();
        header.insert("chunk_size".to_owned(), Value::from(chunk_size.to_string()));
        for part in 1..=Multipart::part_count(size, chunk_size) {
            let url = format!("{storage}/part/{}/{oid}/{part}?uploadId={upload_id}&{SIGNATURE}", repo.id);
            header.insert(format!("{part:05}"), Value::from(url));
        }
        let href = format!("{storage}/complete/{}/{oid}?uploadId={upload_id}", repo.id);
        let multipart = Multipart { upload_id, chunk_size, parts: BTreeMap::new() };
        repo.pending.insert(oid.to_owned(), Pending { size, multipart: Some(multipart) });
        obj! { "href": href, "header": Value::Object(header), "expires_in": EXPIRES_IN }
    } else {
        repo.pending.insert(oid.to_owned(), Pending { size, multipart: None });
        obj! { "href": format!("{storage}/upload/{}/{oid}?{SIGNATURE}", repo.id), "expires_in": EXPIRES_IN }
    };
    let mut actions = obj! { "upload": upload };
    if call.config.offer_verify {
        let href = format!("{}/datasets/{}.git/info/lfs/objects/verify", call.base, repo.id);
        actions.push(
            "verify",
            obj! { "href": href, "header": obj! { "Authorization": format!("Bearer {token}") } },
        );
    }
    obj! { "oid": oid, "size": size, "authenticated": true, "actions": actions }
}

/// `PUT /__lfs/upload/{repo}/{oid}`: the whole object; stored when its length and sha256
/// match what the batch announced.
pub(crate) fn put_object(state: &mut HubState, call: &Call<'_>, repo_id: &str, oid: &str) -> Answer {
    check_presigned(call)?;
    let repo = state.repo_mut(repo_id).ok_or_else(not_announced)?;
    let pending =
        repo.pending.get(oid).filter(|pending| pending.multipart.is_none()).ok_or_else(not_announced)?;
    if let Some((code, message)) = content_mismatch(call.body, oid, pending.size) {
        return Err(HubError::s3(StatusCode::BAD_REQUEST, code, message));
    }
    repo.objects.insert(oid.to_owned(), Bytes::copy_from_slice(call.body));
    repo.pending.remove(oid);
    Ok(stored(etag(oid)))
}

/// `PUT /__lfs/part/{repo}/{oid}/{part}?uploadId=…`: one part, at most `chunk_size` bytes;
/// answers its `ETag`.
pub(crate) fn put_part(
    state: &mut HubState,
    call: &Call<'_>,
    repo_id: &str,
    oid: &str,
    part: &str,
) -> Answer {
    check_presigned(call)?;
    let upload_id = call.query("uploadId").unwrap_or("");
    let pending =
        state.repo_mut(repo_id).and_then(|repo| repo.pending.get_mut(oid)).ok_or_else(not_announced)?;
    let size = pending.size;
    let Some(multipart) = pending.multipart.as_mut().filter(|multipart| multipart.upload_id == upload_id)
    else {
        return Err(no_such_upload(upload_id));
    };
    let count = Multipart::part_count(size, multipart.chunk_size);
    let Some(number) = part.parse::<u32>().ok().filter(|number| (1..=count).contains(&u64::from(*number)))
    else {
        let message = format!("Part number must be an integer between 1 and {count}, not {part}");
        return Err(HubError::s3(StatusCode::BAD_REQUEST, "InvalidArgument", message));
    };
    if call.body.len() as u64 > multipart.chunk_size {
        let message = format!(
            "Part {number} is {} bytes, more than the chunk_size {}",
            call.body.len(),
            multipart.chunk_size
        );
        return Err(HubError::s3(StatusCode::BAD_REQUEST, "EntityTooLarge", message));
    }
    let tag = etag(&git::sha256_hex(call.body));
    multipart.parts.insert(number, (Bytes::copy_from_slice(call.body), tag.clone()));
    Ok(stored(tag))
}

/// `POST /__lfs/complete/{repo}/{oid}?uploadId=…`: `{"oid", "parts": [{"partNumber",
/// "etag"}]}`; assembles the parts and stores the object when every check passes.
pub(crate) fn complete(state: &mut HubState, call: &Call<'_>, repo_id: &str, oid: &str) -> Answer {
    let body = call.json()?;
    if body.get("oid").and_then(Value::as_str) != Some(oid) {
        return Err(HubError::bad_request(format!("The completion's \"oid\" must be {oid}")));
    }
    let Some(parts) = body.get("parts").and_then(Value::as_array) else {
        return Err(HubError::bad_request("\"parts\" must be an array of {partNumber, etag}"));
    };
    let upload_id = call.query("uploadId").unwrap_or("");
    let repo = state.repo_mut(repo_id).ok_or_else(|| no_multipart(upload_id))?;
    let pending = repo.pending.get(oid).ok_or_else(|| no_multipart(upload_id))?;
    let Some(multipart) = pending.multipart.as_ref().filter(|multipart| multipart.upload_id == upload_id)
    else {
        return Err(no_multipart(upload_id));
    };
    let content = assemble(multipart, parts, pending.size)?;
    if let Some((_, message)) = content_mismatch(&content, oid, pending.size) {
        return Err(HubError::bad_request(message));
    }
    repo.objects.insert(oid.to_owned(), Bytes::from(content));
    repo.pending.remove(oid);
    Ok(json(StatusCode::OK, &obj! { "success": true }))
}

/// The object made of the listed parts, checking order, ETags and part sizes.
fn assemble(multipart: &Multipart, parts: &[Value], size: u64) -> Result<Vec<u8>, HubError> {
    let count = Multipart::part_count(size, multipart.chunk_size);
    if parts.len() as u64 != count {
        return Err(HubError::bad_request(format!(
            "The completion lists {} parts; the object has {count}",
            parts.len()
        )));
    }
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for (expected, part) in (1_u64..).zip(parts) {
        let number = part.get("partNumber").and_then(Value::as_u64);
        let etag = part.get("etag").and_then(Value::as_str);
        let (Some(number), Some(etag)) = (number.filter(|number| *number == expected), etag) else {
            let message = format!(
                "Part {expected} of the completion must be {{\"partNumber\": {expected}, \"etag\"}}: {part}"
            );
            return Err(HubError::bad_request(message));
        };
        let Some((bytes, stored_etag)) =
            u32::try_from(number).ok().and_then(|number| multipart.parts.get(&number))
        else {
            return Err(HubError::bad_request(format!("Part {number} was never uploaded")));
        };
        if etag.trim_matches('"') != stored_etag.trim_matches('"') {
            return Err(HubError::bad_request(format!(
                "Part {number}: etag {etag} is not the uploaded part's {stored_etag}"
            )));
        }
        if number < count && bytes.len() as u64 != multipart.chunk_size {
            let message = format!(
                "Part {number} is {} bytes: every part but the last must be chunk_size = {} bytes",
                bytes.len(),
                multipart.chunk_size
            );
            return Err(HubError::bad_request(message));
        }
        content.extend_from_slice(bytes);
    }
    Ok(content)
}

/// `POST /datasets/{repo}.git/info/lfs/objects/verify`: `{"oid", "size"}` → 200 when stored.
pub(crate) fn verify(state: &HubState, call: &Call<'_>, caller: &Caller, repo_id: &str) -> Answer {
    let repo = auth::repo(state, caller, repo_id, Access::Write)?;
    let body = call.json()?;
    let (Some(oid), Some(size)) =
        (body.get("oid").and_then(Value::as_str), body.get("size").and_then(Value::as_u64))
    else {
        return Err(HubError::bad_request("The verify body must be {\"oid\", \"size\"}"));
    };
    match repo.objects.get(oid) {
        Some(bytes) if bytes.len() as u64 == size => Ok(json(StatusCode::OK, &obj! { "success": true })),
        Some(bytes) => Err(HubError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Object {oid} is {} bytes, not {size}", bytes.len()),
        )),
        None => Err(HubError::new(StatusCode::NOT_FOUND, format!("Object {oid} was never uploaded"))),
    }
}

/// Why uploaded bytes are not the announced object: an S3 error code and a message.
fn content_mismatch(bytes: &[u8], oid: &str, size: u64) -> Option<(&'static str, String)> {
    if bytes.len() as u64 != size {
        return Some((
            "IncompleteBody",
            format!("Got {} bytes; the LFS batch announced {size} for object {oid}", bytes.len()),
        ));
    }
    let actual = git::sha256_hex(bytes);
    (actual != oid).then(|| {
        ("BadDigest", format!("The sha256 of the uploaded bytes is {actual}, not the object id {oid}"))
    })
}

/// Storage URLs are presigned: the signature is in the query, and an `Authorization` header
/// is refused, as S3 does (a client must not send its Hub token to the storage).
fn check_presigned(call: &Call<'_>) -> Result<(), HubError> {
    if call.headers.contains_key("authorization") {
        return Err(HubError::s3(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string \
             parameter or the Authorization header should be specified",
        ));
    }
    if call.query("X-Amz-Signature").is_none() {
        return Err(HubError::s3(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the X-Amz-Signature parameter (use the href the LFS batch returned)",
        ));
    }
    Ok(())
}

/// 403 for a storage URL no batch handed out.
fn not_announced() -> HubError {
    HubError::s3(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "No LFS batch announced this upload: the presigned URL is not valid",
    )
}

/// 404 for a part of an unknown multipart upload.
fn no_such_upload(upload_id: &str) -> HubError {
    HubError::s3(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        format!("The specified multipart upload does not exist ({upload_id:?}): it may have been completed or replaced"),
    )
}

/// 404 for the completion of an unknown multipart upload.
fn no_multipart(upload_id: &str) -> HubError {
    HubError::new(
        StatusCode::NOT_FOUND,
        format!("No multipart upload {upload_id:?} is in progress for this object"),
    )
}

/// An S3-style ETag: a quoted 32-hex-digit hash (the sha256's first half here, md5 on S3).
fn etag(sha256: &str) -> String {
    format!("\"{}\"", &sha256[..32.min(sha256.len())])
}

/// The answer of a stored upload or part.
fn stored(etag: String) -> Reply {
    Reply::raw(StatusCode::OK, "text/plain", "").with_header("etag", etag)
}
