//! Splits streaming LLM text into speakable sentences, so TTS can start on the first sentence while the model is
//! still writing the rest.
//!
//! A sentence ends at `.`, `!`, `?` or `…` (plus any closing quotes or brackets) followed by whitespace, or at a
//! line break. Not at: decimals and versions ("3.5", "v1.2" — no whitespace follows), titles ("Dr. Smith"),
//! initials ("J. Smith"), dotted abbreviations ("e.g. this"), list numbers ("1. First"), and abbreviations like
//! "etc." unless a capitalised word follows. A boundary is only decided once the character after it has arrived,
//! so a chunk never ends in the middle of "3.5" because the "5" was still in flight. Run-on text is cut at a
//! comma or space once it passes `max_chars`, keeping the time to first audio bounded.

/// How an abbreviation behaves before whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abbreviation {
    /// Precedes a name or number: never ends a sentence ("Dr.", "Mr.", "vs.", "approx.").
    Inner,
    /// Often ends a sentence: ends one when a capitalised word follows ("etc.", "Inc.").
    Trailing,
}

const INNER: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "sr", "jr", "gen", "gov", "sgt", "capt", "lt",
    "col", "rev", "hon", "vs", "approx", "ca", "cf", "fig", "figs", "vol", "ch", "pp", "dept",
    "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "ave", "blvd", "rd",
];
const TRAILING: &[&str] = &["etc", "inc", "ltd", "co", "corp", "llc", "al"];

/// Classifies the word in front of a `.`; `word` may carry leading quotes or brackets.
pub(crate) fn abbreviation(word: &str) -> Option<Abbreviation> {
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    let lower = word.to_lowercase();
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        // A single capital is an initial; a single digit or two is a list number.
        if c.is_uppercase() {
            return Some(Abbreviation::Inner);
        }
    }
    if INNER.contains(&lower.as_str()) {
        return Some(Abbreviation::Inner);
    }
    if TRAILING.contains(&lower.as_str()) {
        return Some(Abbreviation::Trailing);
    }
    // Dotted forms: "e.g", "i.e", "U.S", "a.m".
    if word.contains('.') && word.split('.').all(|part| part.chars().count() <= 2) {
        return Some(Abbreviation::Inner);
    }
    None
}

const TERMINATORS: &[char] = &['.', '!', '?', '…'];
const CLOSERS: &[char] = &['"', '\'', '”', '’', ')', ']', '»'];
const CLAUSE_ENDS: &[char] = &[',', ';', ':', '—', '–'];

/// Streaming sentence splitter; see the module docs.
#[derive(Debug, Clone)]
pub struct SentenceChunker {
    buf: String,
    max_chars: usize,
    /// Until the first chunk is out, a clause of at least this many words ends one too.
    first_clause_words: Option<usize>,
    emitted: bool,
}

impl Default for SentenceChunker {
    fn default() -> Self {
        Self::new(300)
    }
}

impl SentenceChunker {
    /// A chunker that cuts run-on text after about `max_chars` characters.
    pub fn new(max_chars: usize) -> Self {
        Self {
            buf: String::new(),
            max_chars: max_chars.max(20),
            first_clause_words: None,
            emitted: false,
        }
    }

    /// Lets the first chunk end at a clause (`,` `;` `:` or a dash, then whitespace) once it has `words` words:
    /// the caller hears the start of the answer while the rest of its first sentence is still being
    /// synthesised, and speech synthesis time grows with the length of what it speaks.
    pub fn with_first_clause(mut self, words: usize) -> Self {
        self.first_clause_words = Some(words.max(1));
        self
    }

