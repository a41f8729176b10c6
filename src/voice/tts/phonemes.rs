//! Text → IPA phonemes with the `espeak-ng` program, → Piper phoneme ids.
//!
//! espeak-ng is GPL, so it runs as a separate process and is never linked. The text goes in on stdin (never on a
//! command line, never through a shell), so quotes, dashes and newlines in LLM output are just text.
//!
//! The `espeak-ng --ipa` program prints one line of phonemes per clause but drops the punctuation that Piper voices
//! were trained with (commas and full stops shape pauses and intonation). So the text is split into clauses here,
//! one per input line, and each clause's punctuation is put back after its phonemes; should espeak-ng split a line
//! further (it does at some abbreviations), the lines are joined with spaces and only the final punctuation kept.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::PiperConfigError;
use super::chunker::abbreviation;
use crate::voice::VoiceError;

/// Longest text accepted per synthesis; keeps espeak's pipes far below their buffer size and bounds worker time.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// How long espeak-ng may take before it is killed.
const ESPEAK_TIMEOUT: Duration = Duration::from_secs(10);
const CLAUSE_PUNCTUATION: &[char] = &[',', '.', ';', ':', '!', '?'];

/// A clause of input text and the punctuation that ended it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub text: String,
    pub punctuation: Option<char>,
}

/// Splits text into clauses at `, . ; : ! ?` followed by whitespace or the end, and at line breaks. "3.5" stays
/// whole; the period of an abbreviation ("Dr. Smith", "e.g. this") is dropped, because espeak-ng would otherwise
/// end a clause there and break the one-line-per-clause correspondence. Control characters become spaces; clauses
/// without a letter or digit are dropped (their punctuation moves to the previous clause).
pub(crate) fn split_clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let mut clauses: Vec<Clause> = Vec::new();
    let mut current = String::new();
    let close = |current: &mut String, punctuation: Option<char>, clauses: &mut Vec<Clause>| {
        let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
        current.clear();
        if text.chars().any(char::is_alphanumeric) {
            clauses.push(Clause { text, punctuation });
        } else if let (Some(p), Some(last)) = (punctuation, clauses.last_mut()) {
            last.punctuation = Some(p);
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        if c == '\n' || c == '\r' {
            close(&mut current, None, &mut clauses);
        } else if c == '.'
            && next.is_some_and(char::is_whitespace)
            && abbreviation(last_word(&current)).is_some()
        {
            // "Dr." → "Dr": espeak-ng still says "doctor".
        } else if CLAUSE_PUNCTUATION.contains(&c) && next.is_none_or(char::is_whitespace) {
            close(&mut current, Some(c), &mut clauses);
        } else if c.is_control() {
            current.push(' ');
        } else {
            current.push(c);
        }
    }
    close(&mut current, None, &mut clauses);
    clauses
}

fn last_word(text: &str) -> &str {
    text.rsplit(char::is_whitespace).next().unwrap_or("")
}

/// Runs espeak-ng over `clauses` (one per line) and returns the phoneme string with punctuation restored.
pub(crate) fn phonemize(
    program: &str,
    voice: &str,
    clauses: &[Clause],
) -> Result<String, VoiceError> {
    if clauses.is_empty() {
        return Ok(String::new());
    }
    let input: String = clauses.iter().map(|c| format!("{}\n", c.text)).collect();
    let output = run_espeak(program, voice, &input)?;
    let lines: Vec<String> = output
        .lines()
        .map(strip_language_tags)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(VoiceError::Phonemizer(
            "espeak-ng produced no phonemes".into(),
        ));
    }
    let mut phonemes = String::new();
    if lines.len() == clauses.len() {
        for (line, clause) in lines.iter().zip(clauses) {
            phonemes.push_str(line.trim());
            phonemes.extend(clause.punctuation);
            phonemes.push(' ');
        }
    } else {
        phonemes = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        phonemes.extend(clauses.last().and_then(|c| c.punctuation));
    }
    Ok(phonemes.trim_end().to_string())
}

/// espeak-ng marks a language switch inside a clause as `(fr)` ... `(en)`; those are not phonemes.
fn strip_language_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('(') {
        out.push_str(&rest[..start]);
        match rest[start..].find(')') {
            Some(len)
                if rest[start + 1..start + len]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                rest = &rest[start + len + 1..];
            }
            _ => {
                out.push('(');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn run_espeak(program: &str, voice: &str, input: &str) -> Result<String, VoiceError> {
    let err = |what: &str, e: &dyn std::fmt::Display| {
        VoiceError::Phonemizer(format!("{program}: {what}: {e}"))
    };
    let mut child = Command::new(program)
        .args(["-q", "--ipa", "-b", "1", "-v", voice])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err("cannot start", &e))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| VoiceError::Phonemizer("no stdin pipe".into()))?;
    let written = stdin.write_all(input.as_bytes());
    drop(stdin); // EOF: espeak-ng starts speaking what it has
    if let Err(e) = written {
        let _ = child.kill();
        let _ = child.wait();
        return Err(err("writing text", &e));
    }
    // The input is capped at MAX_TEXT_CHARS, so the output fits the pipe and can be read after exit.
    let deadline = Instant::now() + ESPEAK_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| err("waiting", &e))? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(VoiceError::Phonemizer(format!("{program} timed out")));
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)
            .map_err(|e| err("reading phonemes", &e))?;
    }
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        return Err(VoiceError::Phonemizer(format!(
            "{program} exited with {status}: {}",
            stderr.trim()
        )));
    }
    Ok(stdout)
}

