//! Keeping personal data and credentials out of logs.
//!
//! Emails, phone numbers, tokens and keys are never logged in clear. Log them through these helpers:
//!
//! ```
//! use voxedge::redact::{self, Secret};
//! tracing::info!(email = %redact::email("Ada.Lovelace@Example.com"), "signed up"); // a***@e***.com
//! tracing::info!(phone = %redact::phone("+44 20 7946 0958"), "call"); // +******58
//! assert_eq!(redact::url("https://u:p@h.example/a?key=k"), "https://h.example/a");
//! let password = Secret::new("hunter2 hunter2".to_string());
//! assert_eq!(format!("{password:?} {password}"), "<redacted> <redacted>");
//! ```

use std::fmt;

/// An email with everything but the first letters and the top-level domain hidden:
/// `ada@example.com` → `a***@e***.com`. Not reversible; good enough to tell two addresses apart by eye.
pub fn email(value: &str) -> String {
    let value = value.trim();
    let Some((local, domain)) = value.rsplit_once('@') else {
        return "***".to_string();
    };
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain
        .rsplit_once('.')
        .map(|(_, tld)| format!(".{tld}"))
        .unwrap_or_default();
    format!("{}***@{}***{}", first(local), first(domain), tld)
}

/// A phone number with all but its last two digits hidden: `+44 20 7946 0958` → `+******58`.
pub fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
    let plus = if value.trim_start().starts_with('+') {
        "+"
    } else {
        ""
    };
    format!("{plus}******{tail}")
}

/// A credential (API key, JWT, refresh or invite token) reduced to its kind: `vxk_…`, `jwt…`.
pub fn token(value: &str) -> String {
    let kind = ["vxk_", "vxs_", "vxr_", "vxi_", "vxv_", "vxp_"]
        .into_iter()
        .find(|p| value.starts_with(p))
        .unwrap_or(if value.starts_with("eyJ") { "jwt" } else { "" });
    format!("{kind}<redacted>")
}

/// A URL without the parts that carry credentials — user info, query string and fragment:
/// `https://user:pw@hooks.example.com/a?key=s3cret` → `https://hooks.example.com/a`. A value that is not a
/// URL is hidden whole.
pub fn url(value: &str) -> String {
    match reqwest::Url::parse(value) {
        Ok(mut url) => {
            // Only fails for URLs without a host (`mailto:`), which then keep no user info anyway.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "<redacted>".to_string(),
    }
}

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`. Use `expose()` where the
/// value is really needed (hashing, sending it to the client once).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_only_a_hint() {
        assert_eq!(email("ada@example.com"), "a***@e***.com");
        assert_eq!(email(" Bob.Smith@Mail.Example.org "), "B***@M***.org");
        assert_eq!(email("not an email"), "***");
        assert!(!email("someone@example.com").contains("someone"));
    }

    #[test]
    fn phones_keep_the_last_two_digits() {
        assert_eq!(phone("+44 20 7946 0958"), "+******58");
        assert_eq!(phone("5"), "******5");
        assert_eq!(phone(""), "******");
    }

    #[test]
    fn tokens_and_secrets_never_print() {
        assert_eq!(token("vxk_01ABC_x_y"), "vxk_<redacted>");
        assert_eq!(token("eyJhbGciOi.x.y"), "jwt<redacted>");
        assert_eq!(token("whatever"), "<redacted>");
        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret:?}/{secret}"), "<redacted>/<redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }
}
