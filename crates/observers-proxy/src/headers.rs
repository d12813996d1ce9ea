//! What the proxy reads from and removes in headers, besides the per-request metadata
//! ([`observers_openai::take_header_metadata`]): the access token, the API key to keep out of
//! records, and hop-by-hop headers, which describe one connection and must not be relayed
//! (RFC 9110 §7.6.1).

use http::header::{self, HeaderMap, HeaderName};

/// The proxy's access token, when it requires one (also accepted as `Authorization: Bearer`).
pub const TOKEN_HEADER: &str = "x-observers-token";

/// Azure OpenAI's key header.
const API_KEY_HEADER: &str = "api-key";

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
    use http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::try_from(*name).unwrap(), HeaderValue::try_from(*value).unwrap());
        }
        map
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
