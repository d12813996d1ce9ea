//! Keeping what must not be stored out of the store: how much content is captured
//! ([`Capture`]), a masker for secrets and personal data ([`Masker`]), and the user's own
//! function. Applied to each record just before it is queued (see `WrapOptions`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use observers_core::ChatCompletionRecord;
use regex::{Captures, Regex};
use serde_json::value::RawValue;
use serde_json::Value;

/// How much of a call's content is recorded.
///
/// # Example
/// ```
/// use observers_openai::{Capture, WrapOptions};
///
/// // Tokens, latency, model, arguments and errors; no messages, answers or bodies.
/// let options = WrapOptions::default().content(Capture::MetadataOnly);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capture {
    /// Everything: messages, answers, tool calls and the raw bodies (the default).
    #[default]
    Full,
    /// No content: `messages`, `assistant_message`, `tool_calls`, `function_call` and
    /// `raw_response` are left empty; tokens, latency, model, arguments, tags, properties and
    /// errors are kept.
    MetadataOnly,
}

impl Capture {
    pub(crate) fn apply(self, record: &mut ChatCompletionRecord) {
        if self == Capture::MetadataOnly {
            record.messages.clear();
            record.assistant_message = None;
            record.tool_calls = None;
            record.function_call = None;
            record.raw_response = None;
        }
    }
}

/// The patterns [`Masker::default`] knows, by name. Each is one alternative of one regex.
const BUILT_IN: [(&str, &str); 5] = [
    ("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    (
        "api_key",
        r"\b(?:sk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,}|(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})",
    ),
    ("bearer", r"(?i:\bbearer)\s+[A-Za-z0-9._~+/-]{8,}=*"),
    // 13 to 19 digits, optionally grouped by spaces or dashes; kept unless the Luhn check
    // passes, so order numbers and timestamps are not taken for cards.
    ("card", r"\b\d(?:[ -]?\d){12,18}\b"),
    // International (`+33 1 23 45 67 89`) or North American (`(555) 123-4567`).
    ("phone", r"(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4})\b"),
];

/// Masks secrets and personal data in every column of a record that can carry text:
/// messages, the answer, tool calls and their arguments, `raw_response`, `arguments`,
/// `properties` and `error`. A match becomes `[REDACTED:<name>]`.
///
/// [`Masker::default`] knows emails, phone numbers, card numbers (checked with Luhn), API
/// keys (`sk-…`, `hf_…`, `AKIA…`, `ghp_…`, `xox…-`, `AIza…`) and bearer tokens; add your
/// own patterns with [`with_pattern`](Self::with_pattern).
///
/// A streamed answer whose text was masked keeps no raw chunks: pieces of a masked value may
/// sit in different chunks, where no pattern sees them whole.
///
/// # Example
/// ```
/// use observers_openai::{Masker, WrapOptions};
///
/// let masker = Masker::default().with_pattern("employee_id", r"\bEMP-\d{6}\b")?;
/// assert_eq!(
///     masker.mask_text("Mail jane@example.com about EMP-123456"),
///     "Mail [REDACTED:email] about [REDACTED:employee_id]"
/// );
/// let options = WrapOptions::default().mask(masker);
/// # Ok::<(), regex::Error>(())
/// ```
#[derive(Clone)]
pub struct Masker {
    patterns: Vec<(String, String)>,
    /// All patterns as one regex of named alternatives: one pass over each text. `None` for
    /// no pattern.
    regex: Option<Regex>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Masker")
            .field("patterns", &self.patterns.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish()
    }
}

impl Default for Masker {
    fn default() -> Self {
        let patterns = BUILT_IN.iter().map(|(n, p)| ((*n).to_string(), (*p).to_string())).collect();
        // The built-in patterns are this crate's own and tested: they compile.
        Self::build(patterns).unwrap_or_else(|_| Masker::empty())
    }
}

impl Masker {
    /// A masker with no pattern at all (add yours with [`with_pattern`](Self::with_pattern)).
    pub fn empty() -> Self {
        Masker { patterns: Vec::new(), regex: None }
    }

