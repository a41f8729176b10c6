//! Requests one region sends another (and the CLI sends a region), through the same front door as any client.
//!
//! A request goes to the public origin (`--public-url`) with `fly-prefer-region: <region>`, so Fly's proxy
//! delivers it to that region; if it lands elsewhere, routing replays it with `fly-replay` like any request.
//! Paths say where they belong: `/internal/tenants/{id}/…` goes to the tenant's home, `/internal/regions/{r}/…`
//! to region `r`, `/internal/primary/…` to the primary. Each is signed with a key derived from the master key
//! (HMAC-SHA256 over the time, the path and the body, in `x-voxedge-internal: <unix secs>.<hex>`), valid for five
//! minutes, so only holders of the master key (the machines, an operator's CLI) can call them.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::EdgeError;
use crate::clock::Clock;
use crate::error::ErrorCode;
use crate::secrets::Secrets;

/// The header carrying the signature.
pub const HEADER: &str = "x-voxedge-internal";
/// How far a signature's time may be from ours.
const MAX_SKEW_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// `<secs>.<hex hmac>` for a request to `path` with `body`.
pub fn sign(key: &[u8], secs: i64, path: &str, body: &[u8]) -> String {
    format!(
        "{secs}.{}",
        hex::encode(mac(key, secs, path, body).finalize().into_bytes())
    )
}

/// Checks a signature header (constant time), and that it is recent.
pub fn verify(key: &[u8], header: &str, path: &str, body: &[u8], now_secs: i64) -> bool {
    let Some((secs, hex_mac)) = header.trim().split_once('.') else {
        return false;
    };
    let (Ok(secs), Ok(given)) = (secs.parse::<i64>(), hex::decode(hex_mac)) else {
        return false;
    };
    (now_secs - secs).abs() <= MAX_SKEW_SECS
        && mac(key, secs, path, body).verify_slice(&given).is_ok()
}

fn mac(key: &[u8], secs: i64, path: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(key).expect("invariant: HMAC-SHA256 takes keys of any length");
    mac.update(format!("{secs}\n{path}\n").as_bytes());
    mac.update(body);
    mac
}

/// Sends signed internal requests. Cheap to clone.
#[derive(Clone)]
pub struct Internal {
    http: reqwest::Client,
    /// The public origin, when configured.
    base: Option<String>,
    secrets: Secrets,
    clock: Clock,
}

impl Internal {
    pub fn new(base: Option<String>, secrets: Secrets, clock: Clock) -> Self {
        crate::brain::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("voxedge-internal/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("invariant: a client with these options always builds");
        Self {
            http,
            base,
            secrets,
            clock,
        }
    }

    /// POSTs `body` as JSON to `path`, preferring `region` (the proxy's hint; routing corrects a miss), and
    /// reads the JSON answer. Errors keep the other side's code.
    pub async fn post<T: DeserializeOwned>(
        &self,
        region: Option<&str>,
        path: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T, EdgeError> {
        let base = self.base.as_deref().ok_or_else(|| {
            EdgeError::NotConfigured(
                "reaching another region needs --public-url (the origin every region is reached at)".into(),
            )
        })?;
        let body = serde_json::to_vec(body).expect("invariant: request bodies serialise");
        let signature = sign(
            self.secrets.internal_request_key(),
            self.clock.now_secs(),
            path,
            &body,
        );
        let target = region.unwrap_or("any");
        let mut request = self
            .http
            .post(format!("{base}{path}"))
            .header(HEADER, signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(body);
        if let Some(region) = region {
            request = request.header("fly-prefer-region", region);
        }
        let unreachable = |reason: String| EdgeError::Unreachable {
            region: target.to_string(),
            reason,
        };
        let answered = async {
            let response = request.send().await?;
            Ok::<_, reqwest::Error>((response.status(), response.bytes().await?))
        };
        let (status, bytes) = answered.await.map_err(|e| unreachable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| unreachable(format!("unreadable answer: {e}")));
        }
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let error = &answer["errors"][0];
        match error["extensions"]["code"]
            .as_str()
            .and_then(ErrorCode::from_code)
        {
            Some(code) => Err(EdgeError::Remote {
                code,
                message: error["message"].as_str().unwrap_or_default().to_string(),
            }),
            None => Err(unreachable(format!("HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_time_path_and_body() {
        let key = b"k";
        let signed = sign(key, 1_000, "/internal/x", b"{}");
        assert!(verify(key, &signed, "/internal/x", b"{}", 1_100));
        assert!(!verify(key, &signed, "/internal/y", b"{}", 1_100));
        assert!(!verify(key, &signed, "/internal/x", b"{ }", 1_100));
        assert!(!verify(b"other", &signed, "/internal/x", b"{}", 1_100));
        assert!(!verify(
            key,
            &signed,
            "/internal/x",
            b"{}",
            1_000 + MAX_SKEW_SECS + 1
        ));
        assert!(!verify(key, "garbage", "/internal/x", b"{}", 1_000));
    }
}
