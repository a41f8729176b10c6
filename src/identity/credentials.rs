//! What a user types: email addresses and passwords, validated the way users expect, and password
//! hashing.
//!
//! - Emails are trimmed and their domain lowercased for display; sign-in matches the fully lowercased
//!   address, so `Ada@Example.com` and `ada@example.com` are one account.
//! - Passwords: 10 to 256 characters, not a well-known password, not the email or its name part, not one
//!   repeated character. No composition rules (NIST SP 800-63B): length beats symbols.
//! - Hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane) — much heavier than the API
//!   key parameters, because people choose guessable passwords while key secrets are 256 random bits.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::IdentityError;
use crate::error::{ErrorCode, InvalidInput};
use crate::redact::Secret;

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;
const MAX_EMAIL_CHARS: usize = 254;

/// A validated email address.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// Trimmed, domain lowercased: shown back to the user.
    pub display: String,
    /// Fully lowercased: what accounts are matched on.
    pub key: String,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Email({})", crate::redact::email(&self.display))
    }
}

fn field_error(field: &str, code: ErrorCode, message: &str) -> InvalidInput {
    InvalidInput::field(field, code, message)
}

impl Email {
    /// Parses an address as typed. Error messages never echo the input.
    pub fn parse(raw: &str, field: &str) -> Result<Self, InvalidInput> {
        let trimmed = raw.trim();
        let invalid = || {
            field_error(
                field,
                ErrorCode::InvalidEmail,
                "is not a valid email address",
            )
        };
        if trimmed.is_empty() {
            return Err(field_error(field, ErrorCode::Required, "must not be empty"));
        }
        if trimmed.chars().count() > MAX_EMAIL_CHARS {
            return Err(field_error(
                field,
                ErrorCode::TooLong,
                "must be at most 254 characters",
            ));
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(invalid)?;
        let bad_char =
            |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
        let labels_ok = domain.split('.').count() >= 2
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty()
            || local.chars().count() > 64
            || local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
            || domain.chars().any(bad_char)
            || !labels_ok
        {
            return Err(invalid());
        }
        let domain = domain.to_lowercase();
        Ok(Self {
            display: format!("{local}@{domain}"),
            key: format!("{}@{domain}", local.to_lowercase()),
        })
    }
}

/// Checks a new password against the rules above. Error messages never echo the input.
pub fn check_password(password: &str, email: &Email, field: &str) -> Result<(), InvalidInput> {
    let chars = password.chars().count();
    let weak = |message: &str| field_error(field, ErrorCode::WeakPassword, message);
    if chars < MIN_PASSWORD_CHARS {
        return Err(field_error(
            field,
            ErrorCode::TooShort,
            "must be at least 10 characters",
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(field_error(
            field,
            ErrorCode::TooLong,
            "must be at most 256 characters",
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return Err(weak("is one of the most common passwords"));
    }
    let name = email.key.split('@').next().unwrap_or_default();
    if lowered == email.key || (name.len() >= 4 && lowered.contains(name)) {
        return Err(weak("must not contain your email address"));
    }
    let mut distinct = password.chars().collect::<Vec<_>>();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(weak("needs more different characters"));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .expect("invariant: OWASP's argon2id parameters are within argon2's bounds");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (slow by design: call it on the blocking pool).
pub fn hash_password(password: &Secret<String>) -> Result<String, IdentityError> {
    Ok(argon2()
        .hash_password(password.expose().as_bytes())?
        .to_string())
}

/// Checks a password against a stored hash (slow by design: call it on the blocking pool).
pub fn verify_password(password: &Secret<String>, hash: &str) -> bool {
    PasswordHash::new(hash).ok().is_some_and(|hash| {
        argon2()
            .verify_password(password.expose().as_bytes(), &hash)
            .is_ok()
    })
}

/// Burns the same time as a real verification, so a sign-in for an unknown email cannot be told
/// apart from a wrong password by timing.
pub fn verify_against_nothing(password: &Secret<String>) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| {
        hash_password(&Secret::new("not a real password, only timing".into())).unwrap_or_default()
    });
    let _ = verify_password(password, hash);
}

/// Well-known passwords of at least 10 characters (shorter ones fail the length rule anyway), from
/// public breach corpora's top lists. Compared in lowercase.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "1234567890a",
    "0123456789",
    "0987654321",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "1q2w3e4r5t6y",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "zxcvbnm123",
    "password12",
    "password123",
    "password1234",
    "password!1",
    "passw0rd123",
    "p@ssw0rd123",
    "p@ssword123",
    "iloveyou123",
    "iloveyou12",
    "princess123",
    "sunshine123",
    "football123",
    "baseball123",
    "welcome123",
    "welcome1234",
    "letmein123",
    "abcdefghij",
    "abc1234567",
    "abcd123456",
    "aaaaaaaaaa",
    "1111111111",
    "0000000000",
    "2222222222",
    "1231231231",
    "1212121212",
    "1122334455",
    "9876543210",
    "monkey1234",
    "dragon1234",
    "michael123",
    "superman123",
    "batman1234",
    "starwars123",
    "trustno1234",
    "changeme123",
    "administrator",
    "admin12345",
    "admin123456",
    "useruser12",
    "qazwsxedc123",
    "qazwsxedcrfv",
    "1qazxsw23edc",
    "zaq12wsxcde3",
    "computer123",
    "internet123",
    "whatever123",
    "passwordpassword",
    "letmeinplease",
    "myspace123",
    "liverpool123",
    "chelsea123",
    "arsenal123",
    "jennifer123",
    "jessica123",
    "charlie123",
    "shadow1234",
    "master1234",
    "hello12345",
    "freedom123",
    "mustang123",
    "access1234",
    "secret1234",
    "voxedge123",
    "voxedge1234",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s, "email").unwrap()
    }

    #[test]
    fn emails_are_trimmed_and_matched_case_insensitively() {
        let e = email("  Ada.Lovelace@Example.COM ");
        assert_eq!(e.display, "Ada.Lovelace@example.com");
        assert_eq!(e.key, "ada.lovelace@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
        ] {
            let err = Email::parse(bad, "email").unwrap_err();
            assert!(
                !err.to_string().contains(bad) || bad.is_empty(),
                "{bad:?} echoed"
            );
        }
    }

    #[test]
    fn password_rules_are_what_users_expect() {
        let e = email("ada.lovelace@example.com");
        assert!(check_password("correct horse battery", &e, "password").is_ok());
        let code = |p: &str| check_password(p, &e, "password").unwrap_err().0[0].code;
        assert_eq!(code("short"), ErrorCode::TooShort);
        assert_eq!(code(&"x".repeat(257)), ErrorCode::TooLong);
        assert_eq!(code("Password123"), ErrorCode::WeakPassword);
        assert_eq!(code("QWERTYUIOP"), ErrorCode::WeakPassword);
        assert_eq!(code("ada.lovelace@example.com"), ErrorCode::WeakPassword);
        assert_eq!(code("my ada.lovelace pw"), ErrorCode::WeakPassword);
        assert_eq!(code("abababababab"), ErrorCode::WeakPassword);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let password = Secret::new("correct horse battery".to_string());
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&password, &hash));
        assert!(!verify_password(
            &Secret::new("wrong horse battery".into()),
            &hash
        ));
        assert!(!verify_password(&password, "not a hash"));
    }
}
