//! Telling a person from an answering machine in the first seconds of an outbound phone call, and when a
//! machine is ready for the message.
//!
//! [`Screener`] is sans-I/O: positions are milliseconds of call audio, fed by the listening stage, so it runs
//! as fast as audio arrives. It weighs two sources and the first to decide wins:
//! - the audio: a person answers with a few words and waits ("Hello?"), a machine talks on — a first stretch of
//!   speech longer than [`ScreeningRules::speech_threshold`] is a greeting — and ends with a beep (or falls
//!   silent);
//! - Twilio's answering-machine detection, whose asynchronous verdict ([`AnsweredBy`]) arrives as a callback.
//!
//! The thresholds follow Twilio's own defaults for `MachineDetectionSpeechThreshold` (2400 ms),
//! `MachineDetectionSpeechEndThreshold` (1200 ms) and `MachineDetectionSilenceTimeout` (5000 ms).

use std::time::Duration;

use crate::voice::Beep;

/// Thresholds of the audio check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreeningRules {
    /// A first stretch of speech this long is a machine's greeting.
    pub speech_threshold: Duration,
    /// Silence that ends the first stretch of speech (shorter pauses are part of it).
    pub speech_end: Duration,
    /// Nobody spoke for this long: a person waiting for us.
    pub initial_silence: Duration,
    /// A greeting followed by this much silence and no beep is over: leave the message.
    pub message_silence: Duration,
    /// Leave the message by then at the latest (from the start of the call).
    pub max_greeting: Duration,
}

impl Default for ScreeningRules {
    fn default() -> Self {
        Self {
            speech_threshold: Duration::from_millis(2400),
            speech_end: Duration::from_millis(1200),
            initial_silence: Duration::from_millis(5000),
            message_silence: Duration::from_millis(2000),
            max_greeting: Duration::from_secs(30),
        }
    }
}

/// Twilio's `AnsweredBy` (asynchronous AMD with `DetectMessageEnd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    Human,
    /// A machine, greeting still playing.
    MachineStart,
    /// A machine whose greeting ended (`machine_end_beep`, `machine_end_silence`, `machine_end_other`).
    MachineEnd,
    Fax,
    Unknown,
}

impl AnsweredBy {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "human" => Self::Human,
            "machine_start" => Self::MachineStart,
            "machine_end_beep" | "machine_end_silence" | "machine_end_other" => Self::MachineEnd,
            "fax" => Self::Fax,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

/// What the screener concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A person: the agent greets them.
    Human,
    /// A machine (or a fax, which never takes a message).
    Machine { fax: bool },
    /// The machine is recording: say the message now.
    LeaveMessage,
}

/// Where the screening stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Listening,
    /// A machine; waiting for the end of its greeting.
    Greeting,
    Done,
}

