//! What a scenario needs to know about the request it answers: model, stream flags, the
//! deterministic answer text and token counts.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::wire::{obj, Json};
use super::{DEFAULT_MODEL, MOCK_ANSWER_PREFIX};

/// How many characters of the last user message the answer quotes.
const QUOTE_CHARS: usize = 200;

/// How to cut an answer into stream pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pieces {
    /// One word each, with its trailing whitespace (the default, as LLMs stream tokens).
    Words,
    /// At most this many characters each (large answers: words would make millions of chunks).
    Chars(usize),
}

/// One chat-completion request, reduced to what the response bodies use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exchange {
    /// Per-server request counter; makes ids unique and deterministic.
    pub(crate) seq: u64,
    /// Unix seconds at which the request arrived.
    pub(crate) created: u64,
    /// The request's `model`.
    pub(crate) model: String,
    /// The request's `stream`.
    pub(crate) stream: bool,
    /// The request's `stream_options.include_usage`.
    pub(crate) include_usage: bool,
    /// `MOCK_ANSWER_PREFIX` + the last user message (first 200 characters).
    pub(crate) answer: String,
    /// Whitespace-separated words over every message's text content.
    pub(crate) prompt_tokens: u64,
    /// How `answer` is cut when streamed.
    pub(crate) pieces: Pieces,
}

impl Exchange {
    /// Reads the request body (already parsed as JSON); missing fields get defaults.
    pub(crate) fn from_request(body: &Value, seq: u64) -> Exchange {
        let messages = body.get("messages").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let last_user = messages
            .iter()
            .rev()
            .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
            .map(message_text)
            .unwrap_or_default();
        let quoted: String = last_user.chars().take(QUOTE_CHARS).collect();
        let prompt_words =
            messages.iter().map(|message| message_text(message).split_whitespace().count()).sum();
        Exchange {
            seq,
            created: unix_now(),
            model: body.get("model").and_then(Value::as_str).unwrap_or(DEFAULT_MODEL).to_owned(),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            answer: format!("{MOCK_ANSWER_PREFIX}{quoted}"),
            prompt_tokens: to_u64(prompt_words),
            pieces: Pieces::Words,
        }
    }

    /// This exchange with its answer padded to exactly `bytes` bytes (cut to them when the
    /// answer is already longer) and streamed in pieces of `piece_chars` characters. The
    /// padding mixes ASCII with 2-, 3- and 4-byte characters, so a reader that cuts UTF-8
    /// in the wrong place corrupts it visibly.
    pub(crate) fn with_answer_of(mut self, bytes: usize, piece_chars: usize) -> Exchange {
        const FILLER: &str = "Long answer, ünïcödé ✓ 🚀 0123456789. ";
        let mut answer = std::mem::take(&mut self.answer);
        answer.reserve(bytes.saturating_sub(answer.len()));
        while answer.len() < bytes {
            answer.push_str(FILLER);
        }
        let cut = (0..=bytes).rev().find(|at| answer.is_char_boundary(*at)).unwrap_or(0);
        answer.truncate(cut);
        while answer.len() < bytes {
            answer.push('.');
        }
        self.answer = answer;
        self.pieces = Pieces::Chars(piece_chars.max(1));
        self
    }

    /// The OpenAI-style id of this exchange: `chatcmpl-mock-<seq>`.
    pub(crate) fn id(&self) -> String {
        format!("chatcmpl-mock-{}", self.seq)
    }

    /// The answer cut into stream pieces (see [`Pieces`]).
    pub(crate) fn answer_pieces(&self) -> Vec<&str> {
        match self.pieces {
            Pieces::Words => split_words(&self.answer),
            Pieces::Chars(size) => split_every(&self.answer, size),
        }
    }

    /// Completion tokens of the text answer: one per streamed piece.
    pub(crate) fn answer_tokens(&self) -> u64 {
        to_u64(self.answer_pieces().len())
    }

    /// The plain usage object `{prompt_tokens, completion_tokens, total_tokens}`.
    pub(crate) fn plain_usage(&self, completion_tokens: u64) -> Json {
        obj! {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        }
    }

    /// A hexadecimal string of `len` digits derived from the sequence number (for
    /// provider-style ids that look random but are reproducible).
    pub(crate) fn pseudo_hex(&self, len: usize) -> String {
        let mut state = self.seq.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut out = String::with_capacity(len);
        while out.len() < len {
            state ^= state >> 29;
            state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            out.push_str(&format!("{state:016x}"));
        }
        out.truncate(len);
        out
    }
}

/// The text of a message: its `content` string, or its text parts joined by spaces.
fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Splits `text` after each run of whitespace, so the pieces concatenate back to `text`.
pub(crate) fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (at, ch) in text.char_indices() {
        if in_space && !ch.is_whitespace() {
            pieces.push(&text[start..at]);
            start = at;
        }
        in_space = ch.is_whitespace();
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Splits `text` into pieces of at most `size` characters (mid-token, like real tool-call
/// argument deltas).
pub(crate) fn split_every(text: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.char_indices().nth(size).map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Lossless on every supported platform; saturates otherwise.
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_whitespace() {
        assert_eq!(split_words("Mock answer  to:\nhi "), vec!["Mock ", "answer  ", "to:\n", "hi "]);
        assert_eq!(split_words(""), Vec::<&str>::new());
    }

    #[test]
    fn every_n_chars() {
        assert_eq!(split_every("abcdefg", 3), vec!["abc", "def", "g"]);
    }

    #[test]
    fn padded_answers_have_the_exact_size_and_start_with_the_quote() {
        let body = serde_json::json!({"messages": [{"role": "user", "content": "hi"}]});
        for bytes in [0, 10, 1000, 1001, 1002, 1003, 65_537] {
            let exchange = Exchange::from_request(&body, 1).with_answer_of(bytes, 100);
            assert_eq!(exchange.answer.len(), bytes);
            if bytes >= 1000 {
                assert!(exchange.answer.starts_with("Mock answer to: hi"));
            }
            assert_eq!(exchange.answer_pieces().concat(), exchange.answer);
            assert!(exchange.answer_pieces().iter().all(|piece| piece.chars().count() <= 100));
        }
    }

    #[test]
    fn request_fields() {
        let body = serde_json::json!({
            "model": "m",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "hello"},
                    {"type": "text", "text": "world"},
                ]},
            ]
        });
        let exchange = Exchange::from_request(&body, 7);
        assert_eq!(exchange.answer, "Mock answer to: hello world");
        assert_eq!(exchange.prompt_tokens, 4);
        assert_eq!(exchange.answer_tokens(), 5);
        assert!(exchange.stream && exchange.include_usage);
        assert_eq!(exchange.id(), "chatcmpl-mock-7");
        assert_eq!(exchange.pseudo_hex(32).len(), 32);
    }
}
