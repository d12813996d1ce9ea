//! What the proxy reads from and removes in headers: per-request metadata (`X-Observers-*`),
//! the access token, the API key to keep out of records, and hop-by-hop headers, which
//! describe one connection and must not be relayed (RFC 9110 §7.6.1).

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use observers_openai::CallMetadata;
use serde_json::Value;

/// Tags for this call's record: `X-Observers-Tags: a,b`.
pub const TAGS_HEADER: &str = "x-observers-tags";
/// A property of this call's record: `X-Observers-Property-<name>: <value>` (the name as sent,
/// lowercase since HTTP header names are case-insensitive; the value as a JSON string).
pub const PROPERTY_HEADER_PREFIX: &str = "x-observers-property-";
/// `X-Observers-Skip: 1` (or `true`, `yes`): forward this call without recording it.
pub const SKIP_HEADER: &str = "x-observers-skip";
/// The end user of this call (column `user_id`).
pub const USER_ID_HEADER: &str = "x-observers-user-id";
/// The session of this call (column `session_id`).
pub const SESSION_ID_HEADER: &str = "x-observers-session-id";
/// The proxy's access token, when it requires one (also accepted as `Authorization: Bearer`).
pub const TOKEN_HEADER: &str = "x-observers-token";
/// Every header starting with this is the proxy's and is never forwarded.
const OWN_PREFIX: &str = "x-observers-";

/// Azure OpenAI's key header.
const API_KEY_HEADER: &str = "api-key";

/// What the `X-Observers-*` headers of a request say.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) call: CallMetadata,
    pub(crate) skip: bool,
}

fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).trim().to_owned()
}

/// Reads the metadata headers, then removes every `X-Observers-*` header.
pub(crate) fn take_metadata(headers: &mut HeaderMap) -> Metadata {
    let mut metadata = Metadata::default();
    let own: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with(OWN_PREFIX)).cloned().collect();
    for name in own {
        for value in headers.get_all(&name) {
            match name.as_str() {
                TAGS_HEADER => metadata.call.tags.extend(
                    text(value).split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned),
                ),
                SKIP_HEADER => {
                    metadata.skip |= matches!(text(value).to_ascii_lowercase().as_str(), "1" | "true" | "yes")
                }
                USER_ID_HEADER => metadata.call.user_id = Some(text(value)),
                SESSION_ID_HEADER => metadata.call.session_id = Some(text(value)),
                other => {
                    if let Some(key) = other.strip_prefix(PROPERTY_HEADER_PREFIX).filter(|k| !k.is_empty()) {
                        metadata.call.properties.insert(key.to_owned(), Value::String(text(value)));
                    }
                }
            }
        }
        headers.remove(&name);
    }
    metadata
}

/// Removes the headers that belong to one connection, not to the request or answer: the
/// standard hop-by-hop ones, those the `Connection` header names, `Host` (the upstream's is
/// set from its URL) and `Expect` (the proxy answers `100-continue` itself).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let listed = String::from_utf8_lossy(value.as_bytes());
        named.extend(listed.split(',').filter_map(|name| HeaderName::try_from(name.trim()).ok()));
    }
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::HOST,
        header::EXPECT,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The API key a request carries upstream (`Authorization: Bearer`, else Azure's `api-key`),
/// to be scrubbed from its record.
pub(crate) fn api_key(headers: &HeaderMap) -> Option<String> {
    bearer(headers)
        .or_else(|| headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::trim))
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
}

/// Where a request presented the proxy's access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// In `X-Observers-Token` (the `Authorization` header, if any, is the client's own key).
    OwnHeader,
    /// As `Authorization: Bearer <token>`: that header is the proxy's, not forwarded.
    Authorization,
}

/// Where the request carries `expected`, if it does. Compared in constant time, so response
/// times do not reveal how much of a guess was right.
pub(crate) fn find_token(headers: &HeaderMap, expected: &str) -> Option<Token> {
    let own = headers.get(TOKEN_HEADER).map(|v| v.as_bytes());
    if own.is_some_and(|given| same(given, expected.as_bytes())) {
        return Some(Token::OwnHeader);
    }
    bearer(headers).filter(|given| same(given.as_bytes(), expected.as_bytes())).map(|_| Token::Authorization)
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::try_from(*name).unwrap(), HeaderValue::try_from(*value).unwrap());
        }
        map
    }

    #[test]
    fn metadata_headers_are_read_then_removed() {
        let mut map = headers(&[
            ("X-Observers-Tags", "a, b,,c"),
            ("x-observers-tags", "d"),
            ("X-Observers-Property-App-Version", "1.4.2"),
            ("X-Observers-User-Id", "u-1"),
            ("X-Observers-Session-Id", "s-9"),
            ("X-Observers-Something-New", "x"),
            ("X-Observers-Token", "t"),
            ("Authorization", "Bearer sk-1"),
            ("X-Stainless-Lang", "python"),
        ]);
        let metadata = take_metadata(&mut map);
        assert_eq!(metadata.call.tags, ["a", "b", "c", "d"]);
        assert_eq!(metadata.call.properties.get("app-version"), Some(&Value::String("1.4.2".into())));
        assert_eq!(metadata.call.user_id.as_deref(), Some("u-1"));
        assert_eq!(metadata.call.session_id.as_deref(), Some("s-9"));
        assert!(!metadata.skip);
        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "x-stainless-lang"]);
    }

    #[test]
    fn skip_takes_the_usual_true_values() {
        for (value, skip) in [("1", true), ("true", true), ("YES", true), ("0", false), ("no", false)] {
            let mut map = headers(&[("x-observers-skip", value)]);
            assert_eq!(take_metadata(&mut map).skip, skip, "{value}");
        }
    }

    #[test]
    fn hop_by_hop_headers_go_including_those_connection_names() {
        let mut map = headers(&[
            ("connection", "keep-alive, x-hop"),
            ("keep-alive", "timeout=5"),
            ("x-hop", "1"),
            ("host", "127.0.0.1:1"),
            ("transfer-encoding", "chunked"),
            ("expect", "100-continue"),
            ("content-type", "application/json"),
        ]);
        strip_hop_by_hop(&mut map);
        let left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["content-type"]);
    }

    #[test]
    fn the_token_is_found_where_it_is_sent() {
        assert_eq!(find_token(&headers(&[("x-observers-token", "tok")]), "tok"), Some(Token::OwnHeader));
        assert_eq!(
            find_token(&headers(&[("authorization", "Bearer tok")]), "tok"),
            Some(Token::Authorization)
        );
        assert_eq!(find_token(&headers(&[("authorization", "Bearer tok2")]), "tok"), None);
        assert_eq!(find_token(&headers(&[("x-observers-token", "to")]), "tok"), None);
        assert_eq!(find_token(&HeaderMap::new(), "tok"), None);
    }

    #[test]
    fn the_api_key_comes_from_authorization_or_api_key() {
        assert_eq!(api_key(&headers(&[("authorization", "Bearer sk-1")])).as_deref(), Some("sk-1"));
        assert_eq!(api_key(&headers(&[("api-key", "az-1")])).as_deref(), Some("az-1"));
        assert_eq!(api_key(&headers(&[("authorization", "Basic x")])), None);
    }
}