/// Screens one call.
#[derive(Debug)]
pub struct Screener {
    rules: ScreeningRules,
    phase: Phase,
    /// Start of the first stretch of speech.
    first_start: Option<u64>,
    /// End of the latest utterance, and whether speech is going on now.
    last_end: Option<u64>,
    speaking: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Screener {
    pub fn new(rules: ScreeningRules) -> Self {
        Self {
            rules,
            phase: Phase::Listening,
            first_start: None,
            last_end: None,
            speaking: false,
        }
    }

    /// Screening is over (a person, a fax, or the message is due): the call goes on normally, or ends.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Speech started at `at`.
    pub fn speech_started(&mut self, at: u64) {
        self.speaking = true;
        self.first_start.get_or_insert(at);
    }

    /// The utterance that was going on ended at `at`.
    pub fn speech_stopped(&mut self, at: u64) {
        self.speaking = false;
        self.last_end = Some(at);
    }

    /// Audio was heard up to `position`; decides by the thresholds.
    pub fn heard(&mut self, position: u64) -> Vec<Verdict> {
        let r = self.rules;
        match self.phase {
            Phase::Done => Vec::new(),
            Phase::Listening => {
                let Some(first) = self.first_start else {
                    return if position >= ms(r.initial_silence) {
                        self.decide_human()
                    } else {
                        Vec::new()
                    };
                };
                let spoken_until = if self.speaking {
                    Some(position)
                } else {
                    self.last_end
                };
                let length = spoken_until.map_or(0, |end| end.saturating_sub(first));
                if length >= ms(r.speech_threshold) {
                    self.phase = Phase::Greeting;
                    let mut verdicts = vec![Verdict::Machine { fax: false }];
                    verdicts.extend(self.heard(position));
                    return verdicts;
                }
                let ended = !self.speaking
                    && self
                        .last_end
                        .is_some_and(|end| position >= end + ms(r.speech_end));
                if ended {
                    self.decide_human()
                } else {
                    Vec::new()
                }
            }
            Phase::Greeting => {
                let quiet_since = (!self.speaking).then_some(self.last_end).flatten();
                let greeting_over =
                    quiet_since.is_some_and(|end| position >= end + ms(r.message_silence));
                if greeting_over || position >= ms(r.max_greeting) {
                    self.phase = Phase::Done;
                    vec![Verdict::LeaveMessage]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// A beep was heard: a machine, ready for the message.
    pub fn beep(&mut self, _beep: Beep) -> Vec<Verdict> {
        match self.phase {
            Phase::Done => Vec::new(),
            Phase::Listening => {
                self.phase = Phase::Done;
                vec![Verdict::Machine { fax: false }, Verdict::LeaveMessage]
            }
            Phase::Greeting => {
                self.phase = Phase::Done;
                vec![Verdict::LeaveMessage]
            }
        }
    }

    /// Twilio's verdict arrived.
    pub fn answered_by(&mut self, answered_by: AnsweredBy) -> Vec<Verdict> {
        match (self.phase, answered_by) {
            (Phase::Done, _) | (_, AnsweredBy::Unknown) => Vec::new(),
            (Phase::Listening, AnsweredBy::Human) => self.decide_human(),
            // Our own ears already heard a machine; Twilio's "human" does not undo that.
            (Phase::Greeting, AnsweredBy::Human | AnsweredBy::MachineStart) => Vec::new(),
            (Phase::Listening, AnsweredBy::MachineStart) => {
                self.phase = Phase::Greeting;
                vec![Verdict::Machine { fax: false }]
            }
            (_, AnsweredBy::Fax) => {
                self.phase = Phase::Done;
                vec![Verdict::Machine { fax: true }]
            }
            (Phase::Listening, AnsweredBy::MachineEnd) => {
                self.phase = Phase::Done;
                vec![Verdict::Machine { fax: false }, Verdict::LeaveMessage]
            }
            (Phase::Greeting, AnsweredBy::MachineEnd) => {
                self.phase = Phase::Done;
                vec![Verdict::LeaveMessage]
            }
        }
    }

    fn decide_human(&mut self) -> Vec<Verdict> {
        self.phase = Phase::Done;
        vec![Verdict::Human]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screener() -> Screener {
        Screener::new(ScreeningRules::default())
    }

    fn beep(at: u64) -> Beep {
        Beep {
            start_ms: at - 500,
            end_ms: at,
            frequency: 1000.0,
        }
    }

    #[test]
    fn a_short_hello_then_silence_is_a_person() {
        let mut s = screener();
        assert!(s.heard(400).is_empty());
        s.speech_started(500);
        assert!(s.heard(1100).is_empty());
        s.speech_stopped(1200);
        assert!(s.heard(2000).is_empty(), "a pause shorter than speech_end");
        assert_eq!(s.heard(2400), [Verdict::Human]);
        assert!(s.is_done());
        assert!(s.beep(beep(3000)).is_empty(), "decided once");
    }

    #[test]
    fn a_long_greeting_is_a_machine_whose_beep_cues_the_message() {
        let mut s = screener();
        s.speech_started(300);
        s.speech_stopped(1500);
        s.speech_started(1900);
        assert!(s.heard(2600).is_empty());
        assert_eq!(s.heard(2800), [Verdict::Machine { fax: false }]);
        s.speech_stopped(6000);
        assert!(s.heard(7000).is_empty());
        assert_eq!(s.beep(beep(7100)), [Verdict::LeaveMessage]);
        assert!(s.is_done());
    }

    #[test]
    fn a_greeting_without_beep_ends_in_silence_or_at_the_limit() {
        let mut s = screener();
        s.speech_started(0);
        assert_eq!(s.heard(2500), [Verdict::Machine { fax: false }]);
        s.speech_stopped(5000);
        assert!(s.heard(6900).is_empty());
        assert_eq!(s.heard(7000), [Verdict::LeaveMessage]);

        let mut s = screener();
        s.speech_started(0);
        assert_eq!(s.heard(29_000), [Verdict::Machine { fax: false }]);
        assert_eq!(s.heard(30_000), [Verdict::LeaveMessage], "still talking");
    }

    #[test]
    fn silence_is_a_person_waiting_and_a_first_beep_is_a_machine() {
        let mut s = screener();
        assert!(s.heard(4900).is_empty());
        assert_eq!(s.heard(5000), [Verdict::Human]);
        let mut s = screener();
        assert_eq!(
            s.beep(beep(800)),
            [Verdict::Machine { fax: false }, Verdict::LeaveMessage]
        );
    }

    #[test]
    fn twilios_verdict_counts_when_it_comes_first() {
        let mut s = screener();
        assert_eq!(
            s.answered_by(AnsweredBy::MachineStart),
            [Verdict::Machine { fax: false }]
        );
        assert!(s.answered_by(AnsweredBy::Human).is_empty());
        assert_eq!(
            s.answered_by(AnsweredBy::MachineEnd),
            [Verdict::LeaveMessage]
        );
        let mut s = screener();
        assert_eq!(s.answered_by(AnsweredBy::Human), [Verdict::Human]);
        let mut s = screener();
        assert!(s.answered_by(AnsweredBy::Unknown).is_empty());
        assert_eq!(
            s.answered_by(AnsweredBy::Fax),
            [Verdict::Machine { fax: true }]
        );
        assert_eq!(
            AnsweredBy::parse("machine_end_silence"),
            Some(AnsweredBy::MachineEnd)
        );
        assert_eq!(AnsweredBy::parse("robot"), None);
    }
}
