//! Twilio's request signature, `X-Twilio-Signature`.
//!
//! `base64(HMAC-SHA1(auth token, url ‖ name₁ ‖ value₁ ‖ name₂ ‖ value₂ …))`, where `url` is the exact URL
//! Twilio requested (query string included) and the POST parameters are sorted by name (then value;
//! exact duplicates count once, as in Twilio's own validators). Twilio's libraries also accept the URL
//! with the scheme's default port added or removed, since proxies disagree about showing it; so do we.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

fn mac(auth_token: &[u8], url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut mac =
        HmacSha1::new_from_slice(auth_token).expect("invariant: HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The signature Twilio sends for a POST of `params` to `url`.
pub fn compute(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `header` is a valid signature of this request. Compared in constant time.
pub fn verify(auth_token: &[u8], url: &str, params: &[(String, String)], header: &str) -> bool {
    let Ok(provided) = STANDARD.decode(header.trim()) else {
        return false;
    };
    std::iter::once(url.to_string())
        .chain(default_port_variant(url))
        // Every candidate is checked, so timing does not say which one matched.
        .fold(false, |ok, candidate| {
            mac(auth_token, &candidate, params)
                .verify_slice(&provided)
                .is_ok()
                | ok
        })
}

/// `url` with the scheme's default port removed if present, or added if absent.
fn default_port_variant(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // The port follows the last ':' unless that ':' is inside an IPv6 literal (`[::1]`).
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    match port {
        Some(port) if port == default => Some(format!("{scheme}://{host}{tail}")),
        Some(_) => None,
        None => Some(format!("{scheme}://{host}:{default}{tail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Twilio's published example (docs, "Validating requests"), parameters deliberately unsorted.
    fn example() -> (&'static str, Vec<(String, String)>) {
        (
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            pairs(&[
                ("To", "+18005551212"),
                ("CallSid", "CA1234567890ABCDE"),
                ("From", "+12349013030"),
                ("Digits", "1234"),
                ("Caller", "+12349013030"),
            ]),
        )
    }

    #[test]
    fn matches_twilios_published_example() {
        let (url, params) = example();
        assert_eq!(
            compute(b"12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify(
            b"12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn anything_changed_fails() {
        let (url, params) = example();
        let good = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(!verify(b"12346", url, &params, good), "token");
        assert!(
            !verify(
                b"12345",
                "https://mycompany.com/myapp.php?foo=1",
                &params,
                good
            ),
            "url"
        );
        let mut tampered = params.clone();
        tampered[0].1 = "+18005551213".into();
        assert!(!verify(b"12345", url, &tampered, good), "param value");
        let mut extra = params.clone();
        extra.push(("Extra".into(), String::new()));
        assert!(!verify(b"12345", url, &extra, good), "added param");
        assert!(!verify(b"12345", url, &params, ""), "empty");
        assert!(!verify(b"12345", url, &params, "not base64!"), "garbage");
        assert!(
            !verify(b"12345", url, &params, &good[..good.len() - 4]),
            "short"
        );
    }

    #[test]
    fn the_default_port_may_be_shown_or_not() {
        let (_, params) = example();
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let signed_with_port = compute(b"12345", with_port, &params);
        assert!(verify(
            b"12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            &signed_with_port
        ));
        assert!(verify(
            b"12345",
            with_port,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let other_port = compute(
            b"12345",
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            &params,
        );
        assert!(!verify(
            b"12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
            &other_port
        ));
    }

    #[test]
    fn port_variants() {
        assert_eq!(
            default_port_variant("http://h:80/v").as_deref(),
            Some("http://h/v")
        );
        assert_eq!(
            default_port_variant("https://h?x=1").as_deref(),
            Some("https://h:443?x=1")
        );
        assert_eq!(
            default_port_variant("http://[::1]/v").as_deref(),
            Some("http://[::1]:80/v")
        );
        assert_eq!(default_port_variant("http://h:8080/v"), None);
        assert_eq!(default_port_variant("wss://h/v"), None);
    }

    #[test]
    fn repeated_parameters_sort_by_value() {
        let a = pairs(&[("k", "2"), ("k", "1")]);
        let b = pairs(&[("k", "1"), ("k", "2")]);
        assert_eq!(compute(b"t", "u", &a), compute(b"t", "u", &b));
    }
}