    /// Adds a piece of streamed text; returns the sentences it completed, trimmed, in order.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.buf.push_str(delta);
        let mut out = Vec::new();
        while let Some(end) = self.next_boundary() {
            let rest = self.buf.split_off(end);
            let sentence = std::mem::replace(&mut self.buf, rest);
            let sentence = sentence.trim();
            if !sentence.is_empty() {
                out.push(sentence.to_string());
                self.emitted = true;
            }
        }
        out
    }

    /// Ends the stream: returns what is left, if anything speakable.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }

    /// Discards buffered text (barge-in).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The first-clause words required now, if a clause may end a chunk.
    fn clause_words(&self) -> Option<usize> {
        self.first_clause_words.filter(|_| !self.emitted)
    }

    /// Byte offset just past the first complete sentence in `buf`, if one is decided.
    fn next_boundary(&self) -> Option<usize> {
        let buf = &self.buf;
        let chars: Vec<(usize, char)> = buf.char_indices().collect();
        let has_words = |end: usize| buf[..end].chars().any(char::is_alphabetic);
        let mut i = 0;
        while i < chars.len() {
            let (pos, c) = chars[i];
            if c == '\n' && has_words(pos) {
                return Some(pos + 1);
            }
            if let Some(words) = self.clause_words()
                && CLAUSE_ENDS.contains(&c)
                && chars
                    .get(i + 1)
                    .is_some_and(|&(_, next)| next.is_whitespace())
                && buf[..pos].split_whitespace().count() >= words
            {
                return Some(chars[i + 1].0);
            }
            if TERMINATORS.contains(&c) {
                // Swallow runs like "?!", "..." and closing quotes: `j` is the first char after them.
                let mut j = i + 1;
                while j < chars.len()
                    && (TERMINATORS.contains(&chars[j].1) || CLOSERS.contains(&chars[j].1))
                {
                    j += 1;
                }
                let Some(&(next_pos, next)) = chars.get(j) else {
                    return None; // undecided until more text arrives
                };
                if next.is_whitespace()
                    && has_words(next_pos)
                    && self.ends_sentence(&chars, i, j)?
                {
                    return Some(next_pos);
                }
                i = j;
                continue;
            }
            i += 1;
        }
        if chars.len() > self.max_chars {
            return Some(self.run_on_cut(&chars));
        }
        None
    }

    /// Whether the terminator at `i` (run ending before `j`, whitespace at `j`) ends a sentence; `None` = need
    /// more text to know.
    fn ends_sentence(&self, chars: &[(usize, char)], i: usize, j: usize) -> Option<bool> {
        if chars[i].1 != '.' || j > i + 1 {
            return Some(true); // "!", "?", "...", or "." with a closing quote
        }
        let word_start = chars[..i]
            .iter()
            .rposition(|&(_, c)| c.is_whitespace())
            .map_or(0, |k| k + 1);
        let word: String = chars[word_start..i].iter().map(|&(_, c)| c).collect();
        match abbreviation(&word) {
            Some(Abbreviation::Inner) => Some(false),
            Some(Abbreviation::Trailing) => {
                let next_word = chars[j..].iter().find(|&&(_, c)| !c.is_whitespace())?;
                Some(next_word.1.is_uppercase())
            }
            None => Some(true),
        }
    }

    /// Where to cut a run-on sentence: after the last clause punctuation, else the last space, before
    /// `max_chars`; as a last resort at `max_chars` itself.
    fn run_on_cut(&self, chars: &[(usize, char)]) -> usize {
        let window = &chars[..self.max_chars];
        let after = |k: usize| chars.get(k + 1).map_or(self.buf.len(), |&(p, _)| p);
        window
            .iter()
            .rposition(|&(_, c)| matches!(c, ',' | ';' | ':'))
            .or_else(|| window.iter().rposition(|&(_, c)| c.is_whitespace()))
            .map_or_else(|| after(self.max_chars - 1), after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_all(pieces: &[&str]) -> Vec<String> {
        let mut c = SentenceChunker::default();
        let mut out: Vec<String> = pieces.iter().flat_map(|p| c.push(p)).collect();
        out.extend(c.finish());
        out
    }

    #[test]
    fn splits_sentences_and_flushes_the_rest() {
        let out = chunk_all(&["Hello there! How are", " you? I'm fine", " thanks"]);
        assert_eq!(out, ["Hello there!", "How are you?", "I'm fine thanks"]);
    }

    #[test]
    fn abbreviations_decimals_and_initials_do_not_split() {
        let text = "Dr. Smith paid $3.50 for v1.2, e.g. the J. R. R. Tolkien book. Then he left.";
        assert_eq!(
            chunk_all(&[text]),
            [
                "Dr. Smith paid $3.50 for v1.2, e.g. the J. R. R. Tolkien book.",
                "Then he left."
            ]
        );
    }

    #[test]
    fn decisions_wait_for_the_next_character() {
        let mut c = SentenceChunker::default();
        // Token-by-token, as an LLM streams: "3." must not be cut before ".5" arrives.
        let mut out = Vec::new();
        for piece in ["It is 3", ".", "5 degrees", ".", " Nice", "."] {
            out.extend(c.push(piece));
        }
        assert_eq!(out, ["It is 3.5 degrees."]);
        assert_eq!(c.finish().as_deref(), Some("Nice."));
    }

    #[test]
    fn trailing_abbreviations_split_only_before_a_capital() {
        let out =
            chunk_all(&["We sell apples, pears, etc. Call us. Acme Inc. is open etc. and more."]);
        assert_eq!(
            out,
            [
                "We sell apples, pears, etc.",
                "Call us.",
                "Acme Inc. is open etc. and more."
            ]
        );
    }

    #[test]
    fn quotes_runs_newlines_and_lists() {
        let out = chunk_all(&["He said \"stop.\" Then?! Wait...\n1. First item\n2. Second"]);
        assert_eq!(
            out,
            [
                "He said \"stop.\"",
                "Then?!",
                "Wait...",
                "1. First item",
                "2. Second"
            ]
        );
    }

    #[test]
    fn run_on_text_is_cut_at_a_comma_or_space() {
        let long = "word ".repeat(20) + "and, then " + &"more ".repeat(20);
        let mut c = SentenceChunker::new(110);
        let out = c.push(&long);
        assert_eq!(out.len(), 1);
        assert!(out[0].ends_with("and,"), "{out:?}");
        assert!(c.finish().is_some());
    }

    #[test]
    fn unicode_is_safe() {
        let out = chunk_all(&["Ça va? Très bien… Merci! 日本語です。"]);
        assert_eq!(out, ["Ça va?", "Très bien…", "Merci!", "日本語です。"]);
        let mut c = SentenceChunker::new(20);
        let out = c.push(&"é".repeat(50));
        assert_eq!(out[0].chars().count(), 20);
    }

    #[test]
    fn the_first_chunk_may_end_at_a_clause_of_enough_words() {
        let mut c = SentenceChunker::default().with_first_clause(4);
        let mut out = Vec::new();
        for piece in [
            "Sure, the library opens at nine, ",
            "and on weekends, it opens at ten. ",
            "Parking is free, ",
            "as always.",
        ] {
            out.extend(c.push(piece));
        }
        out.extend(c.finish());
        assert_eq!(
            out,
            [
                "Sure, the library opens at nine,",
                "and on weekends, it opens at ten.",
                "Parking is free, as always."
            ],
            "a short opener (\"Sure,\") is not a clause of its own; only the first chunk is cut at one"
        );
        let mut c = SentenceChunker::default().with_first_clause(4);
        assert!(
            c.push("It costs 1,000 dollars").is_empty(),
            "no space: not a clause"
        );
        assert_eq!(c.push(" — or less: ask"), ["It costs 1,000 dollars —"]);
    }

    #[test]
    fn clear_drops_pending_text() {
        let mut c = SentenceChunker::default();
        assert!(c.push("Half a sent").is_empty());
        c.clear();
        assert!(c.finish().is_none());
    }
}