    /// Adds a pattern (Rust `regex` syntax); its matches become `[REDACTED:<name>]`. `name`
    /// may hold letters, digits and `_`.
    pub fn with_pattern(self, name: &str, pattern: &str) -> Result<Self, regex::Error> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(regex::Error::Syntax(format!("pattern name {name:?}: use letters, digits and `_`")));
        }
        // On its own first, so an error names this pattern rather than the combination.
        Regex::new(pattern)?;
        let mut patterns = self.patterns;
        patterns.retain(|(n, _)| n != name);
        patterns.push((name.to_string(), pattern.to_string()));
        Self::build(patterns)
    }

    fn build(patterns: Vec<(String, String)>) -> Result<Self, regex::Error> {
        if patterns.is_empty() {
            return Ok(Self::empty());
        }
        let alternatives: Vec<String> = patterns.iter().map(|(n, p)| format!("(?P<{n}>{p})")).collect();
        Ok(Masker { regex: Some(Regex::new(&alternatives.join("|"))?), patterns })
    }

    /// `text` with every match replaced.
    pub fn mask_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.regex {
            Some(regex) => regex.replace_all(text, |caps: &Captures<'_>| self.replacement(caps)),
            None => Cow::Borrowed(text),
        }
    }

    fn is_match(&self, text: &str) -> bool {
        self.regex.as_ref().is_some_and(|regex| regex.is_match(text))
    }

    fn replacement(&self, caps: &Captures<'_>) -> String {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let name =
            self.patterns.iter().map(|(n, _)| n.as_str()).find(|n| caps.name(n).is_some()).unwrap_or("");
        if name == "card" && !luhn(whole) {
            return whole.to_string();
        }
        format!("[REDACTED:{name}]")
    }

    /// Masks `s` in place; returns whether anything was masked.
    fn text(&self, s: &mut String) -> bool {
        match self.mask_text(s) {
            Cow::Borrowed(_) => false,
            Cow::Owned(masked) => {
                let changed = masked != *s;
                *s = masked;
                changed
            }
        }
    }

    /// Masks every string of `value` (keys too); returns whether anything was masked.
    fn json(&self, value: &mut Value) -> bool {
        let mut changed = false;
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                Value::String(s) => changed |= self.text(s),
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(map) => {
                    if map.keys().any(|k| self.is_match(k)) {
                        let entries = std::mem::take(map);
                        map.extend(entries.into_iter().map(|(k, v)| (self.mask_text(&k).into_owned(), v)));
                        changed = true;
                    }
                    stack.extend(map.values_mut());
                }
                _ => {}
            }
        }
        changed
    }

    /// Masks the strings of a raw JSON text, keeping it byte for byte when nothing matches.
    fn raw(&self, raw: &RawValue) -> Option<Box<RawValue>> {
        let text = raw.get();
        // Without escapes, each string's text appears as is: no match in the whole text means
        // none in any string. With escapes (`\n` before a number...) parse to be sure.
        if !text.contains('\\') && !self.is_match(text) {
            return None;
        }
        let mut value: Value = serde_json::from_str(text).ok()?;
        self.json(&mut value).then(|| RawValue::from_string(value.to_string()).ok()).flatten()
    }

    /// Masks every text column of `record`.
    pub(crate) fn apply(&self, record: &mut ChatCompletionRecord) {
        if self.regex.is_none() {
            return;
        }
        let mut answer_masked = false;
        for message in &mut record.messages {
            for s in [&mut message.content, &mut message.name].into_iter().flatten() {
                self.text(s);
            }
            if let Some(calls) = &mut message.tool_calls {
                self.json(calls);
            }
        }
        if let Some(answer) = &mut record.assistant_message {
            answer_masked |= self.text(answer);
        }
        for value in [&mut record.tool_calls, &mut record.function_call].into_iter().flatten() {
            answer_masked |= self.json(value);
        }
        for value in [&mut record.arguments, &mut record.properties].into_iter().flatten() {
            self.json(value);
        }
        if let Some(error) = &mut record.error {
            self.text(error);
        }
        let streamed =
            record.raw_response.as_ref().is_some_and(|raw| raw.get().trim_start().starts_with('['));
        if streamed && answer_masked {
            record.raw_response = None;
        } else if let Some(masked) = record.raw_response.as_deref().and_then(|raw| self.raw(raw)) {
            record.raw_response = Some(masked);
        }
    }
}

/// The Luhn checksum of the digits of `text` holds (card numbers have it).
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    digits.len() >= 13 && sum.is_multiple_of(10)
}

