//! Validated telephony values: Twilio credentials, E.164 numbers, labels. Each parser reports a
//! [`FieldError`] with a stable code, so callers collect every problem of an input at once.

use crate::error::{ErrorCode, FieldError};
use crate::redact::Secret;

/// Longest phone number label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

fn field_error(field: &str, code: ErrorCode, message: &str) -> FieldError {
    FieldError::new(field, code, message)
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Twilio account SID: `AC` and 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSid(String);

impl AccountSid {
    pub fn parse(value: &str, field: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        match value.strip_prefix("AC") {
            Some(hex) if hex.len() == 32 && is_hex(hex) => Ok(Self(value.to_string())),
            _ => Err(field_error(
                field,
                ErrorCode::InvalidAccountSid,
                "must be AC followed by 32 hex digits (Twilio console, Account Info)",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Twilio auth token: 32 hex digits. Never printed.
#[derive(Debug)]
pub struct AuthToken(Secret<String>);

impl AuthToken {
    pub fn parse(value: &str, field: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.len() == 32 && is_hex(value) {
            Ok(Self(Secret::new(value.to_string())))
        } else {
            Err(field_error(
                field,
                ErrorCode::InvalidAuthToken,
                "must be 32 hex digits (Twilio console, Account Info)",
            ))
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The last four characters, which may be shown.
    pub fn last4(&self) -> String {
        let token = self.0.expose();
        token[token.len() - 4..].to_string()
    }
}

/// A phone number in E.164 form (`+` and 2–15 digits, no leading zero), as Twilio sends `To` and `From`.
/// Spaces, dashes, dots and parentheses people type are removed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164(String);

impl E164 {
    pub fn parse(value: &str, field: &str) -> Result<Self, FieldError> {
        // The same form blind indexes are computed over, so a number typed any way finds its calls.
        crate::pii::normalize(value).map(Self).ok_or_else(|| {
            field_error(
                field,
                ErrorCode::InvalidPhoneNumber,
                "must be an E.164 number such as +14155550123",
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional label: trimmed, empty means none, at most [`MAX_LABEL_CHARS`], no control characters.
pub fn parse_label(value: Option<&str>, field: &str) -> Result<Option<String>, FieldError> {
    let Some(label) = value.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if label.chars().count() > MAX_LABEL_CHARS {
        Err(field_error(
            field,
            ErrorCode::TooLong,
            "must be at most 100 characters",
        ))
    } else if label.chars().any(char::is_control) {
        Err(field_error(
            field,
            ErrorCode::InvalidCharacters,
            "must not contain control characters",
        ))
    } else {
        Ok(Some(label.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789ABCDEF";

    #[test]
    fn account_sids() {
        assert_eq!(
            AccountSid::parse(&format!(" {SID}\n"), "f")
                .unwrap()
                .as_str(),
            SID
        );
        let bad = [
            String::new(),
            "AC".into(),
            SID[..33].into(),
            format!("{SID}0"),
            SID.replacen("AC", "ac", 1),
            SID.replacen('0', "g", 1),
            SID.replacen("AC", "SK", 1),
        ];
        for bad in &bad {
            let err = AccountSid::parse(bad, "input.accountSid").unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("input.accountSid", ErrorCode::InvalidAccountSid),
                "{bad}"
            );
        }
    }

    #[test]
    fn auth_tokens_show_only_their_last_four() {
        let token = AuthToken::parse(" 0123456789abcdef0123456789abcdef ", "f").unwrap();
        assert_eq!(token.expose(), "0123456789abcdef0123456789abcdef");
        assert_eq!(token.last4(), "cdef");
        for bad in [
            "",
            "0123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "☎123456789abcdef0123456789abcd",
        ] {
            assert_eq!(
                AuthToken::parse(bad, "f").unwrap_err().code,
                ErrorCode::InvalidAuthToken,
                "{bad}"
            );
        }
    }

    #[test]
    fn phone_numbers_are_normalised_to_e164() {
        assert_eq!(
            E164::parse("+1 (415) 555-0123", "f").unwrap().as_str(),
            "+14155550123"
        );
        assert_eq!(
            E164::parse("+44.20.7946.0958", "f").unwrap().as_str(),
            "+442079460958"
        );
        for bad in [
            "",
            "+",
            "4155550123",
            "+0123",
            "+1",
            "+1234567890123456",
            "+1415555012a",
            "++14155550123",
        ] {
            assert_eq!(
                E164::parse(bad, "f").unwrap_err().code,
                ErrorCode::InvalidPhoneNumber,
                "{bad}"
            );
        }
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label(None, "f").unwrap(), None);
        assert_eq!(parse_label(Some("  "), "f").unwrap(), None);
        assert_eq!(
            parse_label(Some(" Sales "), "f").unwrap().as_deref(),
            Some("Sales")
        );
        assert_eq!(
            parse_label(Some(&"x".repeat(101)), "f").unwrap_err().code,
            ErrorCode::TooLong
        );
        assert_eq!(
            parse_label(Some("a\u{7}b"), "f").unwrap_err().code,
            ErrorCode::InvalidCharacters
        );
    }
}
