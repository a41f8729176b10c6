//! [`Input`]: arbitrary bytes read as structured choices, so a random or mutated byte string becomes a
//! well-formed-looking input (a WAV header, a Realtime event, an agent configuration) as often as a broken one.
//!
//! Reading past the end yields zeros rather than failing: every byte string means something, and a fuzzer's
//! small mutations make small changes to the structure.

/// A cursor over fuzz input bytes.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let raw = if n <= 256 {
            usize::from(self.u8())
        } else {
            self.u32() as usize
        };
        raw % n
    }

    /// One of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    /// A short string: mostly plain text, sometimes the characters parsers trip on (quotes, braces, escapes,
    /// control characters, multi-byte UTF-8).
    pub fn text(&mut self, max_len: usize) -> String {
        const TRICKY: &[&str] = &[
            "\"", "\\", "{{", "}}", ":", "\n", "\u{0}", "é", "€", "😀", "\u{202e}", " ", "%", "+",
            "-",
        ];
        let len = self.below(max_len + 1);
        let mut out = String::with_capacity(len);
        for _ in 0..len {
            let b = self.u8();
            if b < 200 {
                out.push(char::from(b'a' + b % 26));
            } else if b < 230 {
                out.push(char::from(b'0' + b % 10));
            } else {
                out.push_str(TRICKY[usize::from(b) % TRICKY.len()]);
            }
            if self.is_empty() {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_past_the_end_gives_zeros() {
        let mut input = Input::new(&[1, 2, 3]);
        assert_eq!(input.u16(), 0x0201);
        assert_eq!(input.u32(), 3);
        assert!(input.is_empty());
        assert_eq!(input.below(7), 0);
        assert_eq!(input.bytes(10), &[] as &[u8]);
    }
}
