//! Calling windows in a contact's own time zone: whether one is open at an instant, and when the next opens.

use chrono::{Datelike, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::error::{ErrorCode, FieldError};
use crate::model::campaign::{CallingWindow, Weekday};

/// `HH:MM` (24-hour; `24:00` ends a day) as minutes since midnight.
pub fn parse_time(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// An IANA time zone name.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// Checked windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows(Vec<(Vec<Weekday>, u32, u32)>);

impl Windows {
    /// Checks `windows`, reporting problems under `field` (`input.windows[0].start`, ...).
    pub fn parse(windows: &[CallingWindow], field: &str) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        if windows.len() > 14 {
            errors.push(FieldError::new(
                field,
                ErrorCode::TooMany,
                "at most 14 windows",
            ));
        }
        for (i, w) in windows.iter().enumerate() {
            let at = |name: &str| format!("{field}[{i}].{name}");
            let (start, end) = (parse_time(&w.start), parse_time(&w.end));
            if start.is_none() {
                errors.push(FieldError::new(
                    at("start"),
                    ErrorCode::InvalidFormat,
                    "HH:MM, 24-hour",
                ));
            }
            if end.is_none() {
                errors.push(FieldError::new(
                    at("end"),
                    ErrorCode::InvalidFormat,
                    "HH:MM, 24-hour (24:00 ends the day)",
                ));
            }
            if w.days.is_empty() {
                errors.push(FieldError::new(
                    at("days"),
                    ErrorCode::Required,
                    "name at least one day",
                ));
            }
            if let (Some(start), Some(end)) = (start, end) {
                if start >= end {
                    errors.push(FieldError::new(
                        at("end"),
                        ErrorCode::OutOfRange,
                        "must be after start (same day)",
                    ));
                }
                parsed.push((w.days.clone(), start, end));
            }
        }
        if errors.is_empty() {
            Ok(Self(parsed))
        } else {
            Err(errors)
        }
    }

    /// Windows stored with a campaign (checked when saved). Should they no longer parse, they never open, so
    /// nothing is dialled at a time nobody chose.
    pub fn stored(windows: &[CallingWindow]) -> Self {
        Self::parse(windows, "windows").unwrap_or_else(|_| Self(vec![(Vec::new(), 0, 0)]))
    }

    /// Whether a call may be placed at `at_ms` for a contact in `zone`. No windows: any time.
    pub fn is_open(&self, zone: Tz, at_ms: i64) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(local) = zone.timestamp_millis_opt(at_ms).single() else {
            return false;
        };
        let day = Weekday::from_chrono(local.weekday());
        let minute = local.hour() * 60 + local.minute();
        self.0
            .iter()
            .any(|(days, start, end)| days.contains(&day) && (*start..*end).contains(&minute))
    }

    /// The first instant at or after `from_ms` when a window is open for a contact in `zone`.
    pub fn next_open(&self, zone: Tz, from_ms: i64) -> Option<i64> {
        if self.is_open(zone, from_ms) {
            return Some(from_ms);
        }
        let local = zone.timestamp_millis_opt(from_ms).single()?;
        let mut best: Option<i64> = None;
        for offset in 0..=7 {
            let date = local.date_naive() + chrono::Days::new(offset);
            let day = Weekday::from_chrono(date.weekday());
            for (days, start, _) in &self.0 {
                if !days.contains(&day) {
                    continue;
                }
                let Some(time) = NaiveTime::from_hms_opt(start / 60, start % 60, 0) else {
                    continue;
                };
                let naive = date.and_time(time);
                // A start inside a daylight-saving gap opens when the clocks have jumped.
                let opens = zone.from_local_datetime(&naive).earliest().or_else(|| {
                    zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                });
                if let Some(opens) = opens.map(|t| t.timestamp_millis())
                    && opens >= from_ms
                {
                    best = Some(best.map_or(opens, |b| b.min(opens)));
                }
            }
            if best.is_some() {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn window(days: &[Weekday], start: &str, end: &str) -> CallingWindow {
        CallingWindow {
            days: days.to_vec(),
            start: start.into(),
            end: end.into(),
        }
    }

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
            .timestamp_millis()
    }

    #[test]
    fn windows_follow_the_contacts_local_time() {
        use Weekday::*;
        let windows =
            Windows::parse(&[window(&[Mon, Tue, Wed, Thu, Fri], "09:00", "17:00")], "w").unwrap();
        let new_york = parse_zone("America/New_York").unwrap();
        let tokyo = parse_zone("Asia/Tokyo").unwrap();
        // Monday 2026-03-02 15:00 UTC: 10:00 in New York, midnight in Tokyo.
        let at = ms("2026-03-02T15:00:00Z");
        assert!(windows.is_open(new_york, at));
        assert!(!windows.is_open(tokyo, at));
        // Tokyo opens at 09:00 local = 00:00 UTC.
        assert_eq!(
            windows.next_open(tokyo, at),
            Some(ms("2026-03-03T00:00:00Z"))
        );
        // Friday 17:00 in New York: next is Monday 09:00 (EST, UTC-5).
        let friday_close = ms("2026-03-06T22:00:00Z");
        assert!(!windows.is_open(new_york, friday_close));
        assert_eq!(
            windows.next_open(new_york, friday_close),
            Some(ms("2026-03-09T13:00:00Z")),
            "Monday 09:00 EDT: the clocks changed on Sunday"
        );
        assert_eq!(
            Windows(Vec::new()).next_open(tokyo, at),
            Some(at),
            "no windows: always"
        );
    }

    #[test]
    fn bad_windows_are_reported_by_field() {
        let errors = Windows::parse(
            &[
                window(&[], "9:00", "24:00"),
                window(&[Weekday::Sat], "18:00", "08:00"),
            ],
            "input.windows",
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "input.windows[0].start",
                "input.windows[0].days",
                "input.windows[1].end"
            ]
        );
        assert_eq!(parse_time("24:00"), Some(1440));
        assert_eq!(parse_time("24:01"), None);
    }
}
