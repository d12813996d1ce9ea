//! Per-call metadata carried in `X-Observers-*` request headers: how clients that are not ours
//! (an app behind the recording proxy, an async-openai client) tag one call, name its user and
//! session, or ask that it not be recorded. Whoever reads them removes them, so they never
//! reach the provider.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::CallMetadata;

/// Tags for this call's record: `X-Observers-Tags: a,b`.
pub const TAGS_HEADER: &str = "x-observers-tags";
/// A property of this call's record: `X-Observers-Property-<name>: <value>` (the name as sent,
/// lowercase since HTTP header names are case-insensitive; the value as a JSON string).
pub const PROPERTY_HEADER_PREFIX: &str = "x-observers-property-";
/// `X-Observers-Skip: 1` (or `true`, `yes`): make this call without recording it.
pub const SKIP_HEADER: &str = "x-observers-skip";
/// The end user of this call (column `user_id`).
pub const USER_ID_HEADER: &str = "x-observers-user-id";
/// The session of this call (column `session_id`).
pub const SESSION_ID_HEADER: &str = "x-observers-session-id";
/// Every header whose name starts with this belongs to observers and is never sent on.
pub const OWN_HEADER_PREFIX: &str = "x-observers-";

/// What the `X-Observers-*` headers of one request say (see [`take_header_metadata`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HeaderMetadata {
    /// Tags, properties, user and session for the call's record.
    pub call: CallMetadata,
    /// `X-Observers-Skip` asked that the call not be recorded.
    pub skip: bool,
}

fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).trim().to_owned()
}

/// Reads the metadata headers of a request, then removes every `X-Observers-*` header
/// (names this version does not know included), so none is sent to the provider.
///
/// # Example
/// ```
/// use observers_openai::take_header_metadata;
/// use reqwest::header::{HeaderMap, HeaderValue};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-observers-tags", HeaderValue::from_static("checkout, beta"));
/// headers.insert("x-observers-user-id", HeaderValue::from_static("u-42"));
/// headers.insert("content-type", HeaderValue::from_static("application/json"));
///
/// let metadata = take_header_metadata(&mut headers);
/// assert_eq!(metadata.call.tags, ["checkout", "beta"]);
/// assert_eq!(metadata.call.user_id.as_deref(), Some("u-42"));
/// assert_eq!(headers.len(), 1); // only content-type is left
/// ```
pub fn take_header_metadata(headers: &mut HeaderMap) -> HeaderMetadata {
    let mut metadata = HeaderMetadata::default();
    let own: Vec<HeaderName> =
        headers.keys().filter(|name| name.as_str().starts_with(OWN_HEADER_PREFIX)).cloned().collect();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
            ("Authorization", "Bearer sk-1"),
            ("X-Stainless-Lang", "python"),
        ]);
        let metadata = take_header_metadata(&mut map);
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
            assert_eq!(take_header_metadata(&mut map).skip, skip, "{value}");
        }
    }
}