/// The user's function that sees each record before it is queued.
pub(crate) type Redactor = Arc<dyn Fn(&mut ChatCompletionRecord) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;
    use observers_core::Message;
    use serde_json::json;

    fn masked(text: &str) -> String {
        Masker::default().mask_text(text).into_owned()
    }

    #[test]
    fn built_in_patterns_mask_what_they_name_and_keep_the_rest() {
        let cases = [
            ("write to jane.doe+x@mail.example.co.uk now", "write to [REDACTED:email] now"),
            ("key sk-proj-abcdefghijklmnop1234 here", "key [REDACTED:api_key] here"),
            ("token hf_abcdefghijklmnopqrstuvwxyz12", "token [REDACTED:api_key]"),
            ("aws AKIAIOSFODNN7EXAMPLE.", "aws [REDACTED:api_key]."),
            ("Authorization: Bearer eyJhbGciOi.J9x_y-z", "Authorization: [REDACTED:bearer]"),
            ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
            ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
            ("call (555) 123-4567 or +33 1 23 45 67 89", "call [REDACTED:phone] or [REDACTED:phone]"),
        ];
        for (text, expected) in cases {
            assert_eq!(masked(text), expected, "{text}");
        }
        for kept in [
            "order 1234567890123 failed Luhn",
            "on 2024-01-15 at 10:30, version 1.2.3",
            "created 1742733210, 42 tokens, temperature 0.7",
            "a skeleton key, an sk- prefix alone",
        ] {
            assert_eq!(masked(kept), kept);
        }
    }

    #[test]
    fn every_text_column_is_masked_and_raw_json_stays_valid() {
        let email = "bob@example.com";
        let mut record = ChatCompletionRecord::new("m");
        record.messages = vec![Message::new("user", format!("mail {email}"))];
        record.assistant_message = Some(format!("I wrote to {email}"));
        record.tool_calls = Some(json!([{"function": {"arguments": format!("{{\"to\":\"{email}\"}}")}}]));
        record.arguments = Some(json!({"metadata": {"owner": email}}));
        record.properties = Some(json!({"contact": email}));
        record.error = Some(format!("refused {email}"));
        let raw = format!(
            "{{\"choices\":[{{\"message\":{{\"content\":\"line\\n{email}\\n+1 (555) 123-4567\"}}}}]}}"
        );
        record.raw_response = RawValue::from_string(raw).ok();
        Masker::default().apply(&mut record);
        let text = serde_json::to_string(&record).unwrap_or_default();
        assert!(!text.contains(email) && !text.contains("123-4567"), "{text}");
        let raw: Value = serde_json::from_str(record.raw_response.as_ref().map_or("", |r| r.get())).unwrap();
        assert_eq!(raw["choices"][0]["message"]["content"], "line\n[REDACTED:email]\n[REDACTED:phone]");
        let args: Value = serde_json::from_str(
            record.tool_calls.as_ref().unwrap()[0]["function"]["arguments"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(args["to"], "[REDACTED:email]");
    }

    #[test]
    fn a_raw_body_with_nothing_to_mask_is_kept_byte_for_byte() {
        let raw = r#"{"b": 1,  "a": "plain text"}"#;
        let mut record = ChatCompletionRecord::new("m");
        record.raw_response = RawValue::from_string(raw.into()).ok();
        Masker::default().apply(&mut record);
        assert_eq!(record.raw_response.map(|r| r.get().to_string()).as_deref(), Some(raw));
    }

    #[test]
    fn a_masked_streamed_answer_keeps_no_raw_chunks() {
        let mut record = ChatCompletionRecord::new("m");
        record.assistant_message = Some("reach me at ann@example.org".into());
        let chunks = r#"[{"choices":[{"delta":{"content":"reach me at ann@exa"}}]},{"choices":[{"delta":{"content":"mple.org"}}]}]"#;
        record.raw_response = RawValue::from_string(chunks.into()).ok();
        Masker::default().apply(&mut record);
        assert_eq!(record.assistant_message.as_deref(), Some("reach me at [REDACTED:email]"));
        assert!(record.raw_response.is_none());
    }

    #[test]
    fn custom_patterns_and_bad_ones() {
        let masker = Masker::empty().with_pattern("ticket", r"TCK-\d+").unwrap();
        assert_eq!(
            masker.mask_text("see TCK-42, jane@example.com"),
            "see [REDACTED:ticket], jane@example.com"
        );
        assert!(Masker::default().with_pattern("bad", "(").is_err());
        assert!(Masker::default().with_pattern("no spaces", "x").is_err());
    }

    #[test]
    fn metadata_only_keeps_the_numbers_and_drops_the_content() {
        let mut record = ChatCompletionRecord::new("m");
        record.messages = vec![Message::new("user", "secret plan")];
        record.assistant_message = Some("answer".into());
        record.total_tokens = Some(12);
        record.error = Some("HTTP 500".into());
        record.raw_response = RawValue::from_string("{}".into()).ok();
        Capture::MetadataOnly.apply(&mut record);
        assert!(
            record.messages.is_empty() && record.assistant_message.is_none() && record.raw_response.is_none()
        );
        assert_eq!((record.total_tokens, record.error.as_deref()), (Some(12), Some("HTTP 500")));
    }
}