/// Checks that espeak-ng can be run (for the readiness report).
pub(crate) fn check_espeak(program: &str) -> Result<(), PiperConfigError> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| PiperConfigError::EspeakMissing {
            program: program.to_string(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(PiperConfigError::EspeakFailed {
            program: program.to_string(),
            status: out.status,
        })
    }
}

/// Phoneme string → ids as `^ _ (phoneme _)* $`. Characters the voice does not know are skipped.
pub(crate) fn phoneme_ids(phonemes: &str, map: &HashMap<char, Vec<i64>>) -> Vec<i64> {
    let id = |c: char| map.get(&c).map(Vec::as_slice).unwrap_or(&[]);
    let mut ids = Vec::with_capacity(phonemes.chars().count() * 2 + 3);
    ids.extend_from_slice(id('^'));
    ids.extend_from_slice(id('_'));
    for c in phonemes.chars() {
        match map.get(&c) {
            Some(v) => {
                ids.extend_from_slice(v);
                ids.extend_from_slice(id('_'));
            }
            None => tracing::debug!(phoneme = %c, "phoneme not in the voice's map; skipped"),
        }
    }
    ids.extend_from_slice(id('$'));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_keep_their_punctuation_and_decimals() {
        let c = split_clauses("Hello, world! It costs $3.50 today.\nNext line \"quoted\"?");
        let texts: Vec<(&str, Option<char>)> =
            c.iter().map(|c| (c.text.as_str(), c.punctuation)).collect();
        assert_eq!(
            texts,
            [
                ("Hello", Some(',')),
                ("world", Some('!')),
                ("It costs $3.50 today", Some('.')),
                ("Next line \"quoted\"", Some('?')),
            ]
        );
    }

    #[test]
    fn punctuation_only_clauses_are_dropped() {
        let c = split_clauses("Wait ... what?! \t\u{7}");
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[1].text, "what?");
        assert_eq!(c[1].punctuation, Some('!'));
        assert!(split_clauses(" ... \n -- ").is_empty());
    }

    #[test]
    fn language_tags_are_removed_but_other_parentheses_stay() {
        assert_eq!(
            strip_language_tags("bɔ̃ʒˈuːɹ (fr)mɛʁsi(en) ok"),
            "bɔ̃ʒˈuːɹ mɛʁsi ok"
        );
        assert_eq!(strip_language_tags("a (b c) d"), "a (b c) d");
    }

    #[test]
    fn ids_follow_the_piper_layout() {
        let map: HashMap<char, Vec<i64>> = [('^', 1), ('_', 0), ('$', 2), ('a', 14), ('b', 15)]
            .into_iter()
            .map(|(c, i)| (c, vec![i]))
            .collect();
        assert_eq!(phoneme_ids("ab?", &map), [1, 0, 14, 0, 15, 0, 2]);
    }

    #[test]
    fn espeak_gives_ipa_with_punctuation_and_handles_awkward_text() {
        let clauses = split_clauses("Hello, Dr. Smith -- it's \"3.5\" degrees; -v --help\nbye!");
        assert_eq!(clauses.len(), 4, "{clauses:?}");
        assert_eq!(clauses[1].text, "Dr Smith -- it's \"3.5\" degrees");
        let p = phonemize("espeak-ng", "en-us", &clauses)
            .expect("espeak-ng is installed (scripts/setup-system)");
        assert!(p.starts_with("həlˈoʊ, dˈɑːktɚ smˈɪθ"), "{p}");
        assert!(p.contains("dᵻɡɹˈiːz;"), "{p}");
        assert!(p.ends_with('!'), "{p}");
        assert!(p.contains("θɹˈiː"), "digits are spoken: {p}");
    }

    #[test]
    fn missing_program_is_a_phonemizer_error() {
        let clauses = split_clauses("hi");
        let err =
            phonemize("/nonexistent/espeak-ng", "en-us", &clauses).expect_err("no such program");
        assert!(matches!(err, VoiceError::Phonemizer(_)));
        assert!(matches!(
            check_espeak("/nonexistent/espeak-ng"),
            Err(PiperConfigError::EspeakMissing { .. })
        ));
    }
}
