//! A server-sent-events decoder that knows nothing about I/O.
//!
//! Network reads split the byte stream anywhere: inside a line, between `\r` and `\n`, inside a
//! multi-byte character. The decoder keeps the unfinished line between [`SseDecoder::feed`] calls and
//! hands out the `data` of each complete event, following the WHATWG rules that matter here: `\n`,
//! `\r\n` and `\r` all end a line, `:` lines are comments (keep-alives), several `data:` lines join
//! with `\n`, and a blank line dispatches the event.

use super::error::BrainError;

/// Largest event accepted; a provider that streams more without a blank line is broken, and the
/// cap keeps it from growing our memory without bound.
const MAX_EVENT_BYTES: usize = 1 << 20;

/// Incremental SSE decoder yielding each event's data.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    /// The previous chunk ended in `\r`; a `\n` starting this one belongs to the same line end.
    after_cr: bool,
    first_line_done: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the body and returns the data of every event they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<String>, BrainError> {
        let mut events = Vec::new();
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let [b'\n', tail @ ..] = rest {
                rest = tail;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let ending = rest[pos];
            rest = &rest[pos + 1..];
            if ending == b'\r' {
                match rest {
                    [b'\n', tail @ ..] => rest = tail,
                    [] => self.after_cr = true,
                    _ => {}
                }
            }
            self.end_line(&mut events)?;
        }
        self.line.extend_from_slice(rest);
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(BrainError::Protocol("server-sent event too large".into()));
        }
        Ok(events)
    }

    /// The body ended: returns an event that was complete except for its closing blank line, which
    /// some servers leave off at the very end.
    pub fn finish(&mut self) -> Option<String> {
        let mut events = Vec::new();
        if !self.line.is_empty() {
            // Only fails on size, which `feed` has already bounded.
            self.end_line(&mut events).ok()?;
        }
        self.end_line(&mut events).ok()?;
        events.pop()
    }

    fn end_line(&mut self, events: &mut Vec<String>) -> Result<(), BrainError> {
        let mut line = std::mem::take(&mut self.line);
        if !self.first_line_done {
            self.first_line_done = true;
            if line.starts_with(b"\xEF\xBB\xBF") {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            if self.has_data {
                self.has_data = false;
                events.push(std::mem::take(&mut self.data));
            }
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (&line[..], &[][..]),
        };
        // `event`, `id` and `retry` mean nothing to Chat Completions streams.
        if field == b"data" {
            if self.has_data {
                self.data.push('\n');
            }
            self.data.push_str(&String::from_utf8_lossy(value));
            self.has_data = true;
            if self.data.len() > MAX_EVENT_BYTES {
                return Err(BrainError::Protocol("server-sent event too large".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(body: &[u8], piece: usize) -> Vec<String> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in body.chunks(piece) {
            out.extend(d.feed(chunk).expect("small events"));
        }
        out.extend(d.finish());
        out
    }

    #[test]
    fn same_events_whatever_the_split() {
        let body = "\u{feff}: keep-alive\r\n\r\ndata: {\"a\":\"h\u{e9}llo \u{1f600}\"}\r\n\r\nevent: x\ndata: line1\ndata:line2\n\ndata: [DONE]\r\r".as_bytes();
        let expected = vec![
            "{\"a\":\"h\u{e9}llo \u{1f600}\"}".to_owned(),
            "line1\nline2".to_owned(),
            "[DONE]".to_owned(),
        ];
        for piece in 1..=body.len() {
            assert_eq!(
                decode_in_pieces(body, piece),
                expected,
                "split every {piece} bytes"
            );
        }
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_end() {
        let mut d = SseDecoder::new();
        assert!(d.feed(b"data: a\r").expect("ok").is_empty());
        assert!(
            d.feed(b"\n").expect("ok").is_empty(),
            "\\r\\n is one line end, not two"
        );
        assert_eq!(d.feed(b"\r\n").expect("ok"), ["a"]);
    }

    #[test]
    fn comments_and_empty_events_dispatch_nothing() {
        assert!(decode_in_pieces(b": ping\n\n\n\nid: 3\n\n", 3).is_empty());
        assert_eq!(decode_in_pieces(b"data\n\n", 1), [""]);
    }

    #[test]
    fn unterminated_last_event_is_kept() {
        assert_eq!(decode_in_pieces(b"data: [DONE]", 4), ["[DONE]"]);
        assert_eq!(decode_in_pieces(b"data: [DONE]\n", 4), ["[DONE]"]);
    }

    #[test]
    fn endless_line_is_an_error() {
        let mut d = SseDecoder::new();
        let big = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert!(matches!(d.feed(&big), Err(BrainError::Protocol(_))));
    }
}
