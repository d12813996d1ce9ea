//! A Server-Sent Events parser for chat-completion streams.
//!
//! Written here rather than taken from a crate because providers bend the format in ways a
//! strict parser loses data on: llama.cpp sends errors as an `error:` field, some servers omit
//! the space after `data:`, end with a lone `\r`, or stop without a final blank line. This
//! parser accepts all of the checklist in `shared/docs/provider-wire-formats.md` §11, and
//! bounds its memory: an event larger than [`MAX_EVENT_BYTES`] is an error, not an OOM.

/// Largest event accepted: a whole answer can come as one event.
pub(crate) const MAX_EVENT_BYTES: usize = crate::client::MAX_ANSWER_BYTES;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The concatenated `data:` lines of an event.
    Data(String),
    /// An `error:` field (llama.cpp) with its value.
    Error(String),
}

/// Incremental parser: feed it bytes as they arrive, in chunks of any size.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// Data lines of the event being built.
    data: Option<String>,
    error: Option<String>,
}

/// The parser refused the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SseError {
    #[error("an event is larger than {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    #[error("the stream is not valid UTF-8")]
    InvalidUtf8,
}

impl SseParser {
    /// Parses `bytes`, appending complete events to `events`.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], events: &mut Vec<Event>) -> Result<(), SseError> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.push(&bytes[..end])?;
            self.line_end(events)?;
            let terminator = bytes[end];
            bytes = &bytes[end + 1..];
            if terminator == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.push(bytes)
    }

    /// The stream ended: dispatches what is pending, even without a final blank line.
    pub(crate) fn finish(&mut self, events: &mut Vec<Event>) -> Result<(), SseError> {
        if !self.line.is_empty() {
            self.line_end(events)?;
        }
        self.dispatch(events);
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        let pending = self.line.len() + self.data.as_ref().map_or(0, String::len);
        if pending + bytes.len() > MAX_EVENT_BYTES {
            return Err(SseError::TooLarge);
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_end(&mut self, events: &mut Vec<Event>) -> Result<(), SseError> {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        let line = String::from_utf8(line).map_err(|_| SseError::InvalidUtf8)?;
        if line.starts_with(':') {
            return Ok(()); // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "error" => self.error = Some(value.to_string()),
            _ => {} // event:, id:, retry: and unknown fields mean nothing for chat completions
        }
        Ok(())
    }

    fn dispatch(&mut self, events: &mut Vec<Event>) {
        if let Some(error) = self.error.take() {
            events.push(Event::Error(error));
        }
        if let Some(data) = self.data.take() {
            events.push(Event::Data(data));
        }
    }
}

/// Whether a data payload is the end-of-stream marker (`[DONE]`, with any spacing).
pub(crate) fn is_done(data: &str) -> bool {
    data.trim().starts_with("[DONE]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut events).unwrap();
        }
        parser.finish(&mut events).unwrap();
        events
    }

    fn data(s: &str) -> Event {
        Event::Data(s.to_string())
    }

    #[test]
    fn framing_quirks() {
        let wire = b": keep-alive\r\n\r\ndata:{\"a\":1}\r\n\r\ndata: {\"b\":2}\n\n: ping - 2025\n\nevent: x\nid: 7\ndata: [DONE] \n\n";
        assert_eq!(parse(&[wire]), [data("{\"a\":1}"), data("{\"b\":2}"), data("[DONE] ")]);
        assert!(is_done("[DONE] ") && is_done("[DONE]"));
    }

    #[test]
    fn lone_cr_split_across_reads_and_no_final_blank_line() {
        assert_eq!(parse(&[b"data: 1\r", b"\r", b"data: 2\r", b"\ndata: 3"]), [data("1"), data("2\n3")]);
        assert_eq!(parse(&[b"data: x"]), [data("x")]);
    }

    #[test]
    fn llama_cpp_error_field() {
        assert_eq!(parse(&[b"error: {\"code\":500}\n\n"]), [Event::Error("{\"code\":500}".into())]);
    }

    #[test]
    fn refuses_invalid_utf8_and_huge_events() {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        assert_eq!(parser.feed(b"data: \xff\xfe\n", &mut events), Err(SseError::InvalidUtf8));
        let mut parser = SseParser::default();
        let big = vec![b'a'; 1024 * 1024];
        let mut result = Ok(());
        for _ in 0..=(MAX_EVENT_BYTES / big.len()) {
            result = parser.feed(&big, &mut events);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SseError::TooLarge));
    }

    proptest! {
        /// However the bytes are split into reads, the events are the same.
        #[test]
        fn fuzz_sse_splits(splits in proptest::collection::vec(1usize..40, 0..20)) {
            let wire: &[u8] = b": hi\r\ndata: {\"x\": \"\xc3\xa9\"}\r\n\r\ndata:two\rdata: lines\r\rerror: e\n\ndata: [DONE]\n\n";
            let whole = parse(&[wire]);
            let mut chunks = Vec::new();
            let mut rest = wire;
            for s in splits {
                let at = s.min(rest.len());
                let (head, tail) = rest.split_at(at);
                chunks.push(head);
                rest = tail;
            }
            chunks.push(rest);
            prop_assert_eq!(parse(&chunks), whole);
        }

        /// Arbitrary bytes never panic.
        #[test]
        fn fuzz_sse_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut parser = SseParser::default();
            let mut events = Vec::new();
            let _ = parser.feed(&bytes, &mut events);
            let _ = parser.finish(&mut events);
        }
    }
}
